"""Pure pieces of the recorder: redaction, rate-limit parsing, platform error messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.recorder import (
    platform_message,
    redact_headers,
    redact_url,
    retry_after_seconds,
    usage_pressure,
)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://graph.facebook.com/v21.0/123/posts?access_token=EAAB123&limit=5", "EAAB123"),
        ("https://www.googleapis.com/youtube/v3/videos?id=x&key=AIzaSy999", "AIzaSy999"),
        ("https://api.example/x?client_secret=s3cr3t&appsecret_proof=abc", "s3cr3t"),
    ],
)
def test_redact_url_removes_secret_values_and_keeps_the_rest(url: str, secret: str) -> None:
    out = redact_url(url)
    assert secret not in out and "REDACTED" in out
    assert out.split("?")[0] == url.split("?")[0]


def test_redact_url_leaves_plain_urls_alone() -> None:
    url = "https://mastodon.example/api/v1/accounts/1/statuses?limit=40&max_id=99"
    assert redact_url(url) == url


def test_redact_headers() -> None:
    out = dict(
        redact_headers(
            [("Authorization", "Bearer abc.def"), ("Cookie", "sid=1"), ("Accept", "json")]
        )
    )
    assert out == {"Authorization": "Bearer REDACTED", "Cookie": "REDACTED", "Accept": "json"}


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds({"retry-after": "7"}, now) == 7
    iso = (datetime.fromtimestamp(now, UTC) + timedelta(seconds=30)).isoformat()
    assert retry_after_seconds({"x-ratelimit-reset": iso}, now) == pytest.approx(30)
    assert retry_after_seconds({"x-rate-limit-reset": str(int(now) + 90)}, now) == 90
    assert retry_after_seconds({}, now) is None


def test_platform_messages() -> None:
    assert platform_message(b'{"error":"Record not found"}') == "Record not found"
    fb = {"error": {"message": "Error validating access token", "code": 190}}
    assert platform_message(json.dumps(fb).encode()) == "Error validating access token (code 190)"
    assert platform_message(b'{"errors":[{"message":"Rate limit exceeded"}]}') == (
        "Rate limit exceeded"
    )
    assert platform_message(b"<html><body><h1>502 Bad Gateway</h1></body></html>") == (
        "502 Bad Gateway"
    )


def test_usage_pressure_reads_meta_headers() -> None:
    headers = {"x-app-usage": json.dumps({"call_count": 97, "total_cputime": 10, "total_time": 5})}
    assert usage_pressure(headers) == 97
    buc = {"x-business-use-case-usage": json.dumps({"1": [{"call_count": 12, "total_time": 40}]})}
    assert usage_pressure(buc) == 40


def test_token_goes_only_to_the_api_host(tmp_path: Path) -> None:
    from fakeplatforms.server import FakeResponse, FakeServer

    from archiver.config import HttpSettings
    from archiver.recorder import RecordingClient
    from archiver.warc import WarcSink

    class Echo:
        def handle(self, method: str, path: str, query: object, headers: object) -> FakeResponse:
            return FakeResponse(200, b"{}", {"Content-Type": "application/json"})

    with FakeServer(Echo()) as api, FakeServer(Echo()) as cdn:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s",
            settings=HttpSettings(),
            sinks=lambda _c: sink,
            auth_header="Bearer tok",
            auth_host=api.url.split("//")[1],
        )
        client.get(f"{api.url}/v1/me", record_class="posts")
        client.get(f"{cdn.url}/img.png", record_class="media")
        client.close()
        sink.close()
        assert api.requests[0].headers.get("authorization") == "Bearer tok"
        assert "authorization" not in cdn.requests[0].headers


def test_redact_headers_removes_secrets_from_url_valued_headers() -> None:
    out = dict(
        redact_headers(
            [
                (
                    "Link",
                    '<https://api.example/next?max_id=9&access_token=SECRET1>; rel="next", '
                    '<https://api.example/prev?min_id=3&access_token=SECRET1>; rel="prev"',
                ),
                ("Location", "https://cdn.example/a.jpg?X-Amz-Signature=SECRET2&x=1"),
                ("Content-Location", "/v1/me?key=SECRET3"),
                ("Refresh", "5; url=https://x.example/?token=SECRET4"),
                ("Referer", "https://app.example/cb#access_token=SECRET5&state=s"),
            ]
        )
    )
    assert not any(f"SECRET{i}" in v for v in out.values() for i in range(1, 6)), out
    assert out["Link"] == (
        '<https://api.example/next?max_id=9&access_token=REDACTED>; rel="next", '
        '<https://api.example/prev?min_id=3&access_token=REDACTED>; rel="prev"'
    )
    assert out["Location"] == "https://cdn.example/a.jpg?X-Amz-Signature=REDACTED&x=1"
    assert out["Content-Location"] == "/v1/me?key=REDACTED"
    assert out["Refresh"] == "5; url=https://x.example/?token=REDACTED"
    assert out["Referer"] == "https://app.example/cb#access_token=REDACTED&state=s"


def test_redact_headers_leaves_url_headers_without_secrets_byte_for_byte() -> None:
    headers = [
        ("Link", '<https://m.example/api/v1/timelines?q=a%20b&max_id=9>; rel="next"'),
        ("Location", "/new?q=a%20b"),
        ("Refresh", "0"),
    ]
    assert redact_headers(headers) == headers


def test_redact_header_url_covers_userinfo_and_unparseable_urls() -> None:
    from archiver.recorder import redact_header_url

    assert (
        redact_header_url("https://bob:hunter2@h.example/x") == "https://bob:REDACTED@h.example/x"
    )
    assert redact_header_url("http://[::1/x?access_token=SECRET") == "REDACTED"


def test_retry_after_and_an_exhausted_quota_are_waited_out(tmp_path: Path) -> None:
    """The platform's own numbers decide the pause: a 429's Retry-After before the retry,
    and a quota at zero (X-RateLimit-Remaining: 0) until its reset before the next request.
    The client's sleep is recorded instead of slept; the server is real."""
    import time

    from fakeplatforms.server import FakeResponse, FakeServer

    from archiver.config import HttpSettings
    from archiver.recorder import RecordingClient
    from archiver.warc import WarcSink

    class Limited:
        def __init__(self) -> None:
            self.calls = 0

        def handle(self, method: str, path: str, query: object, headers: object) -> FakeResponse:
            self.calls += 1
            if self.calls == 1:
                return FakeResponse(429, b'{"error": "slow down"}', {"Retry-After": "7"})
            reset = str(int(time.time()) + 40)
            quota = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            return FakeResponse(200, b"{}", {"Content-Type": "application/json", **quota})

    slept: list[float] = []
    with FakeServer(Limited()) as server:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s",
            settings=HttpSettings(max_retry_wait=120),
            sinks=lambda _c: sink,
            sleep=slept.append,
        )
        client.get(f"{server.url}/first", record_class="posts")
        assert len(slept) == 1 and 7 <= slept[0] <= 7.5  # Retry-After, not the backoff
        client.get(f"{server.url}/second", record_class="posts")
        client.close()
        sink.close()
    assert len(slept) == 2 and 35 <= slept[1] <= 41  # waited for the quota's reset
