"""Legal holds over real harvests: a hold is a query, covers later captures, and releases cleanly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fakeplatforms.mastodon import MastodonWorld
from sqlalchemy import create_engine, text

from archiver.audit import verify
from archiver.errors import HoldCheckError, RetentionError
from archiver.prr import requests as requests_tables
from archiver.prr.export import ExportOptions, run_export
from archiver.prr.requests import close_request, open_request
from archiver.retention.holds import (
    add_hold,
    held_bundles,
    list_holds,
    open_request_holds,
    release_hold,
)
from archiver.search import SearchFilters
from archiver.settings.requests import RequestPolicy
from tests.helpers import catalog_rows, harvest
from tests.retention_kit import ArchiveFactory, app_for


def _bundles_with(config: Path, word: str) -> set[str]:
    rows = catalog_rows(
        config,
        "SELECT DISTINCT v.bundle_id FROM item_versions v WHERE v.text LIKE ?",
        (f"%{word}%",),
    )
    return {r["bundle_id"] for r in rows}


def test_query_hold_covers_matching_bundles_and_later_captures(
    make_archive: ArchiveFactory, world: tuple[MastodonWorld, str]
) -> None:
    config = make_archive()
    app = app_for(config)
    try:
        add_hold(app, name="zebra-suit", matter="Doe v. City", query="zebracrossing", by="Clerk")
        assert held_bundles(app) == {}
        w, city = world
        resident = w.add_account("zed", "Zed")
        w.post_status(
            str(resident["id"]),
            "The zebracrossing on Main is faded",
            in_reply_to_id=w.status_ids(city)[0],
        )
    finally:
        app.close()
    harvest(config, "city")
    expected = _bundles_with(config, "zebracrossing")
    assert expected
    app = app_for(config)
    try:
        held = held_bundles(app)
        assert expected <= set(held)
        assert all(held[b] == ["zebra-suit"] for b in expected)
        flagged = {
            r["bundle_id"] for r in catalog_rows(config, "SELECT bundle_id FROM store_holds")
        }
        assert expected <= flagged or flagged == set()  # local storage: sync runs on add/release
    finally:
        app.close()


def test_site_period_hold_and_release(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    app = app_for(config)
    try:
        add_hold(app, name="all-city", matter="Audit 2026", site="city", by="Clerk")
        every = {r["id"] for r in catalog_rows(config, "SELECT id FROM bundles")}
        assert set(held_bundles(app)) == every
        assert {
            r["bundle_id"] for r in catalog_rows(config, "SELECT bundle_id FROM store_holds")
        } == every
        add_hold(app, name="long-ago", matter="Old matter", site="city",
                 since=date(2001, 1, 1), until=date(2001, 12, 31), by="Clerk")  # fmt: skip
        held = held_bundles(app)
        assert all(names == ["all-city"] for names in held.values())
        release_hold(app, name="all-city", reason="matter closed", by="Clerk")
        assert held_bundles(app) == {}
        assert catalog_rows(config, "SELECT bundle_id FROM store_holds") == []
        with pytest.raises(RetentionError, match="already released"):
            release_hold(app, name="all-city", reason="again", by="Clerk")
        rows = {r["name"]: r for r in list_holds(app)}
        assert rows["all-city"]["status"] == "released"
        assert rows["all-city"]["release_reason"] == "matter closed"
        with app.catalog.begin() as conn:
            report = verify(conn, anchor_path=app.cfg.root / "audit-head.json")
        assert report.ok and report.entries_checked >= 3
    finally:
        app.close()
    actions = [
        r["action"] for r in catalog_rows(config, "SELECT action FROM audit_log ORDER BY seq")
    ]
    assert actions.count("hold.add") == 2 and actions.count("hold.release") == 1


def test_unknown_site_is_one_clear_error(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    app = app_for(config)
    try:
        with pytest.raises(RetentionError) as err:
            add_hold(app, name="x", matter="m", site="citty", by="Clerk")
    finally:
        app.close()
    assert "unknown site 'citty'" in str(err.value) and "known sites: city" in str(err.value)
    assert "\n" not in str(err.value)
    assert catalog_rows(config, "SELECT * FROM legal_holds") == []


def test_author_hold(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    author = catalog_rows(
        config,
        "SELECT author_handle FROM items WHERE by_owner = 0 AND author_handle IS NOT NULL LIMIT 1",
    )[0]["author_handle"]
    expected = {
        r["bundle_id"]
        for r in catalog_rows(
            config,
            "SELECT v.bundle_id FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.author_handle = ?",
            (author,),
        )
    }
    app = app_for(config)
    try:
        add_hold(app, name="by-author", matter="Harassment complaint", author=author, by="Clerk")
        assert expected <= set(held_bundles(app))
    finally:
        app.close()


def test_open_records_request_blocks_like_a_hold(
    make_archive: ArchiveFactory, tmp_path: Path
) -> None:
    config = make_archive()
    expected = _bundles_with(config, "snow")
    assert expected
    app = app_for(config)
    try:
        req = open_request(
            app.catalog,
            requester="Bozeman Daily Chronicle",
            received=date(2026, 11, 20),
            description="posts about snow removal",
            policy=RequestPolicy(),
        )
        # Not exported yet: everything posted up to its receipt is held.
        held = held_bundles(app)
        assert expected <= set(held)
        names = {n for names in held.values() for n in names}
        assert names == {f"open request {req.id} (not exported yet: all records up to 2026-11-20)"}
        run_export(
            app,
            ExportOptions(
                request_id=req.id,
                query="snow",
                filters=SearchFilters(all_versions=True),
                out=tmp_path / "export",
            ),
        )
        held = held_bundles(app)
        assert expected <= set(held)
        assert all(f"open request {req.id}" in held[b] for b in expected)
        close_request(app.catalog, req.id, outcome="records sent")
        assert held_bundles(app) == {}
    finally:
        app.close()


def test_hold_check_with_missing_request_tables_raises_instead_of_answering_no_holds() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn, pytest.raises(HoldCheckError) as err:
        open_request_holds(conn, "America/Denver")
    assert "'records_requests', 'exports'" in str(err.value)
    assert "archiver migrate" in str(err.value)
    assert err.value.exit_code != 0


def test_held_bundles_raises_when_the_exports_table_is_gone(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    app = app_for(config)
    try:
        add_hold(app, name="all-city", matter="Audit 2026", site="city", by="Clerk")
        with app.catalog.begin() as conn:
            conn.execute(text("DROP TABLE exports"))
        with pytest.raises(HoldCheckError, match="'exports' is missing"):
            held_bundles(app)
    finally:
        app.close()


def test_open_request_with_unreadable_export_filters_holds_every_bundle(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive()
    every = {r["id"] for r in catalog_rows(config, "SELECT id FROM bundles")}
    assert every
    app = app_for(config)
    try:
        with app.catalog.begin() as conn:
            conn.execute(
                requests_tables.records_requests.insert().values(
                    id="PRR-2026-0001", year=2026, seq=1, requester="R", received="2026-01-01",
                    description="all posts", status="open", acknowledge_by="2026-01-05",
                    respond_by="2026-01-20", opened_at="2026-01-01T00:00:00+00:00", opened_by="C",
                )
            )  # fmt: skip
            conn.execute(
                requests_tables.exports.insert().values(
                    request_id="PRR-2026-0001", actor="C", at="2026-01-02T00:00:00+00:00",
                    out_path="/x", package_sha256="0" * 64, counts_json="{}",
                    query_json="not json",
                )
            )  # fmt: skip
        with app.catalog.begin() as conn:
            names = [h.name for h in open_request_holds(conn, "America/Denver")]
        assert names == ["open request PRR-2026-0001 (export filters unreadable: all records)"]
        assert set(held_bundles(app)) == every
    finally:
        app.close()
