"""The migration chain: head equals the code's tables, later revisions run, others are refused.

``test_head_matches_metadata_*`` is the guard that every schema change ships as a migration:
a table or column added to ``archiver.db.metadata`` without a revision makes it fail.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from typer.testing import CliRunner

from archiver.catalog import Catalog, revision
from archiver.catalog import migrate as m
from archiver.cli import app as cli_app
from archiver.db import make_engine
from tests.migrations.conftest import FIXTURE, OldArchive, snapshot

SECOND = "9999_test_notes"
#: The newest shipped revision, which the test revision builds on.
SHIPPED_HEAD = m.head_revision()


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": m.include_object, "compare_type": True}
        )
        return list(compare_metadata(ctx, m.target_metadata()))


def _triggers_refuse_update(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_log VALUES (1, 'a', 'b', 'seal', 's', '{}', :p, :e)"),
            {"p": "0" * 64, "e": "1" * 64},
        )
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'x'"))


def test_head_matches_metadata_on_sqlite(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        assert m.read_state(catalog.engine).at_head
        assert _diff(catalog.engine) == []
        names = set(inspect(catalog.engine).get_table_names())
        assert "item_versions_fts" in names  # the raw-DDL parts of the baseline are there too
        _triggers_refuse_update(catalog.engine)
    finally:
        catalog.close()


@pytest.mark.postgres
def test_head_matches_metadata_on_postgresql(pg_url: str) -> None:
    catalog = Catalog(pg_url)
    try:
        assert m.read_state(catalog.engine).at_head
        assert _diff(catalog.engine) == []
        with catalog.engine.connect() as conn:
            assert conn.execute(
                text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_item_versions_tsv'")
            ).scalar()
        _triggers_refuse_update(catalog.engine)
    finally:
        catalog.close()


def test_a_table_without_a_migration_is_caught(tmp_path: Path) -> None:
    """The guard above can fail: a column the revisions do not make shows up as a difference."""
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        m.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE sites ADD COLUMN stray TEXT"))
        assert any("stray" in repr(d) for d in _diff(engine))
    finally:
        engine.dispose()


def test_baseline_is_release_0_1_0_schema_exactly(tmp_path: Path) -> None:
    """The baseline makes, statement for statement, the schema 0.1.0's ``create_all`` made.

    Compared with the committed 0.1.0 catalog, so the baseline stays frozen: editing it to
    follow a table module fails here (add a revision instead).
    """
    path = tmp_path / "baseline.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    try:
        m.upgrade(engine, "0001_baseline")
    finally:
        engine.dispose()

    def schema(db_path: Path) -> dict[tuple[str, str], str | None]:
        db = sqlite3.connect(db_path)
        try:
            rows = db.execute("SELECT type, name, sql FROM sqlite_master")
            return {(t, n): sql for t, n, sql in rows if "alembic_version" not in n}
        finally:
            db.close()

    assert schema(path) == schema(FIXTURE / "catalog.sqlite")


# -- a later revision -------------------------------------------------------------------------
def _scripts_with_second(tmp_path: Path, body: str) -> Path:
    """The shipped migrations plus a second revision, in a folder of the test's own."""
    where = tmp_path / "migrations"
    shutil.copytree(revision.MIGRATIONS_DIR, where, ignore=shutil.ignore_patterns("__pycache__"))
    (where / "versions" / f"{SECOND}.py").write_text(
        textwrap.dedent(
            f'''\
            """Notes on sites: a test revision that adds a column to a table with rows.

            Revision ID: {SECOND}
            Revises: {SHIPPED_HEAD}
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "{SECOND}"
            down_revision = "{SHIPPED_HEAD}"
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
            '''
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n\ndef downgrade() -> None:\n    pass\n"
    )
    return where


ADD_NOTES = """\
with op.batch_alter_table("sites") as batch:
    batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
"""


def test_a_second_revision_upgrades_an_old_catalog_with_rows_intact(
    old_archive: OldArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = _scripts_with_second(tmp_path, ADD_NOTES)
    CliRunner().invoke(cli_app, ["migrate", "--config", str(old_archive.config)])
    at_baseline = snapshot(old_archive.catalog)
    # Where the code's revisions are (read by Alembic and by the quick check status uses).
    monkeypatch.setattr(revision, "MIGRATIONS_DIR", scripts)

    # The code now needs 0002: the catalog at 0001 is refused with the command to run.
    with pytest.raises(m.SchemaVersionError) as caught:
        Catalog(old_archive.url)
    assert str(caught.value).startswith(
        f"catalog {old_archive.url} is at schema revision {SHIPPED_HEAD}, this archiver needs "
        f"{SECOND}; run `archiver migrate`"
    )
    out = CliRunner().invoke(cli_app, ["status", "--config", str(old_archive.config)])
    assert out.exit_code == 2 and "run `archiver migrate`" in out.output, out.output

    out = CliRunner().invoke(cli_app, ["migrate", "--config", str(old_archive.config)])
    assert out.exit_code == 0, out.output
    assert f"{SECOND}: Notes on sites" in out.output
    assert list(old_archive.root.glob(f"catalog.sqlite.pre-{SECOND}-*.bak"))

    after = snapshot(old_archive.catalog)
    # sites (the rebuilt table) kept every row and gained the column; the rest is untouched.
    assert [row[:-1] for row in after["sites"]] == at_baseline["sites"]
    assert {row[-1] for row in after["sites"]} == {""}
    for table, rows in at_baseline.items():
        if table not in ("sites", "audit_log"):
            assert after[table] == rows, table
    catalog = Catalog(old_archive.url)  # at the (patched) head now: opens
    catalog.close()
    db = sqlite3.connect(old_archive.catalog)
    try:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def test_a_failing_revision_leaves_the_catalog_as_it_was(tmp_path: Path) -> None:
    """All steps run in one transaction, DDL included, also on SQLite."""
    scripts = _scripts_with_second(
        tmp_path, ADD_NOTES + 'op.execute("INSERT INTO no_such_table VALUES (1)")\n'
    )
    path = tmp_path / "c.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        m.upgrade(engine, "0001_baseline")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, platform, account, department, base_url, created_at)"
                    " VALUES ('s', 'rss', 'a', '', '', 'now')"
                )
            )
        before = snapshot(path)
        with pytest.raises(Exception, match="no_such_table"):
            m.upgrade(engine, script_location=scripts)
        assert m.read_state(engine, scripts).current == "0001_baseline"
        columns = {c["name"] for c in inspect(engine).get_columns("sites")}
        assert "notes" not in columns
        assert snapshot(path) == before
        # The connection went back to the pool in its normal state.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


