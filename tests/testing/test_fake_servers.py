"""The fake platforms behave like the real APIs over real sockets.

Harvester tests and the demo trust these fakes, so a wrong Link header or a fault that does
not look like the real one would make every downstream test prove the wrong thing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import feedparser
import httpx
import pytest
from fakeplatforms import FAULTS, FakeServer, FeedWorld, MastodonWorld
from fakeplatforms.demo_data import (
    CITY_USERNAME,
    DEMO_END,
    build_demo_feed,
    build_demo_world,
)
from fakeplatforms.server import FakeResponse

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def _links(resp: httpx.Response) -> dict[str, str]:
    return {
        m.group(2): m.group(1)
        for m in re.finditer(r'<([^>]+)>;\s*rel="(\w+)"', resp.headers.get("link", ""))
    }


@pytest.fixture
def small_world() -> Iterator[tuple[MastodonWorld, dict[str, str], FakeServer]]:
    """City + three residents and a reply tree: A <- B <- C, A <- D (city), A <- E."""
    world = MastodonWorld(clock_start=T0)
    ids: dict[str, str] = {}
    ids["city"] = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    for name in ("maria", "dale", "priya"):
        ids[name] = world.add_account(name, name.title(), note="Bozeman local")["id"]
    ids["A"] = world.post_status(ids["city"], "Water main break at Babcock and Willson.")["id"]
    ids["B"] = world.post_status(
        ids["maria"], "@cityofbozeman brown water?", in_reply_to_id=ids["A"]
    )["id"]
    ids["C"] = world.post_status(ids["dale"], "@maria same here", in_reply_to_id=ids["B"])["id"]
    ids["D"] = world.post_status(ids["city"], "Update: repaired.", in_reply_to_id=ids["A"])["id"]
    ids["E"] = world.post_status(ids["priya"], "@cityofbozeman thanks!", in_reply_to_id=ids["A"])[
        "id"
    ]
    with FakeServer(world) as server:
        yield world, ids, server


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[MastodonWorld, str, FakeServer]]:
    world, city_id = build_demo_world(statuses=95, followers=130)
    with FakeServer(world) as server:
        yield world, city_id, server


# -- Mastodon ----------------------------------------------------------------------------
def test_status_pagination_returns_every_status_once_newest_first(
    demo: tuple[MastodonWorld, str, FakeServer],
) -> None:
    world, city_id, server = demo
    seen: list[dict[str, Any]] = []
    url: str | None = f"{server.url}/api/v1/accounts/{city_id}/statuses?limit=40"
    pages = 0
    with httpx.Client() as client:
        while url:
            resp = client.get(url)
            assert resp.status_code == 200
            assert resp.headers["X-RateLimit-Limit"] == "300"
            page = resp.json()
            seen.extend(page)
            links = _links(resp)
            if page:
                assert links["prev"].startswith(server.url + "/api/v1/accounts/")
                assert f"min_id={page[0]['id']}" in links["prev"]
            url = links.get("next")
            if url:
                assert url.startswith(server.url) and f"max_id={page[-1]['id']}" in url
                assert "limit=40" in url  # the caller's other parameters are kept
            pages += 1
    ids = [s["id"] for s in seen]
    assert len(ids) == len(set(ids)) == 95
    assert ids == world.status_ids(city_id)
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    assert [s["created_at"] for s in seen] == sorted((s["created_at"] for s in seen), reverse=True)
    assert pages == 3  # 40 + 40 + 15; a short page carries no "next"


def test_status_limits_default_and_maximum(demo: tuple[MastodonWorld, str, FakeServer]) -> None:
    _, city_id, server = demo
    base = f"{server.url}/api/v1/accounts/{city_id}/statuses"
    assert len(httpx.get(base).json()) == 20
    assert len(httpx.get(base, params={"limit": 100}).json()) == 40


def test_status_entity_has_real_field_set(demo: tuple[MastodonWorld, str, FakeServer]) -> None:
    _, city_id, server = demo
    resp = httpx.get(f"{server.url}/api/v1/accounts/{city_id}/statuses", params={"limit": 40})
    status = resp.json()[0]
    for key in (
        "id", "created_at", "in_reply_to_id", "in_reply_to_account_id", "sensitive",
        "spoiler_text", "visibility", "language", "uri", "url", "replies_count",
        "reblogs_count", "favourites_count", "edited_at", "content", "reblog", "application",
        "account", "media_attachments", "mentions", "tags", "emojis", "card", "poll",
    ):  # fmt: skip
        assert key in status, key
    assert re.fullmatch(r"\d{17,19}", status["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", status["created_at"])
    assert status["content"].startswith("<p>") and status["content"].endswith("</p>")
    for key in (
        "id", "username", "acct", "display_name", "locked", "bot", "discoverable", "group",
        "created_at", "note", "url", "avatar", "header", "followers_count", "following_count",
        "statuses_count", "last_status_at", "emojis", "fields",
    ):  # fmt: skip
        assert key in status["account"], key
    assert status["account"]["statuses_count"] == 95
    assert status["account"]["followers_count"] == 130


def test_media_urls_point_at_the_server_and_serve_png(
    demo: tuple[MastodonWorld, str, FakeServer],
) -> None:
    _, city_id, server = demo
    resp = httpx.get(
        f"{server.url}/api/v1/accounts/{city_id}/statuses", params={"only_media": "true"}
    )
    statuses = resp.json()
    assert statuses and all(s["media_attachments"] for s in statuses)
    att = statuses[0]["media_attachments"][0]
    assert set(att) >= {"id", "type", "url", "preview_url", "remote_url", "description"}
    assert att["description"] and {"blurhash", "meta"} <= set(att)
    for url in (att["url"], att["preview_url"], statuses[0]["account"]["avatar"]):
        assert url.startswith(server.url + "/system/")
        img = httpx.get(url)
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        assert img.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_since_id_and_min_id_return_only_newer(
    demo: tuple[MastodonWorld, str, FakeServer],
) -> None:
    world, city_id, server = demo
    all_ids = world.status_ids(city_id)
    base = f"{server.url}/api/v1/accounts/{city_id}/statuses"
    newer = httpx.get(base, params={"since_id": all_ids[3]}).json()
    assert [s["id"] for s in newer] == all_ids[:3]
    # since_id takes the newest page; min_id the page immediately after the cursor.
    assert [
        s["id"] for s in httpx.get(base, params={"since_id": all_ids[10], "limit": 2}).json()
    ] == all_ids[:2]
    assert [
        s["id"] for s in httpx.get(base, params={"min_id": all_ids[10], "limit": 2}).json()
    ] == all_ids[8:10]
    assert httpx.get(base, params={"since_id": all_ids[0]}).json() == []


def test_new_status_after_harvest_shows_up_with_since_id(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    world, ids, server = small_world
    base = f"{server.url}/api/v1/accounts/{ids['city']}/statuses"
    newest = httpx.get(base).json()[0]["id"]
    fresh = world.post_status(ids["city"], "Snow plow update #BozemanSnow")
    assert int(fresh["id"]) > int(newest)
    got = httpx.get(base, params={"since_id": newest}).json()
    assert [s["id"] for s in got] == [fresh["id"]]
    assert got[0]["tags"] == [
        {"name": "bozemansnow", "url": "https://mastodon.example/tags/bozemansnow"}
    ]


def test_exclude_replies_keeps_self_threads(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    world, ids, server = small_world
    world.post_status(ids["city"], "@maria thanks, crew is on the way", in_reply_to_id=ids["B"])
    base = f"{server.url}/api/v1/accounts/{ids['city']}/statuses"
    assert len(httpx.get(base).json()) == 3
    got = [s["id"] for s in httpx.get(base, params={"exclude_replies": "true"}).json()]
    assert got == [ids["D"], ids["A"]]


def test_context_includes_reply_to_a_reply_in_thread_order(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    _, ids, server = small_world
    ctx = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}/context").json()
    assert ctx["ancestors"] == []
    assert [s["id"] for s in ctx["descendants"]] == [ids["B"], ids["C"], ids["D"], ids["E"]]
    c = ctx["descendants"][1]
    assert c["in_reply_to_id"] == ids["B"] and c["in_reply_to_account_id"] == ids["maria"]
    assert c["mentions"][0]["acct"] == "maria"
    leaf = httpx.get(f"{server.url}/api/v1/statuses/{ids['C']}/context").json()
    assert [s["id"] for s in leaf["ancestors"]] == [ids["A"], ids["B"]]
    assert leaf["descendants"] == []
    root = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}").json()
    assert root["replies_count"] == 3


def test_followers_paginate_by_link_only(demo: tuple[MastodonWorld, str, FakeServer]) -> None:
    world, city_id, server = demo
    url: str | None = f"{server.url}/api/v1/accounts/{city_id}/followers"
    got: list[str] = []
    cursors: list[str] = []
    with httpx.Client() as client:
        while url:
            resp = client.get(url)
            page = resp.json()
            assert len(page) <= 40
            got.extend(a["id"] for a in page)
            url = _links(resp).get("next")
            if url:
                cursors.append(re.search(r"max_id=(\d+)", url).group(1))  # type: ignore[union-attr]
    assert got == world.follower_ids(city_id)  # newest follow first
    assert len(got) == len(set(got)) == 130
    assert cursors and not set(cursors) & set(got)  # cursors are follow ids, not account ids
    big = httpx.get(f"{server.url}/api/v1/accounts/{city_id}/followers", params={"limit": 500})
    assert len(big.json()) == 80


def test_unfollow_and_follow_are_visible(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    world, ids, server = small_world
    url = f"{server.url}/api/v1/accounts/{ids['city']}/followers"
    world.follow(ids["city"], ids["maria"])
    world.follow(ids["city"], ids["dale"])
    assert [a["id"] for a in httpx.get(url).json()] == [ids["dale"], ids["maria"]]
    world.unfollow(ids["city"], ids["dale"])
    assert [a["id"] for a in httpx.get(url).json()] == [ids["maria"]]
    acct = httpx.get(f"{server.url}/api/v1/accounts/{ids['city']}").json()
    assert acct["followers_count"] == 1


def test_edit_sets_edited_at_and_history(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    world, ids, server = small_world
    before = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}").json()
    assert before["edited_at"] is None
    one = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}/history").json()
    assert len(one) == 1  # Mastodon returns the original even when never edited
    world.edit_status(ids["A"], "Water main break at Babcock and Black.")
    after = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}").json()
    assert after["edited_at"] is not None and after["edited_at"] > after["created_at"]
    assert "Black" in after["content"] and after["id"] == before["id"]
    history = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}/history").json()
    assert len(history) == 2
    assert "Willson" in history[0]["content"] and "Black" in history[1]["content"]
    assert history[0]["created_at"] == before["created_at"]
    assert history[1]["created_at"] == after["edited_at"]
    assert history[0]["account"]["id"] == ids["city"]


def test_delete_gives_404_and_leaves_context_and_timeline(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    world, ids, server = small_world
    world.delete_status(ids["B"])
    gone = httpx.get(f"{server.url}/api/v1/statuses/{ids['B']}")
    assert gone.status_code == 404 and gone.json() == {"error": "Record not found"}
    ctx = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}/context").json()
    # The reply to the deleted reply is orphaned, as on a real instance.
    assert [s["id"] for s in ctx["descendants"]] == [ids["D"], ids["E"]]
    tl = httpx.get(f"{server.url}/api/v1/accounts/{ids['maria']}/statuses").json()
    assert tl == []
    assert httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}").json()["replies_count"] == 2
    assert httpx.get(f"{server.url}/api/v1/accounts/{ids['maria']}").json()["statuses_count"] == 0


def test_lookup_and_unknown_records(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    _, ids, server = small_world
    ok = httpx.get(f"{server.url}/api/v1/accounts/lookup", params={"acct": "cityofbozeman"})
    assert ok.status_code == 200 and ok.json()["id"] == ids["city"]
    for resp in (
        httpx.get(f"{server.url}/api/v1/accounts/lookup", params={"acct": "nobody"}),
        httpx.get(f"{server.url}/api/v1/accounts/123"),
        httpx.get(f"{server.url}/api/v1/statuses/999"),
    ):
        assert resp.status_code == 404 and resp.json() == {"error": "Record not found"}
        assert "X-RateLimit-Remaining" in resp.headers
    assert httpx.get(f"{server.url}/no/such/thing").status_code == 404


def test_rate_limit_headers_count_down(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    _, ids, server = small_world
    url = f"{server.url}/api/v1/accounts/{ids['city']}"
    first, second = httpx.get(url), httpx.get(url)
    before = int(first.headers["X-RateLimit-Remaining"])
    # Either one less, or a new 5-minute window started between the two requests.
    assert int(second.headers["X-RateLimit-Remaining"]) in (before - 1, 299)
    reset = datetime.fromisoformat(first.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert reset > datetime.now(UTC)


def test_required_token() -> None:
    world = MastodonWorld(required_token="s3cret")
    city = world.add_account(CITY_USERNAME, "City of Bozeman")
    world.post_status(city["id"], "Private note", visibility="private")
    world.post_status(city["id"], "Public note", media=[{"description": "x"}])
    with FakeServer(world) as server:
        url = f"{server.url}/api/v1/accounts/{city['id']}/statuses"
        for hdrs in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            resp = httpx.get(url, headers=hdrs)
            assert resp.status_code == 401
            assert resp.json() == {"error": "The access token is invalid"}
        ok = httpx.get(url, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert [s["content"] for s in ok.json()] == ["<p>Public note</p>", "<p>Private note</p>"]
        media_url = ok.json()[0]["media_attachments"][0]["url"]
        assert httpx.get(media_url).status_code == 200  # media sits on the CDN, no token


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_fires_once_then_service_resumes(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer], fault: str
) -> None:
    _, ids, server = small_world
    url = f"{server.url}/api/v1/accounts/{ids['city']}/statuses"
    server.inject("/api/v1/accounts/", fault)  # type: ignore[arg-type]
    other = httpx.get(f"{server.url}/api/v1/statuses/{ids['A']}")
    assert other.status_code == 200  # a different prefix is untouched
    with httpx.Client() as client:
        if fault == "truncated":
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(url)
        else:
            resp = client.get(url)
            _check_fault_shape(fault, resp)
        again = client.get(url)
    assert again.status_code == 200 and len(again.json()) == 2
    assert [r.fault for r in server.requests_to("/api/v1/accounts/")] == [fault, None]


def _check_fault_shape(fault: str, resp: httpx.Response) -> None:
    if fault == "malformed_json":
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.content)
    elif fault == "html_error":
        assert resp.status_code == 502 and resp.headers["content-type"].startswith("text/html")
        assert b"<h1>502 Bad Gateway</h1>" in resp.content and b"nginx" in resp.content
    elif fault == "status_500":
        assert resp.status_code == 500 and "error" in resp.json()
    elif fault == "rate_limit_429":
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "1"
        assert resp.headers["X-RateLimit-Limit"] == "300"
        assert resp.headers["X-RateLimit-Remaining"] == "0"
        reset = datetime.fromisoformat(resp.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        assert timedelta(0) < reset - datetime.now(UTC) <= timedelta(seconds=1.5)
    elif fault == "unauthorized_401":
        assert resp.status_code == 401
        assert resp.json() == {"error": "The access token is invalid"}
    elif fault == "not_found_404":
        assert resp.status_code == 404 and resp.json() == {"error": "Record not found"}
    elif fault == "empty_body":
        assert resp.status_code == 200 and resp.content == b""
    else:  # pragma: no cover
        raise AssertionError(f"untested fault {fault}")


def test_fault_times_counts_down(
    small_world: tuple[MastodonWorld, dict[str, str], FakeServer],
) -> None:
    _, ids, server = small_world
    server.inject("/api/v1/statuses/", "status_500", times=2)
    url = f"{server.url}/api/v1/statuses/{ids['A']}"
    assert [httpx.get(url).status_code for _ in range(3)] == [500, 500, 200]
    with pytest.raises(ValueError):
        server.inject("/", "bogus")  # type: ignore[arg-type]


def test_server_records_requests_is_quiet_and_stops_promptly(
    capfd: pytest.CaptureFixture[str],
) -> None:
    class Boom:
        def handle(self, method: str, path: str, query: Any, headers: Any) -> FakeResponse | None:
            if path == "/boom":
                raise RuntimeError("app bug")
            return None

    server = FakeServer(Boom(), MastodonWorld()).start()
    with httpx.Client() as client:  # keep-alive connection still open at stop()
        client.get(f"{server.url}/api/v1/accounts/lookup?acct=x&acct=y", headers={"X-Test": "1"})
        assert client.get(f"{server.url}/boom").status_code == 500
        server.inject("/", "truncated")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"{server.url}/x")
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
    req = server.requests[0]
    assert (req.method, req.path, req.query) == (
        "GET",
        "/api/v1/accounts/lookup",
        {"acct": ["x", "y"]},
    )
    assert req.headers["x-test"] == "1"
    assert len(server.errors) == 1 and isinstance(server.errors[0], RuntimeError)
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=1)


# -- RSS / Atom --------------------------------------------------------------------------
@pytest.fixture
def feed_server() -> Iterator[tuple[FeedWorld, FakeServer]]:
    feed = FeedWorld()
    feed.add_entry(
        "news-1",
        "Snow Emergency Declared",
        "<p>Parking restrictions on snow routes.</p>",
        published=T0,
        enclosure=("https://www.bozeman.net/files/snow.pdf", "application/pdf", 12345),
    )
    feed.add_entry(
        "news-2", "Commission Agenda", "<p>Budget &amp; UDC.</p>", published=T0 + timedelta(days=1)
    )
    with FakeServer(feed) as server:
        yield feed, server


def test_rss_has_items_content_encoded_and_enclosure(
    feed_server: tuple[FeedWorld, FakeServer],
) -> None:
    _, server = feed_server
    resp = httpx.get(f"{server.url}/news/rss.xml")
    assert resp.headers["content-type"].startswith("application/rss+xml")
    assert (
        b"<content:encoded><![CDATA[<p>Budget &amp; UDC.</p>]]></content:encoded>" in resp.content
    )
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo
    assert [e.id for e in parsed.entries] == ["news-2", "news-1"]
    assert parsed.entries[1].enclosures[0]["href"].endswith("snow.pdf")
    assert parsed.entries[0].content[0].value == "<p>Budget &amp; UDC.</p>"


def test_rss_conditional_get(feed_server: tuple[FeedWorld, FakeServer]) -> None:
    feed, server = feed_server
    url = f"{server.url}/news/rss.xml"
    first = httpx.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    by_etag = httpx.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["ETag"] == etag
    assert httpx.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    old = format_datetime(T0 - timedelta(days=1), usegmt=True)
    assert httpx.get(url, headers={"If-Modified-Since": old}).status_code == 200
    feed.edit_entry("news-1", body_html="<p>Lifted.</p>")
    changed = httpx.get(url, headers={"If-None-Match": etag, "If-Modified-Since": last_modified})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert httpx.get(url, headers={"If-Modified-Since": last_modified}).status_code == 200
    feed.delete_entry("news-2")
    after_delete = httpx.get(url, headers={"If-None-Match": changed.headers["ETag"]})
    assert after_delete.status_code == 200 and b"news-2" not in after_delete.content


def test_atom_parses_and_shows_edited_title(feed_server: tuple[FeedWorld, FakeServer]) -> None:
    feed, server = feed_server
    url = f"{server.url}/news/atom.xml"
    feed.edit_entry("news-1", title="Snow Emergency Lifted")
    resp = httpx.get(url)
    assert resp.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo and parsed.version == "atom10"
    entry = next(e for e in parsed.entries if "Snow" in e.title)
    assert entry.title == "Snow Emergency Lifted"
    assert entry.updated_parsed > entry.published_parsed
    assert entry.content[0].value == "<p>Parking restrictions on snow routes.</p>"


def test_feed_serves_its_own_enclosures_on_the_requested_host() -> None:
    feed = FeedWorld()
    pdf = b"%PDF-1.4\n% tiny\n%%EOF\n"
    path = feed.add_file("/news/files/0001.pdf", pdf, "application/pdf")
    feed.add_entry(
        "news-1", "Agenda", "<p>Agenda.</p>", published=T0, enclosure=(path, "application/pdf", 22)
    )
    with pytest.raises(ValueError):
        feed.add_file("files/x.pdf", pdf, "application/pdf")
    with FakeServer(feed) as server:
        for doc in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse(httpx.get(f"{server.url}/news/{doc}").content)
            href = parsed.entries[0].enclosures[0]["href"]
            assert href == f"{server.url}/news/files/0001.pdf"
        resp = httpx.get(href)
        assert resp.status_code == 200 and resp.content == pdf
        assert resp.headers["content-type"] == "application/pdf"
        assert httpx.get(f"{server.url}/news/files/0002.pdf").status_code == 404


# -- demo data ---------------------------------------------------------------------------
def test_demo_world_is_fast_deterministic_and_realistic() -> None:
    started = time.perf_counter()
    world, city_id = build_demo_world()
    assert time.perf_counter() - started < 2
    again, again_id = build_demo_world()
    assert again_id == city_id and again.status_ids(city_id) == world.status_ids(city_id)
    assert len(world.status_ids(city_id)) == 300
    assert len(world.follower_ids(city_id)) == 3000
    with FakeServer(world) as server:
        acct = httpx.get(
            f"{server.url}/api/v1/accounts/lookup", params={"acct": "cityofbozeman"}
        ).json()
        assert acct["display_name"] == "City of Bozeman" and acct["id"] == city_id
        page = httpx.get(f"{server.url}/api/v1/accounts/{city_id}/statuses?limit=40").json()
        assert all(s["created_at"] <= "2026-11-20T18:00:00.000Z" for s in page)
        depths: list[int] = []
        for status in page:
            ctx = httpx.get(f"{server.url}/api/v1/statuses/{status['id']}/context").json()
            by_id = {status["id"]: 0} | {d["id"]: 0 for d in ctx["descendants"]}
            for d in ctx["descendants"]:
                by_id[d["id"]] = by_id[d["in_reply_to_id"]] + 1
                depths.append(by_id[d["id"]])
        assert max(depths) >= 2  # replies to replies exist
    text = " ".join(world.status_text(i) for i in world.status_ids(city_id))
    for word in ("plow", "Commission", "Bridger Canyon", "Main Street", "Library", "Water main"):
        assert word in text, word
    assert DEMO_END.year == 2026


def test_demo_feed_is_deterministic_and_parses() -> None:
    a, b = build_demo_feed(), build_demo_feed()
    assert a.guids() == b.guids() and len(a.guids()) == 25
    body = a.render_rss("http://localhost/news/rss.xml")
    assert body == b.render_rss("http://localhost/news/rss.xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo and len(parsed.entries) == 25
    enclosures = [enc for e in parsed.entries for enc in e.get("enclosures", [])]
    assert enclosures  # the demo feed has attachments, and the feed itself serves them
    for enc in enclosures:
        assert enc["href"].startswith("http://localhost/news/files/")
        served = a.handle("GET", enc["href"].removeprefix("http://localhost"), {}, {})
        assert served is not None and served.status == 200
        assert served.body.startswith(b"%PDF-") and len(served.body) == int(enc["length"])
