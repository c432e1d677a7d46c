"""What a clerk reads: harvest and recover in sentences, and who followed and who left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from tests.helpers import site_toml, write_config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="200", ARCHIVER_LOG_LEVEL="CRITICAL"),
    )


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """Two harvests of a small world, with three new followers and one who left between."""
    world, city = build_demo_world(statuses=6, followers=20, seed=11)
    world.rate_limit = 1_000_000
    tmp = tmp_path_factory.mktemp("followers")
    with FakeServer(world) as server:
        config = write_config(tmp, site_toml("city", "mastodon", server.url, "cityofbozeman"))
        first = cli(config, "harvest")
        assert first.returncode == 0, first.stderr
        world.unfollow(city, world.follower_ids(city)[-1])
        newcomers = [_follow(world, city, f"resident{n}", f"Résident {n} 🏔") for n in range(3)]
        second = cli(config, "harvest")
        assert second.returncode == 0, second.stderr
        yield config, [first.stdout, second.stdout, *newcomers]


def _follow(world: MastodonWorld, city: str, username: str, name: str) -> str:
    acc = world.add_account(username, name)
    world.follow(city, str(acc["id"]))
    return username


def test_harvest_prints_sentences_not_dicts(harvested: tuple[Path, list[str]]) -> None:
    _config, (first, second, *_rest) = harvested
    for out in (first, second):
        assert "{" not in out and "'" not in out, out
    assert first.startswith("city: full sweep run-") and "posts" in first
    assert "new items" in first and "bundles sealed." in first
    assert "3 followed, 1 unfollowed" in second


def test_harvest_json_keeps_the_numbers(harvested: tuple[Path, list[str]]) -> None:
    config = harvested[0]
    data = json.loads(cli(config, "harvest", "--json").stdout)
    assert data[0]["site"] == "city" and isinstance(data[0]["captured"], dict)


def test_recover_says_what_it_did_in_words(harvested: tuple[Path, list[str]]) -> None:
    config = harvested[0]
    out = cli(config, "recover")
    assert out.returncode == 0
    assert out.stdout.strip() == (
        "Nothing to recover: no bundle was left half-done by an earlier run."
    )
    data = json.loads(cli(config, "recover", "--json").stdout)
    assert {k: data[k] for k in ("discarded", "published", "cataloged")} == {
        "discarded": 0,
        "published": 0,
        "cataloged": 0,
    }


def test_followers_lists_who_followed_and_who_left(harvested: tuple[Path, list[str]]) -> None:
    config, (_a, _b, *newcomers) = harvested
    out = cli(config, "followers", "city")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "city, since the first harvest: 3 people followed, 1 person left." in text
    for handle in newcomers:
        assert handle in text
    assert "Résident 0 🏔" in text
    assert " left " in text  # the table's change column
    assert "MST" in text or "MDT" in text, "times are in the City's zone, named"
    assert "baseline" in text and "20 people" in text
    data = json.loads(cli(config, "followers", "city", "--json").stdout)
    assert (data["followed"], data["unfollowed"]) == (3, 1)
    assert sorted(e["handle"] for e in data["events"] if e["event"] == "followed") == newcomers
    assert all(e["detected_at"].endswith("+00:00") for e in data["events"])


def test_followers_period_filters(harvested: tuple[Path, list[str]]) -> None:
    config = harvested[0]
    later = json.loads(cli(config, "followers", "city", "--since", "2999-01-01", "--json").stdout)
    assert later["events"] == [] and later["followed"] == 0
    early = json.loads(cli(config, "followers", "city", "--until", "2000-01-01", "--json").stdout)
    assert early["events"] == [] and early["latest"]["count"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("followers", "nope"), "no site 'nope' in the archive — known sites: city"),
        (("followers", "city", "--since", "May 1"), "--since 'May 1' is not a date"),
        (
            ("followers", "city", "--since", "2026-05-02", "--until", "2026-05-01"),
            "--until 2026-05-01 is before --since 2026-05-02",
        ),
    ],
)
def test_followers_bad_input_is_one_line(
    harvested: tuple[Path, list[str]], args: tuple[str, ...], message: str
) -> None:
    out = cli(harvested[0], *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), out.stderr
