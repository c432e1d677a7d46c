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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from archiver.settings.requests import RequestPolicy

LEGAL_BASIS: Final = (
    'MCA 2-6-1006(2): a local government must respond "in a timely manner"; '
    "the business-day targets are the City's own, not statutory deadlines"
)


@dataclass(frozen=True, slots=True)
class Targets:
    acknowledge_by: date
    respond_by: date


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
