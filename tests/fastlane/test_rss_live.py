"""Fast lane on an RSS feed: each tick is one conditional GET; a new entry is sealed at once.

Real parts: the feed fake on loopback (ETag / Last-Modified, 304), the real recorder, bundles,
seal check and catalog through ``run_once``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakeplatforms import FakeServer, FeedWorld

from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config


def _tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("news"))
    finally:
        app.close()
    assert result.status == "succeeded"


def test_unchanged_feed_costs_a_304_and_a_new_entry_is_sealed_with_its_latency(
    tmp_path: Path,
) -> None:
    world = FeedWorld()
    world.add_entry("n1", "Leaf pickup starts", "<p>Monday.</p>")
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("news", "rss", server.url, "/news/rss.xml"))
        harvest(config, "news", full=True)
        _tick(config)  # nothing changed since the sweep
        feed_gets = [r for r in server.requests if r.path == "/news/rss.xml"]
        assert len(feed_gets) == 2
        assert feed_gets[-1].headers.get("if-none-match")
        assert feed_gets[-1].headers.get("if-modified-since")
        world.add_entry(
            "n2",
            "Water main break",
            "<p>Babcock and Willson closed.</p>",
            published=datetime.now(UTC) - timedelta(seconds=30),
        )
        _tick(config)
    texts = {r["text"] for r in catalog_rows(config, "SELECT text FROM item_versions")}
    assert any(t.startswith("Water main break") for t in texts)
    samples = catalog_rows(config, "SELECT platform_id, seconds FROM fastlane_latency")
    assert [r["platform_id"] for r in samples] == ["n2"]
    assert 30 <= samples[0]["seconds"] < 90
