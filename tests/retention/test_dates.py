"""Disposition dates: leap days, month ends, fiscal years, time zones, revisit propagation."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.errors import RetentionError
from archiver.retention.dates import (
    DENVER,
    add_years,
    bundle_eligible_on,
    clock_start,
    eligible_on,
    fiscal_year,
    local_date,
    long_retention_flag,
    needs_historical_offer,
    propagate_revisits,
)
from archiver.retention.schedules import Disposal, Retention, ScheduleItem, Trigger

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31))
aware_times = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def make_item(
    years: int | None = 3,
    trigger: Trigger | None = Trigger.CREATION,
    *,
    permanent: bool = False,
    event: str | None = None,
) -> ScheduleItem:
    return ScheduleItem(
        ref="T1.2020-1",
        schedule_key="T1.2020",
        number="1",
        title="Test",
        retention=Retention(years=years, permanent=permanent, event=event),
        trigger=trigger,
        disposal=Disposal.NONE if permanent else Disposal.RM88,
        source="test",
        verified=True,
    )


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0, tz: ZoneInfo = DENVER) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


# --- add_years ---------------------------------------------------------------------------------


@given(dates, st.integers(min_value=0, max_value=100))
def test_add_years_keeps_month_and_never_overflows(d: date, years: int) -> None:
    got = add_years(d, years)
    assert got.year == d.year + years
    assert got.month == d.month
    if (d.month, d.day) == (2, 29) and not calendar.isleap(got.year):
        assert got.day == 28
    else:
        assert got.day == d.day


@given(dates, st.integers(min_value=0, max_value=100))
def test_add_years_is_monotone(d: date, years: int) -> None:
    assert add_years(d, years) >= d
    assert add_years(d + timedelta(days=1), years) >= add_years(d, years)


@given(st.integers(min_value=1900, max_value=2396).filter(calendar.isleap), st.integers(1, 100))
def test_leap_day_plus_years(year: int, years: int) -> None:
    expected_day = 29 if calendar.isleap(year + years) else 28
    assert add_years(date(year, 2, 29), years) == date(year + years, 2, expected_day)


def test_leap_day_examples() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2000, 2, 29), 100) == date(2100, 2, 28)  # 2100 is not a leap year


@given(st.integers(1900, 2300), st.integers(1, 12), st.integers(0, 50))
def test_month_ends_stay_month_ends_except_february(year: int, month: int, years: int) -> None:
    last = date(year, month, calendar.monthrange(year, month)[1])
    got = add_years(last, years)
    assert got.day == calendar.monthrange(got.year, month)[1] or (month == 2 and got.day == 28)


# --- clock_start -----------------------------------------------------------------------------


def test_new_years_eve_in_denver_is_that_year_though_utc_says_january() -> None:
    late = at(2024, 12, 31, 23, 30)
    assert late.astimezone(UTC).date() == date(2025, 1, 1)
    assert clock_start(Trigger.CREATION, late) == date(2024, 12, 31)
    assert clock_start(Trigger.CALENDAR_YEAR_END, late) == date(2025, 1, 1)
    # The same instant given in UTC gives the same answer: only the instant matters.
    assert clock_start(Trigger.CALENDAR_YEAR_END, late.astimezone(UTC)) == date(2025, 1, 1)
    item = make_item(3, Trigger.CALENDAR_YEAR_END)
    assert eligible_on(item, late.astimezone(UTC)) == date(2028, 1, 1)


def test_other_time_zone_is_honoured() -> None:
    instant = datetime(2025, 1, 1, 6, 30, tzinfo=UTC)
    assert clock_start(Trigger.CREATION, instant) == date(2024, 12, 31)
    assert clock_start(Trigger.CREATION, instant, tz=ZoneInfo("Europe/Berlin")) == date(2025, 1, 1)


def test_naive_time_is_refused() -> None:
    with pytest.raises(RetentionError, match="no time zone"):
        clock_start(Trigger.CREATION, datetime(2024, 1, 1))


@given(aware_times)
def test_calendar_year_end_is_next_new_year(t: datetime) -> None:
    local = local_date(t)
    assert clock_start(Trigger.CALENDAR_YEAR_END, t) == date(local.year + 1, 1, 1)
    assert clock_start(Trigger.CREATION, t) == local


@given(aware_times)
def test_event_trigger_is_never_computable(t: datetime) -> None:
    assert clock_start(Trigger.EVENT, t) is None


def test_fiscal_year_boundary() -> None:
    assert fiscal_year(date(2024, 6, 30)) == 2024
    assert fiscal_year(date(2024, 7, 1)) == 2025
    audits = {2024: date(2024, 11, 18), 2025: date(2025, 12, 3)}
    june = at(2024, 6, 30, 23, 59)
    july = at(2024, 7, 1, 0, 1)
    assert clock_start(Trigger.FISCAL_YEAR_END, june, audit_received=audits) == date(2024, 11, 1)
    assert clock_start(Trigger.FISCAL_YEAR_END, july, audit_received=audits) == date(2025, 12, 1)
    # 1 July 05:30 UTC is still 30 June in Bozeman: fiscal year 2024.
    utc = datetime(2024, 7, 1, 5, 30, tzinfo=UTC)
    assert clock_start(Trigger.FISCAL_YEAR_END, utc, audit_received=audits) == date(2024, 11, 1)


def test_fiscal_year_without_audit_date_is_not_computable() -> None:
    assert clock_start(Trigger.FISCAL_YEAR_END, at(2024, 3, 1)) is None
    item = make_item(5, Trigger.FISCAL_YEAR_END)
    assert eligible_on(item, at(2024, 3, 1), audit_received={2023: date(2023, 10, 1)}) is None
    got = eligible_on(item, at(2024, 3, 1), audit_received={2024: date(2024, 10, 15)})
    assert got == date(2029, 10, 1)


def test_audit_before_fiscal_year_end_is_refused() -> None:
    with pytest.raises(RetentionError, match="FY2024"):
        clock_start(
            Trigger.FISCAL_YEAR_END, at(2024, 3, 1), audit_received={2024: date(2024, 6, 30)}
        )


@given(aware_times, st.integers(1, 18), st.integers(1, 28))
def test_fiscal_clock_starts_in_audit_month(t: datetime, months_after: int, day: int) -> None:
    fy = fiscal_year(local_date(t))
    month_index = 6 + months_after  # months after June of the fiscal year's end
    received = date(fy + (month_index - 1) // 12, (month_index - 1) % 12 + 1, day)
    start = clock_start(Trigger.FISCAL_YEAR_END, t, audit_received={fy: received})
    assert start == received.replace(day=1)
    assert start is not None and start > date(fy, 6, 1)


# --- eligible_on -----------------------------------------------------------------------------


def test_permanent_and_event_items_are_never_eligible() -> None:
    t = at(1990, 1, 1)
    assert eligible_on(make_item(None, None, permanent=True), t) is None
    assert eligible_on(make_item(None, Trigger.EVENT, event="until superseded"), t) is None
    assert eligible_on(make_item(3, Trigger.EVENT, event="after superseded"), t) is None


@given(aware_times, st.integers(0, 75))
def test_creation_retention_is_anniversary(t: datetime, years: int) -> None:
    got = eligible_on(make_item(years, Trigger.CREATION), t)
    assert got == add_years(local_date(t), years)


# Any zone the input may carry: every IANA zone, and bare fixed offsets (what an ISO string
# with "+05:45" parses to). Whole minutes only: that is all a UTC offset string can carry.
input_zones = st.one_of(
    st.timezones(),
    st.builds(
        lambda minutes: timezone(timedelta(minutes=minutes)),
        st.integers(-23 * 60 - 59, 23 * 60 + 59),
    ),
)
city_zones = st.one_of(st.just(DENVER), st.timezones())


@given(
    aware_times,
    input_zones,
    city_zones,
    st.sampled_from([Trigger.CREATION, Trigger.CALENDAR_YEAR_END, Trigger.FISCAL_YEAR_END]),
    st.integers(0, 75),
)
def test_eligibility_depends_on_the_instant_and_the_city_zone_only(
    instant: datetime, carried: tzinfo, city: ZoneInfo, trigger: Trigger, years: int
) -> None:
    """The same instant written in any zone gives the same date; only the city's zone counts."""
    item = make_item(years, trigger)
    local = instant.astimezone(city).date()
    fy = fiscal_year(local)
    audits = {fy: date(fy, 11, 15)}
    expected = eligible_on(item, instant, tz=city, audit_received=audits)
    shown = instant.astimezone(carried)
    assert shown == instant  # same instant, other wall clock
    assert eligible_on(item, shown, tz=city, audit_received=audits) == expected
    if trigger is Trigger.CREATION:
        assert expected == add_years(local, years)
    elif trigger is Trigger.CALENDAR_YEAR_END:
        assert expected == add_years(date(local.year + 1, 1, 1), years)
    else:
        assert expected == add_years(date(fy, 11, 1), years)


