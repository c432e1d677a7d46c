"""The connector kit (connectors/_paging.py): loops end, and a walk that did not reach the end
of a list fails its sweep, never the run, and never concludes that anything was removed.

The end-to-end cases run real harvests against the fake Mastodon instance on loopback, with a
pass-through app that makes one answer's ``Link: rel="next"`` point back at itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse

from archiver.model import Author, Degradation, Follower, Item, Sweep, Unparseable, WarcRef
from connectors._paging import (
    Gap,
    PageGuard,
    followers_stream,
    paginate,
    walk_thread,
)
from tests.connectors.mastodon_scene import Tamper
from tests.helpers import catalog_rows, harvest, site_toml, write_config

FOLLOWERS = 3000
REF = WarcRef("w.warc.gz", 0, 1, "urn:uuid:1", "response", "https://example.test/")


def chain_item(node: dict[str, Any]) -> Item:
    return Item("comments", "reply", node["id"], Author("someone"), "text", REF)


# -- unit: the guard ------------------------------------------------------------------------


def test_paginate_stops_at_a_repeated_token_and_says_why() -> None:
    fetched: list[str | None] = []
    tokens = {None: "a", "a": "b", "b": "a"}  # b points back at a

    def fetch(token: str | None) -> str | None:
        fetched.append(token)
        return token

    guard = PageGuard("test list")
    pages = list(paginate(fetch, lambda page: tokens[page], guard))
    assert pages == [None, "a", "b"] and fetched == [None, "a", "b"]
    assert not guard.complete and "looped" in (guard.stopped or "")


def test_paginate_stops_at_the_page_cap() -> None:
    guard = PageGuard("endless", max_pages=5)
    pages = list(paginate(lambda t: t or 0, lambda page: page + 1, guard, key=str))
    assert len(pages) == 5
    assert not guard.complete and "cap of 5 pages" in (guard.stopped or "")


def test_paginate_reaching_the_end_is_complete() -> None:
    guard = PageGuard()
    pages = list(paginate(lambda t: t or 0, lambda p: p + 1 if p < 3 else None, guard))
    assert pages == [0, 1, 2, 3] and guard.complete


def test_thread_walk_is_iterative_and_a_gap_costs_the_sweep_only() -> None:
    """A 5,000-deep chain (far past Python's recursion limit) is walked whole; a withheld
    node anywhere means no Sweep, so nothing in the thread can be marked removed."""
    depth = 5000
    nodes: list[dict[str, Any]] = [
        {"id": str(i), "replies": [i + 1] if i + 1 < depth else []} for i in range(depth)
    ]

    def children(node: dict[str, Any], _item: Any) -> Iterator[dict[str, Any]]:
        return (nodes[i] for i in node["replies"])

    records = list(walk_thread("root", [nodes[0]], parse=chain_item, children=children))
    assert sum(1 for r in records if not isinstance(r, Sweep)) == depth
    assert records[-1] == Sweep("comments", "root")

    nodes[2500]["blocked"] = True
    records = list(
        walk_thread(
            "root",
            [nodes[0]],
            parse=lambda n: Gap("blocked") if n.get("blocked") else chain_item(n),
            children=children,
        )
    )
    assert not any(isinstance(r, Sweep) for r in records)
    assert len(records) == 2500


def test_followers_walk_cut_by_a_loop_yields_no_sweep() -> None:
    guard = PageGuard("followers")
    guard.stopped = "the followers pagination looped"
    records = list(
        followers_stream(
            [(REF, [{"id": "1"}, {"id": "2"}])],
            parse=lambda e, ref: Follower(e["id"], ref),
            guard=guard,
            refused=lambda _exc: False,
            endpoint="followers",
            declared=FOLLOWERS,
            declared_ref=REF,
        )
    )
    assert sum(isinstance(r, Follower) for r in records) == 2
    assert not any(isinstance(r, Sweep) for r in records)
    degr = [r for r in records if isinstance(r, Degradation)]
    assert len(degr) == 1 and "2 followers listed of 3000" in degr[0].reason
    assert not any(isinstance(r, Unparseable) for r in records)


# -- end to end: Mastodon with a looping Link header -----------------------------------------


def _loop_back(answer: FakeResponse) -> FakeResponse:
    """The first page's ``next`` names the first page again."""
    link = answer.headers.get("Link", "")
    if 'rel="next"' not in link:
        return answer
    nxt = link.split(">", 1)[0].lstrip("<")
    first = nxt.split("?", 1)[0] + "?limit=80"
    answer.headers["Link"] = link.replace(nxt, first, 1)
    return answer


@pytest.fixture
def crowd(tmp_path: Path) -> Iterator[tuple[MastodonWorld, Tamper, Path]]:
    world = MastodonWorld()
    city = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    world.post_status(city, "Leaf pickup starts Monday.")
    for n in range(FOLLOWERS):
        world.follow(city, world.add_account(f"resident{n}", f"Resident {n}")["id"])
    tamper = Tamper(world)
    with FakeServer(tamper) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, CITY_USERNAME))
        yield world, tamper, config


