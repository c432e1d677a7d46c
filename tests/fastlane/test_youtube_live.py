"""Fast lane on YouTube: one ``commentThreads?allThreadsRelatedToChannelId=`` call per tick.

Real parts: the YouTube fake on loopback (API key, quota), the real recorder, bundles, seal
check and catalog through ``run_once``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakeplatforms import FakeServer
from fakeplatforms.youtube import YouTubeWorld

from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

API_KEY = "AIzaSyFakeKeyForTests0000000000000000"


def _tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("yt"))
    finally:
        app.close()
    assert result.status == "succeeded"


def test_new_comments_on_any_video_are_sealed_from_one_call_per_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YT_KEY", API_KEY)
    world = YouTubeWorld(api_key=API_KEY)
    city = world.add_channel("cityofbozeman", "City of Bozeman")
    maria = world.add_channel("maria", "Maria")
    dale = world.add_channel("dale", "Dale")
    v1 = world.add_video(city, "City Commission, Nov 18", "Agenda: budget.")
    v2 = world.add_video(city, "Snow removal 101", "How plows are routed.")
    world.add_comment(v1, maria, "When is the budget vote?")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(
                "yt", "youtube", f"{server.url}/youtube/v3", "@cityofbozeman", token_env="YT_KEY"
            ),
        )
        harvest(config, "yt", full=True)
        _tick(config)  # learns the newest thread
        server.clear_requests()
        new = world.add_comment(v2, dale, "Olive St was not plowed")
        reply = world.add_reply(new, city, "Thanks, a plow is on its way.")
        _tick(config)
        asked = [r for r in server.requests if r.path.endswith("/commentThreads")]
    assert len(asked) == 1
    assert asked[0].query["allThreadsRelatedToChannelId"] == [city]
    assert asked[0].query["order"] == ["time"]
    rows = {
        r["platform_id"]: r
        for r in catalog_rows(config, "SELECT platform_id, root_id, kind FROM items")
    }
    assert rows[new]["root_id"] == v2 and rows[new]["kind"] == "comment"
    assert rows[reply]["kind"] == "reply"
    # the fast lane's first captures carry their latency samples
    samples = {r["platform_id"] for r in catalog_rows(config, "SELECT * FROM fastlane_latency")}
    assert {new, reply} <= samples
