"""Contract tests for the YouTube connector: real harvests against a fake Data API on loopback.

Every test goes through the real recorder, bundles, storage and catalog (tests/helpers.py) and
asserts on the catalog a clerk would read.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from fakeplatforms.server import FakeResponse, FakeServer, json_response

from archiver.errors import AuthError, RateLimitedError, RetriableFetchError
from tests.connectors.youtube_scene import API_KEY, OAUTH, SITE, Scene, youtube_scene
from tests.helpers import catalog_rows, harvest, site_toml, write_config


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """Three uploads over two playlist pages. V1 has a thread T1 <- R1, R2 (R2 answers R1),
    a held-for-review comment H and a likely-spam S; V2 one comment P; V3 comments disabled."""
    with youtube_scene(tmp_path, monkeypatch) as scene:
        yield scene


def _items(config: Path, record_class: str) -> dict[str, dict[str, Any]]:
    rows = catalog_rows(
        config,
        "SELECT platform_id, kind, parent_id, root_id, by_owner, current_version, "
        "disappeared_at, removal_state FROM items WHERE site_id = ? AND record_class = ? "
        "AND kind != 'profile'",  # the profile record is tested in tests/compliance
        (SITE, record_class),
    )
    return {r["platform_id"]: dict(r) for r in rows}


def _versions(config: Path, platform_id: str) -> list[dict[str, Any]]:
    rows = catalog_rows(
        config,
        "SELECT v.text, v.edited_at, v.hidden, v.extra_json, v.media_json FROM item_versions v "
        "JOIN items i ON i.id = v.item_id WHERE i.platform_id = ? ORDER BY v.version",
        (platform_id,),
    )
    return [dict(r) for r in rows]


def test_two_full_harvests_with_owner_oauth(scene: Scene) -> None:
    ids, world = scene.ids, scene.world
    config = scene.config(auth="oauth", moderation=True)
    assert harvest(config, SITE, full=True).status == "succeeded"
    posts = _items(config, "posts")
    assert set(posts) == {ids["V1"], ids["V2"], ids["V3"]}
    assert all(p["by_owner"] for p in posts.values())
    comments = _items(config, "comments")
    assert set(comments) == {ids[k] for k in ("T1", "R1", "R2", "H", "S", "P")}
    assert comments[ids["R2"]]["kind"] == "reply"  # fetched through comments?parentId=
    assert comments[ids["R2"]]["parent_id"] == ids["T1"]  # YouTube threads are two levels
    assert comments[ids["R2"]]["by_owner"] and not comments[ids["R1"]]["by_owner"]
    assert comments[ids["T1"]]["parent_id"] == ids["V1"] == comments[ids["R1"]]["root_id"]
    assert comments[ids["H"]]["removal_state"] == "hidden_upstream"
    assert comments[ids["S"]]["removal_state"] == "hidden_upstream"
    assert '"heldForReview"' in _versions(config, ids["H"])[0]["extra_json"]
    assert '"comments_disabled": true' in _versions(config, ids["V3"])[0]["extra_json"]
    assert '"warc_file"' in _versions(config, ids["V1"])[0]["media_json"]  # the thumbnail
    assert scene.server.requests_to("/youtube/v3/comments")
    handles = {r["display_name"] for r in catalog_rows(config, "SELECT * FROM followers")}
    assert handles == {"Maria", "Dale", "Priya"}
    snap = catalog_rows(config, "SELECT count, identities FROM follower_snapshots")
    assert [(s["count"], s["identities"]) for s in snap] == [(3, 1)]

    world.edit_video(ids["V1"], description="Agenda: budget, parking.")
    world.edit_comment(ids["T1"], "When is the budget vote? (found it, Tuesday)")
    world.delete_video(ids["V2"])
    world.delete_comment(ids["R1"])
    world.set_moderation(ids["H"], "published")
    world.unsubscribe(ids["city"], ids["dale"])
    assert harvest(config, SITE, full=True).status == "succeeded"
    posts = _items(config, "posts")
    assert posts[ids["V1"]]["current_version"] == 2
    assert posts[ids["V2"]]["removal_state"] == "removed_upstream"
    assert posts[ids["V2"]]["disappeared_at"]
    assert _versions(config, ids["V2"])[0]["text"].startswith("Snow removal 101")
    comments = _items(config, "comments")
    t1 = _versions(config, ids["T1"])
    assert comments[ids["T1"]]["current_version"] == 2 and t1[1]["edited_at"]
    assert t1[1]["text"].endswith("(found it, Tuesday)") and t1[0]["edited_at"] is None
    assert comments[ids["R1"]]["removal_state"] == "removed_upstream"
    assert comments[ids["H"]]["removal_state"] is None  # approved by the moderator
    assert comments[ids["R2"]]["removal_state"] is None
    gone = catalog_rows(config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NOT NULL")
    assert [r["platform_id"] for r in gone] == [ids["dale"]]


def test_api_key_mode_records_count_only_and_no_held_comments(scene: Scene) -> None:
    config = scene.config(moderation=True)
    assert harvest(config, SITE, full=True).status == "succeeded"
    comments = _items(config, "comments")
    assert scene.ids["H"] not in comments and scene.ids["T1"] in comments
    assert not any("moderationStatus" in r.query for r in scene.server.requests)
    assert not scene.server.requests_to("/youtube/v3/subscriptions")
    assert all("authorization" not in r.headers for r in scene.server.requests)
    snap = catalog_rows(config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(s["count"], s["identities"]) for s in snap] == [(3, 0)]
    assert "owner's OAuth token" in snap[0]["note"]
    caps = [r["capability"] for r in catalog_rows(config, "SELECT * FROM degradations")]
    assert caps == ["hidden_comments"]


def test_oauth_token_of_another_channel_degrades_instead_of_misfiling(scene: Scene) -> None:
    """A token for the wrong channel must not file someone else's subscribers, and a refused
    moderation listing must not make earlier held comments look deleted."""
    config = scene.config(auth="oauth", moderation=True)
    harvest(config, SITE, full=True)
    scene.world.owner_channel = scene.ids["maria"]
    assert harvest(config, SITE, full=True).status == "succeeded"
    degr = catalog_rows(config, "SELECT capability, reason FROM degradations ORDER BY id")
    assert [d["capability"] for d in degr] == ["hidden_comments", "follower_identities"]
    assert scene.ids["maria"] in degr[1]["reason"]
    comments = _items(config, "comments")
    assert comments[scene.ids["H"]]["removal_state"] == "hidden_upstream"
    assert comments[scene.ids["T1"]]["removal_state"] is None
    followers = catalog_rows(config, "SELECT * FROM followers WHERE unfollowed_at IS NULL")
    assert len(followers) == 3  # nobody unfollowed on the strength of a wrong list
    snap = catalog_rows(config, "SELECT count, identities FROM follower_snapshots ORDER BY id")
    assert [(s["count"], s["identities"]) for s in snap] == [(3, 1), (3, 0)]


def test_hidden_subscriber_count_is_a_degradation(scene: Scene) -> None:
    world = scene.world
    hidden = world.add_channel("quietcity", "Quiet City", hidden_subscriber_count=True)
    world.add_video(hidden, "Only video")
    toml = site_toml(
        SITE, "youtube", f"{scene.server.url}/youtube/v3", "quietcity", token_env="YT_KEY"
    )
    config = write_config(scene.tmp, toml)
    assert harvest(config, SITE, full=True).status == "succeeded"
    caps = [r["capability"] for r in catalog_rows(config, "SELECT * FROM degradations")]
    assert caps == ["follower_count"]
    assert catalog_rows(config, "SELECT * FROM follower_snapshots") == []


def test_incremental_run_rechecks_recent_videos(scene: Scene) -> None:
    config = scene.config()
    harvest(config, SITE, full=True)
    new = scene.world.add_video(scene.ids["city"], "Parks survey", "Tell us what you think.")
    comment = scene.world.add_comment(scene.ids["V3"], scene.ids["maria"], "late")  # disabled
    del comment
    reply = scene.world.add_reply(scene.ids["T1"], scene.ids["priya"], "Thanks!")
    result = harvest(config, SITE, full=False)
    assert result.status == "succeeded" and not result.full_sweep
    assert new in _items(config, "posts")
    assert _items(config, "comments")[reply]["parent_id"] == scene.ids["T1"]


def test_expired_oauth_token_fails_the_run_with_one_line(scene: Scene) -> None:
    config = scene.config(auth="oauth")
    scene.world.expire_token()
    with pytest.raises(AuthError) as err:
        harvest(config, SITE, full=True)
    message = str(err.value)
    assert "\n" not in message
    assert SITE in message and "GET /youtube/v3/channels" in message
    assert "Request had invalid authentication credentials" in message and "authError" in message
    runs = catalog_rows(config, "SELECT status, error_kind FROM runs")
    assert [(r["status"], r["error_kind"]) for r in runs] == [("failed", "AuthError")]


REFRESH = "1//0bozemanRefreshToken-abcdefghijklmnop"
CLIENT_SECRET = "GOCSPX-fake-client-secret-for-tests"


class TokenEndpoint:
    """Google's OAuth token endpoint as it answers a refresh (RFC 6749 §5.1 / §5.2)."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.revoked = False

    def handle(self, method: str, path: str, query: object, headers: object) -> FakeResponse | None:
        if method != "POST" or path != "/token":
            return None
        if self.revoked:
            return json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
                400,
            )
        return json_response(
            {
                "access_token": self.access_token,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/youtube.force-ssl",
                "token_type": "Bearer",
            }
        )


