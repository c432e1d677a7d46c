"""Seal-time signatures: every new bundle is signed and timestamped; forgeries are quarantined."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.integrity.conftest import Archive


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


def _forge_copy(archive: Archive, text: str) -> tuple[str, Path]:
    """The issue's attack: copy a sealed bundle under a new id, change one record's text,
    recompute both manifests (and drop or keep the old signature)."""
    import hashlib
    import os
    import shutil
    import stat

    src = next(
        d
        for d in _bundle_dirs(archive)
        if d.name.endswith(tuple("0123456789abcdef")) and "posts" in d.name
    )
    new_id = src.name[:-6] + "f0f0f0"
    dst = src.parent / new_id
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) | stat.S_IWUSR)
    db = sqlite3.connect(dst / "data" / "records.sqlite")
    db.execute("UPDATE items SET text=? WHERE seq=(SELECT min(seq) FROM items)", (text,))
    db.execute("UPDATE bundle_info SET value=? WHERE key='bundle_id'", (new_id,))
    db.commit()
    db.close()
    info = (dst / "bag-info.txt").read_text().replace(src.name, new_id)
    (dst / "bag-info.txt").write_text(info)

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    lines = [
        f"{sha(p)}  {p.relative_to(dst).as_posix()}\n"
        for p in sorted((dst / "data").rglob("*"))
        if p.is_file()
    ]
    (dst / "manifest-sha256.txt").write_text("".join(lines))
    (dst / "tagmanifest-sha256.txt").write_text(
        "".join(
            f"{sha(dst / n)}  {n}\n" for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
        )
    )
    return new_id, dst


def test_forged_bundle_copy_is_quarantined_not_cataloged(archive: Archive) -> None:
    new_id, _dst = _forge_copy(archive, "FORGED: the City endorses this")
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


def test_forged_copy_without_signature_is_quarantined_as_unsigned(archive: Archive) -> None:
    import os

    new_id, dst = _forge_copy(archive, "FORGED again")
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
