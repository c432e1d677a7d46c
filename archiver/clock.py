"""The one clock: what time it is, in UTC, for everything the archiver records.

The catalog stores UTC ISO 8601 strings with microseconds; every writer gets them from here
instead of its own ``_now()``. Functions that decide something by the time (back-off, due
dates, holds) take a ``clock`` argument defaulting to :func:`utc_now`, so a test passes a
fixed clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "now_iso", "utc_now"]

Clock = Callable[[], datetime]
"""A zero-argument callable returning an aware datetime (``utc_now`` or a test's fixed one)."""


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def now_iso(clock: Clock = utc_now) -> str:
    """``clock()`` as the catalog writes times: ISO 8601, UTC offset, microseconds."""
    return clock().astimezone(UTC).isoformat(timespec="microseconds")
