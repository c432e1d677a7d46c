""" "Old post, new reply" on Mastodon, Bluesky and YouTube (X has its own, in test_x.py).

These platforms list a post's whole thread (context, getPostThread, commentThreads), so a
reply written today to a post of last month is captured whenever that thread is read: on
every full sweep (``full_sweep_every``, daily by default) for every post, and on incremental
runs for the ``recheck_recent`` newest. Each test makes the post old (out of a
``recheck_recent = 1`` window), replies to it and to that reply, and checks that the reply
chain is archived under the old post, and that the incremental run in between marked nothing
removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.bluesky_scene import CITY, World, bluesky_world
from tests.connectors.mastodon_scene import Site, mastodon_site
from tests.connectors.youtube_scene import SITE as YT_SITE
from tests.connectors.youtube_scene import Scene, youtube_scene
from tests.helpers import catalog_rows, harvest, site_toml, write_config


@pytest.fixture
def bsky(tmp_path: Path) -> Iterator[World]:
    with bluesky_world(tmp_path) as world:
        yield world


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with mastodon_site(tmp_path) as site:
        yield site


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    with youtube_scene(tmp_path, monkeypatch) as scene:
        yield scene


def _comments(config: Path, site_id: str) -> dict[str, dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT platform_id, parent_id, root_id, removal_state FROM items "
        "WHERE site_id = ? AND record_class = 'comments'",
        (site_id,),
    )
    return {r["platform_id"]: dict(r) for r in rows}


def _late_replies_are_archived(
    config: Path, site_id: str, old: str, first: str, second: str
) -> None:
    incremental = harvest(config, site_id, full=False)
    assert incremental.status == "succeeded" and not incremental.full_sweep
    assert all(
        c["removal_state"] != "removed_upstream" for c in _comments(config, site_id).values()
    )
    assert harvest(config, site_id, full=True).status == "succeeded"
    comments = _comments(config, site_id)
    assert comments[first]["root_id"] == old and comments[first]["parent_id"] == old
    assert comments[second]["root_id"] == old and comments[second]["parent_id"] == first
    assert all(c["removal_state"] != "removed_upstream" for c in comments.values())


def test_mastodon_reply_to_an_old_status(site: Site, tmp_path: Path) -> None:
    world, ids = site.world, site.ids
    url = site.server.url
    write_config(
        tmp_path, site_toml("masto", "mastodon", url, "cityofbozeman") + "recheck_recent = 1\n"
    )
    assert harvest(site.config, "masto", full=True).status == "succeeded"
    for n in range(3):
        world.post_status(ids["city"], f"newer notice {n}")
    first = world.post_status(ids["priya"], "late question", in_reply_to_id=ids["A"])["id"]
    second = world.post_status(ids["maria"], "late answer", in_reply_to_id=first)["id"]
    _late_replies_are_archived(site.config, "masto", ids["A"], first, second)


def test_bluesky_reply_to_an_old_post(bsky: World, tmp_path: Path) -> None:
    w, ids = bsky.world, bsky.ids
    write_config(
        tmp_path, site_toml("bsky", "bluesky", bsky.server.url, CITY) + "recheck_recent = 1\n"
    )
    assert harvest(bsky.config, "bsky", full=True).status == "succeeded"
    for n in range(3):
        w.add_post(ids["city"], f"newer notice {n}")
    first = w.reply(ids["A"], ids["priya"], "late question")
    second = w.reply(first, ids["maria"], "late answer")
    _late_replies_are_archived(bsky.config, "bsky", ids["A"], first, second)


def test_youtube_reply_to_an_old_video(scene: Scene) -> None:
    world, ids = scene.world, scene.ids
    config = scene.config()
    config.write_text(config.read_text().replace("recheck_recent", "#") + "recheck_recent = 1\n")
    assert harvest(config, YT_SITE, full=True).status == "succeeded"
    for n in range(3):
        world.add_video(ids["city"], f"Newer update {n}", "")
    first = world.add_comment(ids["V2"], ids["dale"], "late question")
    second = world.add_reply(first, ids["maria"], "late answer")
    _late_replies_are_archived(config, YT_SITE, ids["V2"], first, second)
