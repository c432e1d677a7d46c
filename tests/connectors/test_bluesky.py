"""Bluesky connector contract: real harvests against BlueskyWorld on loopback.

Each test goes through the real recorder, bundles, storage and catalog (tests/helpers.py), so
what is asserted is what a clerk would find in the archive: items and their versions,
removals and hidden replies, follower events, revisit records, failed runs and degradations.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fakeplatforms import FakeServer
from fakeplatforms.bluesky import BlueskyWorld
from typer.testing import CliRunner

from archiver.bundle_format import open_records
from archiver.cli import app as cli_app
from archiver.errors import MalformedResponseError, NotFoundError, RetriableFetchError
from archiver.recorder import retry_after_seconds
from connectors.bluesky import BlueskyConnector
from tests.connectors.bluesky_scene import CITY, World, bluesky_world
from tests.helpers import catalog_rows, harvest, site_toml, write_config


@pytest.fixture
def bsky(tmp_path: Path) -> Iterator[World]:
    """City with two posts; thread under A: B (maria) <- C (dale, hidden) and D (city)."""
    with bluesky_world(tmp_path) as world:
        yield world


def items(config: Path) -> dict[str, sqlite3.Row]:
    """Posts and replies (the profile record is tested in tests/compliance)."""
    rows = catalog_rows(config, "SELECT * FROM items WHERE kind != 'profile'")
    return {r["platform_id"]: r for r in rows}


def run_warc_stats(config: Path, run_id: str) -> tuple[Counter[str], int]:
    """Record types in the run's bundles (from data/records.sqlite) and their WARC bytes."""
    types: Counter[str] = Counter()
    size = 0
    for b in catalog_rows(config, "SELECT key FROM bundles WHERE run_id = ?", (run_id,)):
        folder = config.parent / "archive" / "bundles" / b["key"]
        db = open_records(folder / "data" / "records.sqlite")
        try:
            types.update(r[0] for r in db.execute("SELECT record_type FROM warc_records"))
        finally:
            db.close()
        size += sum(f.stat().st_size for f in (folder / "data" / "warc").glob("*.warc*"))
    return types, size


def status_json(config: Path) -> list[dict[str, Any]]:
    """``archiver status --json`` in-process; the CLI points structlog at the runner's
    stream, which closes afterwards, so the logging defaults are restored for later tests."""
    try:
        out = CliRunner().invoke(cli_app, ["status", "--config", str(config), "--json"])
    finally:
        structlog.reset_defaults()
    assert out.exit_code == 0, out.output
    status = json.loads(out.stdout)
    sites: list[dict[str, Any]] = status["sites"] if isinstance(status, dict) else status
    return sites


def test_full_harvest_captures_posts_threads_hidden_replies_media_and_followers(
    bsky: World,
) -> None:
    result = harvest(bsky.config, "bsky")
    assert result.status == "succeeded"
    assert result.counts["post"] == 3  # A, E and the city's own reply D (posts_with_replies)
    got = items(bsky.config)
    ids = bsky.ids
    assert got[ids["A"]]["record_class"] == "posts"
    assert got[ids["B"]]["kind"] == "comment"
    assert got[ids["C"]]["kind"] == "reply"
    assert got[ids["C"]]["parent_id"] == ids["B"]
    assert got[ids["C"]]["root_id"] == ids["A"]
    assert got[ids["C"]]["removal_state"] == "hidden_upstream"
    assert got[ids["B"]]["removal_state"] is None
    assert got[ids["D"]]["by_owner"] and not got[ids["B"]]["by_owner"]
    classes = catalog_rows(
        bsky.config, "SELECT record_class FROM items WHERE platform_id = ?", (ids["D"],)
    )
    assert sorted(r[0] for r in classes) == ["comments", "posts"]
    assert got[ids["A"]]["permalink"].startswith(f"https://bsky.app/profile/{CITY}/post/")
    media = json.loads(
        catalog_rows(
            bsky.config,
            "SELECT media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ?",
            (ids["A"],),
        )[0][0]
    )
    assert media[0]["description"] == "map"
    assert media[0]["ref"] is not None  # the image bytes are in the WARC
    followers = {r["platform_id"] for r in catalog_rows(bsky.config, "SELECT * FROM followers")}
    assert followers == {ids["maria"], ids["dale"]}
    snap = catalog_rows(bsky.config, "SELECT count FROM follower_snapshots ORDER BY id")
    assert {r[0] for r in snap} == {2}  # the profile figure and the complete list agree
    assert bsky.server.requests_to("/xrpc/app.bsky.feed.getPostThread")[0].query["depth"] == [
        "1000"
    ]


