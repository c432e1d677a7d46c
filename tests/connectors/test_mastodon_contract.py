"""Mastodon connector contract: real harvests against MastodonWorld on loopback.

Everything goes through the real recorder, bundles, storage and catalog (tests/helpers.py);
faults come from FakeServer, and the few shapes it has no fault for (a 200 HTML page, a status
without ``created_at``, a 403 on one endpoint) from a small pass-through app that edits the
fake instance's real answers.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from fakeplatforms import FakeServer
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse, json_response
from typer.testing import CliRunner

from archiver.bundle_format import open_records
from archiver.cli import app as cli_app
from archiver.errors import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RetriableFetchError,
)
from tests.connectors.mastodon_scene import Rewrite, Site, make_world, mastodon_site
from tests.helpers import catalog_rows, harvest, site_toml, write_config


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with mastodon_site(tmp_path) as site:
        yield site


def whole_follower_list_every_read(config: Path) -> None:
    """Read the whole follower list in every run (``follower_walk_every = 0``), for the tests of
    what a complete read does; between complete reads a run reads only the newest followers
    (tests/foundation/test_lean_storage.py)."""
    text = config.read_text()
    config.write_text(text.replace("[[sites]]\n", "[[sites]]\nfollower_walk_every = 0\n", 1))


def items(config: Path, record_class: str) -> dict[str, sqlite3.Row]:
    # The account's profile record (kind "profile", issue 17) is checked on its own.
    rows = catalog_rows(
        config,
        "SELECT * FROM items WHERE record_class = ? AND kind != 'profile'",
        (record_class,),
    )
    return {r["platform_id"]: r for r in rows}


def versions(config: Path, platform_id: str, record_class: str) -> list[sqlite3.Row]:
    return catalog_rows(
        config,
        "SELECT v.* FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? AND i.record_class = ? ORDER BY v.version",
        (platform_id, record_class),
    )


def bundle_count(config: Path) -> int:
    return len(catalog_rows(config, "SELECT id FROM bundles"))


def last_run(config: Path) -> sqlite3.Row:
    return catalog_rows(config, "SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")[0]


def run_warc_stats(config: Path, run_id: str) -> tuple[Counter[str], int]:
    """Record types in the run's bundles (from data/records.sqlite) and the stored bytes of
    what the platform answered (response and revisit records; request records are the same
    size in every run by design)."""
    types: Counter[str] = Counter()
    size = 0
    for b in catalog_rows(config, "SELECT key FROM bundles WHERE run_id = ?", (run_id,)):
        folder = config.parent / "archive" / "bundles" / b["key"]
        db = open_records(folder / "data" / "records.sqlite")
        try:
            for kind, length in db.execute("SELECT record_type, length FROM warc_records"):
                types[kind] += 1
                size += length if kind in ("response", "revisit") else 0
        finally:
            db.close()
    return types, size


def assert_failed_cleanly(config: Path, kind: str, bundles_before: int) -> None:
    run = last_run(config)
    assert (run["status"], run["error_kind"]) == ("failed", kind)
    assert "\n" not in run["error"]
    assert bundle_count(config) == bundles_before  # nothing sealed from the failed run
    staging = config.parent / "archive" / "staging"
    assert not staging.exists() or not [p for p in staging.iterdir() if p.is_dir()]


# -- full harvests ------------------------------------------------------------------------


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


def test_full_harvest_counts_threads_media_and_followers(site: Site) -> None:
    result = harvest(site.config, "masto")
    assert result.status == "succeeded"
    ids = site.ids
    posts, comments = items(site.config, "posts"), items(site.config, "comments")
    assert set(posts) == {ids["A"], ids["D"], ids["F"]}
    assert set(comments) == {ids["B"], ids["C"], ids["D"], ids["E"]}
    assert comments[ids["B"]]["kind"] == "comment"
    assert comments[ids["C"]]["kind"] == "reply"
    assert comments[ids["C"]]["parent_id"] == ids["B"]
    assert comments[ids["C"]]["root_id"] == ids["A"]
    media = json.loads(versions(site.config, ids["F"], "posts")[0]["media_json"])
    assert media[0]["description"] == "plow routes" and media[0]["ref"] is not None
    followers = {r[0] for r in catalog_rows(site.config, "SELECT platform_id FROM followers")}
    assert followers == {ids["maria"], ids["dale"]}
    profile = catalog_rows(site.config, "SELECT * FROM items WHERE kind = 'profile'")
    assert [r["platform_id"] for r in profile] == [f"profile:{site.ids['city']}"]


def test_second_harvest_records_edit_deletion_deep_reply_and_follower_diff(site: Site) -> None:
    w, ids = site.world, site.ids
    harvest(site.config, "masto")
    w.edit_status(ids["A"], "Water main break at Babcock and Willson. Crews on site.")
    w.delete_status(ids["B"])
    ids["G"] = w.post_status(ids["dale"], "@priya agreed", in_reply_to_id=ids["E"])["id"]
    ids["H"] = w.post_status(ids["maria"], "@dale +1", in_reply_to_id=ids["G"])["id"]
    w.unfollow(ids["city"], ids["dale"])
    w.follow(ids["city"], ids["priya"])
    result = harvest(site.config, "masto", full=True)
    assert result.status == "succeeded"

    a = versions(site.config, ids["A"], "posts")
    assert [v["version"] for v in a] == [1, 2]
    assert a[1]["text"].endswith("Crews on site.") and a[1]["edited_at"] is not None

    comments = items(site.config, "comments")
    gone = comments[ids["B"]]
    assert gone["removal_state"] == "removed_upstream" and gone["disappeared_at"] is not None
    assert versions(site.config, ids["B"], "comments")[0]["text"] == "brown water?"
    assert comments[ids["H"]]["kind"] == "reply" and comments[ids["H"]]["parent_id"] == ids["G"]
    assert comments[ids["H"]]["root_id"] == ids["A"]
    assert comments[ids["E"]]["removal_state"] is None

    events = {
        (r[0], r[1])
        for r in catalog_rows(site.config, "SELECT platform_id, event FROM follower_events")
    }
    assert (ids["dale"], "unfollowed") in events and (ids["priya"], "followed") in events


def test_unchanged_second_run_writes_revisits_and_far_fewer_bytes(site: Site) -> None:
    w, ids = site.world, site.ids
    whole_follower_list_every_read(site.config)
    for i in range(8):
        sid = w.post_status(ids["city"], f"Council agenda item {i}: budget hearing #{i * 37}")["id"]
        for name in ("maria", "dale", "priya"):
            w.post_status(ids[name], f"@cityofbozeman question {i} from {name}", in_reply_to_id=sid)
    first = harvest(site.config, "masto")
    second = harvest(site.config, "masto", full=True)
    types1, bytes1 = run_warc_stats(site.config, first.run_id)
    types2, bytes2 = run_warc_stats(site.config, second.run_id)
    assert types1["revisit"] == 0
    assert types2["revisit"] >= 5  # lookup, statuses, threads, followers
    assert types2["response"] == 0
    assert bytes2 < bytes1 / 2


# -- failures -----------------------------------------------------------------------------
def test_unknown_account_is_one_line_not_found_and_a_failed_run(site: Site, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    config = write_config(other, site_toml("masto", "mastodon", site.server.url, "nobody"))
    with pytest.raises(NotFoundError) as err:
        harvest(config, "masto")
    assert "\n" not in str(err.value)
    assert "site masto" in str(err.value) and "accounts/lookup" in str(err.value)
    assert_failed_cleanly(config, "NotFoundError", 0)


def test_expired_token_is_an_auth_error_and_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _ = make_world(required_token="fresh-token")
    monkeypatch.setenv("MASTO_TOKEN", "expired-token")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("masto", "mastodon", server.url, CITY_USERNAME, token_env="MASTO_TOKEN"),
        )
        with pytest.raises(AuthError) as err:
            harvest(config, "masto")
    assert "HTTP 401" in str(err.value) and "The access token is invalid" in str(err.value)
    assert_failed_cleanly(config, "AuthError", 0)


def test_right_token_harvests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world, ids = make_world(required_token="fresh-token")
    monkeypatch.setenv("MASTO_TOKEN", "fresh-token")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("masto", "mastodon", server.url, CITY_USERNAME, token_env="MASTO_TOKEN"),
        )
        assert harvest(config, "masto").status == "succeeded"
    assert ids["C"] in items(config, "comments")


def test_rate_limit_storm_is_retried_then_fails_without_sealing(site: Site) -> None:
    harvest(site.config, "masto")
    before = bundle_count(site.config)
    site.server.clear_requests()
    site.server.inject("/api/v1/statuses/", "rate_limit_429", times=20)
    with pytest.raises(RetriableFetchError) as err:
        harvest(site.config, "masto", full=True)
    assert "429" in str(err.value)
    assert len(site.server.requests_to("/api/v1/statuses/")) == 3  # max_attempts in the config
    assert_failed_cleanly(site.config, "RetriableFetchError", before)


def test_one_429_is_retried_and_the_run_succeeds(site: Site) -> None:
    site.server.inject("/api/v1/statuses/", "rate_limit_429", times=1)
    assert harvest(site.config, "masto").status == "succeeded"


@pytest.mark.parametrize(
    ("fault", "rewrite"),
    [
        ("malformed_json", None),
        (
            None,
            lambda _r: FakeResponse(
                200, b"<html><body>Site maintenance</body></html>", {"Content-Type": "text/html"}
            ),
        ),
    ],
    ids=["malformed_json", "html_page"],
)
def test_malformed_answers_fail_the_run_with_nothing_half_sealed(
    site: Site, fault: Any, rewrite: Rewrite | None
) -> None:
    harvest(site.config, "masto")
    before = bundle_count(site.config)
    statuses = f"/api/v1/accounts/{site.ids['city']}/statuses"
    if fault:
        site.server.inject(statuses, fault)
    if rewrite:
        site.tamper.rules["/statuses"] = rewrite
    with pytest.raises(MalformedResponseError):
        harvest(site.config, "masto", full=True)
    assert_failed_cleanly(site.config, "MalformedResponseError", before)


@pytest.mark.parametrize("how", ["malformed_json", "html_page"])
def test_unreadable_thread_context_costs_that_thread_only(site: Site, how: str) -> None:
    """A context answer that is not JSON is kept raw and counted; its thread is not swept
    (so a reply missing from it is not called removed) and the run goes on."""
    harvest(site.config, "masto")
    site.world.delete_status(site.ids["B"])
    context = f"/api/v1/statuses/{site.ids['A']}/context"
    if how == "malformed_json":
        site.server.inject(context, "malformed_json")
    else:
        site.tamper.rules[f"/{site.ids['A']}/context"] = lambda _r: FakeResponse(
            200, b"<html><body>Site maintenance</body></html>", {"Content-Type": "text/html"}
        )
    result = harvest(site.config, "masto", full=True)
    assert result.status == "succeeded" and result.counts["unparseable"] == 1
    rows = catalog_rows(site.config, "SELECT endpoint, reason, warc_file FROM unparseable")
    assert [r["endpoint"] for r in rows] == ["GET /api/v1/statuses/:id/context"]
    assert site.ids["A"] in rows[0]["reason"] and "expected JSON" in rows[0]["reason"]
    assert rows[0]["warc_file"]
    assert _present(site.config, "comments", site.ids["B"])  # A's thread was not read
    assert len(catalog_rows(site.config, "SELECT * FROM follower_snapshots")) == 2


def test_html_error_page_from_the_proxy_is_retried_then_fails(site: Site) -> None:
    site.server.inject("/api/v1/accounts/lookup", "html_error", times=10)
    with pytest.raises(RetriableFetchError) as err:
        harvest(site.config, "masto")
    assert "502 Bad Gateway" in str(err.value)
    assert_failed_cleanly(site.config, "RetriableFetchError", 0)


def test_truncated_body_is_retried(site: Site) -> None:
    statuses = f"/api/v1/accounts/{site.ids['city']}/statuses"
    site.server.inject(statuses, "truncated")
    assert harvest(site.config, "masto").status == "succeeded"
    assert [r.fault for r in site.server.requests_to(statuses)] == ["truncated", None]
    assert site.ids["A"] in items(site.config, "posts")


def test_status_missing_a_required_field_is_counted_unparseable(site: Site) -> None:
    def drop_created_at(answer: FakeResponse) -> FakeResponse:
        data = json.loads(answer.body)
        del data[0]["created_at"]
        return json_response(data, answer.status, answer.headers)

    site.tamper.rules["/statuses"] = drop_created_at
    result = harvest(site.config, "masto")
    assert result.status == "succeeded"
    assert result.counts["unparseable"] == 1
    rows = catalog_rows(site.config, "SELECT endpoint, reason FROM unparseable")
    assert len(rows) == 1 and "created_at" in rows[0]["reason"]
    assert len(items(site.config, "posts")) == 2  # the other statuses are still there


def test_edits_made_between_two_runs_are_all_kept_in_order(site: Site) -> None:
    """A post and a reply edited twice between runs: both edits are archived from the edit
    history (oldest first); the next run adds nothing; a further edit adds exactly one.

    Editing a reply changes nothing the status list shows, so an incremental run reads the
    reply's thread only when adaptive re-polling says it is due: ``thread_poll_ceiling = 0``
    reads every thread every run (tests/test_lean_storage.py covers the decay)."""
    text = site.config.read_text()
    site.config.write_text(text.replace("[[sites]]\n", "[[sites]]\nthread_poll_ceiling = 0\n", 1))
    harvest(site.config, "masto")
    a, c = site.ids["A"], site.ids["C"]
    site.world.edit_status(a, "Water main break at Babcock and Willson. Crews on site.")
    site.world.edit_status(a, "Water main break at Babcock and Willson. Repaired at 4 p.m.")
    site.world.edit_status(c, "@maria same here on Olive")
    site.world.edit_status(c, "@maria same here on Olive St, since noon")
    harvest(site.config, "masto")
    texts = [v["text"] for v in versions(site.config, a, "posts")]
    assert texts == [
        "Water main break at Babcock and Willson.",
        "Water main break at Babcock and Willson. Crews on site.",
        "Water main break at Babcock and Willson. Repaired at 4 p.m.",
    ]
    assert [v["text"] for v in versions(site.config, c, "comments")][1:] == [
        "@maria same here on Olive",
        "@maria same here on Olive St, since noon",
    ]
    post = items(site.config, "posts")[a]
    assert (
        post["current_version"] == 3
        and post["current_hash"] == versions(site.config, a, "posts")[-1]["content_hash"]
    )
    assert site.server.requests_to(f"/api/v1/statuses/{a}/history")

    harvest(site.config, "masto", full=True)  # unchanged: the history read again adds nothing
    assert len(versions(site.config, a, "posts")) == 3
    assert len(versions(site.config, c, "comments")) == 3
    site.world.edit_status(a, "Water main break at Babcock and Willson. Repaired; water is safe.")
    harvest(site.config, "masto")
    assert [v["version"] for v in versions(site.config, a, "posts")] == [1, 2, 3, 4]
    assert versions(site.config, a, "posts")[-1]["text"].endswith("water is safe.")


def _unreadable(ids: set[str], field_name: str, *, key: str | None = None) -> Rewrite:
    """Drop ``field_name`` from the listed entries (``key``: the list inside an object)."""

    def rewrite(answer: FakeResponse) -> FakeResponse:
        data = json.loads(answer.body)
        for entry in data[key] if key else data:
            if entry.get("id") in ids:
                del entry[field_name]
        return json_response(data, answer.status, answer.headers)

    return rewrite


def _present(config: Path, record_class: str, platform_id: str) -> bool:
    row = items(config, record_class)[platform_id]
    return row["disappeared_at"] is None and row["removal_state"] is None


def test_known_status_reply_and_follower_turning_unreadable_are_not_marked_gone(
    site: Site,
) -> None:
    """A full sweep that could not read an entry proves nothing about it: the known status,
    reply and follower stay present, and only what really went is marked."""
    whole_follower_list_every_read(site.config)
    harvest(site.config, "masto")
    site.world.delete_status(site.ids["E"])  # really gone, in the same thread as C
    site.tamper.rules["/statuses"] = _unreadable({site.ids["F"]}, "created_at")
    site.tamper.rules["/context"] = _unreadable({site.ids["C"]}, "created_at", key="descendants")
    site.tamper.rules["/followers"] = _unreadable({site.ids["dale"]}, "id")
    result = harvest(site.config, "masto", full=True)
    assert result.status == "succeeded" and result.counts["unparseable"] == 3
    assert _present(site.config, "posts", site.ids["F"])
    assert _present(site.config, "comments", site.ids["C"])
    assert _present(site.config, "comments", site.ids["E"])  # its thread was not read cleanly
    unfollowed = catalog_rows(
        site.config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert unfollowed == []

    site.tamper.rules.clear()  # readable again: the next sweep settles it
    harvest(site.config, "masto", full=True)
    assert _present(site.config, "posts", site.ids["F"])
    assert _present(site.config, "comments", site.ids["C"])
    assert items(site.config, "comments")[site.ids["E"]]["removal_state"] == "removed_upstream"


def test_thread_cut_at_the_anonymous_limit_marks_nothing_removed(site: Site) -> None:
    """Without a token Mastodon returns at most 60 replies: a reply pushed past the cut by a
    new one is not gone, and the run says the thread was cut."""
    city, maria = site.ids["city"], site.ids["maria"]
    root = site.world.post_status(city, "Library hours for the holidays")["id"]
    replies = [
        site.world.post_status(maria, f"question {i}", in_reply_to_id=root)["id"] for i in range(59)
    ]
    harvest(site.config, "masto")
    assert set(replies) <= set(items(site.config, "comments"))
    site.world.post_status(site.ids["dale"], "same question", in_reply_to_id=replies[0])
    site.world.post_status(site.ids["priya"], "and me", in_reply_to_id=replies[0])
    result = harvest(site.config, "masto", full=True)
    assert result.status == "succeeded"
    assert all(_present(site.config, "comments", r) for r in replies)
    cut = catalog_rows(site.config, "SELECT reason FROM degradations WHERE capability = 'replies'")
    assert len(cut) == 1 and root in cut[0]["reason"] and "token" in cut[0]["reason"]


# -- capability degradation ---------------------------------------------------------------
def _refuse_403(_answer: FakeResponse) -> FakeResponse:
    return json_response({"error": "This action is not allowed"}, 403)


def _empty_list(answer: FakeResponse) -> FakeResponse:
    return json_response([], 200, {k: v for k, v in answer.headers.items() if k != "Link"})


@pytest.mark.parametrize("how", ["401", "403", "empty"])
def test_followers_that_worked_then_fail_are_a_degradation(site: Site, how: str) -> None:
    whole_follower_list_every_read(site.config)
    harvest(site.config, "masto")
    followers = f"/api/v1/accounts/{site.ids['city']}/followers"
    if how == "401":
        site.server.inject(followers, "unauthorized_401")
    else:
        site.tamper.rules["/followers"] = _refuse_403 if how == "403" else _empty_list
    result = harvest(site.config, "masto", full=True)
    assert result.status == "succeeded"
    assert site.ids["A"] in items(site.config, "posts")
    degr = catalog_rows(site.config, "SELECT capability, reason FROM degradations")
    assert [r[0] for r in degr] == ["follower_identities"]
    if how != "empty":
        assert f"HTTP {how}" in degr[0][1]
    # the count is still recorded, and nobody is marked as having unfollowed
    snaps = catalog_rows(site.config, "SELECT count, run_id FROM follower_snapshots")
    assert [s[0] for s in snaps if s[1] == result.run_id] == [2]
    assert catalog_rows(site.config, "SELECT * FROM follower_events WHERE event='unfollowed'") == []

    sites = status_json(site.config)
    masto = next(s for s in sites if s["site"] == "masto")
    assert masto["degradations"][0]["capability"] == "follower_identities"
