"""``status`` reads the catalog through ``archiver.catalog.sql``: the same SQL text run by the
stdlib ``sqlite3`` driver (a quiet embedded catalog, no SQLAlchemy) or by SQLAlchemy
(PostgreSQL, and every other command). The answers must not depend on the driver.

The same rows go into a SQLite and a PostgreSQL catalog (both made by the migrations); every
read ``status`` makes (site rows, the six sections, the checks done when opening) is then
compared across ``SqliteReader`` on SQLite, ``SAReader`` on SQLite and ``SAReader`` on
PostgreSQL. The rows cover what differs between the two databases: booleans (0/1 against
true/false), NULLs, LIMIT with ties, IN lists, a table that only exists once the daemon ran.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Float, LargeBinary, MetaData, String, Table

from archiver.app import _quiet_embedded_catalog, config_changed
from archiver.catalog.marks import audit_head, journal_idle, last_config_change
from archiver.catalog.revision import at_head
from archiver.catalog.site_status import site_status
from archiver.catalog.sql import Reader, SAReader, SqliteReader, in_list, plain_sqlite_file
from archiver.catalog.store import Catalog
from archiver.catalog.tables import all_tables
from archiver.catalog.worm_state import last_check
from archiver.config import Config, load_config
from archiver.coverage import count_gaps
from archiver.coverage import status_section as coverage_section
from archiver.daemon.status import status_section as jobs_section
from archiver.errors import CatalogError
from archiver.fastlane.latency import misses
from archiver.fastlane.latency import status_section as fastlane_section
from archiver.integrity.status import status_section as integrity_section
from archiver.report.status import status_section as report_section
from archiver.retention.status import status_section as retention_section
from connectors.registry import platforms
from tests.helpers import site_toml, write_config

NOW = datetime.now(UTC).replace(microsecond=0)


def _t(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def _worm_result(problems: list[str]) -> str:
    return json.dumps(
        {
            "endpoint": "https://s3.example",
            "bucket": "records",
            "versioning_enabled": True,
            "default_retention": None,
            "compliance_shorten_refused": True,
            "compliance_delete_refused": not problems,
            "legal_hold_delete_refused": True,
            "legal_hold_inconclusive": False,
            "problems": problems,
            "canaries_left": [],
            "overridden": bool(problems),
            "checked_at": _t(5),
        }
    )


def _rows() -> dict[str, list[dict[str, Any]]]:
    """One archive's worth of catalog rows, the same for both databases."""
    site = {"department": "Communications", "base_url": "http://127.0.0.1:9"}
    runs = [
        # city: an old success, a 3-day gap, a failure, and the newest run (a tie on
        # started_at with nothing else: the newest is unambiguous)
        ("r1", "city", _t(200), _t(199.9), "succeeded", None),
        ("r2", "city", _t(100), _t(99.9), "succeeded", None),
        ("r3", "city", _t(2), _t(1.9), "failed", "HTTP 503 from the platform"),
        ("r4", "old", _t(900), None, "running", None),
    ]
    items = [
        # id, site, platform id, class, kind, root, removal_state, current_version
        (1, "city", "p1", "posts", "post", None, None, 1),
        (2, "city", "p2", "posts", "post", None, "removed", 3),
        (3, "city", "c1", "comments", "comment", "p1", None, 1),
        (4, "city", "c2", "comments", "comment", "p1", "hidden", 2),
        (5, "old", "q1", "posts", "post", None, None, 1),
    ]
    bundles = [
        ("b1", "city", "r1", "posts", "sealed", "2031-01-01", _t(199.9)),
        ("b2", "city", "r2", "comments", "sealed", None, _t(99.9)),
        ("b3", "city", "r2", "posts", "disposed", "2020-01-01", _t(99.8)),
        ("b4", "old", "r4", "posts", "sealed", None, _t(899)),
    ]
    return {
        "sites": [
            {"id": "city", "platform": "mastodon", "account": "cityofbozeman", **site,
             "created_at": _t(300), "token_expires": "never"},
            {"id": "old", "platform": "x", "account": "oldcity", **site,
             "created_at": _t(1000), "token_expires": _t(-24 * 10)},
        ],
        "runs": [
            {"id": i, "site_id": s, "started_at": a, "finished_at": b, "status": st,
             "error": e, "error_kind": "http" if e else None, "full_sweep": i == "r2",
             "counts_json": json.dumps({"posts": 2}), "pid": 4_000_000 if st == "running"
             else None, "host": "elsewhere" if st == "running" else None}
            for i, s, a, b, st, e in runs
        ],
        "bundles": [
            {"id": i, "key": f"{s}/{i}", "site_id": s, "run_id": r, "record_class": c,
             "storage": "local", "started_at": at, "sealed_at": at, "cataloged_at": at,
             "tagmanifest_sha256": "a" * 64, "size_bytes": 10, "file_count": 1,
             "record_count": 1, "status": st, "eligible_on": el, "last_verify_ok": i != "b2"}
            for i, s, r, c, st, el, at in bundles
        ],
        "items": [
            {"id": i, "site_id": s, "platform_id": p, "record_class": c, "kind": k,
             "root_id": root, "by_owner": k == "post", "posted_at": _t(150 - i),
             "first_captured_at": _t(150 - i), "last_seen_at": _t(1), "last_seen_run": "r2",
             "removal_state": rm, "current_version": v, "current_hash": "b" * 64}
            for i, s, p, c, k, root, rm, v in items
        ],
        "item_versions": [
            {"id": i, "item_id": i, "version": 1, "content_hash": "c" * 64, "text": "t",
             "captured_at": _t(99), "run_id": "r2", "bundle_id": "b2" if i in (3, 4) else "b1",
             "warc_file": "w.warc.gz", "warc_offset": 0, "warc_length": 1,
             "warc_record_id": f"<urn:uuid:{i}>", "warc_type": "response", "hidden": False}
            for i in (1, 2, 3, 4)
        ],
        "followers": [
            {"site_id": "city", "platform_id": f"f{n}", "first_seen_at": _t(200),
             "last_seen_at": _t(1), "last_seen_run": "r2",
             "unfollowed_at": _t(50) if n == 0 else None}
            for n in range(3)
        ],
        "degradations": [
            {"id": n, "site_id": "city", "run_id": "r2", "capability": f"cap{n}",
             "reason": "tier", "at": _t(100 - n)}
            for n in range(1, 7)
        ],
        "coverage": [
            {"id": 1, "site_id": "city", "run_id": "r1", "scope": "thread",
             "thread_platform_id": "p1", "reported": 9, "captured": 2, "reason": "api limit",
             "at": _t(199)},
            {"id": 2, "site_id": "city", "run_id": "r2", "scope": "thread",
             "thread_platform_id": "p1", "reported": 9, "captured": 5, "reason": "tier 1",
             "at": _t(99)},
            {"id": 3, "site_id": "city", "run_id": "r2", "scope": "thread",
             "thread_platform_id": "p2", "reported": 4, "captured": 4, "reason": "caught up",
             "at": _t(98)},
            {"id": 4, "site_id": "city", "run_id": "r2", "scope": "followers",
             "thread_platform_id": None, "reported": 10, "captured": 3, "reason": "gone",
             "at": _t(97)},
        ],
        "job_runs": [
            {"id": 1, "job_id": "harvest:city", "started_at": _t(3), "finished_at": _t(2.9),
             "result": "failed", "error": "HTTP 503", "detail_json": '{"tries": 3}'},
            {"id": 2, "job_id": "harvest:city", "started_at": _t(1), "finished_at": _t(1),
             "result": "skipped", "error": None, "detail_json": "{}"},
            {"id": 3, "job_id": "fixity", "started_at": _t(20), "finished_at": _t(19),
             "result": "failed", "error": "bundle b2 changed", "detail_json": "{}"},
            {"id": 4, "job_id": "report", "started_at": _t(30), "finished_at": _t(29),
             "result": "succeeded", "error": None, "detail_json": "{}"},
        ],
        "harvest_backoff": [
            {"site_id": "city", "consecutive_failures": 2, "last_failure_at": _t(2),
             "last_error": "HTTP 503", "skip_until": _t(-1), "backoff_seconds": 1800.0},
            {"site_id": "old", "consecutive_failures": 0, "last_failure_at": None,
             "last_error": "rate limited", "skip_until": _t(-0.5), "backoff_seconds": 0.0},
        ],
        "report_deliveries": [
            {"id": 1, "month": "2026-10", "attempted_at": _t(900), "ok": False,
             "recipients": 2, "endpoint": "smtp", "out_dir": "/r/10", "error": "refused"},
            {"id": 2, "month": "2026-10", "attempted_at": _t(890), "ok": True,
             "recipients": 2, "endpoint": "smtp", "out_dir": "/r/10", "error": None},
            {"id": 3, "month": "2026-11", "attempted_at": _t(100), "ok": False,
             "recipients": 2, "endpoint": "smtp", "out_dir": "/r/11", "error": "timeout"},
        ],
        "legal_holds": [
            {"id": n, "name": f"h{n}", "matter": "m", "placed_by": "x", "placed_at": _t(9),
             "status": st}
            for n, st in ((1, "active"), (2, "released"), (3, "active"))
        ],
        "disposition_batches": [
            {"id": i, "as_of": "2026-12-01", "path": "destroy", "status": st,
             "proposed_by": "x", "proposed_at": _t(9)}
            for i, st in (("B2", "approved"), ("B1", "proposed"), ("B0", "executed"))
        ],
        "comment_removals": [
            {"item_id": i, "site_id": "city", "platform_id": p, "category": 2,
             "recorded_by": "x", "recorded_at": _t(9), "reviewed": rv}
            for i, p, rv in ((3, "c1", False), (4, "c2", True))
        ],
        "bundle_seals": [
            {"bundle_id": b, "state": st, "tagmanifest_sha256": "a" * 64,
             "timestamp_state": ts, "checked_at": _t(9)}
            for b, st, ts in (("b1", "signed", "stamped"), ("b2", "signed", "pending"),
                              ("b4", "legacy_unsigned", "none"))
        ],
        "quarantined_bundles": [
            {"key": k, "bundle_id": k.rsplit("/", 1)[1], "reason": "tag manifest differs",
             "found_at": _t(9), "found_by": "verify"}
            for k in ("city/z9", "city/a1")
        ],
        "worm_checks": [
            {"endpoint": "https://s3.example", "bucket": "records", "checked_at": _t(5),
             "unsafe": True, "overridden": True, "refused": False,
             "result_json": _worm_result(["no object lock"])},
            {"endpoint": "https://s3.example", "bucket": "other", "checked_at": _t(5),
             "unsafe": False, "overridden": False, "refused": True,
             "result_json": _worm_result([])},
        ],
        "fastlane_latency": [
            {"id": n, "site_id": "city", "platform_id": p, "posted_at": _t(50),
             "sealed_at": _t(50 - s / 3600), "seconds": float(s)}
            for n, p, s in ((1, "c1", 30), (2, "x2", 75), (3, "x3", 500))
        ],
        "bookmarks": [
            {"site_id": "city", "key": "fastlane_since", "value": _t(160), "updated_at": _t(160)},
            {"site_id": "city", "key": "cursor", "value": "abc", "updated_at": _t(1)},
        ],
        "audit_log": [
            {"seq": n, "at": _t(10 - n), "actor": "clerk", "action": a, "subject": "s",
             "details": d, "prev_hash": f"{n - 1:064d}", "entry_hash": f"{n:064d}"}
            for n, a, d in ((1, "config.change", '{"sha256": "old"}'),
                            (2, "hold.place", "{}"),
                            (3, "config.change", '{"sha256": "new"}'),
                            (4, "removal.record", "{}"))
        ],
    }  # fmt: skip


