"""Contract tests for the X connector: real harvests against a fake X API on loopback.

Every test goes through the real recorder, bundles, storage and catalog (tests/helpers.py) and
asserts on the catalog a clerk would read, so a connector bug shows up as a wrong record.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms.server import FakeServer
from fakeplatforms.x import XWorld

from archiver.errors import AuthError, MalformedResponseError, NotFoundError
from tests.helpers import catalog_rows, harvest, site_toml, write_config

SITE = "x-city"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"


@dataclass
class Scene:
    world: XWorld
    server: FakeServer
    config: Path
    ids: dict[str, str]


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """City with three posts over two timeline pages, a reply tree A <- B <- C, A <- D (city)."""
    world = XWorld(bearer_token=TOKEN, page_cap=2)
    ids: dict[str, str] = {}
    ids["city"] = world.add_user("cityofbozeman", "City of Bozeman", extra_followers=40)
    for name in ("maria", "dale", "priya"):
        ids[name] = world.add_user(name, name.title())
        world.follow(ids["city"], ids[name])
    ids["A"] = world.post(ids["city"], "Water main break at Babcock and Willson.", media=1)
    ids["P2"] = world.post(ids["city"], "Snow plows are out on arterials tonight.")
    ids["P3"] = world.post(ids["city"], "City Commission meets Tuesday at 6pm.")
    ids["B"] = world.post(ids["maria"], "@cityofbozeman brown water?", reply_to=ids["A"])
    ids["C"] = world.post(ids["dale"], "@maria same here on Olive St", reply_to=ids["B"])
    ids["D"] = world.post(ids["city"], "Update: repaired, flush your taps.", reply_to=ids["A"])
    monkeypatch.setenv("X_TOKEN", TOKEN)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path, site_toml(SITE, "x", server.url, "cityofbozeman", token_env="X_TOKEN")
        )
        yield Scene(world, server, config, ids)


def _items(config: Path, record_class: str) -> dict[str, dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT platform_id, kind, parent_id, root_id, by_owner, current_version, "
        "disappeared_at, removal_state FROM items WHERE site_id = ? AND record_class = ? "
        "AND kind != 'profile'",  # the profile record is tested in tests/compliance
        (SITE, record_class),
    )
    return {r["platform_id"]: dict(r) for r in rows}


def _texts(config: Path, platform_id: str) -> list[str]:
    rows = catalog_rows(
        config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.site_id = ? AND i.platform_id = ? ORDER BY v.version",
        (SITE, platform_id),
    )
    return [r["text"] for r in rows]


def test_two_full_harvests_capture_posts_replies_edits_and_deletions(scene: Scene) -> None:
    ids, world, config = scene.ids, scene.world, scene.config
    first = harvest(config, SITE, full=True)
    assert first.status == "succeeded"
    posts = _items(config, "posts")
    # The city's reply D is a post on its timeline too (as on Mastodon).
    assert set(posts) == {ids["A"], ids["P2"], ids["P3"], ids["D"]}
    comments = _items(config, "comments")
    assert set(comments) == {ids["B"], ids["C"], ids["D"]}
    assert comments[ids["B"]]["kind"] == "comment"
    assert comments[ids["C"]]["kind"] == "reply"  # a reply to a reply
    assert comments[ids["C"]]["parent_id"] == ids["B"]
    assert {c["root_id"] for c in comments.values()} == {ids["A"]}
    assert comments[ids["D"]]["by_owner"] and not comments[ids["B"]]["by_owner"]
    media = catalog_rows(
        config,
        "SELECT v.media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? AND i.record_class = 'posts'",
        (ids["A"],),
    )
    assert '"warc_file"' in media[0]["media_json"]  # the photo bytes are in the WARC

    new_id = world.edit(ids["A"], "Water main break at Babcock and Willson. Boil advisory lifted.")
    world.delete(ids["P2"])
    world.delete(ids["B"])  # takes C's parent away; C itself stays
    second = harvest(config, SITE, full=True)
    assert second.status == "succeeded"
    posts = _items(config, "posts")
    assert new_id not in posts and posts[ids["A"]]["current_version"] == 2
    assert _texts(config, ids["A"])[-1].endswith("Boil advisory lifted.")
    assert posts[ids["P2"]]["removal_state"] == "removed_upstream"
    assert posts[ids["P2"]]["disappeared_at"]
    assert _texts(config, ids["P2"]) == ["Snow plows are out on arterials tonight."]
    comments = _items(config, "comments")
    assert comments[ids["B"]]["removal_state"] == "removed_upstream"
    assert comments[ids["C"]]["removal_state"] is None
    extra = catalog_rows(
        config,
        "SELECT v.extra_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? AND v.version = 2",
        (ids["A"],),
    )
    assert new_id in extra[0]["extra_json"] and ids["A"] in extra[0]["extra_json"]


def test_incremental_run_sees_an_edit_through_the_since_id_bookmark(scene: Scene) -> None:
    harvest(scene.config, SITE, full=True)
    scene.world.edit(scene.ids["P3"], "City Commission meets Wednesday at 6pm.")
    result = harvest(scene.config, SITE, full=False)
    assert result.status == "succeeded" and not result.full_sweep
    posts = _items(scene.config, "posts")
    assert posts[scene.ids["P3"]]["current_version"] == 2
    assert len(posts) == 4


def test_without_a_recheck_window_the_since_id_goes_to_x(scene: Scene, tmp_path: Path) -> None:
    toml = site_toml(SITE, "x", scene.server.url, "cityofbozeman", token_env="X_TOKEN")
    write_config(tmp_path, toml + "recheck_recent = 0\n")
    harvest(scene.config, SITE, full=True)
    newest = catalog_rows(scene.config, "SELECT value FROM bookmarks WHERE key = 'since_id'")
    assert newest[0]["value"] == scene.ids["D"]  # the city's newest post
    new = scene.world.post(scene.ids["city"], "Leaf pickup starts Monday.")
    scene.server.clear_requests()
    harvest(scene.config, SITE, full=False)
    timeline = scene.server.requests_to(f"/2/users/{scene.ids['city']}/tweets")
    assert [r.query.get("since_id") for r in timeline] == [[scene.ids["D"]]]
    assert new in _items(scene.config, "posts")


def test_registry_serves_the_connector() -> None:
    from connectors.registry import get_connector
    from connectors.x import XConnector

    assert get_connector("x") is XConnector
    assert XConnector.capabilities.edits and not XConnector.capabilities.follower_identities


def test_follower_tier_refusal_keeps_the_count_and_the_run(scene: Scene) -> None:
    """A tier that never listed followers: the count with a note, every run, and no
    degradation (nothing the site had was lost, so status must not look degraded)."""
    for _ in range(2):
        result = harvest(scene.config, SITE, full=True)
        assert result.status == "succeeded"
    assert catalog_rows(scene.config, "SELECT * FROM degradations") == []
    snap = catalog_rows(scene.config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(s["count"], s["identities"]) for s in snap] == [(43, 0), (43, 0)]
    assert all("not available on this X API access tier" in s["note"] for s in snap)
    assert all("Project" in s["note"] for s in snap)  # X's own words, from the 403 body
    assert catalog_rows(scene.config, "SELECT * FROM followers") == []
    bookmarks = catalog_rows(scene.config, "SELECT key FROM bookmarks")
    assert "followers_listed" not in {b["key"] for b in bookmarks}


def test_follower_list_lost_after_it_worked_is_a_degradation(scene: Scene) -> None:
    scene.world.followers_allowed = True
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    mark = catalog_rows(scene.config, "SELECT value FROM bookmarks WHERE key = 'followers_listed'")
    assert [m["value"] for m in mark] == ["1"]
    assert catalog_rows(scene.config, "SELECT * FROM degradations") == []

    scene.world.followers_allowed = False  # the city's paid tier lapsed
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    degr = catalog_rows(scene.config, "SELECT capability, reason FROM degradations")
    assert [d["capability"] for d in degr] == ["follower_identities"]
    assert "Appropriate Level of API Access" in degr[0]["reason"] or "Project" in degr[0]["reason"]
    snap = catalog_rows(
        scene.config, "SELECT count, identities FROM follower_snapshots ORDER BY id"
    )
    assert [(s["count"], s["identities"]) for s in snap] == [(3, 1), (43, 0)]
    # Nobody is marked unfollowed on the strength of a list that could not be read.
    assert (
        catalog_rows(scene.config, "SELECT * FROM followers WHERE unfollowed_at IS NOT NULL") == []
    )


def test_follower_list_when_the_tier_allows_it(scene: Scene) -> None:
    scene.world.followers_allowed = True
    harvest(scene.config, SITE, full=True)
    handles = {r["handle"] for r in catalog_rows(scene.config, "SELECT handle FROM followers")}
    assert handles == {"maria", "dale", "priya"}
    scene.world.unfollow(scene.ids["city"], scene.ids["dale"])
    harvest(scene.config, SITE, full=True)
    gone = catalog_rows(
        scene.config, "SELECT handle FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert [r["handle"] for r in gone] == ["dale"]


def test_search_tier_refusal_is_a_degradation_not_a_failure(scene: Scene) -> None:
    scene.world.search_allowed = False
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    caps = [r["capability"] for r in catalog_rows(scene.config, "SELECT * FROM degradations")]
    assert "replies" in caps
    assert len(scene.server.requests_to("/2/tweets/search")) == 1  # asked once, not per post


def test_search_rate_limit_storm_degrades_replies_but_keeps_the_run(scene: Scene) -> None:
    scene.world.rate_limit_next("/2/tweets/search", times=50)
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    degr = catalog_rows(scene.config, "SELECT capability, reason FROM degradations")
    assert [d["capability"] for d in degr] == ["replies"]
    assert "rate" in degr[0]["reason"]
    assert len(_items(scene.config, "posts")) == 4
    assert len(scene.server.requests_to("/2/tweets/search")) == 3  # one post's attempts only


def test_replies_older_than_the_search_window_are_not_marked_removed(
    scene: Scene, tmp_path: Path
) -> None:
    """Recent search cannot see an old reply; that is no evidence it was deleted."""
    old = datetime.now(UTC) - timedelta(days=20)
    post = scene.world.post(scene.ids["city"], "Old news", created_at=old)
    reply = scene.world.post(scene.ids["priya"], "old reply", reply_to=post, created_at=old)
    scene.world.full_archive = True
    toml = site_toml(SITE, "x", scene.server.url, "cityofbozeman", token_env="X_TOKEN")
    write_config(tmp_path, toml + "options = { full_archive = true }\n")
    harvest(scene.config, SITE, full=True)
    assert _items(scene.config, "comments")[reply]["removal_state"] is None
    assert scene.server.requests_to("/2/tweets/search/all")

    write_config(tmp_path, toml)  # the city dropped to a tier without full-archive search
    harvest(scene.config, SITE, full=True)
    comments = _items(scene.config, "comments")
    assert comments[reply]["removal_state"] is None  # unseen, but outside the 7-day window
    assert comments[scene.ids["B"]]["removal_state"] is None


def test_posts_older_than_the_search_window_get_no_reply_search(scene: Scene) -> None:
    """Recent search cannot see an 8-day-old conversation: no paid call is spent on it, and
    nothing in it is swept; the recent posts are still searched."""
    old = datetime.now(UTC) - timedelta(days=8)
    post = scene.world.post(scene.ids["city"], "Old news", created_at=old)
    reply = scene.world.post(scene.ids["priya"], "old reply", reply_to=post, created_at=old)
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    assert post in _items(scene.config, "posts")
    searched = [r.query["query"][0] for r in scene.server.requests_to("/2/tweets/search/recent")]
    searched = [q for q in searched if q.startswith("conversation_id:")]  # not the to: search
    assert f"conversation_id:{post}" not in searched
    assert f"conversation_id:{scene.ids['A']}" in searched  # recent posts still are
    assert set(searched) == {f"conversation_id:{scene.ids[k]}" for k in ("A", "P2", "P3")}
    assert reply not in _items(scene.config, "comments")
    degr = [r["capability"] for r in catalog_rows(scene.config, "SELECT * FROM degradations")]
    assert "replies" not in degr  # skipping is by design, not a rate-limit degradation


def test_full_archive_mode_still_searches_old_posts(scene: Scene, tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=8)
    post = scene.world.post(scene.ids["city"], "Old news", created_at=old)
    reply = scene.world.post(scene.ids["priya"], "old reply", reply_to=post, created_at=old)
    scene.world.full_archive = True
    toml = site_toml(SITE, "x", scene.server.url, "cityofbozeman", token_env="X_TOKEN")
    write_config(tmp_path, toml + "options = { full_archive = true }\n")
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    searched = [r.query["query"][0] for r in scene.server.requests_to("/2/tweets/search/all")]
    assert f"conversation_id:{post}" in searched
    assert reply in _items(scene.config, "comments")


def test_expired_token_fails_the_run_with_one_line(scene: Scene) -> None:
    scene.world.expire_token()
    with pytest.raises(AuthError) as err:
        harvest(scene.config, SITE, full=True)
    message = str(err.value)
    assert "\n" not in message
    assert SITE in message and "GET /2/users/by/username/:username" in message
    assert "Unauthorized" in message
    runs = catalog_rows(scene.config, "SELECT status, error FROM runs")
    assert runs[0]["status"] == "failed" and "Unauthorized" in runs[0]["error"]


def test_token_never_reaches_the_archive(scene: Scene) -> None:
    scene.world.followers_allowed = True
    harvest(scene.config, SITE, full=True)
    root = scene.config.parent / "archive"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".warc.gz") for p in files)
    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data += gzip.decompress(data)
        assert TOKEN.encode() not in data, path
        assert TOKEN[-40:].encode() not in data, path
    # The request header was recorded, with its value redacted.
    warcs = b"".join(gzip.decompress(p.read_bytes()) for p in files if p.name.endswith(".warc.gz"))
    assert b"authorization: bearer redacted" in warcs.lower()


def test_rate_limit_with_epoch_reset_then_success(scene: Scene) -> None:
    scene.world.page_cap = None
    path = f"/2/users/{scene.ids['city']}/tweets"
    scene.world.rate_limit_next(path)
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    assert len(scene.server.requests_to(path)) == 2
    assert len(_items(scene.config, "posts")) == 4


def test_server_error_is_retried(scene: Scene) -> None:
    scene.server.inject(f"/2/users/{scene.ids['city']}/tweets", "status_500")
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    assert len(_items(scene.config, "posts")) == 4


def test_malformed_page_fails_the_run_with_one_line(scene: Scene) -> None:
    scene.server.inject(f"/2/users/{scene.ids['city']}/tweets", "malformed_json")
    with pytest.raises(MalformedResponseError) as err:
        harvest(scene.config, SITE, full=True)
    assert "\n" not in str(err.value)
    assert SITE in str(err.value) and "GET /2/users/:id/tweets" in str(err.value)
    runs = catalog_rows(scene.config, "SELECT status, error_kind FROM runs")
    assert [(r["status"], r["error_kind"]) for r in runs] == [("failed", "MalformedResponseError")]


def test_malformed_reply_search_page_is_unparseable_and_the_run_goes_on(scene: Scene) -> None:
    """A broken conversation page costs that thread only: kept raw, counted, not swept."""
    harvest(scene.config, SITE, full=True)
    scene.world.delete(scene.ids["B"])
    # The to: search, then newest first P3, P2 and A each start a conversation search; all
    # four pages are broken.
    scene.server.inject("/2/tweets/search/recent", "malformed_json", times=4)
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    assert result.counts.get("unparseable") == 4
    bad = catalog_rows(
        scene.config, "SELECT bundle_id, endpoint, reason, warc_file FROM unparseable"
    )
    assert {b["endpoint"] for b in bad} == {"GET /2/tweets/search/recent"}
    assert all("-comments-" in b["bundle_id"] and b["warc_file"] for b in bad)
    assert any(scene.ids["A"] in b["reason"] and "expected JSON" in b["reason"] for b in bad)
    # No sweep of A's thread: B is gone upstream, but this run proves nothing about it.
    comments = _items(scene.config, "comments")
    assert comments[scene.ids["B"]]["removal_state"] is None
    assert all(c["removal_state"] is None for c in comments.values())
    # The rest of the run went on: posts, and the follower step after the replies.
    assert len(_items(scene.config, "posts")) == 4
    assert catalog_rows(scene.config, "SELECT count(*) FROM follower_snapshots")[0][0] == 2


def test_malformed_entry_is_counted_not_fatal(scene: Scene) -> None:
    scene.world.add_raw_tweet(scene.ids["city"], {"id": "9", "text": "x", "created_at": "soon"})
    scene.world.add_raw_tweet(scene.ids["city"], {"edit_history_tweet_ids": ["1"], "text": "?"})
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    bad = catalog_rows(scene.config, "SELECT endpoint, reason FROM unparseable")
    assert len(bad) == 2 and {b["endpoint"] for b in bad} == {"GET /2/users/:id/tweets"}
    assert len(_items(scene.config, "posts")) == 4
    caps = {r["capability"] for r in catalog_rows(scene.config, "SELECT * FROM degradations")}
    assert "deletion_detection" in caps  # no sweep while a post could not be identified


def test_unknown_account_is_a_clear_error(scene: Scene, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    config = write_config(
        other, site_toml(SITE, "x", scene.server.url, "nobody_here", token_env="X_TOKEN")
    )
    with pytest.raises(NotFoundError) as err:
        harvest(config, SITE, full=True)
    assert "nobody_here" in str(err.value) and "Could not find user" in str(err.value)


def test_every_reply_written_in_the_window_is_captured_whatever_the_post_age(
    scene: Scene,
) -> None:
    """Replies written this week to a two-week-old post, including a 59-deep chain of
    residents answering each other, are all captured, on a full and on an incremental run.
    A deleted reply is marked removed in a conversation read whole (a post of this week),
    not in the old one, whose replies from before the window recent search cannot see."""
    world, ids = scene.world, scene.ids
    old = world.post(
        ids["city"], "Parking plan draft", created_at=datetime.now(UTC) - timedelta(days=14)
    )
    early = world.post(
        ids["priya"],
        "from 10 days ago",
        reply_to=old,
        created_at=datetime.now(UTC) - timedelta(days=10),
    )
    people = [ids["maria"], ids["dale"], ids["priya"]]
    in_window = [world.post(ids["maria"], "@cityofbozeman why no bike lanes?", reply_to=old)]
    for n in range(58):
        in_window.append(world.post(people[(n + 1) % 3], f"chain {n}", reply_to=in_window[-1]))
    first = harvest(scene.config, SITE, full=True)
    assert first.status == "succeeded"
    comments = _items(scene.config, "comments")
    assert set(in_window) <= set(comments)
    assert early not in comments  # written before the window: out of recent search's reach
    assert {comments[r]["root_id"] for r in in_window} == {old}
    assert comments[in_window[0]]["kind"] == "comment"
    assert comments[in_window[30]]["parent_id"] == in_window[29]

    # This week, on the incremental run that re-reads only the newest posts:
    late = [world.post(ids["dale"], "@cityofbozeman still waiting", reply_to=old)]
    late.append(world.post(ids["maria"], "@dale same", reply_to=late[0]))
    world.delete(in_window[-1])
    world.delete(ids["C"])  # in A's conversation, which started this week
    second = harvest(scene.config, SITE, full=False)
    assert second.status == "succeeded" and not second.full_sweep
    comments = _items(scene.config, "comments")
    assert set(late) <= set(comments)
    assert comments[ids["C"]]["removal_state"] == "removed_upstream"
    assert comments[in_window[-1]]["removal_state"] is None  # the old thread was not read whole
    searched = {r.query["query"][0] for r in scene.server.requests_to("/2/tweets/search/recent")}
    assert "to:cityofbozeman" in searched and f"conversation_id:{old}" in searched
