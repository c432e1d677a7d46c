"""Per-platform classifiers: each platform's own error shapes sorted into what the recorder
does next (Ok, Retry with a wait, Fatal for a person to act, Skip for one capability)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial

import httpx

from archiver.verdict import Fatal, Ok, Retry, Skip
from connectors import _graph, x, youtube


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_graph_codes() -> None:
    classify = partial(_graph.classify, token_env="FB_TOKEN")
    expired = {"error": {"message": "Session has expired", "code": 190, "error_subcode": 463}}
    verdict = classify(400, httpx.Headers(), _body(expired))
    assert isinstance(verdict, Fatal) and verdict.auth and "FB_TOKEN" in verdict.hint
    assert "code 190" in verdict.reason
    for code in (4, 17, 32, 613):
        limited = {"error": {"message": "limit", "code": code}}
        assert isinstance(classify(400, httpx.Headers(), _body(limited)), Retry)
    usage = {"1": [{"estimated_time_to_regain_access": 7}]}
    headers = httpx.Headers({"x-business-use-case-usage": json.dumps(usage)})
    assert classify(400, headers, _body({"error": {"code": 80001}})) == Retry(
        "(no message) (code 80001)", after=420.0
    )
    permission = {"error": {"message": "(#10) no permission", "code": 10}}
    assert classify(403, httpx.Headers(), _body(permission)) == Ok()  # the connector decides
    assert classify(200, httpx.Headers(), b"<html>") == Ok()


def test_youtube_reasons() -> None:
    def err(status: int, reason: str) -> bytes:
        return _body({"error": {"code": status, "message": reason, "errors": [{"reason": reason}]}})

    quota = youtube.classify(403, httpx.Headers(), err(403, "quotaExceeded"), frozenset())
    assert isinstance(quota, Retry) and quota.after is not None
    assert abs(quota.after - youtube.seconds_until_pacific_midnight()) < 5
    assert "midnight Pacific" in quota.reason
    for reason in ("forbidden", "insufficientPermissions", "keyInvalid"):
        verdict = youtube.classify(403, httpx.Headers(), err(403, reason), frozenset())
        assert isinstance(verdict, Fatal) and verdict.auth
    rate = youtube.classify(403, httpx.Headers(), err(403, "rateLimitExceeded"), frozenset())
    assert isinstance(rate, Retry) and "not the daily quota" in rate.reason
    allowed = frozenset({"commentsDisabled"})
    skip = youtube.classify(403, httpx.Headers(), err(403, "commentsDisabled"), allowed)
    assert isinstance(skip, Skip) and skip.reason.startswith("commentsDisabled")
    assert youtube.classify(404, httpx.Headers(), err(404, "videoNotFound"), frozenset()) == Ok()


def test_pacific_midnight_is_the_next_one() -> None:
    late = datetime.fromisoformat("2026-12-04T23:30:00-08:00")
    assert youtube.seconds_until_pacific_midnight(late) == 1800


def test_x_tier_refusal_is_skip_and_the_rest_is_standard() -> None:
    refusal = {"title": "Client Forbidden", "reason": "client-not-enrolled", "detail": "Project"}
    verdict = x.classify(403, httpx.Headers(), _body(refusal))
    assert isinstance(verdict, Skip) and "Project" in verdict.reason
    other = {"title": "Forbidden", "detail": "You are not permitted"}
    assert x.classify(403, httpx.Headers(), _body(other)) == Ok()  # -> AuthError by status
    reset = httpx.Headers({"x-rate-limit-reset": "1893456000"})
    assert x.classify(429, reset, _body({"title": "Too Many Requests"})) == Ok()  # recorder