def _jobs_table() -> Table:
    """APScheduler's job store table, as its SQLAlchemyJobStore makes it (not our schema)."""
    return Table(
        "apscheduler_jobs",
        MetaData(),
        Column("id", String(191), primary_key=True),
        Column("next_run_time", Float(25), index=True),
        Column("job_state", LargeBinary, nullable=False),
    )


def _fill(engine: Engine, *, with_jobs: bool) -> None:
    rows = _rows()
    with engine.begin() as conn:
        for table in all_tables().sorted_tables:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])
        if with_jobs:
            jobs = _jobs_table()
            jobs.create(conn)
            next_city = (NOW + timedelta(minutes=20)).timestamp()
            conn.execute(
                jobs.insert(),
                [
                    {"id": "harvest:city", "next_run_time": next_city, "job_state": b"x"},
                    {"id": "fixity", "next_run_time": next_city + 3600, "job_state": b"x"},
                    {"id": "paused", "next_run_time": None, "job_state": b"x"},
                ],
            )


SECTIONS: list[tuple[str, Callable[[Config, Reader], dict[str, Any]]]] = [
    ("jobs", jobs_section),
    ("report", report_section),
    ("retention", retention_section),
    ("integrity", integrity_section),
    ("fast lane", fastlane_section),
    ("coverage", coverage_section),
]