def test_second_harvest_sees_deletions_hidden_replies_deep_replies_and_follower_changes(
    bsky: World,
) -> None:
    w, ids = bsky.world, bsky.ids
    harvest(bsky.config, "bsky")
    w.delete_post(ids["B"])  # takes C (its reply) out of the public thread too
    ids["F"] = w.reply(ids["D"], ids["priya"], "Thanks for the quick fix")
    ids["G"] = w.reply(ids["F"], ids["maria"], "Agreed!")  # a reply to a reply to a reply
    w.hide_reply(ids["F"])
    w.unfollow(ids["dale"], ids["city"])
    w.follow(ids["priya"], ids["city"])
    result = harvest(bsky.config, "bsky", full=True)
    assert result.status == "succeeded"
    got = items(bsky.config)
    assert got[ids["B"]]["removal_state"] == "removed_upstream"
    assert got[ids["B"]]["disappeared_at"] is not None
    text = catalog_rows(
        bsky.config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
        (ids["B"],),
    )
    assert [r[0] for r in text] == ["Is that why my water is brown?"]
    assert got[ids["G"]]["kind"] == "reply" and got[ids["G"]]["parent_id"] == ids["F"]
    assert got[ids["G"]]["root_id"] == ids["A"]
    assert got[ids["F"]]["removal_state"] == "hidden_upstream"
    assert got[ids["A"]]["removal_state"] is None and got[ids["E"]]["removal_state"] is None
    events = {
        (r["platform_id"], r["event"])
        for r in catalog_rows(bsky.config, "SELECT platform_id, event FROM follower_events")
    }
    assert (ids["dale"], "unfollowed") in events
    assert (ids["priya"], "followed") in events


def test_hiding_a_captured_reply_makes_a_new_hidden_version(bsky: World) -> None:
    harvest(bsky.config, "bsky")
    bsky.world.hide_reply(bsky.ids["B"])
    harvest(bsky.config, "bsky", full=True)
    row = items(bsky.config)[bsky.ids["B"]]
    assert row["removal_state"] == "hidden_upstream"
    assert row["current_version"] == 2
    ev = catalog_rows(bsky.config, "SELECT event FROM item_events WHERE item_id = ?", (row["id"],))
    assert "hidden_upstream" in [r[0] for r in ev]


def test_deleted_post_is_removed_on_full_sweep_and_rewrite_is_a_new_version(bsky: World) -> None:
    harvest(bsky.config, "bsky")
    bsky.world.delete_post(bsky.ids["E"])
    bsky.world.rewrite_post(bsky.ids["A"], "Water main break at Babcock and Willson (fixed).")
    harvest(bsky.config, "bsky", full=True)
    got = items(bsky.config)
    assert got[bsky.ids["E"]]["removal_state"] == "removed_upstream"
    assert got[bsky.ids["A"]]["current_version"] == 2
    cids = [
        json.loads(r[0])["cid"]
        for r in catalog_rows(
            bsky.config,
            "SELECT extra_json FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ? ORDER BY version",
            (bsky.ids["A"],),
        )
    ]
    assert len(set(cids)) == 2


def test_not_found_reply_node_counts_as_removed(tmp_path: Path) -> None:
    w = BlueskyWorld(deleted_reply_style="not_found")
    city = w.add_actor(CITY)["did"]
    maria = w.add_actor("maria.bsky.social")["did"]
    root = w.add_post(city, "Snow routes in effect")
    reply = w.reply(root, maria, "Which streets?")
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY))
        harvest(config, "bsky")
        w.delete_post(reply)
        harvest(config, "bsky", full=True)
    assert items(config)[reply]["removal_state"] == "removed_upstream"


def test_blocked_reply_is_not_mistaken_for_a_deletion(bsky: World) -> None:
    harvest(bsky.config, "bsky")
    bsky.world.block(bsky.ids["maria"])
    harvest(bsky.config, "bsky", full=True)
    got = items(bsky.config)
    assert got[bsky.ids["B"]]["removal_state"] is None
    assert got[bsky.ids["C"]]["removal_state"] == "hidden_upstream"  # unchanged, not removed