def _refresh_config(scene: Scene, token_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YT_TOKEN", REFRESH)  # token_env now holds the refresh token
    monkeypatch.setenv("YT_CLIENT_ID", "1234-bozeman.apps.googleusercontent.com")
    monkeypatch.setenv("YT_CLIENT_SECRET", CLIENT_SECRET)
    return scene.config(
        auth="oauth",
        refresh=True,
        token_url=token_url,
        client_id_env="YT_CLIENT_ID",
        client_secret_env="YT_CLIENT_SECRET",
    )


def test_refresh_token_gets_an_owner_access_token_that_is_never_written(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeServer(TokenEndpoint(OAUTH)) as google:
        config = _refresh_config(scene, f"{google.url}/token", monkeypatch)
        assert harvest(config, SITE, full=True).status == "succeeded"
        [posted] = google.requests
    form = parse_qs(posted.body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [REFRESH]
    assert form["client_secret"] == [CLIENT_SECRET]
    assert {r["display_name"] for r in catalog_rows(config, "SELECT * FROM followers")} == {
        "Maria",
        "Dale",
        "Priya",
    }  # the subscriber list needs the owner's token: the refreshed one worked
    assert all(
        r.headers.get("authorization") == f"Bearer {OAUTH}"
        for r in scene.server.requests_to("/youtube")
    )
    for path in (scene.tmp / "archive").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            for secret in (REFRESH, CLIENT_SECRET, OAUTH):
                assert secret.encode() not in data, (secret, path)


def test_revoked_refresh_token_fails_the_run_with_one_line_and_the_fix(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = TokenEndpoint(OAUTH)
    endpoint.revoked = True
    with FakeServer(endpoint) as google:
        config = _refresh_config(scene, f"{google.url}/token", monkeypatch)
        with pytest.raises(AuthError) as err:
            harvest(config, SITE, full=True)
    message = str(err.value)
    assert "\n" not in message and SITE in message and "POST oauth2/token" in message
    assert "invalid_grant: Token has been expired or revoked." in message
    assert "authorize again" in (err.value.hint or "")
    assert not scene.server.requests_to("/youtube")  # nothing was asked with no token


def test_revoked_api_key_is_an_auth_error_not_a_bad_request(scene: Scene) -> None:
    config = scene.config()
    scene.world.revoke_key()
    with pytest.raises(AuthError) as err:
        harvest(config, SITE, full=True)
    assert "API key not valid" in str(err.value) and SITE in str(err.value)


def test_quota_exhaustion_fails_the_run_with_the_reset_time(scene: Scene) -> None:
    config = scene.config()
    scene.world.exhaust_quota()
    with pytest.raises(RetriableFetchError) as err:
        harvest(config, SITE, full=True)
    message = str(err.value)
    assert "quotaExceeded" in message and "midnight Pacific" in message
    assert "<a href" not in message and "\n" not in message
    assert err.value.retry_after is not None and 0 < err.value.retry_after <= 86400


def test_quota_exhaustion_is_not_retried(scene: Scene) -> None:
    config = scene.config()
    scene.world.exhaust_quota()
    with pytest.raises(RateLimitedError) as err:
        harvest(config, SITE, full=True)
    assert "resets at midnight Pacific" in err.value.message  # the message, not only the hint
    # The run ends at once and says when the next may start: midnight Pacific time.
    assert err.value.until.astimezone(ZoneInfo("America/Los_Angeles")).hour == 0
    assert len(scene.server.requests_to("/youtube/v3/")) == 1  # one call, no retries
    runs = catalog_rows(config, "SELECT status, error FROM runs")
    assert runs[0]["status"] == "rate_limited" and "midnight Pacific" in runs[0]["error"]


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_short_term_rate_limit_403_is_backed_off_and_retried(scene: Scene, reason: str) -> None:
    config = scene.config()
    scene.world.rate_limit_next("commentThreads", times=2, reason=reason)
    result = harvest(config, SITE, full=True)
    assert result.status == "succeeded"
    hits = scene.server.requests_to("/youtube/v3/commentThreads")
    first = hits[0].query["videoId"]
    assert [h.query["videoId"] for h in hits[:3]] == [first, first, first]  # same call, 3 tries
    assert scene.ids["T1"] in _items(config, "comments")
    assert catalog_rows(config, "SELECT * FROM degradations") == []


def test_rate_limit_403_that_persists_fails_with_a_clear_message(scene: Scene) -> None:
    config = scene.config()
    scene.world.rate_limit_next("playlistItems", times=10, reason="userRateLimitExceeded")
    with pytest.raises(RetriableFetchError) as err:
        harvest(config, SITE, full=True)
    message = str(err.value)
    assert "after 3 attempts" in message and "still rate limited" in message  # max_attempts
    assert "userRateLimitExceeded" in message and "not the daily quota" in message
    assert SITE in message and "GET /youtube/v3/playlistItems" in message
    assert "\n" not in message
    assert len(scene.server.requests_to("/youtube/v3/playlistItems")) == 3  # bounded


@pytest.mark.parametrize("auth", ["key", "oauth"])
def test_credentials_never_reach_the_archive(scene: Scene, auth: str) -> None:
    config = scene.config(auth=auth, moderation=auth == "oauth")
    harvest(config, SITE, full=True)
    files = [p for p in (scene.tmp / "archive").rglob("*") if p.is_file()]
    warcs = b""
    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
            warcs += data
        assert API_KEY.encode() not in data and OAUTH.encode() not in data, path
    assert (b"key=REDACTED" in warcs) == (auth == "key")
    assert (b"bearer redacted" in warcs.lower()) == (auth == "oauth")


def test_rate_limit_429_then_success(scene: Scene) -> None:
    config = scene.config()
    scene.server.inject("/youtube/v3/playlistItems", "rate_limit_429")
    assert harvest(config, SITE, full=True).status == "succeeded"
    assert len(scene.server.requests_to("/youtube/v3/playlistItems")) == 3  # 429 + two pages
    assert len(_items(config, "posts")) == 3


def test_proxy_error_page_is_retried(scene: Scene) -> None:
    config = scene.config()
    scene.server.inject("/youtube/v3/commentThreads", "html_error")
    assert harvest(config, SITE, full=True).status == "succeeded"
    assert scene.ids["T1"] in _items(config, "comments")


def test_malformed_video_is_counted_not_fatal(scene: Scene) -> None:
    config = scene.config()
    scene.world.add_raw_video(
        scene.ids["city"], {"kind": "youtube#video", "snippet": {"title": "?"}}
    )
    assert harvest(config, SITE, full=True).status == "succeeded"
    bad = catalog_rows(config, "SELECT endpoint, reason FROM unparseable")
    assert [b["endpoint"] for b in bad] == ["GET /youtube/v3/videos"]
    assert "publishedAt" in bad[0]["reason"]
    assert len(_items(config, "posts")) == 3
    caps = [r["capability"] for r in catalog_rows(config, "SELECT * FROM degradations")]
    assert caps == ["deletion_detection"]  # no sweep while an upload could not be read


def test_malformed_replies_page_costs_that_thread_only(scene: Scene) -> None:
    config = scene.config()
    scene.world.add_reply(scene.ids["T1"], scene.ids["priya"], "Thanks!")  # still >1 after
    harvest(config, SITE, full=True)
    scene.world.delete_comment(scene.ids["R1"])  # listed through comments?parentId=
    scene.world.delete_comment(scene.ids["P"])  # V2's thread, read cleanly
    scene.server.inject("/youtube/v3/comments", "malformed_json")
    result = harvest(config, SITE, full=True)
    assert result.status == "succeeded" and result.counts.get("unparseable") == 1
    bad = catalog_rows(config, "SELECT endpoint, reason, warc_file FROM unparseable")
    assert [b["endpoint"] for b in bad] == ["GET /youtube/v3/comments"]
    assert scene.ids["V1"] in bad[0]["reason"] and scene.ids["T1"] in bad[0]["reason"]
    assert bad[0]["warc_file"]
    comments = _items(config, "comments")
    assert comments[scene.ids["R1"]]["removal_state"] is None  # V1's thread was not swept
    assert comments[scene.ids["P"]]["removal_state"] == "removed_upstream"  # V2's was
    assert len(catalog_rows(config, "SELECT * FROM follower_snapshots")) == 2


def test_malformed_comment_threads_page_costs_that_video_only(scene: Scene) -> None:
    config = scene.config()
    harvest(config, SITE, full=True)
    scene.world.delete_comment(scene.ids["P"])
    scene.world.delete_comment(scene.ids["R1"])
    first = scene.server.requests_to("/youtube/v3/commentThreads")
    videos = [r.query["videoId"][0] for r in first]
    broken = videos.index(scene.ids["V2"]) + 1  # every video up to V2 gets a broken page
    scene.server.inject("/youtube/v3/commentThreads", "malformed_json", times=broken)
    result = harvest(config, SITE, full=True)
    assert result.status == "succeeded" and result.counts.get("unparseable") == broken
    bad = catalog_rows(config, "SELECT endpoint, reason FROM unparseable")
    assert {b["endpoint"] for b in bad} == {"GET /youtube/v3/commentThreads"}
    assert any(scene.ids["V2"] in b["reason"] for b in bad)
    comments = _items(config, "comments")
    assert comments[scene.ids["P"]]["removal_state"] is None  # V2 unread: no sweep
    assert comments[scene.ids["R1"]]["removal_state"] == "removed_upstream"  # V1 read
    assert len(_items(config, "posts")) == 3


def test_registry_serves_the_connector() -> None:
    from connectors.registry import get_connector
    from connectors.youtube import YouTubeConnector

    assert get_connector("youtube") is YouTubeConnector
    assert any("cannot be downloaded" in n for n in YouTubeConnector.capabilities.notes)
