"""Bundle format versions: every version ever written is read, a newer one is refused."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import bagit
import pytest
from typer.testing import CliRunner

from archiver.bundle import BUNDLE_SCHEMA_VERSION, RECORDS_DB, TABLE_SQL, finish_records_db
from archiver.bundle_format import CURRENT_VERSION, open_records
from archiver.catalog import Catalog
from archiver.catalog.ingest import ingest_bundle
from archiver.cli import app as cli_app
from archiver.errors import BundleError
from tests.migrations.conftest import FIXTURE, OldArchive

OLD_BUNDLES = sorted(p.parent.parent for p in FIXTURE.glob("bundles/*/*/*/data/records.sqlite"))


def test_the_fixture_holds_bundles_of_every_format_ever_written() -> None:
    assert len(OLD_BUNDLES) == 10
    versions = set()
    for bundle in OLD_BUNDLES:
        db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
        try:
            versions.add(
                db.execute("SELECT value FROM bundle_info WHERE key = 'schema_version'").fetchone()[
                    0
                ]
            )
        finally:
            db.close()
    # The fixture holds format 1 bundles (read through the v1 adapter); format 2 (issue 13's
    # live_removals) is what this code writes and every other test reads.
    assert versions == {"1"} and CURRENT_VERSION == BUNDLE_SCHEMA_VERSION == 5


def test_every_old_bundle_is_ingested_by_the_new_code(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        for bundle in OLD_BUNDLES:
            key = bundle.relative_to(FIXTURE / "bundles").as_posix()
            with catalog.begin() as conn:
                result = ingest_bundle(conn, bundle, key=key, storage="local")
            assert not result.skipped
            assert result.bundle_id == bundle.name
        assert catalog.bundle_ids() == {b.name for b in OLD_BUNDLES}
    finally:
        catalog.close()


def _with_version(tmp_path: Path, value: str | None) -> Path:
    """A copy of an old bundle whose records.sqlite states another format version."""
    source = next(b for b in OLD_BUNDLES if "-posts-" in b.name)
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    db = sqlite3.connect(copy / RECORDS_DB)
    if value is None:
        db.execute("DELETE FROM bundle_info WHERE key = 'schema_version'")
    else:
        db.execute("UPDATE bundle_info SET value = ? WHERE key = 'schema_version'", (value,))
    db.commit()
    db.close()
    # A real bundle from another archiver agrees with its own manifests; only its format
    # version is unknown, so the manifests are recomputed after the edit.
    bagit.Bag(str(copy)).save(manifests=True)
    return copy


def test_a_bundle_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    bundle = _with_version(tmp_path, "6")
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        with pytest.raises(BundleError) as caught, catalog.begin() as conn:
            ingest_bundle(conn, bundle, key=f"site/2026/{bundle.name}", storage="local")
        assert str(caught.value) == (
            f"bundle site/2026/{bundle.name} has format version 6; this archiver reads up to 5; "
            "upgrade the software"
        )
        assert catalog.bundle_ids() == set()  # nothing half-cataloged
    finally:
        catalog.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "has no bundle format version (bundle_info.schema_version)"),
        ("one", "has bundle format version 'one', which is not a number"),
        ("0", "has format version 0, which no archiver ever wrote"),
    ],
)
def test_a_bundle_without_a_readable_version_is_refused(
    tmp_path: Path, value: str | None, message: str
) -> None:
    bundle = _with_version(tmp_path, value)
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_records(bundle / RECORDS_DB, bundle=bundle.name)


def test_recover_refuses_a_newer_bundle_in_storage_with_one_line(
    old_archive: OldArchive, tmp_path: Path
) -> None:
    """A catalog rebuilt from storage that holds a bundle from a newer archiver stops clearly."""
    newer = _with_version(tmp_path, "7")
    target = next(old_archive.root.glob(f"bundles/*/*/{newer.name}"))
    shutil.rmtree(target)
    shutil.copytree(newer, target)
    # Cataloging starts from an empty catalog here, as a rebuild would.
    fresh = tmp_path / "fresh.sqlite"
    config = tmp_path / "fresh.toml"
    config.write_text(
        old_archive.config.read_text().replace(
            "[archive]\n", f'[archive]\ncatalog_url = "sqlite:///{fresh}"\n', 1
        )
    )
    out = CliRunner().invoke(cli_app, ["recover", "--config", str(config)])
    assert out.exit_code == 2, out.output
    assert "has format version 7; this archiver reads up to 5; upgrade the software" in out.output
    assert "Traceback" not in out.output


def test_a_format_1_bundle_reads_with_empty_format_2_tables() -> None:
    """Format 2 added live removals and coverage counts; a 0.1.0 bundle shows both empty."""
    for bundle in OLD_BUNDLES:
        db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
        try:
            assert db.execute("SELECT count(*) FROM live_removals").fetchone()[0] == 0
            assert db.execute("SELECT count(*) FROM coverage").fetchone()[0] == 0
        finally:
            db.close()


def _as_format_2(tmp_path: Path, source: Path) -> Path:
    """A copy of an old bundle laid out exactly as format 2 wrote it (format 1 plus
    live_removals and coverage), manifests recomputed."""
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    db = sqlite3.connect(copy / RECORDS_DB)
    db.executescript(
        "CREATE TABLE live_removals (platform_id TEXT NOT NULL, reported_at TEXT NOT NULL,"
        " detail TEXT NOT NULL, warc_file TEXT, warc_offset INTEGER, warc_length INTEGER);"
        "CREATE TABLE coverage (scope TEXT NOT NULL, thread_platform_id TEXT, reported INTEGER"
        " NOT NULL, captured INTEGER NOT NULL, reason TEXT NOT NULL);"
        "UPDATE bundle_info SET value = '2' WHERE key = 'schema_version';"
    )
    db.commit()
    db.close()
    bagit.Bag(str(copy)).save(manifests=True)
    return copy


def test_a_format_2_bundle_reads_with_empty_format_3_tables(tmp_path: Path) -> None:
    """Format 2 (every item and follower in full) reads and ingests under format 3 code."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    new_items = 0
    try:
        for source in OLD_BUNDLES:
            bundle = _as_format_2(tmp_path, source)
            db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
            try:
                assert db.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
                assert db.execute("SELECT count(*) FROM follower_diffs").fetchone()[0] == 0
            finally:
                db.close()
            key = f"site/2026/{bundle.name}"
            with catalog.begin() as conn:
                result = ingest_bundle(conn, bundle, key=key, storage="local")
            assert not result.skipped and result.seen == 0
            new_items += result.new_items
        assert new_items > 0
        assert catalog.bundle_ids() == {b.name for b in OLD_BUNDLES}
    finally:
        catalog.close()