def test_reposts_are_recorded_as_posts_with_repost_of(bsky: World) -> None:
    other = bsky.world.add_actor("mdt.mt.gov", "Montana DOT")["did"]
    original = bsky.world.add_post(other, "I-90 closed at Bozeman Pass")
    repost = bsky.world.repost(bsky.ids["city"], original)
    harvest(bsky.config, "bsky")
    got = items(bsky.config)
    assert got[repost]["record_class"] == "posts" and got[repost]["by_owner"]
    extra = json.loads(
        catalog_rows(
            bsky.config,
            "SELECT extra_json FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ?",
            (repost,),
        )[0][0]
    )
    assert extra["repost_of"] == original
    threads = bsky.server.requests_to("/xrpc/app.bsky.feed.getPostThread")
    assert all(r.query["uri"] != [original] for r in threads)


def test_pagination_walks_every_page(tmp_path: Path) -> None:
    w = BlueskyWorld()
    city = w.add_actor(CITY)["did"]
    root = w.add_post(city, "Road closures this week, one reply per closure:")
    # the city's replies in its own thread: listed as posts, walked once via the root's thread
    posts = [root] + [w.reply(root, city, f"Closure {i}") for i in range(120)]
    fans = [w.add_actor(f"fan{i}.bsky.social")["did"] for i in range(120)]
    for fan in fans:
        w.follow(fan, city)
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY))
        result = harvest(config, "bsky")
        assert len(server.requests_to("/xrpc/app.bsky.graph.getFollowers")) == 2
        assert len(server.requests_to("/xrpc/app.bsky.feed.getPostThread")) == 1
    assert result.counts["post"] == 121 and result.counts["comment"] == 120
    assert set(items(config)) == set(posts)
    assert len(catalog_rows(config, "SELECT * FROM followers")) == 120


def test_unchanged_second_run_writes_revisits_and_far_fewer_bytes(bsky: World) -> None:
    rng = random.Random(5)
    words = [
        f"{rng.choice('bcdfgklmnprstvz')}{rng.choice('aeiou')}{rng.randint(0, 999)}"
        for _ in range(500)
    ]
    for i in range(12):
        post = bsky.world.add_post(
            bsky.ids["city"], f"Agenda item {i}: " + " ".join(rng.sample(words, 40))
        )
        for _ in range(4):
            bsky.world.reply(post, bsky.ids["priya"], " ".join(rng.sample(words, 40)))
    first = harvest(bsky.config, "bsky")
    second = harvest(bsky.config, "bsky", full=True)
    types1, bytes1 = run_warc_stats(bsky.config, first.run_id)
    types2, bytes2 = run_warc_stats(bsky.config, second.run_id)
    assert types1["revisit"] == 0
    assert types2["revisit"] >= 12  # every unchanged API answer
    assert types2["response"] == 0
    assert bytes2 < bytes1 / 2


