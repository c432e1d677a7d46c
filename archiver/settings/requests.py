"""``[requests]``: the City's own service targets and fee for public-records requests.

The business-day targets are the City's, not statutory deadlines (MCA 2-6-1006(2) says only
"in a timely manner"); :mod:`archiver.prr.deadlines` turns them into due dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from archiver.config_sections import REQUEST_KEYS
from archiver.errors import ConfigError
from archiver.settings.values import no_unknown_keys


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """The City's own targets; defaults are a starting point for the records officer."""

    acknowledge_business_days: int = 5
    respond_business_days: int = 10
    fee_per_hour: Decimal = Decimal("0")
    free_minutes: int = 60
    holidays: frozenset[date] = frozenset()


def _int(section: Mapping[str, Any], key: str, default: int, file: str) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"must be a whole number of days/minutes >= 0, got {value!r}",
            file=file,
            key=f"requests.{key}",
            hint=f"e.g. {key} = {default}",
        )
    return value


def requests_from(section: Mapping[str, Any], *, file: str) -> RequestPolicy:
    """Read and validate ``[requests]``; a bad key is one ConfigError naming file and key."""
    no_unknown_keys(section, REQUEST_KEYS, "requests", file)
    try:
        fee = Decimal(str(section.get("fee_per_hour", 0)))
    except InvalidOperation:
        fee = Decimal(-1)
    if not fee.is_finite() or fee < 0:
        raise ConfigError(
            f"must be an amount >= 0, got {section.get('fee_per_hour')!r}",
            file=file,
            key="requests.fee_per_hour",
            hint="e.g. fee_per_hour = 25.00",
        )
    raw_holidays = section.get("holidays", [])
    if not isinstance(raw_holidays, list):
        raw_holidays = [raw_holidays]
    holidays: set[date] = set()
    for h in raw_holidays:
        try:
            holidays.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
        except ValueError:
            raise ConfigError(
                f"holiday {h!r} is not a date",
                file=file,
                key="requests.holidays",
                hint='write dates as "YYYY-MM-DD"',
            ) from None
    return RequestPolicy(
        acknowledge_business_days=_int(section, "acknowledge_business_days", 5, file),
        respond_business_days=_int(section, "respond_business_days", 10, file),
        fee_per_hour=fee,
        free_minutes=_int(section, "free_minutes", 60, file),
        holidays=frozenset(holidays),
    )
