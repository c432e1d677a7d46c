"""A month of activity, the catalog deleted, ``catalog rebuild`` from storage alone: same content.

Real harvests of the fake Mastodon server (four "weeks" of edits, deletions, new posts and
follower changes), then the workflow a clerk drives: a schedule confirmation, legal holds (one
released), a records request with an export, a comment removal and its attorney review, and
an approved disposition that destroys some bundles. The catalog file is then deleted and
rebuilt with the real CLI; every table is compared row for row with the original, with only
the ids a rebuild renumbers (ingest-assigned item, version and event ids) normalized.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fakeplatforms.mastodon import MastodonWorld

from archiver.prr.export import ExportOptions, run_export
from archiver.prr.requests import close_request, open_request
from archiver.retention import disposition as d
from archiver.retention.confirmations import confirm
from archiver.retention.eligibility import compute_eligibility, load_settings
from archiver.retention.holds import add_hold, release_hold
from archiver.retention.removal import record_removal, review
from archiver.search import SearchFilters
from archiver.settings.requests import RequestPolicy
from tests.dr.helpers import cli, snapshot
from tests.helpers import catalog_rows, harvest
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for


def _week_of_changes(w: MastodonWorld, city: str, week: int) -> None:
    """What a week upstream looks like: posts, replies, an edit, a deletion, follower churn."""
    post = w.post_status(city, f"Week {week}: snow plowing schedule for the west side.")
    fan = w.add_account(f"resident{week}", f"Resident {week}")
    w.post_status(str(fan["id"]), f"Thanks for the week {week} update!", in_reply_to_id=post["id"])
    w.follow(city, str(fan["id"]))
    ids = w.status_ids(city)
    w.edit_status(ids[-1], w.status_text(ids[-1]) + f" (corrected in week {week})")
    if week == 3:
        w.unfollow(city, w.follower_ids(city)[0])
    if week == 4:
        replies = [s for s in w.status_ids(str(fan["id"]))]
        w.delete_status(replies[-1])


@pytest.fixture(params=["all-comments-disposed", "some-comments-held", "disposal-last"])
def month(
    make_archive: ArchiveFactory,
    world: tuple[MastodonWorld, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Path]:
    """A month of harvests and workflow on one archive; yields the config path.

    ``some-comments-held``: a hold keeps the first comment bundle, so the disposition
    destroys later bundles that saw the same comments again, one of them edited (the usual
    case in a real archive, where every full sweep captures the same comments again).
    ``disposal-last``: the same, with no harvest after the disposition, so the catalog still
    shows comments last seen in destroyed bundles.
    """
    w, city = world
    # Followers and comments are kept one year, posts and media permanently, so the
    # disposition destroys some bundles and keeps others.
    config = make_archive({"city_post": "TEST.2026-2", "media": "TEST.2026-2"})
    for week in range(1, 5):
        _week_of_changes(w, city, week)
        if week == 2:
            # A public comment edited upstream: its second version lands in a later bundle.
            second = catalog_rows(
                config,
                "SELECT platform_id FROM items WHERE kind = 'comment' AND by_owner = 0 "
                "ORDER BY id LIMIT 1 OFFSET 1",
            )[0]["platform_id"]
            w.edit_status(second, w.status_text(second) + " EDIT: fixed a typo")
        assert harvest(config, "city", full=week % 2 == 0).status == "succeeded"

    app = app_for(config)
    try:
        settings = load_settings(app.cfg)
        confirm(app, settings, ref="TEST.2026-4", by="Rita Records", note="checked with MSL")
        add_hold(app, name="plow-suit", matter="Doe v. City", query="plowing", by="Cara Clerk")
        add_hold(app, name="old-matter", matter="Roe v. City", site="city", by="Cara Clerk")
        release_hold(app, name="old-matter", reason="settled", by="Cara Clerk")
        if request.param != "all-comments-disposed":
            with app.catalog.begin() as conn:
                text = conn.exec_driver_sql(
                    "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
                    "WHERE i.kind = 'comment' AND i.by_owner = 0 ORDER BY v.id LIMIT 1"
                ).scalar_one()
            word = max(re.findall(r"[A-Za-z]+", text), key=len)
            add_hold(app, name="one-comment", matter="Poe v. City", query=word, by="Cara Clerk")
        policy = RequestPolicy()
        req = open_request(
            app.catalog,
            requester="Pat Public",
            received=date(2026, 11, 20),
            description="posts about snow plowing",
            policy=policy,
            anchor_path=app.cfg.audit_anchor,
        )
        run_export(
            app,
            ExportOptions(
                request_id=req.id,
                query="plowing",
                filters=SearchFilters(site="city", all_versions=True),
                out=tmp_path / "exports" / "prr-1",
            ),
        )
        close_request(app.catalog, req.id, outcome="records sent", anchor_path=app.cfg.audit_anchor)
        with app.catalog.begin() as conn:
            comment = conn.exec_driver_sql(
                "SELECT site_id, platform_id FROM items WHERE kind IN ('comment', 'reply') "
                "AND by_owner = 0 ORDER BY platform_id LIMIT 1"
            ).one()
        ref = f"{comment[0]}:{comment[1]}"
        record_removal(app, item=ref, category=3, by="Melissa Communications", note="slur")
        review(app, item=ref, attorney="Alex Attorney", decision="approve", note="fits cat. 3")
        compute_eligibility(app, settings, today=FAR_FUTURE)
        batch = d.propose(app, settings, by="Rita Records", as_of=FAR_FUTURE)
        d.approve(app, batch_id=str(batch["id"]), by="Mia Mayor", title="City Manager")
        result = d.execute(
            app, settings, batch_id=str(batch["id"]), by="Ed Executor", today=FAR_FUTURE
        )
        assert result.disposed, "the month must include a real disposal"
    finally:
        app.close()
    if request.param != "disposal-last":
        # Life goes on after the disposition: one more week and harvest.
        _week_of_changes(w, city, 5)
        assert harvest(config, "city").status == "succeeded"
    verified = cli(config, "verify", "--all")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    yield config


def test_deleted_catalog_is_rebuilt_identical_in_content(month: Path, tmp_path: Path) -> None:
    config = month
    root = tmp_path / "archive"
    catalog = root / "catalog.sqlite"
    original = snapshot(catalog)
    # The month really produced every kind of workflow state the rebuild must bring back.
    for table in (
        "legal_holds",
        "records_requests",
        "exports",
        "comment_removals",
        "schedule_item_confirmations",
        "disposition_batches",
        "batch_bundles",
        "tombstones",
        "disposal_records",
        "audit_log",
        "runs",
        "items",
        "item_versions",
        "item_events",
    ):
        assert original[table], f"the demo month left {table} empty"
    assert any('"event": "edited"' in r for r in original["item_events"])
    assert any('"status": "disposed"' in r for r in original["bundles"])
    assert any('"status": "sealed"' in r for r in original["bundles"])
    assert any('"reviewed": 1' in r for r in original["comment_removals"])

    # Kept beside the archive for a look when this test fails.
    src, dst = sqlite3.connect(catalog), sqlite3.connect(tmp_path / "original.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    # Lose the catalog (the WAL and shared-memory files too).
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    rebuilt = tmp_path / "rebuilt.sqlite"
    r = cli(config, "catalog", "rebuild", "--into", str(rebuilt))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hash chain re-verified" in r.stdout

    copy = snapshot(rebuilt)
    assert sorted(copy) == sorted(original)
    for table in original:
        assert copy[table] == original[table], f"table {table} differs after rebuild"

    # The rebuilt catalog is a working catalog: put it in place and verify everything.
    os.replace(rebuilt, catalog)
    for args in (("verify", "--all"), ("audit", "verify")):
        r = cli(config, *args)
        assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"


def test_rebuild_refuses_an_existing_catalog(make_archive: ArchiveFactory, tmp_path: Path) -> None:
    config = make_archive()
    catalog = tmp_path / "archive" / "catalog.sqlite"
    before = catalog.read_bytes()
    r = cli(config, "catalog", "rebuild", "--into", str(catalog))
    assert r.returncode != 0
    assert "refusing to rebuild into" in r.stderr and "not empty" in r.stderr
    assert "Traceback" not in r.stderr
    assert catalog.read_bytes() == before
