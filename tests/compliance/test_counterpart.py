"""The principal-website rule (issue 17): a City post must be on the website first; an
emergency post is flagged only once its grace period is over; a website that was not
captured makes the answer "unknown", never "fail". Real harvests of a fake Mastodon
instance and a fake RSS feed on loopback, evaluated at chosen times."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.rss import FeedWorld

from archiver.compliance.engine import StoredFinding, evaluate_site
from tests.helpers import harvest, open_test_app, site_toml, write_config

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


@dataclass
class World:
    config: Path
    posts: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    masto = MastodonWorld(clock_start=T0)
    city = masto.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    posts = {
        # On the website an hour before: passes.
        "first": masto.post_status(
            city, "Snow routes in effect tonight", created_at=T0 + timedelta(hours=2)
        )["id"],
        # On the website only after the social post: fails.
        "late": masto.post_status(
            city, "Leaf pickup starts Monday", created_at=T0 + timedelta(hours=2)
        )["id"],
        # Emergency, never on the website: unknown during the grace period, then fails.
        "storm": masto.post_status(
            city, "Shelter in place now #emergency", created_at=T0 + timedelta(hours=3)
        )["id"],
        # Emergency, on the website 2 h later: within the 24 h grace, passes.
        "water": masto.post_status(
            city, "Water main break on Babcock #emergency", created_at=T0 + timedelta(hours=3)
        )["id"],
    }
    feed = FeedWorld()
    feed.add_entry(
        "n1", "Snow routes in effect tonight", "<p>Snow.</p>", published=T0 + timedelta(hours=1)
    )
    feed.add_entry(
        "n2", "Leaf pickup starts Monday", "<p>Leaves.</p>", published=T0 + timedelta(hours=4)
    )
    feed.add_entry("n3", "Water main break on Babcock", "<p>Closed.</p>", published=T0 + timedelta(hours=5))  # fmt: skip
    with FakeServer(masto) as ms, FakeServer(feed) as fs:
        config = write_config(
            tmp_path,
            site_toml("masto", "mastodon", ms.url, CITY_USERNAME),
            site_toml("news", "rss", fs.url, "/news/rss.xml"),
            head='[compliance]\ndomains = ["bozeman.net"]\nemergency_grace = "24h"\n',
        )
        yield World(config, posts)


def counterpart(config: Path, now: datetime) -> dict[str, StoredFinding]:
    app = open_test_app(config)
    try:
        with app.catalog.begin() as conn:
            found = evaluate_site(conn, app.cfg, app.cfg.site("masto"), now=now)
    finally:
        app.close()
    return {f.subject: f for f in found if f.rule == "principal_counterpart"}


def test_emergency_post_is_flagged_only_after_the_grace_period(world: World) -> None:
    assert harvest(world.config, "news").status == "succeeded"
    assert harvest(world.config, "masto").status == "succeeded"
    p = world.posts
    during = counterpart(world.config, T0 + timedelta(hours=4))
    assert during[p["first"]].status == "pass"
    assert during[p["late"]].status == "fail"
    assert "after it" in during[p["late"]].message
    assert during[p["water"]].status == "pass"
    storm = during[p["storm"]]
    assert storm.status == "unknown" and "due by" in storm.message
    assert storm.evidence["emergency"] == "#emergency"

    after = counterpart(world.config, T0 + timedelta(hours=3, days=1, minutes=1))
    assert after[p["storm"]].status == "fail"
    assert "grace period over" in after[p["storm"]].message
    assert after[p["water"]].status == "pass"  # the website copy came within the grace
    # The stored findings were updated in place: same rows, seen again; a finding that just
    # turned into a failure counts as new from now (first_seen), one still passing does not.
    assert {f.id for f in after.values()} == {f.id for f in during.values()}
    assert after[p["water"]].first_seen == during[p["water"]].first_seen
    assert after[p["water"]].last_seen > during[p["water"]].last_seen
    assert after[p["storm"]].first_seen == after[p["storm"]].last_seen != storm.first_seen


def test_a_website_not_captured_since_the_post_is_unknown_not_fail(world: World) -> None:
    # The feed site was never harvested (say the website was down): nothing can be judged.
    assert harvest(world.config, "masto").status == "succeeded"
    found = counterpart(world.config, T0 + timedelta(days=30))
    assert {f.status for f in found.values()} == {"unknown"}
    assert all("has not been captured" in f.message for f in found.values())
