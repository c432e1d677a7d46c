"""Seal-time signatures: every new bundle is signed and timestamped; forgeries are quarantined."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.integrity.conftest import Archive, forge_copy


def _bundle_dirs(archive: Archive) -> list[Path]:
    return sorted(p.parent for p in archive.bundles.rglob("tagmanifest-sha256.txt"))


def test_new_bundles_are_signed_and_stamped_and_verify_says_so(archive: Archive) -> None:
    dirs = _bundle_dirs(archive)
    assert dirs
    for d in dirs:
        assert (d / "signature.ed25519").stat().st_size == 64
        assert (d / "timestamp.tsr").stat().st_size > 0
    res = archive.cli("verify", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["seals"] == {"signed": len(dirs)}
    assert data["timestamps"] == {"stamped": len(dirs)}
    assert data["quarantined"] == []


def test_private_key_is_owner_only_and_not_in_config(archive: Archive) -> None:
    key = archive.root / "keys" / "signing-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in archive.config.read_text()
    trusted = json.loads((archive.root / "keys" / "trusted-keys.json").read_text())
    assert "PRIVATE" not in json.dumps(trusted)
    for f in archive.bundles.rglob("*"):
        if f.is_file():
            assert b"BEGIN PRIVATE KEY" not in f.read_bytes()


def test_forged_bundle_copy_is_quarantined_not_cataloged(archive: Archive) -> None:
    new_id, _dst = forge_copy(archive, "FORGED: the City endorses this")
    rec = archive.cli("recover", "--json")
    assert rec.returncode == 0, rec.stderr
    assert json.loads(rec.stdout)["cataloged"] == 0
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    assert db.execute("SELECT count(*) FROM bundles WHERE id=?", (new_id,)).fetchone()[0] == 0
    (reason,) = db.execute(
        "SELECT reason FROM quarantined_bundles WHERE bundle_id=?", (new_id,)
    ).fetchone()
    assert "BAD SIGNATURE" in reason
    assert (
        db.execute(
            "SELECT count(*) FROM audit_log WHERE action='quarantine' AND subject=?", (new_id,)
        ).fetchone()[0]
        == 1
    )
    hits = archive.cli("search", "FORGED", "--json")
    assert json.loads(hits.stdout) == []
    res = archive.cli("verify")
    assert res.returncode == 1
    assert "NEEDS ATTENTION" in res.stderr and "QUARANTINED" in res.stderr and new_id in res.stderr
    status = archive.cli("status")
    assert "NEEDS ATTENTION" in status.stderr and "QUARANTINED" in status.stderr
    assert new_id in status.stderr


def test_forged_copy_without_signature_is_quarantined_as_unsigned(archive: Archive) -> None:
    import os

    new_id, dst = forge_copy(archive, "FORGED again")
    for name in ("signature.ed25519", "signature-key.txt", "timestamp.tsr"):
        os.remove(dst / name)
    archive.cli("recover")
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    (reason,) = db.execute(
        "SELECT reason FROM quarantined_bundles WHERE bundle_id=?", (new_id,)
    ).fetchone()
    assert reason.startswith("UNSIGNED bundle")


def test_genuine_bundle_lost_from_catalog_is_recovered_with_its_seal_audit_entry(
    archive: Archive,
) -> None:
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    bid = db.execute(
        "SELECT id FROM bundles WHERE record_class='followers' ORDER BY sealed_at DESC"
    ).fetchone()[0]
    db.execute("DELETE FROM bundle_files WHERE bundle_id=?", (bid,))
    db.execute("DELETE FROM bundles WHERE id=?", (bid,))
    db.commit()
    rec = archive.cli("recover", "--json")
    assert json.loads(rec.stdout)["cataloged"] == 1, rec.stdout + rec.stderr
    rows = db.execute(
        "SELECT details FROM audit_log WHERE action='seal' AND subject=? ORDER BY seq", (bid,)
    ).fetchall()
    assert json.loads(rows[-1][0])["recovered"] is True
    assert (
        db.execute("SELECT state FROM bundle_seals WHERE bundle_id=?", (bid,)).fetchone()[0]
        == "signed"
    )
