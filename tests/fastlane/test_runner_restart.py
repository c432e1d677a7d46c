"""The fast-lane runner (as the daemon starts it) survives a restart without losing events."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer

from archiver.app import open_app
from archiver.fastlane.runner import FastLane
from archiver.settings.fastlane import FastLaneSettings, fastlane_from
from tests.helpers import catalog_rows, harvest, site_toml, write_config

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _wait(cond: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def _texts(config: Path) -> set[str]:
    return {r["text"] for r in catalog_rows(config, "SELECT text FROM item_versions")}


def test_restart_resumes_from_the_last_sealed_event(tmp_path: Path) -> None:
    world = LiveMastodon(clock_start=T0)
    world.hold_stream = True  # held open like Mastodon's: the daemon's reader stays connected
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    maria = world.add_account("maria", "Maria")["id"]
    post = world.post_status(city, "Road closure on Main St.")["id"]
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "masto", full=True)
        settings = FastLaneSettings(enabled=True, interval=5)

        app = open_app(str(config))
        lane = FastLane(app, settings)
        lane.start()
        first = world.post_status(maria, "before the restart", in_reply_to_id=post)["id"]
        _wait(lambda: "before the restart" in _texts(config))
        lane.stop()
        app.close()

        # while the daemon is down: a comment is posted, then deleted
        world.post_status(maria, "while it was down", in_reply_to_id=post)
        world.delete_status(first)
        requests_before = world.stream_requests

        app = open_app(str(config))
        lane = FastLane(app, settings)
        lane.start()
        try:
            _wait(
                lambda: (
                    "while it was down" in _texts(config)
                    and catalog_rows(
                        config, "SELECT removal_state FROM items WHERE platform_id = ?", (first,)
                    )[0][0]
                    == "removed_upstream"
                )
            )
        finally:
            lane.stop()
            app.close()
        # resumed after the last sealed event: the first comment was not captured again
        assert world.stream_requests > requests_before
        versions = catalog_rows(
            config,
            "SELECT COUNT(*) FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ?",
            (first,),
        )
        assert versions[0][0] == 1


def test_settings_are_checked() -> None:
    import pytest

    from archiver.errors import ConfigError

    assert fastlane_from({}, file="a.toml") == FastLaneSettings(False, 60.0)
    with pytest.raises(ConfigError, match="between 5 and 3600"):
        fastlane_from({"enabled": True, "interval": 1}, file="a.toml")
