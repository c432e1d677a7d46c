"""Fast lane on Mastodon: a comment created, captured live, then deleted 3 minutes later.

Real parts: the fake instance with its user stream (SSE) and notifications on loopback, the
real recorder, bundles, seal check and catalog (through ``Harvester.harvest_site``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer

from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@dataclass
class Live:
    world: LiveMastodon
    config: Path
    ids: dict[str, str]
    server: FakeServer


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    world = LiveMastodon(clock_start=T0)
    ids = {
        "city": world.add_account("cityofbozeman", "City of Bozeman")["id"],
        "maria": world.add_account("maria", "Maria")["id"],
    }
    ids["A"] = world.post_status(ids["city"], "Road closure on Main St.")["id"]
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "masto", full=True)  # the sweep that knows the account
        yield Live(world, config, ids, server)


def tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("masto"))
    finally:
        app.close()
    assert result.status == "succeeded"


def item(config: Path, pid: str) -> dict[str, object]:
    rows = catalog_rows(config, "SELECT * FROM items WHERE platform_id = ?", (pid,))
    assert len(rows) == 1, rows
    return dict(rows[0])


def test_comment_deleted_three_minutes_later_is_kept_and_marked_removed(live: Live) -> None:
    created = datetime.now(UTC) - timedelta(minutes=3)
    c = live.world.post_status(
        live.ids["maria"],
        "this is a public record",
        in_reply_to_id=live.ids["A"],
        created_at=created,
    )["id"]
    tick(live.config)
    row = item(live.config, c)
    assert row["record_class"] == "comments" and row["root_id"] == live.ids["A"]
    assert row["disappeared_at"] is None
    text = catalog_rows(
        live.config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
        (c,),
    )
    assert [r["text"] for r in text] == ["this is a public record"]
    before = datetime.now(UTC)
    live.world.delete_status(c)
    tick(live.config)
    after = datetime.now(UTC)
    row = item(live.config, c)
    assert row["removal_state"] == "removed_upstream"
    gone = datetime.fromisoformat(str(row["disappeared_at"]))
    assert before <= gone <= after
    events = catalog_rows(
        live.config,
        "SELECT e.detail FROM item_events e JOIN items i ON i.id = e.item_id "
        "WHERE i.platform_id = ? AND e.event = 'removed_upstream'",
        (c,),
    )
    assert len(events) == 1 and "user stream 'delete'" in events[0]["detail"]
    # the last captured version stays readable
    assert (
        catalog_rows(
            live.config,
            "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
            (c,),
        )[0]["text"]
        == "this is a public record"
    )


def test_deletion_of_an_item_never_captured_is_a_gap(live: Live) -> None:
    live.world.delete_status(live.ids["A"])  # captured by the sweep: marked
    tick(live.config)
    assert item(live.config, live.ids["A"])["removal_state"] == "removed_upstream"
    live.world._emit("delete", "999999")  # never seen by any capture
    tick(live.config)
    gaps = catalog_rows(
        live.config, "SELECT reason FROM degradations WHERE capability = 'live_removal_uncaptured'"
    )
    assert len(gaps) == 1 and "999999" in gaps[0]["reason"]


def test_restart_resumes_after_the_last_sealed_event(live: Live) -> None:
    c1 = live.world.post_status(live.ids["maria"], "one", in_reply_to_id=live.ids["A"])["id"]
    tick(live.config)
    seen = live.world.stream_requests
    c2 = live.world.post_status(live.ids["maria"], "two", in_reply_to_id=live.ids["A"])["id"]
    tick(live.config)  # a fresh App each tick: the cursor came from the catalog
    assert live.world.stream_requests == seen + 1
    bm = catalog_rows(live.config, "SELECT value FROM bookmarks WHERE key = 'live_stream_event'")[
        0
    ]["value"]
    assert int(bm) == len(live.world._events)
    assert item(live.config, c1)["disappeared_at"] is None
    assert item(live.config, c2)["disappeared_at"] is None


def test_latency_is_recorded_and_shown_in_status(live: Live) -> None:
    import json

    import structlog
    from typer.testing import CliRunner

    from archiver.cli import app as cli_app

    now = datetime.now(UTC)
    for minutes in (1, 2, 3):
        live.world.post_status(
            live.ids["maria"],
            f"comment {minutes}",
            in_reply_to_id=live.ids["A"],
            created_at=now - timedelta(minutes=minutes),
        )
    tick(live.config)
    samples = sorted(
        r["seconds"] for r in catalog_rows(live.config, "SELECT seconds FROM fastlane_latency")
    )
    assert len(samples) == 3
    for got, minutes in zip(samples, (1, 2, 3), strict=True):
        assert minutes * 60 <= got < minutes * 60 + 60
    out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(live.config)])
    structlog.reset_defaults()
    figures = json.loads(out.stdout)["fastlane_latency"]["masto"]
    assert figures["count"] == 3 and figures["p50"] == samples[1] and figures["p95"] == samples[2]
    tick(live.config)  # nothing new: no new samples (a re-read is not a first capture)
    assert len(catalog_rows(live.config, "SELECT seconds FROM fastlane_latency")) == 3


def test_comment_created_and_deleted_between_two_ticks_is_still_kept(live: Live) -> None:
    c = live.world.post_status(live.ids["maria"], "gone in a minute", in_reply_to_id=live.ids["A"])[
        "id"
    ]
    live.world.delete_status(c)
    tick(live.config)
    row = item(live.config, c)
    assert row["removal_state"] == "removed_upstream" and row["record_class"] == "comments"
    texts = catalog_rows(
        live.config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
        (c,),
    )
    assert [r["text"] for r in texts] == ["gone in a minute"]


def test_a_lost_stream_degrades_to_polling_with_a_note(live: Live) -> None:
    live.server.inject("/api/v1/streaming", "status_500", times=5)
    c = live.world.post_status(
        live.ids["maria"], "via notifications", in_reply_to_id=live.ids["A"]
    )["id"]
    tick(live.config)
    assert item(live.config, c)["record_class"] == "comments"
    notes = catalog_rows(
        live.config, "SELECT reason FROM degradations WHERE capability = 'live_stream'"
    )
    assert len(notes) == 1 and "polled notifications instead" in notes[0]["reason"]


def test_a_malformed_event_is_kept_and_skipped(live: Live) -> None:
    live.world._emit("update", "{not json")
    c = live.world.post_status(
        live.ids["maria"], "after the bad one", in_reply_to_id=live.ids["A"]
    )["id"]
    tick(live.config)
    assert item(live.config, c)["disappeared_at"] is None
    bad = catalog_rows(live.config, "SELECT endpoint, reason, warc_file FROM unparseable")
    assert len(bad) == 1 and "not JSON" in bad[0]["reason"] and bad[0]["warc_file"]
