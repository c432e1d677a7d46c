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
    from archiver.config import HttpSettings
    from archiver.recorder import RecordingClient
    from archiver.testing.server import FakeResponse, FakeServer
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
