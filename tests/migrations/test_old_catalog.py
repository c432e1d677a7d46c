"""A catalog and bundles written by release 0.1.0 are read and migrated with nothing lost."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archiver.catalog import Catalog
from archiver.catalog import migrate as m
from archiver.cli import app as cli_app
from archiver.db import make_engine
from tests.migrations.conftest import OldArchive, snapshot


def _run(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli_app, list(args))
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return out.exit_code, out.output


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_command_refuses_the_old_catalog_until_it_is_migrated(
    old_archive: OldArchive,
) -> None:
    before = _sha(old_archive.catalog)
    with pytest.raises(m.SchemaVersionError) as caught:
        Catalog(old_archive.url)
    assert str(caught.value).startswith(
        f"catalog {old_archive.url} predates schema versioning; run `archiver migrate`"
    )
    for command in (["status"], ["search", "plow"], ["verify", "--all"], ["hold", "list"]):
        code, output = _run(*command, "--config", str(old_archive.config))
        assert code == 2, (command, output)
        assert "predates schema versioning; run `archiver migrate`" in output, output
        assert "Traceback" not in output
    assert _sha(old_archive.catalog) == before, "a refused command changed the catalog"


def test_dry_run_shows_the_plan_and_changes_nothing(old_archive: OldArchive) -> None:
    before = _sha(old_archive.catalog)
    code, output = _run("migrate", "--dry-run", "--config", str(old_archive.config))
    assert code == 0, output
    assert "current revision: none (predates schema versioning: release 0.1.0)" in output
    assert f"target revision:  {m.head_revision()}" in output
    assert "0001_baseline: Baseline: the catalog schema of release 0.1.0" in output
    assert "dry run: nothing was changed" in output
    assert _sha(old_archive.catalog) == before
    assert not list(old_archive.root.glob("catalog.sqlite.pre-*"))
    with pytest.raises(m.SchemaVersionError):
        Catalog(old_archive.url)


def test_migrate_stamps_the_old_catalog_with_every_row_intact(old_archive: OldArchive) -> None:
    before = snapshot(old_archive.catalog)
    assert len(before["items"]) == 57 and len(before["audit_log"]) == 22  # the fixture's content
    code, output = _run("migrate", "--config", str(old_archive.config))
    assert code == 0, output
    assert f"migrated: the catalog is at {m.head_revision()}" in output

    # The backup: a consistent copy of the catalog as it was, not readable by everyone.
    (backup,) = old_archive.root.glob(f"catalog.sqlite.pre-{m.head_revision()}-*.bak")
    assert str(backup) in output.replace("\n", "")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o640
    assert snapshot(backup) == before

    after = snapshot(old_archive.catalog)
    # Every table of 0.1.0 is still there; tables later revisions add start empty.
    assert set(before) <= set(after)
    assert all(after[table] == [] for table in set(after) - set(before))
    for table, rows in before.items():
        if table == "audit_log":
            continue
        assert after[table] == rows, f"table {table} changed"
    # The audit log only grew, by one entry saying what was migrated.
    assert set(before["audit_log"]) <= set(after["audit_log"])
    added = sorted(set(after["audit_log"]) - set(before["audit_log"]))
    assert [row[3] for row in added] == ["catalog.migrate"]
    assert json.loads(str(added[0][5]))["to"] == m.head_revision()
    db = sqlite3.connect(old_archive.catalog)
    try:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (m.head_revision(),)
        ]
        # The FTS index still answers, for the same rows.
        hits = db.execute(
            "SELECT rowid FROM item_versions_fts WHERE item_versions_fts MATCH 'plow'"
        ).fetchall()
        assert hits
    finally:
        db.close()

    # Now every command works on it: the chain and the anchor still hold, the bytes verify.
    code, output = _run("audit", "verify", "--config", str(old_archive.config))
    assert code == 0 and "audit log OK" in output, output
    code, output = _run("verify", "--all", "--config", str(old_archive.config))
    assert code == 0, output
    code, output = _run("search", "plow", "--json", "--config", str(old_archive.config))
    assert code == 0, output
    assert json.loads(output), "the migrated catalog finds nothing"

    # A second run has nothing to do and takes no second backup.
    code, output = _run("migrate", "--config", str(old_archive.config))
    assert code == 0 and "nothing to do" in output, output
    assert len(list(old_archive.root.glob("catalog.sqlite.pre-*"))) == 1


def test_old_bundles_rebuild_the_same_items_in_a_new_catalog(
    old_archive: OldArchive, tmp_path: Path
) -> None:
    """The new reader ingests every 0.1.0 bundle (format 1) into a catalog created at head."""
    old = sqlite3.connect(old_archive.catalog)
    fresh = tmp_path / "rebuilt.sqlite"
    text = old_archive.config.read_text().replace(
        "[archive]\n", f'[archive]\ncatalog_url = "sqlite:///{fresh}"\n', 1
    )
    rebuilt_config = tmp_path / "rebuilt.toml"
    rebuilt_config.write_text(text)
    code, output = _run("recover", "--config", str(rebuilt_config))
    assert code == 0, output

    new = sqlite3.connect(fresh)
    try:
        query = (
            "SELECT i.site_id, i.platform_id, i.kind, i.current_version, i.current_hash, "
            "i.removal_state, v.version, v.text, v.content_hash, v.warc_record_id "
            "FROM items i JOIN item_versions v ON v.item_id = i.id"
        )
        want = sorted(old.execute(query).fetchall(), key=repr)
        got = sorted(new.execute(query).fetchall(), key=repr)
        assert len(want) == 61
        assert got == want
        bundles = "SELECT id, key, tagmanifest_sha256, size_bytes, record_count FROM bundles"
        assert sorted(new.execute(bundles).fetchall()) == sorted(old.execute(bundles).fetchall())
        files = "SELECT bundle_id, relpath, sha256, size FROM bundle_files"
        assert sorted(new.execute(files).fetchall()) == sorted(old.execute(files).fetchall())
    finally:
        new.close()
        old.close()


def test_old_catalog_on_a_read_only_engine_is_only_read(old_archive: OldArchive) -> None:
    """The revision check itself writes nothing (it also serves read-only mounts)."""
    before = _sha(old_archive.catalog)
    engine = make_engine(f"sqlite:///file:{old_archive.catalog}?mode=ro&uri=true")
    try:
        state = m.read_state(engine)
    finally:
        engine.dispose()
    assert state.unversioned and state.current is None and state.head == m.head_revision()
    assert _sha(old_archive.catalog) == before
