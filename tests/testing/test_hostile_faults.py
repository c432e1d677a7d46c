"""The hostile answers ``FakeServer`` adds for the conformance suite, checked on the wire.

Each is generic (it changes the real answer of whichever fake is behind the server), so it is
tested once here against the Mastodon fake rather than once per platform.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.server import HOSTILE_FAULTS, SURROGATE_MARKER

TOKEN = "hostile-test-token-0123"


@pytest.fixture
def site() -> Iterator[tuple[FakeServer, str, str]]:
    world = MastodonWorld(required_token=TOKEN)
    world.page_cap = 2
    city = world.add_account("city", "City")["id"]
    for i in range(5):
        world.post_status(city, f"post {i} {SURROGATE_MARKER}")
    with FakeServer(world) as server:
        yield server, city, f"{server.url}/api/v1/accounts/{city}/statuses"


def _get(url: str, **kw: object) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, **kw)  # type: ignore[arg-type]


def test_every_hostile_fault_is_known_to_inject(site: tuple[FakeServer, str, str]) -> None:
    server, _, _ = site
    for fault in HOSTILE_FAULTS:
        server.inject("/nowhere", fault)
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("/", "no_such_fault")  # type: ignore[arg-type]


def test_loop_cursor_answers_the_next_page_with_the_first(
    site: tuple[FakeServer, str, str],
) -> None:
    server, _, url = site
    honest = _get(url)
    honest_next = _get(honest.links["next"]["url"])
    assert honest_next.json() != honest.json()
    server.inject(url.split(server.url)[1], "loop_cursor", times=5)
    first = _get(url)
    again = _get(first.links["next"]["url"])
    assert again.json() == first.json() and again.links == first.links
    assert [r.fault for r in server.requests[-2:]] == [None, "loop_cursor"]


def test_after_lets_the_first_requests_through(site: tuple[FakeServer, str, str]) -> None:
    server, _, url = site
    server.inject("/api/v1/accounts/", "status_500", times=1, after=1)
    assert _get(url).status_code == 200
    assert _get(url).status_code == 500
    assert _get(url).status_code == 200


def test_gzip_bomb_inflates_far_past_what_is_sent(site: tuple[FakeServer, str, str]) -> None:
    server, _, url = site
    server.bomb_size = 8 << 20
    server.inject("/api/v1/accounts/", "gzip_bomb")
    with httpx.Client() as client, client.stream("GET", url) as resp:
        assert resp.headers["content-encoding"] == "gzip"
        wire = b"".join(resp.iter_raw())
    assert len(wire) < 64 << 10 and int(resp.headers["content-length"]) == len(wire)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    size = 0
    tail = b""
    for i in range(0, len(wire), 4096):
        out = inflate.decompress(wire[i : i + 4096])
        size += len(out)
        tail = (tail + out)[-16:]
    assert size == (8 << 20) + 2 and tail.endswith(b" []")


def test_drip_body_sends_one_byte_at_a_time(site: tuple[FakeServer, str, str]) -> None:
    server, _, url = site
    server.drip_interval = 0.001
    server.inject("/api/v1/accounts/", "drip_body")
    start = time.monotonic()
    resp = _get(url, timeout=30)
    took = time.monotonic() - start
    assert resp.status_code == 200 and len(resp.json()) == 2
    assert took >= len(resp.content) * 0.001 * 0.8


def test_lone_surrogate_is_a_json_escape(site: tuple[FakeServer, str, str]) -> None:
    server, _, url = site
    server.inject("/api/v1/accounts/", "lone_surrogate")
    resp = _get(url)
    assert b"\\ud800" in resp.content and SURROGATE_MARKER.encode() not in resp.content
    assert "\ud800" in json.loads(resp.content)[0]["content"]
    with pytest.raises(UnicodeEncodeError):
        json.loads(resp.content)[0]["content"].encode("utf-8")


def test_echo_secret_puts_the_token_in_header_and_body(site: tuple[FakeServer, str, str]) -> None:
    server, city, _ = site
    server.inject("/api/v1/accounts/", "echo_secret")
    resp = _get(f"{server.url}/api/v1/accounts/{city}")
    assert resp.headers["x-debug-request-auth"] == TOKEN
    assert resp.json()["debug"] == {"request_credentials": TOKEN}


def test_html_page_is_a_200_maintenance_page(site: tuple[FakeServer, str, str]) -> None:
    server, _, url = site
    server.inject("/api/v1/accounts/", "html_page")
    resp = _get(url)
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/html"
    assert b"maintenance" in resp.content


def test_retry_after_is_configurable_and_requests_are_timed(
    site: tuple[FakeServer, str, str],
) -> None:
    server, _, url = site
    server.retry_after = 3600
    server.inject("/api/v1/accounts/", "rate_limit_429")
    assert _get(url).headers["retry-after"] == "3600"
    server.rate_limit_reset_headers = False
    server.inject("/api/v1/accounts/", "rate_limit_429")
    bare = _get(url).headers
    assert bare["retry-after"] == "3600" and "x-ratelimit-reset" not in bare
    _get(url)
    first, second = server.requests[-3:-1]
    assert 0 < first.at <= second.at
