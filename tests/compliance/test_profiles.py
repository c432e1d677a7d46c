"""Profile snapshots on Bluesky, X and YouTube (issue 17): the profile is kept as a versioned ``profile``
record with avatar and banner bytes in the WARC, and an unannounced avatar or bio change is
a vandalism finding, as on Mastodon. Real harvests of the fake AppView on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms import FakeServer
from fakeplatforms.bluesky import BlueskyWorld
from fakeplatforms.x import XWorld
from fakeplatforms.youtube import YouTubeWorld

from archiver.compliance.engine import evaluate_site
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

CITY = "bozeman.gov"
BIO = "Official City of Bozeman account. Acceptable Use Policy: https://www.bozeman.net/aup"


@dataclass
class World:
    world: BlueskyWorld
    did: str
    config: Path


@pytest.fixture
def bsky(tmp_path: Path) -> Iterator[World]:
    w = BlueskyWorld()
    did = w.add_actor(CITY, "City of Bozeman", description=BIO)["did"]
    w.add_post(did, "Road closures this week: https://www.bozeman.net/roads")
    with FakeServer(w) as server:
        head = '[compliance]\ndomains = ["bozeman.net"]\n'
        yield World(
            w,
            did,
            write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY), head=head),
        )


def profile_versions(config: Path) -> list[dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT v.version, v.text, v.media_json, v.extra_json FROM item_versions v "
        "JOIN items i ON i.id = v.item_id WHERE i.kind = 'profile' ORDER BY v.version",
    )
    return [dict(r) for r in rows]


def test_bluesky_profile_is_a_versioned_record_and_a_swap_is_flagged(bsky: World) -> None:
    assert harvest(bsky.config, "bsky").status == "succeeded"
    (first,) = profile_versions(bsky.config)
    assert "Acceptable Use Policy" in str(first["text"])
    media = {m["type"]: m for m in json.loads(str(first["media_json"]))}
    assert set(media) == {"avatar", "banner"}
    assert all(m.get("ref") for m in media.values()), media  # bytes kept in the WARC
    # Unchanged profile: no new version.
    assert harvest(bsky.config, "bsky").status == "succeeded"
    assert len(profile_versions(bsky.config)) == 1

    bsky.world.set_profile(bsky.did, description="Buy cheap watches", new_avatar=True)
    assert harvest(bsky.config, "bsky").status == "succeeded"
    versions = profile_versions(bsky.config)
    assert [v["version"] for v in versions] == [1, 2]
    app = open_test_app(bsky.config)
    try:
        with app.catalog.begin() as conn:
            found = evaluate_site(conn, app.cfg, app.cfg.site("bsky"))
    finally:
        app.close()
    change = [f for f in found if f.rule == "profile_change"]
    assert len(change) == 1 and change[0].status == "fail"
    assert set(change[0].evidence["changed"]) == {"bio", "avatar_url"}
    before = change[0].evidence["before"]["images"]["avatar"]["payload_digest"]
    after = change[0].evidence["after"]["images"]["avatar"]["payload_digest"]
    assert before and after and before != after


def test_x_profile_is_a_versioned_record_and_a_swap_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = XWorld(bearer_token="t0ken")
    city = world.add_user("cityofbozeman", "City of Bozeman")
    world.set_profile(city, description=BIO)
    world.post(city, "Snow routes: https://www.bozeman.net/snow")
    monkeypatch.setenv("X_TOKEN", "t0ken")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("x", "x", server.url, "cityofbozeman", token_env="X_TOKEN"),
            head='[compliance]\ndomains = ["bozeman.net"]\n',
        )
        assert harvest(config, "x").status == "succeeded"
        assert harvest(config, "x").status == "succeeded"
        (first,) = profile_versions(config)
        assert "Acceptable Use Policy" in str(first["text"])
        (avatar,) = json.loads(str(first["media_json"]))
        assert avatar["type"] == "avatar" and avatar.get("ref")
        world.set_profile(city, new_avatar=True)
        assert harvest(config, "x").status == "succeeded"
        assert [v["version"] for v in profile_versions(config)] == [1, 2]
        app = open_test_app(config)
        try:
            with app.catalog.begin() as conn:
                found = evaluate_site(conn, app.cfg, app.cfg.site("x"))
        finally:
            app.close()
    (change,) = [f for f in found if f.rule == "profile_change"]
    assert change.status == "fail" and set(change.evidence["changed"]) == {"avatar_url"}


def test_youtube_channel_profile_is_a_versioned_record_and_a_swap_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = YouTubeWorld(api_key="k3y")
    city = world.add_channel("cityofbozeman", "City of Bozeman", owner=True)
    world.set_channel_profile(city, description=BIO)
    world.add_video(city, "Snow routes", "Details: https://www.bozeman.net/snow")
    monkeypatch.setenv("YT_KEY", "k3y")
    with FakeServer(world) as server:
        toml = site_toml(
            "yt", "youtube", f"{server.url}/youtube/v3", "@cityofbozeman", token_env="YT_KEY"
        )
        config = write_config(tmp_path, toml, head='[compliance]\ndomains = ["bozeman.net"]\n')
        assert harvest(config, "yt").status == "succeeded"
        (first,) = profile_versions(config)
        assert "Acceptable Use Policy" in str(first["text"])
        media = {m["type"]: m for m in json.loads(str(first["media_json"]))}
        assert set(media) == {"avatar", "banner"} and all(m.get("ref") for m in media.values())
        world.set_channel_profile(city, description="Buy cheap watches", new_avatar=True)
        assert harvest(config, "yt").status == "succeeded"
        assert [v["version"] for v in profile_versions(config)] == [1, 2]
        app = open_test_app(config)
        try:
            with app.catalog.begin() as conn:
                found = evaluate_site(conn, app.cfg, app.cfg.site("yt"))
        finally:
            app.close()
    (change,) = [f for f in found if f.rule == "profile_change"]
    assert change.status == "fail" and set(change.evidence["changed"]) == {"bio", "avatar_url"}