def _answers(cfg: Config, db: Reader) -> dict[str, Any]:
    """Everything ``status`` reads, plus the opening checks and the shared helpers."""
    out: dict[str, Any] = {"sites": site_status(db)}
    for name, section in SECTIONS:
        out[name] = section(cfg, db)
    out["worm_records"] = last_check(db, "https://s3.example", "records")
    out["worm_other"] = last_check(db, "https://s3.example", "other")
    out["worm_never"] = last_check(db, "https://s3.example", "nothing")
    out["audit_head"] = audit_head(db)
    out["last_config_change"] = last_config_change(db)
    out["at_head"] = at_head(db)
    out["count_gaps_threads"] = count_gaps(db, sites=["city", "old"], threads={"p1", "p2"})
    out["count_gaps_no_threads"] = count_gaps(db, threads=set())
    out["misses"] = misses(db, 60.0)
    return out


def _config(tmp_path: Path, catalog_url: str | None = None) -> Config:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_config(
        tmp_path,
        site_toml("city", "mastodon", "http://127.0.0.1:9", "cityofbozeman"),
        catalog_url=catalog_url,
    )
    cfg = load_config(str(path), platforms=platforms())
    cfg.root.mkdir(exist_ok=True)
    return cfg


def _sqlite_answers(tmp_path: Path, *, with_jobs: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = _config(tmp_path / "lite")
    catalog = Catalog(cfg.catalog_url)
    try:
        _fill(catalog.engine, with_jobs=with_jobs)
        with catalog.begin() as conn:
            via_sqlalchemy = _answers(cfg, SAReader(conn))
    finally:
        catalog.close()
    path = plain_sqlite_file(cfg.catalog_url)
    assert path is not None
    db = SqliteReader.open(path)
    try:
        via_sqlite3 = _answers(cfg, db)
    finally:
        db.close()
    return via_sqlite3, via_sqlalchemy


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Equal, and equal as ``status --json`` prints them: ``==`` alone takes ``0`` for
    ``False``, but a clerk's script reading the JSON would not."""
    assert a == b
    assert json.dumps(a, default=repr, sort_keys=True) == json.dumps(
        b, default=repr, sort_keys=True
    )


def _check_answers(got: dict[str, Any]) -> None:
    """The rows say what they should (so equal answers are not equally empty or wrong)."""
    city, old = got["sites"]
    assert city["last_run"]["id"] == "r3" and city["last_run"]["status"] == "failed"
    assert city["items"] == {"post": 2, "comment": 2}
    assert (city["removed_upstream"], city["edited"], city["followers"]) == (2, 2, 2)
    assert city["bundles"] == 2 and len(city["degradations"]) == 5
    assert city["degradations"][0]["capability"] == "cap6"
    assert old["last_run"]["status"] == "running" and old["last_success"] is None
    retention = got["retention"]["retention"]
    assert retention == {
        "active_holds": 2,
        "open_batches": ["B1", "B2"],
        "removals_awaiting_review": 1,
        "bundles_with_disposal_date": 1,
    }
    deliveries = got["report"]["report_deliveries"]
    assert [(d["month"], d["ok"]) for d in deliveries] == [("2026-11", False), ("2026-10", True)]
    integrity = got["integrity"]["integrity"]
    assert integrity["seals"] == {"signed": 2, "legacy_unsigned": 1}
    assert integrity["timestamps_pending"] == 1
    assert [q["key"] for q in integrity["quarantined"]] == ["city/a1", "city/z9"]
    assert got["fast lane"]["fastlane_latency"]["city"]["count"] == 3
    assert got["worm_records"][1] is False and got["worm_records"][0].unsafe
    assert got["worm_other"][1] is True and got["worm_never"] is None
    assert got["audit_head"] == (4, f"{4:064d}")
    assert got["last_config_change"] == '{"sha256": "new"}'
    assert got["at_head"] is True
    assert [g.thread_platform_id for g in got["count_gaps_threads"]] == ["p1"]
    assert got["count_gaps_threads"][0].captured == 5  # the newest row of the thread
    assert got["count_gaps_no_threads"] == []
    gaps = got["coverage"]["coverage"]
    kinds = sorted((g["kind"], g["scope"], g["end"] is None) for g in gaps)
    assert kinds == [  # the 100 h without a harvest, and the one still open
        ("count", "followers", True),
        ("count", "thread", True),
        ("harvest", "harvests", False),
        ("harvest", "harvests", True),
    ]
    assert [m.platform_id for m in got["misses"]] == ["c2"]  # c1 was captured live


@pytest.mark.parametrize("with_jobs", [True, False], ids=["daemon-ran", "no-job-store"])
def test_sqlite3_and_sqlalchemy_read_the_same_on_sqlite(tmp_path: Path, with_jobs: bool) -> None:
    via_sqlite3, via_sqlalchemy = _sqlite_answers(tmp_path, with_jobs=with_jobs)
    _check_answers(via_sqlite3)
    _same(via_sqlite3, via_sqlalchemy)
    jobs = via_sqlite3["jobs"]
    if with_jobs:
        assert [j["id"] for j in jobs["jobs"]] == ["fixity", "harvest:city", "paused", "report"]
        assert jobs["notes"][0].startswith("daemon: 3 job(s) scheduled; next harvest city")
        city = next(j for j in jobs["jobs"] if j["id"] == "harvest:city")
        assert city["last_run"]["result"] == "failed"  # the newer skipped run is no result
        assert city["backoff"]["consecutive_failures"] == 2
    else:
        assert jobs["notes"][0].startswith("daemon: no job schedule yet")


@pytest.mark.postgres
def test_postgresql_reads_the_same_as_sqlite(tmp_path: Path, pg_url: str) -> None:
    via_sqlite3, _ = _sqlite_answers(tmp_path, with_jobs=True)
    cfg = _config(tmp_path / "pg", catalog_url=pg_url)
    catalog = Catalog(cfg.catalog_url)
    try:
        _fill(catalog.engine, with_jobs=True)
        with catalog.begin() as conn:
            via_postgresql = _answers(cfg, SAReader(conn))
    finally:
        catalog.close()
    _check_answers(via_postgresql)
    # Paths in the config differ (two archive roots); nothing read from the catalog does.
    _same(via_postgresql, via_sqlite3)


def test_in_list_refuses_an_empty_list() -> None:
    assert in_list("s", ["a", "b"]) == ("(:s_0, :s_1)", {"s_0": "a", "s_1": "b"})
    with pytest.raises(ValueError, match="at least one"):
        in_list("s", [])


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/archive/catalog.sqlite", "/srv/archive/catalog.sqlite"),
        ("sqlite+pysqlite:///relative.db", "relative.db"),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:catalog.db?mode=ro&uri=true", None),
        ("sqlite:////srv/a%20b/catalog.sqlite", None),  # escapes: SQLAlchemy parses it
        ("postgresql+psycopg://archiver@db/catalog", None),
    ],
)
def test_only_a_plain_sqlite_url_is_read_without_sqlalchemy(url: str, path: str | None) -> None:
    got = plain_sqlite_file(url)
    assert (None if got is None else str(got)) == path


