"""Fast lane on X: mentions since_id, and deletions seen by re-reading captured mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms.live import LiveX
from fakeplatforms.server import FakeServer

from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, open_test_app, site_toml, write_config

TOKEN = "x-live-test-bearer"


def tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("xc"))
    finally:
        app.close()
    assert result.status == "succeeded"


def test_mention_deleted_three_minutes_later_is_kept_and_marked_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = LiveX(bearer_token=TOKEN)
    city = world.add_user("cityofbozeman", "City of Bozeman")
    maria = world.add_user("maria", "Maria")
    post = world.post(city, "Water main break at Babcock and Willson.")
    monkeypatch.setenv("X_TOKEN", TOKEN)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path, site_toml("xc", "x", server.url, "cityofbozeman", token_env="X_TOKEN")
        )
        created = datetime.now(UTC) - timedelta(minutes=3)
        reply = world.post(maria, "@cityofbozeman brown water?", reply_to=post, created_at=created)
        tick(config)
        rows = catalog_rows(config, "SELECT * FROM items WHERE platform_id = ?", (reply,))
        assert len(rows) == 1 and rows[0]["root_id"] == post and rows[0]["disappeared_at"] is None
        tick(config)  # still there: nothing marked
        assert catalog_rows(config, "SELECT disappeared_at FROM items")[0][0] is None
        world.delete(reply)
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
        assert [r["text"] for r in text] == ["@cityofbozeman brown water?"]
        watch = catalog_rows(config, "SELECT value FROM bookmarks WHERE key = 'live_watch'")
        assert watch[0]["value"] == ""