# --- bundles and revisits ----------------------------------------------------------------------


@given(st.lists(dates, min_size=1))
def test_bundle_is_its_latest_record(ds: list[date]) -> None:
    assert bundle_eligible_on(ds) == max(ds)


@given(st.lists(st.one_of(st.none(), dates), min_size=1).filter(lambda xs: None in xs))
def test_bundle_with_any_uncomputable_record_is_not_eligible(ds: list[date | None]) -> None:
    assert bundle_eligible_on(ds) is None


def test_empty_bundle_is_not_eligible() -> None:
    assert bundle_eligible_on([]) is None


def test_revisit_chain_holds_back_originals() -> None:
    d = date
    eligible = {"a": d(2020, 1, 1), "b": d(2021, 1, 1), "c": d(2025, 1, 1), "x": d(2019, 1, 1)}
    # c revisits b, b revisits a
    got = propagate_revisits(eligible, [("c", "b"), ("b", "a")])
    assert got == {"a": d(2025, 1, 1), "b": d(2025, 1, 1), "c": d(2025, 1, 1), "x": d(2019, 1, 1)}


def test_revisit_from_uneligible_bundle_blocks_original() -> None:
    got = propagate_revisits({"a": date(2020, 1, 1), "b": None}, [("b", "a")])
    assert got == {"a": None, "b": None}


