"""Contract tests for the Instagram connector: real harvests against a fake Graph API.

Every test goes through the real recorder, bundles, storage and catalog (tests/helpers.py) and
asserts on what a clerk would read in the catalog, so a connector bug shows up as a wrong row.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from fakeplatforms.meta import MetaWorld
from fakeplatforms.server import FakeServer

from archiver.errors import AuthError
from tests.helpers import catalog_rows, harvest, site_toml, write_config

SITE = "bozeman-ig"
TOKEN_ENV = "BOZEMAN_IG_TOKEN"
TOKEN = "EAAGm0PX4ZCpsBAFakeBozemanInstagramToken1a2b3c"


@dataclass
class Scene:
    world: MetaWorld
    server: FakeServer
    config: Path
    ids: dict[str, str]


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """A CLI test run earlier (CliRunner) can leave structlog printing to its closed stream."""
    structlog.reset_defaults()


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Three media over two pages (a carousel, a photo, a caption-only test post), a thread
    whose replies span two reply pages, a reply to a reply, a hidden comment."""
    world = MetaWorld(token=TOKEN)
    world.max_limit = 2
    ids: dict[str, str] = {}
    owner = (world.ig_user_id, world.ig_username)
    ids["M1"] = world.add_post("Bridger Canyon trail closures this week.", platform="instagram")
    ids["M2"] = world.add_post("Sweet Pea festival, day one!", platform="instagram", photos=3)
    ids["M3"] = world.add_post("Snow emergency routes", platform="instagram", photos=1)
    ids["C1"] = world.add_comment(ids["M1"], "Is the M trail open?", author=("9001", "maria.bzn"))
    ids["R1"] = world.add_comment(
        ids["M1"], "@maria.bzn yes, upper loop only.", author=owner, parent=ids["C1"]
    )
    ids["RR1"] = world.add_comment(
        ids["M1"], "@cityofbozeman thank you!", author=("9001", "maria.bzn"), parent=ids["R1"]
    )
    ids["R2"] = world.add_comment(
        ids["M1"], "And Drinking Horse?", author=("9002", "dale_w"), parent=ids["C1"]
    )
    ids["H1"] = world.add_comment(
        ids["M1"], "follow me for free crypto", author=("9666", "spam.bot"), hidden=True
    )
    ids["D1"] = world.add_comment(ids["M2"], "Worst festival ever", author=("9003", "priya.n"))
    world.set_follower_count(1830, platform="instagram")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(
                SITE, "instagram", f"{server.url}/v21.0", world.ig_user_id, token_env=TOKEN_ENV
            ),
        )
        yield Scene(world, server, config, ids)


def _items(config: Path) -> dict[str, dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT platform_id, record_class, kind, parent_id, root_id, author_id, author_handle, "
        "by_owner, current_version, disappeared_at, removal_state, permalink "
        "FROM items WHERE site_id = ?",
        (SITE,),
    )
    return {r["platform_id"]: dict(r) for r in rows}


def _versions(config: Path, platform_id: str) -> list[dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT v.version, v.text, v.hidden, v.media_json FROM item_versions v "
        "JOIN items i ON i.id = v.item_id WHERE i.site_id = ? AND i.platform_id = ? "
        "ORDER BY v.version",
        (SITE, platform_id),
    )
    return [dict(r) for r in rows]