# -- refusals ---------------------------------------------------------------------------------
def test_a_catalog_from_a_newer_archiver_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    Catalog(url).close()
    db = sqlite3.connect(tmp_path / "c.sqlite")
    db.execute("UPDATE alembic_version SET version_num = '0042_from_the_future'")
    db.commit()
    db.close()
    with pytest.raises(m.SchemaVersionError) as caught:
        Catalog(url)
    assert str(caught.value).startswith(
        "this catalog was written by a newer archiver (revision 0042_from_the_future); "
        "upgrade the software"
    )
    config = tmp_path / "archiver.toml"
    config.write_text(f'[archive]\nroot = "{tmp_path}"\ncatalog_url = "{url}"\n')
    out = CliRunner().invoke(cli_app, ["migrate", "--config", str(config)])
    assert out.exit_code == 2
    assert "written by a newer archiver (revision 0042_from_the_future)" in out.output


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("ALTER TABLE sites ADD COLUMN added_by_hand TEXT", "table sites: columns"),
        ("DROP INDEX ix_items_posted_at", "table items: indexes"),
        ("DROP TRIGGER audit_log_no_delete", "append-only triggers missing: audit_log_no_delete"),
        ("DROP TABLE item_versions_fts", "full-text index item_versions_fts is missing"),
    ],
)
def test_a_pre_versioning_catalog_that_differs_from_the_baseline_is_not_stamped(
    old_archive: OldArchive, change: str, named: str
) -> None:
    db = sqlite3.connect(old_archive.catalog)
    db.execute(change)
    db.commit()
    db.close()
    out = CliRunner().invoke(cli_app, ["migrate", "--config", str(old_archive.config)])
    assert out.exit_code == 2, out.output
    assert "does not match the release 0.1.0 schema: " in out.output
    assert named in out.output.replace("\n", "")
    assert not list(old_archive.root.glob("catalog.sqlite.pre-*"))
    with pytest.raises(m.SchemaVersionError):
        Catalog(old_archive.url)


@pytest.mark.postgres
def test_a_pre_versioning_postgresql_catalog_is_checked_and_stamped(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        m.upgrade(engine, "0001_baseline")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sites (id, platform, account, department, base_url, created_at)"
                    " VALUES ('s', 'rss', 'a', '', '', 'now')"
                )
            )
            conn.execute(text("DROP TABLE alembic_version"))  # what 0.1.0's create_all left
        state = m.read_state(engine)
        assert state.unversioned
        assert m.baseline_differences(engine) == []
        with pytest.raises(m.SchemaVersionError, match="predates schema versioning"):
            Catalog(pg_url)
        m.upgrade(engine)
        assert m.read_state(engine).at_head
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM sites")).scalars().all() == ["s"]
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_the_daemon_refuses_to_start_on_an_old_catalog(old_archive: OldArchive) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archiver", "daemon", "--config", str(old_archive.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "predates schema versioning; run `archiver migrate`" in lines[0]


def _open_at_once(url: str, n: int) -> list[str]:
    """``n`` threads open the same new catalog at the same moment; returns their failures."""
    barrier = threading.Barrier(n)
    failures: list[str] = []

    def opener() -> None:
        barrier.wait()
        try:
            Catalog(url).close()
        except Exception as exc:  # the test reports whatever went wrong, whatever its type
            failures.append(repr(exc))

    threads = [threading.Thread(target=opener) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return failures


def test_processes_creating_one_new_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert _open_at_once(url, 6) == []
    engine = make_engine(url)
    try:
        assert m.read_state(engine).at_head
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_processes_creating_one_new_postgresql_catalog_at_once_all_succeed(pg_url: str) -> None:
    assert _open_at_once(pg_url, 4) == []
    engine = create_engine(pg_url)
    try:
        assert m.read_state(engine).at_head
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_migrate_on_a_new_archive_creates_the_catalog_and_dry_run_creates_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "archive"
    config = tmp_path / "archiver.toml"
    config.write_text(f'[archive]\nroot = "{root}"\n')
    out = CliRunner().invoke(cli_app, ["migrate", "--dry-run", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert "current revision: none (new catalog)" in out.output
    assert "0001_baseline: Baseline" in out.output
    assert not root.exists()
    out = CliRunner().invoke(cli_app, ["migrate", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert f"migrated: the catalog is at {SHIPPED_HEAD}" in out.output
    assert "backup:" not in out.output  # nothing existed to back up
    assert [p.name for p in root.iterdir()] == ["catalog.sqlite"]
    Catalog(f"sqlite:///{root / 'catalog.sqlite'}").close()
