"""Coverage as data (issue 11 part 3): short threads and harvest gaps, shown with a reason.

Real parts only: the fake Mastodon server (which can count replies it never serves, as a real
instance does for followers-only or moderated replies), real harvests, the real catalog, the
real CLI, the real report builder and the real export.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fakeplatforms import FakeServer, MastodonWorld

from archiver.coverage import site_interval
from archiver.model import Coverage, Follower, WarcRef
from archiver.report.build import build_report_data, month_bounds
from archiver.report.render import attention_items, render_text
from connectors._paging import PageGuard, followers_stream
from tests.export.helpers import cli
from tests.helpers import harvest, open_test_app, site_toml, write_config

SITE = "bozeman-mastodon"
DENVER = ZoneInfo("America/Denver")
REF = WarcRef("w.warc.gz", 0, 1, "urn:uuid:1", "response", "https://example.test/")


def test_planted_short_thread_is_listed_with_its_reason_and_certified_as_a_gap(
    tmp_path: Path,
) -> None:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    resident = world.add_account("resident", "Resident")["id"]
    short = world.post_status(city, "Bridger Canyon Road closure update")["id"]
    whole = world.post_status(city, "Library hours for the holidays")["id"]
    for n in range(7):
        world.post_status(resident, f"Reply {n} about the road", in_reply_to_id=short)
    world.post_status(resident, "Thanks for the hours", in_reply_to_id=whole)
    world.inflate_replies(short, 5)  # the platform reports 12, serves 7
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml(SITE, "mastodon", server.url, "cityofbozeman"))
        harvest(config, SITE, full=True)

    r = cli(config, "coverage", "--site", SITE, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    counts = [g for g in out["gaps"] if g["kind"] == "count"]
    assert [(g["thread"], g["reported"], g["captured"]) for g in counts] == [(short, 12, 7)]
    assert counts[0]["reason"].startswith("tier: not available to the anonymous API")
    assert counts[0]["start"] and datetime.fromisoformat(counts[0]["start"]).utcoffset()

    r = cli(config, "coverage")
    assert r.returncode == 0, r.stderr
    assert f"thread {short}: platform reports 12, 7 captured: 5 tier" in r.stdout
    assert "NEEDS ATTENTION" in r.stdout and "fix: give the site a token" in r.stdout
    assert whole not in r.stdout

    r = cli(config, "coverage", "--site", "bozeman-mastodn")
    assert r.returncode == 2 and "bozeman-mastodon" in r.stderr

    r = cli(config, "status")
    assert r.returncode == 0, r.stderr
    assert "NEEDS ATTENTION: 1 coverage gap(s)" in r.stderr
    assert f"thread {short}" in r.stderr

    # The export of a request touching that thread names the gap and is not "complete".
    r = cli(config, "request", "open", "--requester", "Jane Q. Public", "--received",
            "2026-11-20", "--description", "Bridger Canyon Road", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    rid = json.loads(r.stdout)["id"]
    pkg = tmp_path / "pkg"
    r = cli(config, "export", rid, "Bridger Canyon", "--site", SITE, "--out", str(pkg))
    assert r.returncode == 0, r.stderr
    cert = (pkg / "certification.txt").read_text("utf-8")
    assert f"thread {short}: platform reports 12 replies, 7 captured: 5 tier" in cert
    assert "NOT certified as complete" in cert
    assert "complete copy" not in cert


def test_a_thread_that_is_whole_leaves_no_coverage_gap(tmp_path: Path) -> None:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    resident = world.add_account("resident", "Resident")["id"]
    post = world.post_status(city, "Snow plowing schedule")["id"]
    world.post_status(resident, "Thank you", in_reply_to_id=post)
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml(SITE, "mastodon", server.url, "cityofbozeman"))
        harvest(config, SITE, full=True)
    r = cli(config, "coverage", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"total": 0, "gaps": []}


def _add_run(db: sqlite3.Connection, site: str, at: datetime) -> None:
    db.execute(
        "INSERT INTO runs (id, site_id, started_at, finished_at, status, full_sweep, requests,"
        " counts_json) VALUES (?, ?, ?, ?, 'succeeded', 0, 1, '{}')",
        (uuid.uuid4().hex, site, at.isoformat(), (at + timedelta(minutes=2)).isoformat()),
    )


def test_a_month_without_harvests_for_one_site_is_flagged(tmp_path: Path) -> None:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    for name in ("cityofbozeman", "bozemanparks"):
        acc = world.add_account(name, name)["id"]
        world.post_status(acc, f"Hello from {name}")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, "cityofbozeman", extra='interval = "1d"'),
            site_toml("parks", "mastodon", server.url, "bozemanparks", extra='interval = "1d"'),
        )
        harvest(config, "city", full=True)
        harvest(config, "parks", full=True)

    # Simulated history: "city" harvested daily; "parks" killed for the whole of a past month.
    now = datetime.now(UTC)
    month = (now.astimezone(DENVER).replace(day=1) - timedelta(days=40)).strftime("%Y-%m")
    start, end = month_bounds(month, "America/Denver")
    first = start.astimezone(UTC) - timedelta(days=1)
    db = sqlite3.connect(tmp_path / "archive" / "catalog.sqlite")
    with db:
        day = first
        while day < now - timedelta(hours=12):
            _add_run(db, "city", day)
            day += timedelta(days=1)
        _add_run(db, "parks", first)
        _add_run(db, "parks", end.astimezone(UTC) + timedelta(days=1))
    db.close()

    app = open_test_app(config)
    try:
        data = build_report_data(app, month)
    finally:
        app.close()
    flagged = [g for g in data.coverage if g.kind == "harvest"]
    assert [g.site_id for g in flagged] == ["parks"]
    assert flagged[0].start <= start and flagged[0].end is not None and flagged[0].end >= end
    items = [i for i in attention_items(data) if i.kind == "coverage"]
    assert [(i.heading, i.subject) for i in items] == [("No harvest for too long", "parks")]
    text = render_text(data)
    head = text.split("SUMMARY")[0]
    assert "No harvest for too long: parks" in head
    assert "longer than twice the interval (48 h)" in head
    assert "What to do: check `archiver status`" in head

    r = cli(config, "coverage", "--site", "parks", "--json")
    assert r.returncode == 0, r.stderr
    assert {g["site"] for g in json.loads(r.stdout)["gaps"]} == {"parks"}
    r = cli(config, "coverage", "--site", "city", "--since", month + "-01", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total"] == 0


# -- kit: every connector's follower walk records the declared count beside the listed one ---


def _followers(
    pages: list[tuple[WarcRef, list[dict[str, str]]]], guard: PageGuard, declared: int
) -> list[object]:
    return list(
        followers_stream(
            pages,
            parse=lambda e, ref: Follower(e["id"], ref),
            guard=guard,
            refused=lambda exc: False,
            endpoint="GET followers",
            declared=declared,
            declared_ref=REF,
        )
    )


def test_followers_walk_cut_short_records_coverage_with_the_reason() -> None:
    guard = PageGuard("followers")
    guard.stopped = "the followers pagination looped"
    records = _followers([(REF, [{"id": "1"}, {"id": "2"}])], guard, 3000)
    cov = [r for r in records if isinstance(r, Coverage)]
    assert cov == [Coverage("followers", None, 3000, 2, "error: the followers pagination looped")]


def test_followers_walk_complete_and_whole_records_no_coverage() -> None:
    records = _followers([(REF, [{"id": "1"}, {"id": "2"}])], PageGuard("followers"), 2)
    assert not any(isinstance(r, Coverage) for r in records)


def test_a_weekly_cron_site_allows_a_week_between_harvests(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        site_toml("weekly", "mastodon", "http://127.0.0.1:9", "a", extra='cron = "0 3 * * 1"'),
        site_toml("hourly", "mastodon", "http://127.0.0.1:9", "b", extra='interval = "1h"'),
    )
    app = open_test_app(config)
    try:
        by_id = {s.id: s for s in app.cfg.sites}
        assert site_interval(by_id["weekly"], app.cfg.timezone) == timedelta(days=7)
        assert site_interval(by_id["hourly"], app.cfg.timezone) == timedelta(hours=1)
    finally:
        app.close()