V3 = Path(__file__).parent.parent / "fixtures" / "v3_lean" / "bundles"
V3_BUNDLES = sorted(
    (p.parent.parent for p in V3.glob("*/*/*/data/records.sqlite")),
    key=lambda b: (b / "bag-info.txt").read_text().split("Sealed-At: ")[1],
)


def _rows(bundle: Path, table: str) -> list[tuple[object, ...]]:
    db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
    try:
        return [tuple(r) for r in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()


def test_format_3_bundles_are_read_and_ingested_by_the_new_code(tmp_path: Path) -> None:
    """Format 3 (seen rows, follower checkpoint and diffs) as sealed in the field: every
    bundle reads, ingests in seal order, and "last seen" and the follower diff apply."""
    assert len(V3_BUNDLES) == 12
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    seen = followed = 0
    try:
        for bundle in V3_BUNDLES:
            db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
            try:
                assert (
                    db.execute(
                        "SELECT value FROM bundle_info WHERE key = 'schema_version'"
                    ).fetchone()[0]
                    == "3"
                )
            finally:
                db.close()
            with catalog.begin() as conn:
                result = ingest_bundle(
                    conn, bundle, key=f"bench/2026/{bundle.name}", storage="local"
                )
            assert not result.skipped
            seen += result.seen
            followed += result.followed
        assert seen > 0 and followed == 90 + 5  # the checkpoint, then the diff
        assert catalog.bundle_ids() == {b.name for b in V3_BUNDLES}
    finally:
        catalog.close()


def _as_format_4(tmp_path: Path, source: Path) -> Path:
    """A writable copy of a format 3 bundle with its records database sealed as format 4."""
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    db = sqlite3.connect(copy / RECORDS_DB, isolation_level=None)
    db.execute("UPDATE bundle_info SET value = '4' WHERE key = 'schema_version'")
    finish_records_db(db)
    db.close()
    return copy


def test_format_4_keeps_every_index_fact_of_format_3_in_fewer_bytes(tmp_path: Path) -> None:
    """The compact WARC index and seen rows read back exactly as the format 3 rows they
    replace (record ids, URIs, digests, revisit links, the record that showed a seen item)."""
    before = after = 0
    checked = {"warc_records": 0, "seen": 0}
    for source in V3_BUNDLES:
        compact = _as_format_4(tmp_path, source)
        for table in checked:
            old = _rows(source, table)
            assert _rows(compact, table) == old, (source.name, table)
            checked[table] += len(old)
        before += (source / RECORDS_DB).stat().st_size
        after += (compact / RECORDS_DB).stat().st_size
    assert checked["warc_records"] > 50 and checked["seen"] > 20
    assert after < before * 0.8, (before, after)


V4 = Path(__file__).parent.parent / "fixtures" / "v4_compact" / "bundles"
V4_BUNDLES = sorted(
    (p.parent.parent for p in V4.glob("*/*/*/data/records.sqlite")),
    key=lambda b: (b / "bag-info.txt").read_text().split("Sealed-At: ")[1],
)


def test_format_4_bundles_are_read_and_ingested_by_the_new_code(tmp_path: Path) -> None:
    """Format 4 (compact index) as sealed in the field: every bundle reads and ingests in seal
    order; "last seen" and the follower checkpoint and diff apply."""
    assert len(V4_BUNDLES) == 14
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    seen = followed = 0
    try:
        for bundle in V4_BUNDLES:
            db = open_records(bundle / RECORDS_DB, bundle=bundle.name)
            try:
                version = db.execute(
                    "SELECT value FROM bundle_info WHERE key = 'schema_version'"
                ).fetchone()[0]
                assert version == "4"
                assert all(
                    isinstance(r[0], str) for r in db.execute("SELECT platform_id FROM seen")
                )
            finally:
                db.close()
            with catalog.begin() as conn:
                result = ingest_bundle(
                    conn, bundle, key=f"bench/2026/{bundle.name}", storage="local"
                )
            assert not result.skipped
            seen += result.seen
            followed += result.followed
        assert seen > 0 and followed == 90 + 5  # the checkpoint, then the diff
    finally:
        catalog.close()


def _as_format_5(tmp_path: Path, source: Path) -> Path:
    """A writable copy of a format 4 bundle whose records database is written again, from
    the rows a reader sees, and sealed as this code seals (format 5)."""
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    (copy / RECORDS_DB).unlink()
    old = open_records(source / RECORDS_DB, bundle=source.name)
    new = sqlite3.connect(copy / RECORDS_DB, isolation_level=None)
    try:
        for name, sql in TABLE_SQL.items():
            new.execute(sql)
            rows = old.execute(f"SELECT * FROM {name}").fetchall()
            if rows:
                marks = ",".join("?" * len(rows[0]))
                new.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        new.execute("UPDATE bundle_info SET value = '5' WHERE key = 'schema_version'")
        finish_records_db(new)
    finally:
        old.close()
        new.close()
    return copy


def test_format_5_keeps_every_fact_of_format_4_in_fewer_bytes(tmp_path: Path) -> None:
    """Integer platform ids in the seen ledger and schema text without layout whitespace: every
    table reads back row for row (ids as the same text), and no database grows."""
    checked = 0
    as_int = 0
    for source in V4_BUNDLES:
        lean = _as_format_5(tmp_path, source)
        for table in TABLE_SQL:
            if table == "bundle_info":
                continue
            old = _rows(source, table)
            assert _rows(lean, table) == old, (source.name, table)
            checked += len(old)
        db = sqlite3.connect(f"file:{lean / RECORDS_DB}?mode=ro", uri=True)
        try:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'seen_index'").fetchone():
                as_int += db.execute(
                    "SELECT count(*) FROM seen_index WHERE typeof(platform_id) = 'integer'"
                ).fetchone()[0]
            assert not db.execute(
                "SELECT 1 FROM sqlite_master WHERE sql LIKE '%' || char(10) || '%'"
            ).fetchone()
        finally:
            db.close()
        assert (lean / RECORDS_DB).stat().st_size <= (source / RECORDS_DB).stat().st_size
    assert checked > 200 and as_int > 20