def test_unknown_account_fails_the_run_with_one_line_not_found(bsky: World, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    config = write_config(
        tmp_path / "other", site_toml("bsky", "bluesky", bsky.server.url, "nobody.example")
    )
    with pytest.raises(NotFoundError) as err:
        harvest(config, "bsky")
    message = str(err.value)
    assert "\n" not in message
    assert "site bsky" in message and "app.bsky.actor.getProfile" in message
    assert "Profile not found" in message
    run = catalog_rows(config, "SELECT status, error_kind FROM runs")
    assert [tuple(r) for r in run] == [("failed", "NotFoundError")]
    assert catalog_rows(config, "SELECT * FROM bundles") == []


def test_ratelimit_reset_header_is_honoured_and_retried(bsky: World) -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds({"ratelimit-reset": str(int(now) + 7)}, now) == 7.0
    bsky.world.rate_limit_next(2)
    result = harvest(bsky.config, "bsky")
    assert result.status == "succeeded"
    assert len(bsky.server.requests_to("/xrpc/app.bsky.actor.getProfile")) == 3


def test_rate_limit_storm_fails_the_run_and_seals_nothing(bsky: World) -> None:
    bsky.world.rate_limit_next(50)
    with pytest.raises(RetriableFetchError):
        harvest(bsky.config, "bsky")
    assert catalog_rows(bsky.config, "SELECT status FROM runs")[0][0] == "failed"
    assert catalog_rows(bsky.config, "SELECT * FROM bundles") == []


def test_followers_refused_is_recorded_as_a_degradation_and_the_run_continues(
    bsky: World,
) -> None:
    harvest(bsky.config, "bsky")
    bsky.world.refuse_followers(403)
    result = harvest(bsky.config, "bsky", full=True)
    assert result.status == "succeeded"
    degr = catalog_rows(bsky.config, "SELECT capability, reason FROM degradations")
    assert [r[0] for r in degr] == ["follower_identities"]
    assert "403" in degr[0][1]
    # nobody is marked unfollowed, and the count still comes from the profile
    assert catalog_rows(bsky.config, "SELECT * FROM follower_events WHERE event='unfollowed'") == []
    assert catalog_rows(bsky.config, "SELECT count FROM follower_snapshots ORDER BY id")[-1][0] == 2
    sites = status_json(bsky.config)
    site = next(s for s in sites if s["site"] == "bsky")
    assert site["degradations"][0]["capability"] == "follower_identities"


def test_capabilities_say_what_bluesky_cannot_do() -> None:
    caps = BlueskyConnector.capabilities
    assert caps.hidden_comments and caps.follower_identities and not caps.edits
    assert any("cannot be edited" in n for n in caps.notes)


def test_incremental_run_reads_only_the_newest_page_and_removes_nothing(tmp_path: Path) -> None:
    w = BlueskyWorld()
    city = w.add_actor(CITY)["did"]
    root = w.add_post(city, "Construction updates, one reply per street:")
    replies = [w.reply(root, city, f"Street {i} paved") for i in range(150)]
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("bsky", "bluesky", server.url, CITY))
        harvest(config, "bsky")
        w.delete_post(replies[0])  # old: beyond the recheck window of an incremental run
        newest = w.add_post(city, "Paving done for the season")
        server.clear_requests()
        result = harvest(config, "bsky", full=False)
        feed_calls = server.requests_to("/xrpc/app.bsky.feed.getAuthorFeed")
    assert result.status == "succeeded" and not result.full_sweep
    assert len(feed_calls) == 1  # caught up with the bookmark on the first page
    got = catalog_rows(
        config, "SELECT platform_id, removal_state FROM items WHERE record_class='posts'"
    )
    states = {r[0]: r[1] for r in got}
    assert newest in states
    assert states[replies[0]] is None  # an incremental run never claims a removal


