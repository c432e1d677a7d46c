"""Backup and restore as docs/operations.md describes them, on a live SQLite catalog."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from archiver.retention.holds import add_hold
from tests.dr.helpers import cli, snapshot
from tests.helpers import catalog_rows
from tests.retention_kit import ArchiveFactory, app_for


def test_online_backup_restores_to_a_verified_catalog(
    make_archive: ArchiveFactory, tmp_path: Path
) -> None:
    config = make_archive(runs=2)
    app = app_for(config)
    try:
        add_hold(app, name="snow-suit", matter="Doe v. City", query="snow", by="Cara Clerk")
    finally:
        app.close()
    root = config.parent / "archive"
    catalog = root / "catalog.sqlite"
    backups = tmp_path / "backups"
    backups.mkdir()
    # Taken while another connection holds an open read transaction (a live daemon, say).
    reader = sqlite3.connect(catalog)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items").fetchone()
    try:
        r = cli(config, "catalog", "backup", "--to", str(backups / "catalog.sqlite"))
    finally:
        reader.rollback()
        reader.close()
    assert r.returncode == 0, r.stderr
    assert "integrity check: ok" in r.stdout
    assert (backups / "catalog.sqlite").stat().st_mode & 0o777 == 0o640
    again = cli(config, "catalog", "backup", "--to", str(backups / "catalog.sqlite"))
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    saved = snapshot(backups / "catalog.sqlite")

    # The disk holding the catalog is lost; the backup goes back in its place.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    shutil.copy2(backups / "catalog.sqlite", catalog)
    os.chmod(catalog, 0o640)
    for args in (("verify", "--all"), ("audit", "verify")):
        r = cli(config, *args)
        assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"
    assert [h["name"] for h in catalog_rows(config, "SELECT name FROM legal_holds")] == [
        "snow-suit"
    ]
    restored = snapshot(catalog)
    # verify adds its own audit entries and verification times (bundles.last_verified_at,
    # bundle_seals.checked_at); everything else is as saved.
    for table in saved:
        if table not in ("audit_log", "bundles", "bundle_seals"):
            assert restored[table] == saved[table], table
    assert restored["audit_log"][: len(saved["audit_log"])] == saved["audit_log"]
    # The journal carries on from the restored catalog: no "older than the journal" refusal.
    r = cli(config, "journal", "flush")
    assert r.returncode == 0 and "older than the journal" not in r.stderr, r.stderr
