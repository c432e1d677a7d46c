"""Times for people: the City's zone with its name, e.g. ``2026-11-20 14:35 MST``.

The catalog stores UTC ISO 8601 strings; a clerk, a requester and a court read local time,
and a time without a zone is ambiguous twice a year. Everything printed or rendered for a
person goes through :func:`local_time`; JSON keeps ISO 8601 with its offset
(:func:`iso_local`), so machines lose nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def _parse(value: str | datetime) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # the catalog writes UTC


def local_time(value: str | datetime | None, tz: str, *, seconds: bool = False) -> str:
    """``value`` in zone ``tz`` as ``YYYY-MM-DD HH:MM ZONE`` ("" if unset).

    A value that is not a timestamp is returned as given rather than hidden.
    """
    if value is None or value == "":
        return ""
    when = _parse(value)
    if when is None:
        return str(value)
    local = when.astimezone(ZoneInfo(tz))
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{local.strftime(fmt)} {local.tzname() or tz}"


def iso_local(value: str | datetime | None, tz: str) -> str | None:
    """``value`` as ISO 8601 in zone ``tz`` with its offset, for JSON (None if unset)."""
    if value is None or value == "":
        return None
    when = _parse(value)
    if when is None:
        return str(value)
    return when.astimezone(ZoneInfo(tz)).isoformat()
