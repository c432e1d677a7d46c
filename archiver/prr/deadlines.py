"""Acknowledge/response targets and fee estimates for public-records requests.

This is the ONE place that turns a request's received date into due dates. Montana law gives
a local government no fixed number of days: MCA 2-6-1006(2) says a non-executive agency (a
city) must respond "in a timely manner", by making the information available or by giving an
estimate of the time needed. The business-day targets used here are therefore the City's own
service targets, set in ``[requests]`` of the config, not statutory deadlines; every message
that shows them says so, so nobody mistakes an internal target for the law.

Config keys (all optional)::

    [requests]
    acknowledge_business_days = 5
    respond_business_days = 10
    fee_per_hour = 25.00       # documented fee; 0 = no fee
    free_minutes = 60          # staff time not charged
    holidays = ["2026-12-25"]  # skipped like weekends
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from archiver.config import Config
from archiver.config_sections import REQUEST_KEYS as REQUEST_KEYS
from archiver.errors import ConfigError

LEGAL_BASIS: Final = (
    'MCA 2-6-1006(2): a local government must respond "in a timely manner"; '
    "the business-day targets are the City's own, not statutory deadlines"
)


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """The City's own targets; defaults are a starting point for the records officer."""

    acknowledge_business_days: int = 5
    respond_business_days: int = 10
    fee_per_hour: Decimal = Decimal("0")
    free_minutes: int = 60
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class Targets:
    acknowledge_by: date
    respond_by: date


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


def policy_from_config(cfg: Config) -> RequestPolicy:
    """Read and validate ``[requests]``; a bad key is one ConfigError naming file and key."""
    section = cfg.section("requests")
    file = str(cfg.path)
    for key in section:
        if key not in REQUEST_KEYS:
            raise ConfigError(
                "unknown key",
                file=file,
                key=f"requests.{key}",
                hint=f"known keys: {', '.join(sorted(REQUEST_KEYS))}",
            )
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


def is_business_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def add_business_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The date ``days`` business days after ``start`` (the received day itself is day 0)."""
    off = set(holidays)
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, off):
            remaining -= 1
    return current


def targets(received: date, policy: RequestPolicy) -> Targets:
    return Targets(
        acknowledge_by=add_business_days(
            received, policy.acknowledge_business_days, policy.holidays
        ),
        respond_by=add_business_days(received, policy.respond_business_days, policy.holidays),
    )


def business_days_between(start: date, end: date, holidays: Iterable[date] = ()) -> int:
    """Business days after ``start`` up to and including ``end`` (negative if end < start)."""
    if end < start:
        return -business_days_between(end, start, holidays)
    off = set(holidays)
    n = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_business_day(current, off):
            n += 1
    return n


def is_overdue(respond_by: date, today: date) -> bool:
    return today > respond_by


def fee_estimate(minutes: int, policy: RequestPolicy) -> Decimal:
    """Staff time beyond the free minutes, billed per started quarter hour, in dollars.

    Only gathering time is chargeable; legal review is not (Lee Enterprises v. PSC, 2022).
    """
    billable = max(0, minutes - policy.free_minutes)
    quarters = math.ceil(billable / 15)
    return (policy.fee_per_hour * quarters / 4).quantize(Decimal("0.01"))
