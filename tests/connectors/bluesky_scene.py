"""The Bluesky scene shared by the Bluesky contract tests and the "old post, new reply" tests:
a BlueskyWorld with a city account, a thread with a hidden reply, and followers, served on
loopback with a site config pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fakeplatforms import FakeServer
from fakeplatforms.bluesky import BlueskyWorld

from tests.helpers import site_toml, write_config

CITY = "bozeman.gov"


@dataclass
class World:
    world: BlueskyWorld
    server: FakeServer
    config: Path
    ids: dict[str, str]


@contextmanager
def bluesky_world(tmp_path: Path) -> Iterator[World]:
    """City with two posts; thread under A: B (maria) <- C (dale, hidden) and D (city)."""
    w = BlueskyWorld()
    ids: dict[str, str] = {}
    ids["city"] = w.add_actor(CITY, "City of Bozeman")["did"]
    for name in ("maria", "dale", "priya"):
        ids[name] = w.add_actor(f"{name}.bsky.social", name.title())["did"]
    ids["A"] = w.add_post(ids["city"], "Water main break at Babcock and Willson.", images=["map"])
    ids["B"] = w.reply(ids["A"], ids["maria"], "Is that why my water is brown?")
    ids["C"] = w.reply(ids["B"], ids["dale"], "Same here on Olive St.")
    w.hide_reply(ids["C"])
    ids["D"] = w.reply(ids["A"], ids["city"], "Update: repaired, flush your taps.")
    ids["E"] = w.add_post(ids["city"], "Leaf pickup starts Monday.")
    for name in ("maria", "dale"):
        w.follow(ids[name], ids["city"])
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY))
        yield World(w, server, config, ids)
