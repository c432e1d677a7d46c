"""Contract tests for the Facebook Page connector: real harvests against a fake Graph API.

Every test goes through the real recorder, bundles, storage and catalog (tests/helpers.py) and
asserts on what a clerk would read in the catalog, so a connector bug shows up as a wrong row.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from archiver.cli import app as cli_app
from archiver.errors import AuthError, ConfigError, MalformedResponseError, NotFoundError
from tests.connectors.facebook_scene import SITE, TOKEN, TOKEN_ENV, Scene, facebook_scene
from tests.helpers import catalog_rows, harvest, site_toml, write_config


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """A CLI test run earlier (CliRunner) can leave structlog printing to its closed stream."""
    structlog.reset_defaults()


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Three Page posts over two pages (one an album), a thread with a hidden comment and a
    reply to a reply, and a comment with a photo; the fake pages everything two at a time."""
    with facebook_scene(tmp_path, monkeypatch) as scene:
        yield scene


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


def _items(config: Path) -> dict[str, dict[str, object]]:
    rows = catalog_rows(
        config,
        "SELECT platform_id, record_class, kind, parent_id, root_id, author_id, author_name, "
        "by_owner, current_version, disappeared_at, removal_state, permalink "
        "FROM items WHERE site_id = ? AND kind != 'profile'",  # the Page profile: own test
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


def archive_bytes(root: Path) -> dict[Path, bytes]:
    """Every file under the archive, WARCs decompressed (the token must not hide in gzip)."""
    out: dict[Path, bytes] = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out[path] = gzip.decompress(data) if path.name.endswith(".gz") else data
    return out


def test_two_harvests_capture_threads_hidden_edits_deletions_and_counts(scene: Scene) -> None:
    ids, world, config = scene.ids, scene.world, scene.config
    first = harvest(config, SITE)
    assert first.status == "succeeded" and first.full_sweep

    items = _items(config)
    posts = {k for k, v in items.items() if v["record_class"] == "posts"}
    assert posts == {ids["P1"], ids["P2"], ids["P3"]}
    kinds = {k: v["kind"] for k, v in items.items() if v["record_class"] == "comments"}
    assert kinds == {
        ids["C1"]: "comment",
        ids["R1"]: "reply",
        ids["RR1"]: "reply",
        ids["H1"]: "comment",
        ids["D1"]: "comment",
        ids["M1"]: "comment",
    }
    # The reply to a reply keeps its real parent; every comment belongs to its post's thread.
    assert items[ids["RR1"]]["parent_id"] == ids["R1"]
    assert items[ids["R1"]]["parent_id"] == ids["C1"]
    assert items[ids["C1"]]["parent_id"] == ids["P1"]
    assert {items[ids[k]]["root_id"] for k in ("C1", "R1", "RR1", "H1", "D1")} == {ids["P1"]}
    assert items[ids["R1"]]["by_owner"] and not items[ids["C1"]]["by_owner"]
    assert items[ids["D1"]]["author_id"] == "5550003"
    assert items[ids["D1"]]["author_name"] == "Priya N"
    assert "comment_id=" in str(items[ids["RR1"]]["permalink"])
    # Hidden by the Page: kept, with who posted it, and flagged.
    assert items[ids["H1"]]["removal_state"] == "hidden_upstream"
    assert items[ids["H1"]]["author_name"] == "Spam Bot"
    assert _versions(config, ids["H1"])[0]["hidden"]

    # Album photos and the comment photo were downloaded into the WARC.
    album = json.loads(str(_versions(config, ids["P2"])[0]["media_json"]))
    assert len(album) == 2 and all(m["ref"] and m["ref"]["record_id"] for m in album)
    assert all("oh=" not in str(m.get("url")) for m in album)
    photo = json.loads(str(_versions(config, ids["M1"])[0]["media_json"]))
    assert len(photo) == 1

    snaps = catalog_rows(config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(r["count"], r["identities"]) for r in snaps] == [(4210, 0)]
    assert "does not list a Page's followers" in snaps[0]["note"]
    assert catalog_rows(config, "SELECT count(*) FROM followers")[0][0] == 0
    token_row = catalog_rows(config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert token_row[0]["token_expires"] == "2027-01-01T00:00:00+00:00"  # data access lapses

    # Between runs: the Page edits a post, a comment is deleted, a new one arrives.
    world.edit_post(ids["P1"], "Water main repaired; boil advisory lifted.")
    world.delete_comment(ids["D1"])
    ids["N1"] = world.add_comment(ids["P3"], "Will it be streamed?")
    second = harvest(config, SITE, full=True)
    assert second.status == "succeeded"

    items = _items(config)
    assert items[ids["P1"]]["current_version"] == 2
    assert [v["text"] for v in _versions(config, ids["P1"])] == [
        "Water main break at Babcock and Willson; crews on site.",
        "Water main repaired; boil advisory lifted.",
    ]
    # Fresh CDN signatures and a moved updated_time are not edits.
    assert items[ids["P2"]]["current_version"] == 1
    assert items[ids["P3"]]["current_version"] == 1
    gone = items[ids["D1"]]
    assert gone["removal_state"] == "removed_upstream" and gone["disappeared_at"]
    assert _versions(config, ids["D1"])[0]["text"] == "The mayor should resign over this!"
    assert items[ids["N1"]]["kind"] == "comment" and items[ids["N1"]]["disappeared_at"] is None
    assert items[ids["H1"]]["removal_state"] == "hidden_upstream"
    assert all(items[ids[k]]["disappeared_at"] is None for k in ("C1", "R1", "RR1", "M1"))

    # The token went out in the Authorization header only and never reached the archive.
    files = archive_bytes(config.parent / "archive")
    warcs = [p for p in files if p.name.endswith(".warc.gz")]
    assert warcs
    assert all(TOKEN.encode() not in data for data in files.values())
    assert any(b"input_token=REDACTED" in files[p] for p in warcs)
    assert any(b"Bearer REDACTED" in files[p] for p in warcs)


def test_comment_hidden_between_runs_becomes_a_hidden_version(scene: Scene) -> None:
    """The Page hides a comment and a reply after they were captured visible: the next run
    keeps both, as a new hidden version, with a hidden_upstream event; unhiding shows them."""
    ids = scene.ids
    assert harvest(scene.config, SITE).status == "succeeded"
    for key in ("D1", "RR1"):
        assert _items(scene.config)[ids[key]]["removal_state"] is None
        assert [v["hidden"] for v in _versions(scene.config, ids[key])] == [0]
    scene.world.hide_comment(ids["D1"])
    scene.world.hide_comment(ids["RR1"])
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    items = _items(scene.config)
    for key in ("D1", "RR1"):
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


def test_post_hidden_from_the_timeline_is_kept_as_a_hidden_version(scene: Scene) -> None:
    """The Page hides a post from its timeline after it was captured: the post is still a
    record, so the next run keeps it as a hidden version; its thread is untouched."""
    ids = scene.ids
    assert harvest(scene.config, SITE).status == "succeeded"
    scene.world.hide_post(ids["P2"])
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    items = _items(scene.config)
    assert items[ids["P2"]]["removal_state"] == "hidden_upstream"
    assert [v["hidden"] for v in _versions(scene.config, ids["P2"])] == [0, 1]
    assert items[ids["P1"]]["removal_state"] is None
    assert all(
        r["removal_state"] is None
        for r in catalog_rows(
            scene.config,
            "SELECT removal_state FROM items WHERE site_id = ? AND record_class = 'comments' "
            "AND root_id = ?",
            (SITE, ids["P2"]),
        )
    )
    scene.world.hide_post(ids["P2"], hidden=False)
    assert harvest(scene.config, SITE, full=True).status == "succeeded"
    assert _items(scene.config)[ids["P2"]]["removal_state"] is None


def test_deleted_post_is_removed_on_a_full_sweep(scene: Scene) -> None:
    harvest(scene.config, SITE)
    scene.world.delete_post(scene.ids["P3"])
    harvest(scene.config, SITE, full=True)
    items = _items(scene.config)
    assert items[scene.ids["P3"]]["removal_state"] == "removed_upstream"
    assert items[scene.ids["P2"]]["removal_state"] is None


def test_incremental_run_rechecks_recent_posts_and_stops_at_the_bookmark(scene: Scene) -> None:
    scene.reconfigure("recheck_recent = 1")
    harvest(scene.config, SITE)
    bookmark = catalog_rows(scene.config, "SELECT value FROM bookmarks WHERE key = 'since'")
    assert int(bookmark[0]["value"]) > 0
    new = scene.world.add_post("Leaf pickup starts Monday.")
    scene.world.delete_post(scene.ids["P1"])  # older than the recheck window
    scene.server.clear_requests()
    result = harvest(scene.config, SITE, full=False)
    assert result.status == "succeeded" and not result.full_sweep

    items = _items(scene.config)
    assert new in items
    # Only the first page of posts was read, so nothing older may be called removed.
    assert len(scene.server.requests_to(f"/v21.0/{scene.world.page_id}/posts")) == 1
    assert items[scene.ids["P1"]]["removal_state"] is None


def test_expired_token_fails_the_run_with_one_line_naming_site_endpoint_and_message(
    scene: Scene,
) -> None:
    scene.world.expire_token()
    with pytest.raises(AuthError) as caught:
        harvest(scene.config, SITE)
    message = str(caught.value)
    assert "\n" not in message
    assert f"site {SITE}" in message
    assert "GET /{page-id}" in message
    assert "Error validating access token: Session has expired on" in message
    assert "code 190" in message and "subcode 463" in message
    run = catalog_rows(scene.config, "SELECT status, error, error_kind FROM runs")
    assert [(r["status"], r["error_kind"]) for r in run] == [("failed", "AuthError")]
    assert "Session has expired" in run[0]["error"]


def test_failed_run_keeps_the_token_expiry_the_platform_reported(scene: Scene) -> None:
    """A code-190 run reports no expiry; it must not erase the date the last good run stored,
    or `archiver status` and the monthly report lose it exactly when the token died."""
    assert harvest(scene.config, SITE).status == "succeeded"
    reported = "2027-01-01T00:00:00+00:00"  # debug_token data_access_expires_at
    stored = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert stored[0]["token_expires"] == reported

    scene.world.expire_token()
    with pytest.raises(AuthError):
        harvest(scene.config, SITE)
    runs = catalog_rows(scene.config, "SELECT status FROM runs ORDER BY started_at")
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    stored = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert stored[0]["token_expires"] == reported
    site = next(s for s in status_json(scene.config) if s["site"] == SITE)
    assert site["token_expires"] == reported
    assert site["last_run"]["status"] == "failed"


def test_configured_token_expiry_is_written_and_an_unset_one_erases_nothing(
    scene: Scene,
) -> None:
    scene.world.deny("debug_token")  # the platform reports nothing: the config is all we know
    scene.reconfigure('token_expires = "2026-03-01"')
    assert harvest(scene.config, SITE).status == "succeeded"
    stored = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert stored[0]["token_expires"] == "2026-03-01"
    scene.reconfigure("")
    assert harvest(scene.config, SITE).status == "succeeded"
    stored = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert stored[0]["token_expires"] == "2026-03-01"


def test_malformed_comment_is_counted_unparseable_and_the_run_succeeds(scene: Scene) -> None:
    harvest(scene.config, SITE)
    scene.world.corrupt(scene.ids["C1"])
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded"
    assert result.counts.get("unparseable") == 1
    bad = catalog_rows(scene.config, "SELECT endpoint, reason, warc_file FROM unparseable")
    assert [(r["endpoint"], r["warc_file"] is not None) for r in bad] == [
        ("GET /{post-id}/comments", True)
    ]
    assert scene.ids["C1"] in bad[0]["reason"]
    # An unreadable entry is not evidence of deletion.
    assert _items(scene.config)[scene.ids["C1"]]["removal_state"] is None


def test_malformed_comments_page_does_not_fail_the_run_or_remove_comments(scene: Scene) -> None:
    harvest(scene.config, SITE)
    scene.server.inject(f"/v21.0/{scene.ids['P1']}/comments", "malformed_json")
    result = harvest(scene.config, SITE, full=True)
    assert result.status == "succeeded" and result.counts.get("unparseable") == 1
    items = _items(scene.config)
    assert all(items[scene.ids[k]]["removal_state"] is None for k in ("C1", "R1", "D1"))


def test_http_429_then_success(scene: Scene) -> None:
    scene.server.inject(f"/v21.0/{scene.world.page_id}/posts", "rate_limit_429")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    hits = scene.server.requests_to(f"/v21.0/{scene.world.page_id}/posts")
    assert hits[0].fault == "rate_limit_429" and hits[1].fault is None
    assert len([k for k, v in _items(scene.config).items() if v["record_class"] == "posts"]) == 3


def test_graph_rate_limit_error_code_is_retried(scene: Scene) -> None:
    """Meta throttles with ``error.code`` 4 in a 400 body, not with a 429."""
    scene.world.throttle(2)
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    page_reads = scene.server.requests_to(f"/v21.0/{scene.world.page_id}")
    # 2 throttled + 1 answered account read; the profile read (issue 17) is counted apart.
    account_reads = [
        r
        for r in page_reads
        if r.path == f"/v21.0/{scene.world.page_id}" and "about" not in r.query["fields"][0]
    ]
    assert len(account_reads) == 3
    assert catalog_rows(scene.config, "SELECT count FROM follower_snapshots")[0][0] == 4210


def test_missing_comment_permission_degrades_and_keeps_posts(scene: Scene) -> None:
    scene.world.deny("comments")
    scene.world.deny("debug_token")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    items = _items(scene.config)
    assert {v["record_class"] for v in items.values()} == {"posts"}
    degr = catalog_rows(scene.config, "SELECT capability, reason FROM degradations")
    assert [r["capability"] for r in degr] == ["comments"]
    assert "(#10)" in degr[0]["reason"] and "GET /{post-id}/comments" in degr[0]["reason"]
    # Only one denied call: the connector stops asking once the permission is known missing.
    assert len([r for r in scene.server.requests if r.path.endswith("/comments")]) == 1
    token_row = catalog_rows(scene.config, "SELECT token_expires FROM sites WHERE id = ?", (SITE,))
    assert token_row[0]["token_expires"] is None  # debug_token refused: skipped quietly


def test_feed_edge_option_includes_visitor_posts(scene: Scene) -> None:
    visitor = scene.world.add_post("Lost dog near Bogert Park", author=("5550009", "Visitor"))
    harvest(scene.config, SITE)
    assert visitor not in _items(scene.config)
    scene.reconfigure('options = { edge = "feed" }')
    harvest(scene.config, SITE, full=True)
    items = _items(scene.config)
    assert items[visitor]["author_id"] == "5550009" and not items[visitor]["by_owner"]


def test_transient_graph_error_is_retried(scene: Scene) -> None:
    scene.world.throttle(1, code=2)
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    assert catalog_rows(scene.config, "SELECT count FROM follower_snapshots")[0][0] == 4210


def test_paging_url_to_another_host_is_refused(scene: Scene) -> None:
    """Following it would hand the bearer token to whoever that host is."""
    scene.world.paging_base = "http://127.0.0.2:9"
    with pytest.raises(MalformedResponseError) as caught:
        harvest(scene.config, SITE)
    message = str(caught.value)
    assert "\n" not in message and f"site {SITE}" in message
    assert "http://127.0.0.2:9" in message and "refusing" in message
    run = catalog_rows(scene.config, "SELECT status FROM runs")
    assert [r["status"] for r in run] == ["failed"]


def test_fake_graph_api_speaks_graph_shapes(scene: Scene) -> None:
    """The fake's own contract: cursors with absolute next URLs, field selection, the error
    body and usage headers, so connector tests are tested against the real shapes."""
    world, base = scene.world, f"{scene.server.url}/v21.0"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(headers=auth) as client:
        first = client.get(f"{base}/{world.page_id}/posts", params={"fields": "id,message"})
        body = first.json()
        assert [set(p) for p in body["data"]] == [{"id", "message"}] * 2
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        assert body["paging"]["next"].startswith(f"{base}/{world.page_id}/posts?")
        usage = json.loads(first.headers["x-app-usage"])
        assert set(usage) == {"call_count", "total_cputime", "total_time"}
        last = client.get(body["paging"]["next"]).json()
        assert len(last["data"]) == 1 and "next" not in last["paging"]
        echoed = client.get(
            f"{base}/{world.page_id}/posts", params={"access_token": TOKEN}, headers={}
        ).json()
        assert f"access_token={TOKEN}" in echoed["paging"]["next"]  # why we use the header
        stream = client.get(
            f"{base}/{scene.ids['P1']}/comments",
            params={"filter": "stream", "fields": "id,parent{id},is_hidden", "limit": 10},
        ).json()["data"]
        assert len(stream) == 2  # max_limit caps the page
        bad = client.get(f"{base}/{world.page_id}", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 400
    err = bad.json()["error"]
    assert err["code"] == 190 and err["type"] == "OAuthException" and err["fbtrace_id"]


def test_comments_without_ids_degrade_and_are_kept_raw(scene: Scene) -> None:
    """Since v11 a token that cannot MODERATE the Page gets comments without ``id``."""
    scene.world.withhold_comment_ids = True
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    assert result.counts.get("unparseable") == 6
    degr = catalog_rows(scene.config, "SELECT capability, reason FROM degradations")
    assert [r["capability"] for r in degr] == ["comments"]
    assert "MODERATE" in degr[0]["reason"]
    assert {v["record_class"] for v in _items(scene.config).values()} == {"posts"}


def test_page_read_refused_degrades_the_count_only(scene: Scene) -> None:
    scene.world.deny("node")
    result = harvest(scene.config, SITE)
    assert result.status == "succeeded"
    degr = catalog_rows(scene.config, "SELECT capability FROM degradations")
    # The profile read (issue 17) is the same node read, so it is refused too: shown, not lost.
    assert [r["capability"] for r in degr] == ["follower_count", "profile"]
    assert catalog_rows(scene.config, "SELECT count(*) FROM follower_snapshots")[0][0] == 0
    assert scene.ids["RR1"] in _items(scene.config)


def test_unknown_page_and_unknown_edge_are_one_line_errors(scene: Scene) -> None:
    scene.config = write_config(
        scene.tmp,
        site_toml(SITE, "facebook", f"{scene.server.url}/v21.0", "999", token_env=TOKEN_ENV),
    )
    with pytest.raises(NotFoundError) as caught:
        harvest(scene.config, SITE)
    message = str(caught.value)
    assert message.count(f"site {SITE}") == 1 and "\n" not in message
    assert "Page '999' not found: Unsupported get request" in message
    scene.reconfigure('options = { edge = "timeline" }')
    with pytest.raises(ConfigError, match="option 'edge' must be 'posts' or 'feed'"):
        harvest(scene.config, SITE)
