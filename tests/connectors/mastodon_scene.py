"""The Mastodon scene shared by the Mastodon contract tests, the connector-kit tests, the
secrets tests and the "old post, new reply" tests: a MastodonWorld with a city account, a
thread and followers, behind a ``Tamper`` pass-through that can rewrite chosen answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse

from tests.helpers import site_toml, write_config

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
Rewrite = Callable[[FakeResponse], FakeResponse]


@dataclass
class Tamper:
    """Passes every request to the fake instance, except paths given a rewrite."""

    world: MastodonWorld
    rules: dict[str, Rewrite] = field(default_factory=dict)

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        answer = self.world.handle(method, path, query, headers)
        for suffix, rewrite in self.rules.items():
            if path.endswith(suffix) and answer is not None:
                return rewrite(answer)
        return answer


@dataclass
class Site:
    world: MastodonWorld
    tamper: Tamper
    server: FakeServer
    config: Path
    ids: dict[str, str]


def make_world(required_token: str | None = None) -> tuple[MastodonWorld, dict[str, str]]:
    """City + three residents; A <- B (maria) <- C (dale), A <- D (city), A <- E (priya); F
    has an image. maria and dale follow the city."""
    world = MastodonWorld(clock_start=T0, required_token=required_token)
    ids: dict[str, str] = {}
    ids["city"] = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    for name in ("maria", "dale", "priya"):
        ids[name] = world.add_account(name, name.title())["id"]
    ids["A"] = world.post_status(ids["city"], "Water main break at Babcock and Willson.")["id"]
    ids["B"] = world.post_status(ids["maria"], "brown water?", in_reply_to_id=ids["A"])["id"]
    ids["C"] = world.post_status(ids["dale"], "@maria same here", in_reply_to_id=ids["B"])["id"]
    ids["D"] = world.post_status(ids["city"], "Update: repaired.", in_reply_to_id=ids["A"])["id"]
    ids["E"] = world.post_status(ids["priya"], "thanks!", in_reply_to_id=ids["A"])["id"]
    ids["F"] = world.post_status(
        ids["city"], "Snow plow map", media=[{"description": "plow routes"}]
    )["id"]
    for name in ("maria", "dale"):
        world.follow(ids["city"], ids[name])
    return world, ids


@contextmanager
def mastodon_site(tmp_path: Path) -> Iterator[Site]:
    world, ids = make_world()
    tamper = Tamper(world)
    with FakeServer(tamper) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, CITY_USERNAME))
        yield Site(world, tamper, server, config, ids)