def test_two_harvests_capture_media_threads_hidden_edits_deletions_and_counts(
    scene: Scene,
) -> None:
    ids, world, config = scene.ids, scene.world, scene.config
    first = harvest(config, SITE)
    assert first.status == "succeeded"

    items = _items(config)
    assert {k for k, v in items.items() if v["record_class"] == "posts"} == {
        ids["M1"],
        ids["M2"],
        ids["M3"],
    }
    kinds = {k: v["kind"] for k, v in items.items() if v["record_class"] == "comments"}
    assert kinds == {
        ids["C1"]: "comment",
        ids["R1"]: "reply",
        ids["RR1"]: "reply",
        ids["R2"]: "reply",
        ids["H1"]: "comment",
        ids["D1"]: "comment",
    }
    # Instagram threads are one level deep: the reply to a reply hangs off the top comment.
    assert {items[ids[k]]["parent_id"] for k in ("R1", "RR1", "R2")} == {ids["C1"]}
    assert items[ids["C1"]]["parent_id"] == ids["M1"] and items[ids["C1"]]["root_id"] == ids["M1"]
    assert items[ids["R1"]]["by_owner"] and not items[ids["RR1"]]["by_owner"]
    assert items[ids["RR1"]]["author_handle"] == "maria.bzn"
    assert items[ids["RR1"]]["author_id"] == "9001"
    # The third reply came from a second page of GET /{comment-id}/replies.
    assert scene.server.requests_to(f"/v21.0/{ids['C1']}/replies")
    assert items[ids["H1"]]["removal_state"] == "hidden_upstream"
    assert items[ids["H1"]]["author_handle"] == "spam.bot"
    assert str(items[ids["M2"]]["permalink"]).startswith("https://www.instagram.com/p/")

    carousel = json.loads(str(_versions(config, ids["M2"])[0]["media_json"]))
    assert len(carousel) == 3 and all(m["ref"] and m["ref"]["record_id"] for m in carousel)
    assert all("oh=" not in str(m["url"]) for m in carousel)

    snaps = catalog_rows(config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(r["count"], r["identities"]) for r in snaps] == [(1830, 0)]
    assert "does not list followers" in snaps[0]["note"]

    world.edit_post(ids["M1"], "Bridger Canyon trails reopened.")
    world.delete_comment(ids["D1"])
    second = harvest(config, SITE, full=True)
    assert second.status == "succeeded"

    items = _items(config)
    assert items[ids["M1"]]["current_version"] == 2
    assert [v["text"] for v in _versions(config, ids["M1"])] == [
        "Bridger Canyon trail closures this week.",
        "Bridger Canyon trails reopened.",
    ]
    assert items[ids["M2"]]["current_version"] == 1  # re-signed media URLs are not edits
    assert items[ids["M3"]]["current_version"] == 1
    gone = items[ids["D1"]]
    assert gone["removal_state"] == "removed_upstream" and gone["disappeared_at"]
    assert _versions(config, ids["D1"])[0]["text"] == "Worst festival ever"
    assert all(items[ids[k]]["disappeared_at"] is None for k in ("C1", "R1", "RR1", "R2", "H1"))

    seen = 0
    for path in (config.parent / "archive").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.name.endswith(".gz") else data
            assert TOKEN.encode() not in data, path
            seen += path.name.endswith(".warc.gz")
    assert seen


def test_comment_hidden_between_runs_becomes_a_hidden_version(scene: Scene) -> None:
    """The Page hides a comment and a reply after they were captured visible: the next run
    keeps both, as a new hidden version, with a hidden_upstream event; unhiding shows them."""
    ids = scene.ids
    assert harvest(scene.config, SITE).status == "succeeded"
    for key in ("D1", "R2"):
        assert _items(scene.config)[ids[key]]["removal_state"] is None
        assert [v["hidden"] for v in _versions(scene.config, ids[key])] == [0]
    scene.world.hide_comment(ids["D1"])
    scene.world.hide_comment(ids["R2"])
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    items = _items(scene.config)
    for key in ("D1", "R2"):
        row = items[ids[key]]
        assert row["removal_state"] == "hidden_upstream" and row["current_version"] == 2
        versions = _versions(scene.config, ids[key])
        assert [v["hidden"] for v in versions] == [0, 1]
        assert versions[0]["text"] == versions[1]["text"]  # the words are kept as they were
        events = catalog_rows(
            scene.config,
            "SELECT e.event FROM item_events e JOIN items i ON i.id = e.item_id "
            "WHERE i.site_id = ? AND i.platform_id = ?",
            (SITE, ids[key]),
        )
        assert "hidden_upstream" in [e["event"] for e in events]
    assert items[ids["C1"]]["removal_state"] is None  # the rest of the thread is untouched

    scene.world.hide_comment(ids["D1"], hidden=False)
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    row = _items(scene.config)[ids["D1"]]
    assert row["removal_state"] is None and row["current_version"] == 3