def test_looping_followers_link_records_zero_unfollows(
    crowd: tuple[MastodonWorld, Tamper, Path],
) -> None:
    """80 of 3,000 followers listed because ``next`` loops: the run succeeds, the loop is a
    degradation, and nobody (not 2,920 people) is recorded as having unfollowed."""
    _world, tamper, config = crowd
    # The whole list in every run (between complete reads a run reads only the newest).
    config.write_text(
        config.read_text().replace("[[sites]]\n", "[[sites]]\nfollower_walk_every = 0\n", 1)
    )
    assert harvest(config, "masto", full=True).status == "succeeded"
    listed = catalog_rows(config, "SELECT count(*) AS n FROM followers")[0]["n"]
    assert listed == FOLLOWERS

    tamper.rules["/followers"] = _loop_back
    result = harvest(config, "masto", full=True)
    assert result.status == "succeeded"
    gone = catalog_rows(
        config, "SELECT count(*) AS n FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert gone[0]["n"] == 0
    events = catalog_rows(
        config, "SELECT count(*) AS n FROM follower_events WHERE event = 'unfollowed'"
    )
    assert events[0]["n"] == 0
    degr = catalog_rows(config, "SELECT capability, reason FROM degradations")
    assert [d["capability"] for d in degr] == ["follower_identities"]
    assert "looped" in degr[0]["reason"] and "80 followers listed of 3000" in degr[0]["reason"]


def test_looping_statuses_link_fails_the_sweep_not_the_run(tmp_path: Path) -> None:
    """A timeline whose ``next`` loops: the posts read are kept, the run succeeds, no post is
    marked removed, and the lost deletion check is a degradation the clerk sees."""
    world = MastodonWorld()
    city = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    ids = [world.post_status(city, f"notice {n}")["id"] for n in range(100)]
    tamper = Tamper(world)
    with FakeServer(tamper) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, CITY_USERNAME))
        assert harvest(config, "masto", full=True).status == "succeeded"

        def loop(answer: FakeResponse) -> FakeResponse:
            link = answer.headers.get("Link", "")
            nxt = link.split(">", 1)[0].lstrip("<")
            answer.headers["Link"] = link.replace(nxt, nxt.split("?", 1)[0] + "?limit=40", 1)
            return answer

        tamper.rules["/statuses"] = loop
        result = harvest(config, "masto", full=True)
    assert result.status == "succeeded"
    removed = catalog_rows(
        config, "SELECT platform_id FROM items WHERE removal_state = 'removed_upstream'"
    )
    assert removed == []
    assert len(
        catalog_rows(
            config, "SELECT id FROM items WHERE record_class = 'posts' AND kind != 'profile'"
        )
    ) == len(ids)
    degr = catalog_rows(config, "SELECT capability, reason FROM degradations")
    assert [d["capability"] for d in degr] == ["deletion_detection"]
    assert "looped" in degr[0]["reason"]
