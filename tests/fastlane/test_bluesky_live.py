"""Fast lane on Bluesky: listNotifications for replies, getPosts re-reads for deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakeplatforms.live import LiveBluesky
from fakeplatforms.server import FakeServer

from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, open_test_app, site_toml, write_config

CITY = "bozeman.gov"


def tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("bsky"))
    finally:
        app.close()
    assert result.status == "succeeded"


def test_reply_deleted_three_minutes_later_is_kept_and_marked_removed(tmp_path: Path) -> None:
    w = LiveBluesky()
    city = w.add_actor(CITY, "City of Bozeman")["did"]
    maria = w.add_actor("maria.bsky.social", "Maria")["did"]
    w.notify_did = city
    post = w.add_post(city, "Water main break at Babcock and Willson.")
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY))
        created = datetime.now(UTC) - timedelta(minutes=3)
        reply = w.reply(post, maria, "Is that why my water is brown?", created_at=created)
        tick(config)
        rows = catalog_rows(config, "SELECT * FROM items WHERE platform_id = ?", (reply,))
        assert len(rows) == 1 and rows[0]["root_id"] == post and rows[0]["disappeared_at"] is None
        tick(config)  # nothing new, nothing gone
        assert len(catalog_rows(config, "SELECT id FROM items")) == 1
        assert catalog_rows(config, "SELECT disappeared_at FROM items")[0][0] is None
        w.delete_post(reply)
        before = datetime.now(UTC)
        tick(config)
        row = catalog_rows(config, "SELECT * FROM items WHERE platform_id = ?", (reply,))[0]
        assert row["removal_state"] == "removed_upstream"
        assert before <= datetime.fromisoformat(row["disappeared_at"]) <= datetime.now(UTC)
        text = catalog_rows(
            config,
            "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ?",
            (reply,),
        )
        assert [r["text"] for r in text] == ["Is that why my water is brown?"]
