"""The Facebook Page scene shared by the Facebook contract tests and the compliance tests: a
MetaWorld with three posts over two pages, a thread with hidden comments and a photo comment,
served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms.meta import MetaWorld
from fakeplatforms.server import FakeServer

from tests.helpers import site_toml, write_config

SITE = "bozeman-fb"
TOKEN_ENV = "BOZEMAN_FB_TOKEN"
TOKEN = "EAAGm0PX4ZCpsBAFakeBozemanPageToken9f8e7d6c5b4a"


@dataclass
class Scene:
    world: MetaWorld
    server: FakeServer
    config: Path
    ids: dict[str, str]
    tmp: Path

    def reconfigure(self, extra: str) -> None:
        self.config = write_config(self.tmp, _site(self.server, self.world, extra))


def _site(server: FakeServer, world: MetaWorld, extra: str = "") -> str:
    return site_toml(
        SITE,
        "facebook",
        f"{server.url}/v21.0",
        world.page_id,
        token_env=TOKEN_ENV,
        extra=extra,
    )


@contextmanager
def facebook_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Three Page posts over two pages (one an album), a thread with a hidden comment and a
    reply to a reply, and a comment with a photo; the fake pages everything two at a time."""
    world = MetaWorld(token=TOKEN)
    world.max_limit = 2
    ids: dict[str, str] = {}
    ids["P1"] = world.add_post("Water main break at Babcock and Willson; crews on site.")
    ids["P2"] = world.add_post("Snow plows are out on arterials tonight.", photos=2)
    ids["P3"] = world.add_post("City Commission meets Tuesday at 6 pm.")
    ids["C1"] = world.add_comment(ids["P1"], "Is the water safe to drink?")
    ids["R1"] = world.add_comment(
        ids["P1"],
        "Boil advisory until Friday.",
        author=(world.page_id, world.page_name),
        parent=ids["C1"],
    )
    ids["RR1"] = world.add_comment(
        ids["P1"], "Thanks, which streets?", author=("5550002", "Dale Wright"), parent=ids["R1"]
    )
    ids["H1"] = world.add_comment(
        ids["P1"],
        "Buy cheap followers at spam.example",
        author=("5550666", "Spam Bot"),
        hidden=True,
    )
    ids["D1"] = world.add_comment(
        ids["P1"], "The mayor should resign over this!", author=("5550003", "Priya N")
    )
    ids["M1"] = world.add_comment(ids["P2"], "Here is my street right now", photo=True)
    world.set_follower_count(4210, fan_count=3900)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with FakeServer(world) as server:
        config = write_config(tmp_path, _site(server, world))
        yield Scene(world, server, config, ids, tmp_path)
