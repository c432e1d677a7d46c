"""RSS/Atom connector contract: real harvests of FeedWorld feeds on loopback.

A feed has no comments or followers, and an entry falling off the end is not a deletion unless
the site says the feed is complete (``options.complete_feed``); these tests pin that, edits as
versions, conditional GET and revisit records, and the failures a clerk would see.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakeplatforms import FakeServer, FeedWorld
from fakeplatforms.server import FakeResponse

from archiver.bundle_format import open_records
from archiver.errors import MalformedResponseError, NotFoundError
from connectors.rss import RssConnector
from tests.helpers import catalog_rows, harvest, site_toml, write_config

T0 = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)


@dataclass
class Feed:
    world: FeedWorld
    server: FakeServer
    tmp: Path

    def config(self, path: str = "/news/rss.xml", **options: Any) -> Path:
        return write_config(
            self.tmp, site_toml("news", "rss", self.server.url, path, options=options or None)
        )


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[Feed]:
    world = FeedWorld()
    world.add_entry(
        "n1", "Leaf pickup starts", "<p>Leaf pickup starts <b>Monday</b>.</p>", published=T0
    )
    world.add_entry(
        "n2",
        "Water main break",
        "<p>Babcock and Willson closed.</p>",
        published=T0 + timedelta(hours=1),
    )
    world.add_entry(
        "n3",
        "Snow routes",
        "<p>Snow routes in effect tonight.</p>",
        published=T0 + timedelta(hours=2),
    )
    with FakeServer(world) as server:
        yield Feed(world, server, tmp_path)


def items(config: Path) -> dict[str, sqlite3.Row]:
    return {r["platform_id"]: r for r in catalog_rows(config, "SELECT * FROM items")}


def versions(config: Path, platform_id: str) -> list[sqlite3.Row]:
    return catalog_rows(
        config,
        "SELECT v.* FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? ORDER BY v.version",
        (platform_id,),
    )


def run_warc_stats(config: Path, run_id: str) -> tuple[Counter[str], int]:
    """Record types in the run's bundles and the stored bytes of response/revisit records."""
    types: Counter[str] = Counter()
    size = 0
    for b in catalog_rows(config, "SELECT key FROM bundles WHERE run_id = ?", (run_id,)):
        folder = config.parent / "archive" / "bundles" / b["key"]
        db = open_records(folder / "data" / "records.sqlite")
        try:
            for kind, length in db.execute("SELECT record_type, length FROM warc_records"):
                types[kind] += 1
                size += length if kind in ("response", "revisit") else 0
        finally:
            db.close()
    return types, size


@pytest.mark.filterwarnings("error:To avoid breaking existing software:DeprecationWarning")
@pytest.mark.parametrize("path", ["/news/rss.xml", "/news/atom.xml"])
def test_full_harvest_then_edit_is_version_two(feed: Feed, path: str) -> None:
    config = feed.config(path)
    first = harvest(config, "news")
    assert first.status == "succeeded" and first.counts == {"post": 3}
    got = items(config)
    assert len(got) == 3 and {r["kind"] for r in got.values()} == {"post"}
    n1 = next(r for r in got.values() if r["permalink"].endswith("leaf-pickup-starts"))
    text = versions(config, n1["platform_id"])[0]["text"]
    assert text.startswith("Leaf pickup starts\n") and "Monday" in text
    feed.world.edit_entry("n1", body_html="<p>Leaf pickup starts <b>Tuesday</b>.</p>")
    second = harvest(config, "news")
    assert second.status == "succeeded"
    v = versions(config, n1["platform_id"])
    assert [x["version"] for x in v] == [1, 2]
    assert "Tuesday" in v[1]["text"] and "Monday" in v[0]["text"]
    assert v[0]["edited_at"] is None  # never edited: not "edited at publication time"
    # Atom says when it changed; RSS 2.0 has no such element, only the text tells
    assert (v[1]["edited_at"] is not None) == path.endswith("atom.xml")
    assert items(config)[n1["platform_id"]]["current_version"] == 2


def test_deleted_entry_is_removed_only_when_the_feed_is_complete(feed: Feed) -> None:
    partial = feed.config()
    harvest(partial, "news")
    feed.world.delete_entry("n2")
    harvest(partial, "news", full=True)
    assert all(r["removal_state"] is None for r in items(partial).values())

    (feed.tmp / "complete").mkdir()
    complete = write_config(
        feed.tmp / "complete",
        site_toml("news", "rss", feed.server.url, "/news/rss.xml", options={"complete_feed": True}),
    )
    feed.world.add_entry("n4", "Council agenda", "<p>Budget hearing.</p>")
    harvest(complete, "news")
    feed.world.delete_entry("n4")
    harvest(complete, "news", full=True)
    gone = items(complete)["n4"]
    assert gone["removal_state"] == "removed_upstream" and gone["disappeared_at"] is not None
    assert versions(complete, "n4")[0]["text"] == "Council agenda\nBudget hearing."


def test_unchanged_feed_second_run_is_a_revisit_and_a_poll_is_a_304(feed: Feed) -> None:
    for i in range(20):
        feed.world.add_entry(f"x{i}", f"Notice {i}", f"<p>Public notice number {i} " * 10 + "</p>")
    config = feed.config()
    first = harvest(config, "news")
    full = harvest(config, "news", full=True)
    poll = harvest(config, "news")
    types1, bytes1 = run_warc_stats(config, first.run_id)
    types2, bytes2 = run_warc_stats(config, full.run_id)
    assert types1["revisit"] == 0
    assert types2["revisit"] == 1 and types2["response"] == 0
    assert bytes2 < bytes1 / 2
    conditional = feed.server.requests_to("/news/rss.xml")[-1]
    assert "if-none-match" in conditional.headers
    assert poll.status == "succeeded" and poll.counts == {}
    assert len(items(config)) == 23


def test_unknown_feed_is_one_line_not_found_and_a_failed_run(feed: Feed) -> None:
    config = feed.config("/news/nope.xml")
    with pytest.raises(NotFoundError) as err:
        harvest(config, "news")
    assert "\n" not in str(err.value) and "site news" in str(err.value)
    run = catalog_rows(config, "SELECT status, error_kind FROM runs")
    assert [tuple(r) for r in run] == [("failed", "NotFoundError")]
    assert catalog_rows(config, "SELECT * FROM bundles") == []


def test_a_web_page_instead_of_a_feed_is_malformed(feed: Feed) -> None:
    class NewsPage:
        def handle(self, method: str, path: str, *_: Any) -> FakeResponse | None:
            if path != "/news":
                return None
            return FakeResponse(
                200,
                b"<html><body><h1>News</h1><p>Latest</p></body></html>",
                {"Content-Type": "text/html"},
            )

    feed.server.add_app(NewsPage())
    config = feed.config("/news")
    with pytest.raises(MalformedResponseError) as err:
        harvest(config, "news")
    assert "not a readable RSS/Atom feed" in str(err.value)
    run = catalog_rows(config, "SELECT status, error_kind FROM runs")
    assert [tuple(r) for r in run] == [("failed", "MalformedResponseError")]
    assert catalog_rows(config, "SELECT * FROM bundles") == []


def test_truncated_feed_is_retried(feed: Feed) -> None:
    feed.server.inject("/news/rss.xml", "truncated")
    config = feed.config()
    assert harvest(config, "news").status == "succeeded"
    assert len(items(config)) == 3


def test_capabilities_say_a_feed_has_no_comments_or_followers() -> None:
    caps = RssConnector.capabilities
    assert caps.posts and caps.edits
    assert not (caps.comments or caps.follower_identities or caps.follower_count)
