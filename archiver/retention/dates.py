"""When a record may first be disposed of: pure date arithmetic, no I/O, no clock.

Everything returns ``None`` when the answer is not (yet) knowable, and ``None`` always means
"not eligible". A wrong early date can destroy a public record; a missing date only delays a
disposal the city was never obliged to make, because Montana retention periods are minimums
(SOS Local Government Records page, http://sos.mt.gov/Records/Local/index.asp).

Dates are local to the city: a record made at 23:30 on 31 December in Bozeman belongs to that
year even though UTC already says 1 January, so every function takes ``tz`` (America/Denver by
default) and converts before taking the date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from archiver.errors import RetentionError
from archiver.retention.schedules import ScheduleItem, Trigger

__all__ = [
    "DENVER",
    "DISPOSAL_LOG_RETENTION_YEARS",
    "HISTORICAL_OFFER_AGE_YEARS",
    "HISTORICAL_OFFER_NOTICE_DAYS",
    "LONG_RETENTION_YEARS",
    "add_years",
    "bundle_eligible_on",
    "clock_start",
    "eligible_on",
    "fiscal_year",
    "local_date",
    "long_retention_flag",
    "needs_historical_offer",
    "propagate_revisits",
]

DENVER = ZoneInfo("America/Denver")
_NO_AUDITS: Mapping[int, date] = MappingProxyType({})

#: MCA 2-6-1205 as amended by SB 374 (2023): a local record *more than* 50 years old must be
#: offered to the Historical Society and others, with at least 30 days' notice, before disposal.
#: https://lawserver.com/law/state/montana/mt-code/montana_code_2-6-1205
HISTORICAL_OFFER_AGE_YEARS = 50
HISTORICAL_OFFER_NOTICE_DAYS = 30

#: ARM 44.14.202 as amended in 2015 (MAR notice 44-2-205): an electronic system holding records
#: kept more than 10 years is managed under ARMA's Generally Accepted Recordkeeping Principles.
#: The older paper-or-microfilm requirement (quoted on an out-of-date SOS page) was removed.
#: https://regulations.justia.com/states/montana/department-44/chapter-44-14/subchapter-44-14-2/rule-44-14-202
LONG_RETENTION_YEARS = 10
#: What the current rule asks, in the words the report and ``disposition due`` use.
LONG_RETENTION_RULE = (
    "ARM 44.14.202 (as amended in 2015) asks that an electronic system holding records kept "
    "more than 10 years be managed under ARMA's Generally Accepted Recordkeeping Principles "
    "(accountability, transparency, integrity, protection, compliance, availability, retention, "
    "disposition); no paper or microfilm copy is required. The archiver's fixity checks, "
    "audit log and exports cover integrity and availability; the records manager should keep "
    "the system's documentation and a plan for moving these records to future formats"
)

#: Form RM88 (internal disposal record) is kept 30 years after the date of destruction. A form
#: instruction, not a schedule item. https://sosmt.gov/records/local/
DISPOSAL_LOG_RETENTION_YEARS = 30


def local_date(record_time: datetime, tz: ZoneInfo = DENVER) -> date:
    """The calendar date of ``record_time`` in the city's time zone.

    A naive datetime is refused: guessing its zone could move a record across a year end.
    """
    if record_time.tzinfo is None or record_time.utcoffset() is None:
        raise RetentionError(
            f"record time {record_time.isoformat()} has no time zone",
            hint="store record times as aware datetimes (UTC from the platform is fine)",
        )
    return record_time.astimezone(tz).date()


def fiscal_year(d: date) -> int:
    """Montana local-government fiscal year (1 July - 30 June), named by the year it ends."""
    return d.year + 1 if d.month >= 7 else d.year


def clock_start(
    trigger: Trigger | str,
    record_time: datetime,
    *,
    tz: ZoneInfo = DENVER,
    audit_received: Mapping[int, date] = _NO_AUDITS,
) -> date | None:
    """The date the retention period starts counting from, or ``None`` if not yet knowable.

    * ``creation``: the record's local date.
    * ``calendar_year_end``: 1 January after the record's local year.
    * ``fiscal_year_end``: the SOS rule is that a fiscal-year clock "starts in the month the final
      fiscal-year audit report is received", so this is the 1st of that month.
      ``audit_received`` maps a fiscal year (the year it ends) to the date its final audit
      report arrived. Until the clerk records that date the answer is ``None``: the audit is
      usually months after 30 June, and any guess would be too early.
    * ``event``: always ``None``; the archiver cannot see events such as "superseded".
    """
    try:
        trigger = Trigger(trigger)
    except ValueError:
        raise RetentionError(
            f"unknown retention trigger {trigger!r}",
            hint="use one of " + ", ".join(t.value for t in Trigger),
        ) from None
    local = local_date(record_time, tz)
    if trigger is Trigger.CREATION:
        return local
    if trigger is Trigger.CALENDAR_YEAR_END:
        return date(local.year + 1, 1, 1)
    if trigger is Trigger.FISCAL_YEAR_END:
        fy = fiscal_year(local)
        received = audit_received.get(fy)
        if received is None:
            return None
        if received <= date(fy, 6, 30):
            raise RetentionError(
                f"audit report for fiscal year {fy} recorded as received {received.isoformat()}, "
                f"before that fiscal year ended on {fy}-06-30",
                hint=f"correct the audit-received date for FY{fy} (the year the fiscal year ends)",
            )
        return received.replace(day=1)
    return None  # Trigger.EVENT


def add_years(d: date, years: int) -> date:
    """``d`` moved by whole years; 29 February lands on 28 February in a common year.

    28 February rather than 1 March: the retention has then run for the same number of
    calendar years, and rounding into the next month would add a day nobody asked for.
    """
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February in a common year
        return d.replace(year=d.year + years, day=28)


def eligible_on(
    item: ScheduleItem,
    record_time: datetime,
    *,
    tz: ZoneInfo = DENVER,
    audit_received: Mapping[int, date] = _NO_AUDITS,
) -> date | None:
    """First date a record under ``item`` may be disposed of, or ``None``.

    ``None`` for permanent items, event-triggered items (the event date is not in the record)
    and fiscal-year items whose audit date is not recorded. Holds and approvals are separate
    checks: this date is only the earliest the schedule allows.
    """
    retention = item.retention
    if retention.permanent or retention.years is None or item.trigger is None:
        return None
    start = clock_start(item.trigger, record_time, tz=tz, audit_received=audit_received)
    if start is None:
        return None
    return add_years(start, retention.years)


def bundle_eligible_on(dates: Iterable[date | None]) -> date | None:
    """A bundle is sealed as one unit, so it may go only when its last record may go.

    Any ``None`` makes the bundle ``None`` (not eligible); so does an empty bundle, because
    nothing in it says a schedule allows disposal.
    """
    latest: date | None = None
    for d in dates:
        if d is None:
            return None
        if latest is None or d > latest:
            latest = d
    return latest


def propagate_revisits(
    eligible: Mapping[str, date | None], refs: Iterable[tuple[str, str]]
) -> dict[str, date | None]:
    """Hold back originals that later bundles still point at.

    Each ``(referrer, original)`` pair says the referrer's revisit records (WARC revisits,
    edit chains) need the original's bytes, so the original may not be eligible before the
    referrer. The result is the least fixed point of ``original >= referrer`` with ``None``
    as "never", so chains and cycles are both safe: every member of a cycle ends at the
    cycle's latest date. A bundle named in ``refs`` but missing from ``eligible`` counts as
    ``None``; an unknown referrer must not free its original.
    """
    pairs = list(refs)
    result: dict[str, date | None] = dict(eligible)
    originals_of: defaultdict[str, set[str]] = defaultdict(set)
    for referrer, original in pairs:
        originals_of[referrer].add(original)
        result.setdefault(referrer, None)
        result.setdefault(original, None)
    # Worklist: a bundle whose date rose must push its originals again. Dates only ever rise
    # (None is the top), and there are finitely many values, so this terminates.
    pending = list(originals_of)
    while pending:
        referrer = pending.pop()
        floor = result[referrer]
        for original in originals_of[referrer]:
            current = result[original]
            raised = _later(current, floor)
            if raised != current:
                result[original] = raised
                if original in originals_of:
                    pending.append(original)
    return result


def _later(a: date | None, b: date | None) -> date | None:
    if a is None or b is None:
        return None
    return max(a, b)


def needs_historical_offer(record_time: datetime, on: date, *, tz: ZoneInfo = DENVER) -> bool:
    """True if the record is *more than* 50 years old on ``on`` (MCA 2-6-1205).

    Such a record must be offered to the Montana Historical Society and others, with at least
    ``HISTORICAL_OFFER_NOTICE_DAYS`` days' notice, before it may be destroyed. Exactly 50
    years old is not yet "more than".
    """
    return on > add_years(local_date(record_time, tz), HISTORICAL_OFFER_AGE_YEARS)


def long_retention_flag(item: ScheduleItem) -> bool:
    """True if records under ``item`` may be kept more than 10 years (ARM 44.14.202: GARP).

    Event-triggered items are flagged too: the time from creation to the event is unbounded,
    and the flag only asks the records manager to look.
    """
    retention = item.retention
    if retention.permanent or retention.event is not None:
        return True
    return retention.years is not None and retention.years > LONG_RETENTION_YEARS


def parse_time(value: str | None) -> datetime | None:
    """Catalog times are ISO-8601 UTC strings; a naive one is taken as UTC."""
    if not value:
        return None
    d = datetime.fromisoformat(value)
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)
