"""The YouTube scene shared by the YouTube contract tests and the "old post, new reply" tests:
a YouTubeWorld with three uploads, threads, held and spam comments, served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeplatforms.server import FakeServer
from fakeplatforms.youtube import YouTubeWorld

from tests.helpers import site_toml, write_config

SITE = "yt-city"
API_KEY = "AIzaSyD-bozeman-test-key-0123456789abc"
OAUTH = "ya29.a0AbozemanOwnerAccessToken-0123456789"


@dataclass
class Scene:
    world: YouTubeWorld
    server: FakeServer
    tmp: Path
    ids: dict[str, str]

    def config(self, **options: Any) -> Path:
        """Write the site config; ``auth="oauth"`` switches the secret to the owner token."""
        env = "YT_TOKEN" if options.get("auth") == "oauth" else "YT_KEY"
        toml = site_toml(
            SITE, "youtube", f"{self.server.url}/youtube/v3", "@cityofbozeman", token_env=env
        )
        if options:
            pairs = ", ".join(
                f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}".replace("'", '"')
                for k, v in options.items()
            )
            toml += f"options = {{ {pairs} }}\n"
        return write_config(self.tmp, toml)


@contextmanager
def youtube_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Three uploads over two playlist pages. V1 has a thread T1 <- R1, R2 (R2 answers R1),
    a held-for-review comment H and a likely-spam S; V2 one comment P; V3 comments disabled."""
    world = YouTubeWorld(api_key=API_KEY, oauth_token=OAUTH, page_cap=2, inline_replies=1)
    ids: dict[str, str] = {}
    ids["city"] = world.add_channel("cityofbozeman", "City of Bozeman", owner=True)
    for name in ("maria", "dale", "priya"):
        ids[name] = world.add_channel(name, name.title())
        world.subscribe(ids["city"], ids[name])
    ids["V1"] = world.add_video(ids["city"], "City Commission, Nov 18", "Agenda: budget.")
    ids["V2"] = world.add_video(ids["city"], "Snow removal 101", "How plows are routed.")
    ids["V3"] = world.add_video(ids["city"], "Mayor's update", "Comments are off.")
    world.disable_comments(ids["V3"])
    ids["T1"] = world.add_comment(ids["V1"], ids["maria"], "When is the budget vote?")
    ids["R1"] = world.add_reply(ids["T1"], ids["dale"], "Next Tuesday I think")
    ids["R2"] = world.add_reply(ids["R1"], ids["city"], "@dale Correct: Tuesday at 6pm.")
    ids["H"] = world.add_comment(
        ids["V1"], ids["priya"], "check my link", moderation="heldForReview"
    )
    ids["S"] = world.add_comment(ids["V1"], ids["priya"], "cheap boots!!!", moderation="likelySpam")
    ids["P"] = world.add_comment(ids["V2"], ids["priya"], "Thanks for plowing Olive St")
    monkeypatch.setenv("YT_KEY", API_KEY)
    monkeypatch.setenv("YT_TOKEN", OAUTH)
    with FakeServer(world) as server:
        yield Scene(world, server, tmp_path, ids)
