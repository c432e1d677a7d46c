"""Threads (issue 18 part 2): real harvests of the fake Threads API (fakes/fakeplatforms/threads.py):
posts and reply trees with hidden replies marked, the follower count from insights or a
recorded gap, scopes named in every refusal, cursor-only paging, and bad input bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms import FakeServer
from fakeplatforms.server import SURROGATE_MARKER
from fakeplatforms.threads import ThreadsWorld

from archiver.errors import AuthError, ConfigError
from tests.helpers import catalog_rows, harvest, site_toml, write_config

TOKEN = "THAAthreadsFakeUserToken0123456789"
ENV = "BOZEMAN_THREADS_TOKEN"


@dataclass
class Profile:
    world: ThreadsWorld
    server: FakeServer
    config: Path

    def items(self) -> dict[str, dict[str, object]]:
        rows = catalog_rows(
            self.config,
            "SELECT i.platform_id, i.kind, i.parent_id, i.root_id, i.by_owner, i.removal_state,"
            " v.text, v.hidden, v.extra_json FROM items i JOIN item_versions v ON v.item_id = i.id"
            " AND v.version = i.current_version",
        )
        return {str(r["platform_id"]): dict(r) for r in rows}

    def gaps(self) -> list[str]:
        rows = catalog_rows(self.config, "SELECT capability, reason FROM degradations")
        return [f"{r['capability']}: {r['reason']}" for r in rows]


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Profile]:
    monkeypatch.setenv(ENV, TOKEN)
    world = ThreadsWorld(token=TOKEN, page_size=2)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("threads", "threads", f"{server.url}/v1.0", world.user_id, token_env=ENV),
        )
        yield Profile(world, server, config)


def test_posts_and_reply_trees_with_hidden_replies_marked(profile: Profile) -> None:
    w = profile.world
    post = w.post("Snow emergency: park on the odd side tonight.")
    w.post("Photo of the new library", media=True)
    question = w.reply(post, "Does this include Main St?")
    answer = w.reply(question, "Yes, Main St too.", username=w.username)
    rude = w.reply(post, "something rude")
    under_rude = w.reply(rude, "agreed")
    w.hide(rude)
    harvest(profile.config, "threads", full=True)
    items = profile.items()
    assert items[post]["kind"] == "post" and items[post]["by_owner"]
    assert items[question]["kind"] == "comment" and items[question]["parent_id"] == post
    assert items[answer]["kind"] == "reply" and items[answer]["parent_id"] == question
    assert items[answer]["by_owner"] and not items[question]["by_owner"]
    assert items[answer]["root_id"] == post
    # Hidden by the owner: still captured, marked hidden, the hide_status kept.
    for rid in (rude, under_rude):
        assert items[rid]["hidden"], f"{rid} hidden upstream but not marked"
        assert json.loads(str(items[rid]["extra_json"]))["hide_status"] == "HIDDEN"
    assert not items[question]["hidden"]
    media = catalog_rows(profile.config, "SELECT media_json FROM item_versions")
    files = [m for r in media for m in json.loads(r["media_json"])]
    assert files and all(f.get("ref") for f in files), "the image was not downloaded"
    assert all("oh=" not in (f.get("url") or "") for f in files), "signed CDN query kept"
    sweeps = catalog_rows(profile.config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(r["count"], r["identities"]) for r in sweeps] == [(w.followers, 0)]


def test_the_token_goes_in_the_header_never_the_query(profile: Profile) -> None:
    profile.world.post("A notice")
    harvest(profile.config, "threads", full=True)
    reqs = [r for r in profile.server.requests if r.path.startswith("/v1.0/")]
    assert reqs and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in reqs)
    assert not any("access_token" in r.query for r in reqs)


def test_cursor_only_paging_reads_every_page(profile: Profile) -> None:
    w = profile.world
    w.send_next = False  # pages carry paging.cursors.after only
    posts = [w.post(f"notice {n}") for n in range(5)]
    harvest(profile.config, "threads", full=True)
    assert set(posts) <= set(profile.items())
    afters = [r.query.get("after") for r in profile.server.requests if r.path.endswith("/threads")]
    assert afters == [None, ["2"], ["4"], ["5"]], afters  # the last one answers an empty page
    assert not profile.gaps()


def test_follower_count_without_insights_scope_is_a_gap_not_a_failure(profile: Profile) -> None:
    w = profile.world
    w.granted.discard("threads_manage_insights")
    post = w.post("A notice")
    result = harvest(profile.config, "threads", full=True)
    assert post in profile.items()
    assert result is not None
    gaps = profile.gaps()
    assert any(g.startswith("follower_count:") and "threads_manage_insights" in g for g in gaps)
    assert catalog_rows(profile.config, "SELECT * FROM follower_snapshots") == []


def test_replies_without_their_scope_are_a_named_gap_and_nothing_is_removed(
    profile: Profile,
) -> None:
    w = profile.world
    post = w.post("A notice")
    reply = w.reply(post, "a question")
    harvest(profile.config, "threads", full=True)
    w.granted.discard("threads_read_replies")
    harvest(profile.config, "threads", full=True)
    assert any("threads_read_replies" in g for g in profile.gaps() if g.startswith("comments:"))
    assert profile.items()[reply]["removal_state"] is None, "a refused thread removed a reply"


def test_missing_basic_scope_is_fatal_and_names_it(profile: Profile) -> None:
    profile.world.post("A notice")
    profile.world.granted.discard("threads_basic")
    with pytest.raises(AuthError, match="threads_basic") as caught:
        harvest(profile.config, "threads", full=True)
    assert "\n" not in str(caught.value) and "threads_basic" in (caught.value.hint or "")


def test_expired_token_is_fatal_and_names_the_scopes(profile: Profile) -> None:
    profile.world.post("A notice")
    profile.world.expire_token()
    with pytest.raises(AuthError) as caught:
        harvest(profile.config, "threads", full=True)
    text, hint = str(caught.value), caught.value.hint or ""
    assert "site threads" in text and "token" in text and "\n" not in text
    for scope in ("threads_basic", "threads_read_replies", "threads_manage_insights"):
        assert scope in hint, f"{scope} not named in {hint!r}"
    assert ENV in hint


def test_a_looping_reply_cursor_is_bounded_and_recorded(profile: Profile) -> None:
    w = profile.world
    post = w.post("A busy thread")
    replies = [w.reply(post, f"reply {n}") for n in range(5)]
    profile.server.inject(f"/v1.0/{post}/conversation", "loop_cursor", times=10_000)
    harvest(profile.config, "threads", full=True)
    served = len(profile.server.requests_to(f"/v1.0/{post}/conversation"))
    assert served < 10, f"{served} requests to a looping reply list"
    assert replies[0] in profile.items()
    assert any("looped" in g for g in profile.gaps() if g.startswith("comments:"))
    sweeps = catalog_rows(profile.config, "SELECT * FROM items WHERE removal_state IS NOT NULL")
    assert sweeps == []


def test_a_lone_surrogate_in_a_post_is_stored_replaced(profile: Profile) -> None:
    w = profile.world
    post = w.post(f"Fireworks tonight {SURROGATE_MARKER}!")
    profile.server.inject("/", "lone_surrogate", times=100)
    harvest(profile.config, "threads", full=True)
    item = profile.items()[post]
    assert "\ufffd" in str(item["text"]) and json.loads(str(item["extra_json"]))["unicode_replaced"]


def test_the_tree_walk_reads_replies_of_replies(profile: Profile, tmp_path: Path) -> None:
    w = profile.world
    post = w.post("Leaf pickup starts Monday")
    top = [w.reply(post, f"question {n}") for n in range(3)]
    chain = [w.reply(top[0], "and my street?", username=w.username)]
    for n in range(2):
        chain.append(w.reply(chain[-1], f"follow-up {n}"))
    w.hide(top[1])
    profile.config = write_config(
        tmp_path,
        site_toml(
            "threads",
            "threads",
            f"{profile.server.url}/v1.0",
            w.user_id,
            token_env=ENV,
            options={"reply_walk": "tree"},
        ),
    )
    harvest(profile.config, "threads", full=True)
    items = profile.items()
    assert {*top, *chain} <= set(items)
    assert items[chain[0]]["parent_id"] == top[0] and items[chain[2]]["parent_id"] == chain[1]
    assert items[top[1]]["hidden"] and not items[top[0]]["hidden"]
    paths = {r.path for r in profile.server.requests if r.path.endswith("/replies")}
    assert f"/v1.0/{chain[1]}/replies" in paths and f"/v1.0/{top[2]}/replies" not in paths
    assert not any(r.path.endswith("/conversation") for r in profile.server.requests)
    w.delete(chain[2])
    harvest(profile.config, "threads", full=True)
    assert profile.items()[chain[2]]["removal_state"] == "removed_upstream"


def test_an_unknown_reply_walk_is_a_config_error(profile: Profile, tmp_path: Path) -> None:
    profile.config = write_config(
        tmp_path,
        site_toml(
            "threads",
            "threads",
            f"{profile.server.url}/v1.0",
            profile.world.user_id,
            token_env=ENV,
            options={"reply_walk": "nested"},
        ),
    )
    with pytest.raises(ConfigError, match="reply_walk") as caught:
        harvest(profile.config, "threads", full=True)
    assert "\n" not in str(caught.value)


def test_an_insight_the_api_cannot_answer_is_a_gap(profile: Profile) -> None:
    w = profile.world
    w.insights_broken = True
    post = w.post("A notice")
    harvest(profile.config, "threads", full=True)
    assert post in profile.items()
    assert any(g.startswith("follower_count:") and "code 100" in g for g in profile.gaps())