def test_quiet_path_only_when_opening_would_change_nothing(tmp_path: Path) -> None:
    """The sqlite3 path is taken only when ``open_app`` would write nothing: otherwise the
    config change, the journal and a new catalog are left to the full path."""
    from archiver.app import open_app

    cfg = _config(tmp_path)
    assert _quiet_embedded_catalog(cfg) is None  # no catalog yet: the full path creates it
    open_app(str(cfg.path)).close()  # creates, records the config, journals it
    quiet = _quiet_embedded_catalog(cfg)
    assert quiet is not None
    try:
        assert not config_changed(last_config_change(quiet), cfg)
        assert journal_idle(cfg.root, quiet)
    finally:
        quiet.close()
    cfg.path.write_text(cfg.path.read_text() + "\n# edited\n")
    assert _quiet_embedded_catalog(cfg) is None  # a config change to record
    open_app(str(cfg.path)).close()
    again = _quiet_embedded_catalog(cfg)
    assert again is not None
    again.close()
    pending = cfg.root / "journal" / "pending.jsonl"
    pending.write_text('{"op": "put"}\n')
    assert _quiet_embedded_catalog(cfg) is None  # an entry waits to be sealed


def test_a_failed_read_is_one_catalog_error_line(tmp_path: Path) -> None:
    """As ``Catalog.begin`` makes it, so ``status`` shows that section as unavailable."""
    cfg = _config(tmp_path)
    Catalog(cfg.catalog_url).close()
    path = plain_sqlite_file(cfg.catalog_url)
    assert path is not None
    db = SqliteReader.open(path)
    try:
        with pytest.raises(CatalogError, match="catalog database error: no such table: nowhere"):
            db.rows("SELECT * FROM nowhere")
        assert db.scalar("SELECT count(*) FROM sites") == 0  # the read transaction goes on
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            db.conn.execute("DELETE FROM sites")  # query_only: the reader cannot write
    finally:
        db.close()