def test_unknown_referrer_blocks_original() -> None:
    got = propagate_revisits({"a": date(2020, 1, 1)}, [("gone", "a")])
    assert got == {"a": None, "gone": None}


def test_cycle_ends_at_the_cycle_maximum() -> None:
    eligible = {"a": date(2020, 1, 1), "b": date(2022, 1, 1), "c": date(2021, 1, 1)}
    got = propagate_revisits(eligible, [("a", "b"), ("b", "c"), ("c", "a")])
    assert set(got.values()) == {date(2022, 1, 1)}


def test_self_reference_is_harmless() -> None:
    assert propagate_revisits({"a": date(2020, 1, 1)}, [("a", "a")]) == {"a": date(2020, 1, 1)}


names = st.sampled_from("abcdefgh")


@given(
    st.dictionaries(names, st.one_of(st.none(), dates)),
    st.lists(st.tuples(names, names), max_size=30),
)
def test_propagation_reaches_a_fixed_point(
    eligible: dict[str, date | None], refs: list[tuple[str, str]]
) -> None:
    got = propagate_revisits(eligible, refs)
    # every constraint holds: the original is no earlier than its referrer (None = never)
    for referrer, original in refs:
        if got[referrer] is None:
            assert got[original] is None
        else:
            assert got[original] is None or got[original] >= got[referrer]  # type: ignore[operator]
    # nothing moved earlier, and nothing not named anywhere changed
    for name, before in eligible.items():
        if before is None:
            assert got[name] is None
        else:
            after = got[name]
            assert after is None or after >= before
    # applying it again changes nothing
    assert propagate_revisits(got, refs) == got


@given(
    st.dictionaries(names, dates, min_size=1),
    st.lists(st.tuples(names, names), max_size=30),
)
def test_propagation_is_least_fixed_point(
    eligible: dict[str, date], refs: list[tuple[str, str]]
) -> None:
    """Each bundle gets the latest date among bundles that (transitively) refer to it."""
    got = propagate_revisits(eligible, refs)
    referrers: dict[str, set[str]] = {}
    for referrer, original in refs:
        referrers.setdefault(original, set()).add(referrer)
    for name in got:
        seen, stack = {name}, [name]
        while stack:
            for r in referrers.get(stack.pop(), ()):
                if r not in seen:
                    seen.add(r)
                    stack.append(r)
        values = [eligible.get(n) for n in seen]
        expected = None if any(v is None for v in values) else max(v for v in values if v)
        assert got[name] == expected


# --- historical offer and long retention ---------------------------------------------------------


def test_historical_offer_after_fifty_years() -> None:
    made = at(1975, 6, 1)
    assert not needs_historical_offer(made, date(2025, 6, 1))  # exactly 50: not "more than"
    assert needs_historical_offer(made, date(2025, 6, 2))
    # Denver new year's eve vs UTC: the record is from 1974 locally.
    late = at(1974, 12, 31, 23, 30).astimezone(UTC)
    assert needs_historical_offer(late, date(2025, 1, 1))


@given(aware_times, dates)
def test_historical_offer_matches_fifty_year_anniversary(t: datetime, on: date) -> None:
    assert needs_historical_offer(t, on) == (on > add_years(local_date(t), 50))


@pytest.mark.parametrize(
    ("item", "flag"),
    [
        (make_item(None, None, permanent=True), True),
        (make_item(11), True),
        (make_item(10), False),
        (make_item(3), False),
        (make_item(None, Trigger.EVENT, event="until superseded"), True),
    ],
)
def test_long_retention_flag(item: ScheduleItem, flag: bool) -> None:
    assert long_retention_flag(item) is flag


def test_trigger_may_be_given_as_text() -> None:
    assert clock_start("calendar_year_end", at(2024, 5, 1)) == date(2025, 1, 1)
    with pytest.raises(RetentionError, match="unknown retention trigger 'yearly'"):
        clock_start("yearly", at(2024, 5, 1))
