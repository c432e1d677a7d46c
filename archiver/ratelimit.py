"""What a platform said about its rate limits, and the per-host state that honours it.

A 429's ``Retry-After`` or a quota at zero is a statement about the *host*, not about the one
request that got it: the next request to that host, whichever endpoint or connector loop it
comes from, must wait too, also after the request that was told gave up. So the waits live
in a :class:`HostLimits` owned by the recording client (and shareable between clients that
talk to the same platform), and every request asks it before going out.
"""

from __future__ import annotations

import email.utils
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """How long the platform asked us to wait: Retry-After, then the rate-limit reset headers."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    # ``ratelimit-reset``: IETF draft header; Bluesky sends it as epoch seconds.
    for name in ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"):
        reset = headers.get(name)
        if not reset:
            continue
        try:
            number = float(reset)
            # epoch seconds (X) vs seconds-from-now (some APIs)
            return max(0.0, number - now) if number > 1e9 else max(0.0, number)
        except ValueError:
            try:
                when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
                return max(0.0, when.timestamp() - now)
            except ValueError:
                continue
    return None


def usage_pressure(headers: Mapping[str, str]) -> float:
    """Meta's x-app-usage / x-business-use-case-usage: highest percentage used (0-100)."""
    worst = 0.0
    for name in ("x-app-usage", "x-business-use-case-usage", "x-page-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack: list[Any] = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    if isinstance(v, int | float) and k in (
                        "call_count",
                        "total_cputime",
                        "total_time",
                    ):
                        worst = max(worst, float(v))
                    else:
                        stack.append(v)
            elif isinstance(node, list):
                stack.extend(node)
    return worst


def quota_exhausted(headers: Mapping[str, str]) -> bool:
    """The platform says no request is left in the current window (X, Mastodon, Bluesky)."""
    remaining = (
        headers.get("x-ratelimit-remaining")
        or headers.get("x-rate-limit-remaining")
        or headers.get("ratelimit-remaining")
    )
    return remaining is not None and remaining.strip() == "0"


@dataclass(frozen=True, slots=True)
class Hold:
    """No request to ``host`` before ``until`` (epoch seconds), because of ``reason``."""

    host: str
    until: float
    reason: str


class HostLimits:
    """``not before`` times per host, shared by every request that goes through it.

    Thread-safe, so one instance may serve several clients (e.g. the Facebook and Instagram
    sites of one City, which share Meta's app-level quota). Holds only ever move later: a
    short wait learned after a long one does not shorten it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: dict[str, Hold] = {}

    def defer(self, host: str, until: float, reason: str) -> Hold:
        """Hold ``host`` until ``until``; returns the hold now in force (maybe a later one)."""
        key = host.lower()
        with self._lock:
            current = self._holds.get(key)
            if current is None or until > current.until:
                current = self._holds[key] = Hold(key, until, reason)
            return current

    def hold(self, host: str, now: float) -> Hold | None:
        """The hold on ``host`` still in force at ``now``, if any."""
        with self._lock:
            current = self._holds.get(host.lower())
        return current if current is not None and current.until > now else None

    def waited(self, hold: Hold) -> None:
        """The caller slept until ``hold.until``: lift it, unless a later hold replaced it.

        Lifting explicitly (instead of comparing with the clock) keeps the state right for a
        clock that only moves when we sleep, as in tests, and costs nothing in real use.
        """
        with self._lock:
            if self._holds.get(hold.host) == hold:
                del self._holds[hold.host]