def test_expired_token_fails_the_run_with_one_line_naming_site_endpoint_and_message(
    scene: Scene,
) -> None:
    scene.world.expire_token()
    with pytest.raises(AuthError) as caught:
        harvest(scene.config, SITE)
    message = str(caught.value)
    assert "\n" not in message
    assert f"site {SITE}" in message and "GET /{ig-user-id}" in message
    assert "Error validating access token: Session has expired on" in message
    run = catalog_rows(scene.config, "SELECT status, error_kind FROM runs")
    assert [(r["status"], r["error_kind"]) for r in run] == [("failed", "AuthError")]


def test_malformed_reply_is_counted_unparseable_and_the_run_succeeds(scene: Scene) -> None:
    scene.world.corrupt(scene.ids["R2"])
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    assert result.counts.get("unparseable") == 1
    bad = catalog_rows(scene.config, "SELECT endpoint, reason FROM unparseable")
    assert len(bad) == 1 and scene.ids["R2"] in bad[0]["reason"]
    assert scene.ids["R1"] in _items(scene.config)


def test_http_429_then_success(scene: Scene) -> None:
    path = f"/v21.0/{scene.ids['M1']}/comments"
    scene.server.inject(path, "rate_limit_429")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    hits = scene.server.requests_to(path)
    assert [h.fault for h in hits[:2]] == ["rate_limit_429", None]
    assert scene.ids["C1"] in _items(scene.config)


def test_missing_comment_permission_degrades_and_keeps_media(scene: Scene) -> None:
    scene.world.deny("comments")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    assert {v["record_class"] for v in _items(scene.config).values()} == {"posts"}
    degr = catalog_rows(scene.config, "SELECT capability FROM degradations")
    assert [r["capability"] for r in degr] == ["comments"]


def test_token_expiry_comes_from_debug_token(scene: Scene) -> None:
    """expires_at 0 means the token itself never expires; data access still lapses."""
    harvest(scene.config, SITE)
    row = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert row[0]["token_expires"] == "2027-01-01T00:00:00+00:00"
    scene.world.token_expires_at = 1796083200  # 2026-12-01
    harvest(scene.config, SITE)
    row = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert row[0]["token_expires"] == "2026-12-01T00:00:00+00:00"
    scene.world.token_expires_at = 0
    scene.world.data_access_expires_at = 0
    harvest(scene.config, SITE)
    row = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert row[0]["token_expires"] == "never"


def test_unreadable_media_on_a_full_sweep_is_not_called_removed(scene: Scene) -> None:
    harvest(scene.config, SITE)
    scene.world.corrupt(scene.ids["M3"])
    scene.world.delete_post(scene.ids["M1"])
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded" and result.counts.get("unparseable") == 1
    items = _items(scene.config)
    assert items[scene.ids["M3"]]["removal_state"] is None
    # The sweep is withheld as a whole this run; the next clean sweep records the deletion.
    assert items[scene.ids["M1"]]["removal_state"] is None
    scene.world.corrupt(scene.ids["M3"], False)
    harvest(scene.config, SITE, full=True)
    assert _items(scene.config)[scene.ids["M1"]]["removal_state"] == "removed_upstream"


def test_server_error_then_success(scene: Scene) -> None:
    path = f"/v21.0/{scene.world.ig_user_id}/media"
    scene.server.inject(path, "status_500")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    assert [h.fault for h in scene.server.requests_to(path)[:2]] == ["status_500", None]
    assert scene.ids["M3"] in _items(scene.config)


def test_account_read_refused_degrades_the_count_only(scene: Scene) -> None:
    scene.world.deny("node")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    degr = catalog_rows(scene.config, "SELECT capability FROM degradations")
    assert [r["capability"] for r in degr] == ["follower_count"]
    assert catalog_rows(scene.config, "SELECT count(*) FROM follower_snapshots")[0][0] == 0
    assert scene.ids["C1"] in _items(scene.config)