def test_fake_speaks_the_lexicon_shapes(bsky: World) -> None:
    """Field names as in shared/platforms/samples/bluesky_*.json (MarshalX/atproto fixtures)."""
    import httpx

    base = f"{bsky.server.url}/xrpc"
    feed = httpx.get(f"{base}/app.bsky.feed.getAuthorFeed", params={"actor": CITY}).json()
    post = next(f["post"] for f in feed["feed"] if f["post"]["uri"] == bsky.ids["A"])
    assert {"uri", "cid", "author", "record", "embed", "replyCount", "repostCount"} <= set(post)
    assert {"likeCount", "indexedAt", "labels"} <= set(post)
    assert {"did", "handle", "displayName", "avatar"} <= set(post["author"])
    assert post["record"]["$type"] == "app.bsky.feed.post"
    assert post["embed"]["$type"] == "app.bsky.embed.images#view"
    assert {"thumb", "fullsize", "alt"} <= set(post["embed"]["images"][0])
    thread = httpx.get(
        f"{base}/app.bsky.feed.getPostThread", params={"uri": bsky.ids["A"], "depth": 10}
    ).json()
    assert thread["thread"]["$type"] == "app.bsky.feed.defs#threadViewPost"
    reply = thread["thread"]["replies"][0]["post"]["record"]["reply"]
    assert set(reply) == {"root", "parent"} and set(reply["root"]) == {"cid", "uri"}
    assert thread["threadgate"]["record"]["hiddenReplies"] == [bsky.ids["C"]]
    followers = httpx.get(f"{base}/app.bsky.graph.getFollowers", params={"actor": CITY}).json()
    assert set(followers) >= {"subject", "followers"}
    bad = httpx.get(f"{base}/app.bsky.actor.getProfile", params={"actor": "nobody.example"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "InvalidRequest", "message": "Profile not found"}
    too_many = httpx.get(
        f"{base}/app.bsky.feed.getAuthorFeed", params={"actor": CITY, "limit": 101}
    )
    assert too_many.status_code == 400


def test_malformed_thread_is_unparseable_and_the_run_goes_on(bsky: World) -> None:
    """An unreadable getPostThread answer costs that thread only: kept raw, counted, and
    not swept, so a reply missing from it is not marked removed."""
    harvest(bsky.config, "bsky")
    bsky.world.delete_post(bsky.ids["B"])
    bsky.server.inject("/xrpc/app.bsky.feed.getPostThread", "malformed_json", times=10)
    result = harvest(bsky.config, "bsky", full=True)
    assert result.status == "succeeded"
    assert result.counts.get("unparseable") == 2  # the threads of A and E
    bad = catalog_rows(
        bsky.config, "SELECT bundle_id, endpoint, reason, warc_file FROM unparseable"
    )
    assert {b["endpoint"] for b in bad} == {"GET app.bsky.feed.getPostThread"}
    assert all("-comments-" in b["bundle_id"] and b["warc_file"] for b in bad)
    assert any(bsky.ids["A"] in b["reason"] and "expected JSON" in b["reason"] for b in bad)
    got = items(bsky.config)
    assert got[bsky.ids["B"]]["removal_state"] is None  # no sweep of A's thread
    assert got[bsky.ids["C"]]["removal_state"] == "hidden_upstream"  # as captured before
    assert got[bsky.ids["A"]]["removal_state"] is None
    assert len(catalog_rows(bsky.config, "SELECT * FROM follower_snapshots")) == 2


def test_thread_server_errors_still_fail_the_run_and_seal_nothing(bsky: World) -> None:
    bsky.server.inject("/xrpc/app.bsky.feed.getPostThread", "html_error", times=10)
    with pytest.raises(RetriableFetchError) as err:
        harvest(bsky.config, "bsky")
    assert "\n" not in str(err.value) and "getPostThread" in str(err.value)
    assert catalog_rows(bsky.config, "SELECT status FROM runs")[0][0] == "failed"
    assert catalog_rows(bsky.config, "SELECT * FROM bundles") == []


def test_malformed_timeline_page_still_fails_the_run(bsky: World) -> None:
    bsky.server.inject("/xrpc/app.bsky.feed.getAuthorFeed", "malformed_json")
    with pytest.raises(MalformedResponseError) as err:
        harvest(bsky.config, "bsky")
    assert "getAuthorFeed" in str(err.value)
    assert catalog_rows(bsky.config, "SELECT * FROM bundles") == []


def test_truncated_answer_is_retried(bsky: World) -> None:
    bsky.server.inject("/xrpc/app.bsky.feed.getAuthorFeed", "truncated")
    assert harvest(bsky.config, "bsky").status == "succeeded"
    assert bsky.ids["A"] in items(bsky.config)


def test_between_complete_reads_only_the_newest_followers_are_read(bsky: World) -> None:
    """A head walk (follower_walk_every, default daily): the top page only, newcomers recorded
    as followed, nobody concluded gone; the declared count checks it."""
    w, ids = bsky.world, bsky.ids
    followers = "/xrpc/app.bsky.graph.getFollowers"
    harvest(bsky.config, "bsky")
    before = len(bsky.server.requests_to(followers))
    newcomer = str(w.add_actor("newcomer.bsky.social", "Newcomer")["did"])
    w.follow(newcomer, ids["city"])
    run = harvest(bsky.config, "bsky")
    assert len(bsky.server.requests_to(followers)) == before + 1
    bundle = catalog_rows(
        bsky.config,
        "SELECT key FROM bundles WHERE run_id = ? AND record_class = 'followers'",
        (run.run_id,),
    )[0]["key"]
    db = open_records(bsky.config.parent / "archive" / "bundles" / bundle / "data/records.sqlite")
    try:
        info = dict(db.execute("SELECT key, value FROM bundle_info").fetchall())
        diffs = db.execute("SELECT event, platform_id FROM follower_diffs").fetchall()
    finally:
        db.close()
    assert info["followers_form"] == "partial" and info["followers_walk"] == "head"
    assert [tuple(d) for d in diffs] == [("followed", newcomer)]
    assert (
        catalog_rows(bsky.config, "SELECT * FROM degradations WHERE run_id = ?", (run.run_id,))
        == []
    )
