"""The long-lived Mastodon user stream (``archiver.fastlane.stream``) across fast-lane ticks.

Real parts: the fake instance holding its SSE stream open on loopback (heartbeats, events as
they happen, or hanging up every fraction of a second), the real reader thread and spool, the
recorder writing the stream bytes to the WARC, bundles, seal check and catalog.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer
from warcio.archiveiterator import ArchiveIterator

from archiver.errors import ArchiverError
from archiver.fastlane.stream import StreamReader, run_stream_once
from archiver.harvest import Harvester
from connectors.live import MastodonLive
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
    world.hold_stream = True
    world.heartbeat = 0.2
    ids = {
        "city": world.add_account("cityofbozeman", "City of Bozeman")["id"],
        "maria": world.add_account("maria", "Maria")["id"],
        "parks": world.add_account("bozemanparks", "Bozeman Parks")["id"],
    }
    ids["A"] = world.post_status(ids["city"], "Road closure on Main St.")["id"]
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "masto", full=True)
        yield Live(world, config, ids, server)


def _wait(what: str, cond: Callable[[], object], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _reader(live: Live, *, base: float = 1.0, min_uptime: float = 30.0) -> StreamReader:
    app = open_test_app(live.config)
    try:
        return StreamReader(
            app.cfg, app.cfg.site("masto"), token=None, base=base, min_uptime=min_uptime
        )
    finally:
        app.close()


def _tick(live: Live, reader: StreamReader) -> None:
    app = open_test_app(live.config)
    try:
        run_stream_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("masto"), reader)
    finally:
        app.close()


def _texts(live: Live) -> set[str]:
    return {r["text"] for r in catalog_rows(live.config, "SELECT text FROM item_versions")}


def _asked(live: Live, path: str) -> int:
    return sum(1 for r in live.server.requests if r.path == path)


def _stream_records(live: Live) -> list[bytes]:
    out = []
    for warc in sorted((live.config.parent / "archive" / "bundles").rglob("*.warc.gz")):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "metadata" and uri.endswith("/api/v1/streaming/user"):
                    out.append(record.content_stream().read())
    return out


def test_one_connection_serves_many_ticks_and_its_bytes_are_in_the_warc(live: Live) -> None:
    reader = _reader(live).start()
    try:
        _wait("the stream connected", lambda: reader.connections == 1)
        c1 = live.world.post_status(live.ids["maria"], "first live", in_reply_to_id=live.ids["A"])
        _wait("the events spooled", lambda: reader.last_id == str(len(live.world._events)))
        _tick(live, reader)  # the first tick also polls notifications (what came before)
        assert "first live" in _texts(live)
        assert not list(reader.folder.glob("[0-9]*.json")), "sealed segments are removed"
        live.world.post_status(live.ids["maria"], "second live", in_reply_to_id=live.ids["A"])
        _wait("the events spooled", lambda: reader.last_id == str(len(live.world._events)))
        _tick(live, reader)
        _tick(live, reader)  # nothing new: no run at all
    finally:
        reader.stop()
    assert "second live" in _texts(live)
    # one connection across all ticks, and the healthy stream needed one notifications poll
    assert live.world.stream_requests == 1 and reader.connections == 1
    assert _asked(live, "/api/v1/notifications") == 1
    assert not catalog_rows(
        live.config, "SELECT * FROM degradations WHERE capability = 'live_stream'"
    )
    # the stream bytes, as received, are the evidence the items point to
    records = _stream_records(live)
    assert any(b"event: update" in r and c1["id"].encode() in r for r in records)
    assert all(r.startswith(b"HTTP/1.1 200") for r in records)
    row = catalog_rows(
        live.config,
        "SELECT v.warc_type FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ?",
        (c1["id"],),
    )
    assert row[0]["warc_type"] == "metadata"


def test_a_stream_that_drops_every_fraction_of_a_second_backs_off_and_polls(live: Live) -> None:
    live.world.drop_after = 0.1
    reader = _reader(live, base=0.25, min_uptime=5)
    reader.start()
    try:
        time.sleep(4)
        connections = reader.connections
        c = live.world.post_status(
            live.ids["maria"], "posted while flapping", in_reply_to_id=live.ids["A"]
        )["id"]
        _tick(live, reader)
    finally:
        reader.stop()
    # Without backoff it would reconnect ~35 times in 4 s; with it: at 0, 0.6, 1.7, 3.8 s.
    assert 2 <= connections <= 5, connections
    assert c in {
        r["platform_id"] for r in catalog_rows(live.config, "SELECT platform_id FROM items")
    }
    notes = catalog_rows(
        live.config, "SELECT reason FROM degradations WHERE capability = 'live_stream'"
    )
    assert len(notes) == 1
    assert "user stream lost (the server closed the stream)" in notes[0]["reason"]
    assert "polled /api/v1/notifications since_id" in notes[0]["reason"]


def test_a_failed_tick_keeps_the_spooled_events_for_the_next(live: Live) -> None:
    reader = _reader(live).start()
    try:
        _wait("the stream connected", lambda: reader.connections == 1)
        live.world.post_status(
            live.ids["maria"], "kept through a failure", in_reply_to_id=live.ids["A"]
        )
        _wait("the events spooled", lambda: reader.last_id == str(len(live.world._events)))
        live.server.inject("/api/v1/notifications", "status_500", times=10)
        with pytest.raises(ArchiverError):
            _tick(live, reader)
        assert "kept through a failure" not in _texts(live)
        assert list(reader.folder.glob("[0-9]*.json"))
        live.server.clear_faults()
        _tick(live, reader)
    finally:
        reader.stop()
    assert "kept through a failure" in _texts(live)


def test_deletions_of_followed_accounts_statuses_are_not_gaps(live: Live) -> None:
    def one_tick() -> None:
        app = open_test_app(live.config)
        try:
            Harvester(app.cfg, app.catalog, app.storage).harvest_site(
                app.cfg.site("masto"), full=False, connector=MastodonLive
            )
        finally:
            app.close()

    live.world.hold_stream = False  # one read per tick (``run_once``), ended by the server
    # a followed account's status reaches the City's home stream, then is deleted
    early = live.world.post_status(live.ids["parks"], "Trail report: icy")["id"]
    one_tick()
    live.world.delete_status(early)  # deleted in a later tick: remembered as not the City's
    same = live.world.post_status(live.ids["parks"], "Hours changed")["id"]
    live.world.delete_status(same)  # created and deleted within one tick
    live.world._emit("delete", "999999")  # never seen at all: still a possible gap
    one_tick()
    gaps = [
        r["reason"]
        for r in catalog_rows(
            live.config,
            "SELECT reason FROM degradations WHERE capability = 'live_removal_uncaptured'",
        )
    ]
    assert len(gaps) == 1 and "999999" in gaps[0]
    ids = {r["platform_id"] for r in catalog_rows(live.config, "SELECT platform_id FROM items")}
    assert early not in ids and same not in ids
