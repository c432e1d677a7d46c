"""Schedule loader: shipped data loads, and every bad file names file, key and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from archiver.errors import ConfigError, RetentionError
from archiver.retention.schedules import (
    Disposal,
    Retention,
    Trigger,
    check_schedules,
    load_schedules,
    schedule_files,
)

SHIPPED = Path(__file__).resolve().parents[2] / "retention_schedules"

GOOD_HEAD = """
[schedule]
key = "LG9.2020"
number = "9"
title = "Test schedule"
revised = "2020-01"
status = "current"
source = "https://example.org/schedule-9"
"""

GOOD_ITEM = """
[[items]]
number = "12"
title = "Test item"
retention = { years = 3 }
trigger = "calendar_year_end"
disposal = "RM88"
source = "https://example.org/schedule-9#12"
verified = true
"""


def write(tmp_path: Path, body: str, name: str = "lg9.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# --- the shipped schedules -----------------------------------------------------------------


def test_every_shipped_schedule_loads_and_every_item_has_a_source() -> None:
    assert check_schedules(SHIPPED) == []
    schedules = load_schedules(SHIPPED)
    assert len(schedules.schedules) == len(schedule_files(SHIPPED)) >= 1
    items = list(schedules.items())
    assert items, "at least one confirmed item ships"
    for schedule in schedules.schedules:
        assert schedule.source.strip()
    for item in items:
        assert item.source.strip(), item.ref
        assert isinstance(item.verified, bool)
        if not item.verified:
            assert item.notes.strip(), f"{item.ref} is unverified and must say why"


def test_shipped_items_are_the_confirmed_ones() -> None:
    schedules = load_schedules(SHIPPED)
    assert schedules.refs == ("LG1.2006-1", "LG1.2006-2")
    program = schedules.item("LG1.2006-1")
    assert program.retention == Retention(permanent=True)
    assert program.verified is True
    assert program.disposal is Disposal.NONE
    assert "12535" in program.source
    routine = schedules.item("LG1.2006-2")
    assert routine.verified is False
    assert routine.retention.years == 3
    assert routine.trigger is Trigger.EVENT  # the trigger is cut off in the source


def test_mapping_example_is_not_read_as_a_schedule() -> None:
    assert all(not p.name.startswith("mapping") for p in schedule_files(SHIPPED))


# --- item lookup -----------------------------------------------------------------------------


def test_unknown_item_suggests_close_refs(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD + GOOD_ITEM)
    schedules = load_schedules(tmp_path)
    assert schedules.item("LG9.2020-12").title == "Test item"
    with pytest.raises(RetentionError, match=r"did you mean 'LG9.2020-12'"):
        schedules.item("LG9.2020-13")
    with pytest.raises(RetentionError, match=r"did you mean 'LG9.2020-12'"):
        schedules.item("LG9.202-12")


def test_ref_into_schedule_without_items_says_so() -> None:
    schedules = load_schedules(SHIPPED)
    with pytest.raises(RetentionError, match=r"LG1\.2017.*has no confirmed items"):
        schedules.item("LG1.2017-1")


def test_good_file_loads_all_fields(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD + GOOD_ITEM)
    (schedule,) = load_schedules(tmp_path).schedules
    assert schedule.key == "LG9.2020"
    (item,) = schedule.items
    assert item.ref == "LG9.2020-12"
    assert item.retention == Retention(years=3)
    assert item.trigger is Trigger.CALENDAR_YEAR_END
    assert item.disposal is Disposal.RM88


def test_integer_item_numbers_are_accepted(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD + GOOD_ITEM.replace('number = "12"', "number = 12"))
    assert load_schedules(tmp_path).item("LG9.2020-12").number == "12"


def test_event_retention_with_years(tmp_path: Path) -> None:
    item = GOOD_ITEM.replace(
        "retention = { years = 3 }", 'retention = { years = 2, event = "after superseded" }'
    ).replace('"calendar_year_end"', '"event"')
    write(tmp_path, GOOD_HEAD + item)
    got = load_schedules(tmp_path).item("LG9.2020-12")
    assert str(got.retention) == "2 years after: after superseded"


# --- loader errors: each names file, key and a fix -------------------------------------------

BAD_CASES = [
    pytest.param(
        GOOD_ITEM.replace("trigger =", "trigerr ="), "items[0].trigerr", "trigger", id="unknown-key"
    ),
    pytest.param(
        GOOD_ITEM.replace('"calendar_year_end"', '"year_end"'),
        "items[0].trigger",
        "calendar_year_end",
        id="bad-trigger",
    ),
    pytest.param(
        GOOD_ITEM.replace('source = "https://example.org/schedule-9#12"\n', ""),
        "items[0].source",
        "URL or citation",
        id="missing-source",
    ),
    pytest.param(
        GOOD_ITEM.replace('source = "https://example.org/schedule-9#12"', 'source = "  "'),
        "items[0].source",
        "URL or citation",
        id="empty-source",
    ),
    pytest.param(
        GOOD_ITEM.replace("verified = true\n", ""),
        "items[0].verified",
        "verified = true",
        id="missing-verified",
    ),
    pytest.param(
        GOOD_ITEM.replace("verified = true", 'verified = "yes"'),
        "items[0].verified",
        "true only if",
        id="verified-not-bool",
    ),
    pytest.param(
        GOOD_ITEM.replace("verified = true", "verified = false"),
        "items[0].notes",
        "explain in notes",
        id="unverified-without-notes",
    ),
    pytest.param(GOOD_ITEM + GOOD_ITEM, "items[1].number", "appear once", id="duplicate-number"),
    pytest.param(
        GOOD_ITEM.replace('"RM88"', '"RM99"'), "items[0].disposal", '"RM88"', id="bad-disposal"
    ),
    pytest.param(
        GOOD_ITEM.replace('disposal = "RM88"\n', ""),
        "items[0].disposal",
        "RM60",
        id="missing-disposal",
    ),
    pytest.param(
        GOOD_ITEM.replace("years = 3", "years = -1"),
        "items[0].retention.years",
        "years = 3",
        id="negative-years",
    ),
    pytest.param(
        GOOD_ITEM.replace("years = 3", "years = 3, permanent = true"),
        "items[0].retention",
        "only permanent",
        id="permanent-and-years",
    ),
    pytest.param(
        GOOD_ITEM.replace("{ years = 3 }", "{}"),
        "items[0].retention",
        "permanent = true",
        id="no-period",
    ),
    pytest.param(
        GOOD_ITEM.replace("{ years = 3 }", "{ yeras = 3 }"),
        "items[0].retention.yeras",
        "years",
        id="unknown-retention-key",
    ),
    pytest.param(
        GOOD_ITEM.replace('trigger = "calendar_year_end"\n', ""),
        "items[0].trigger",
        "creation",
        id="missing-trigger",
    ),
    pytest.param(
        GOOD_ITEM.replace('"calendar_year_end"', '"event"'),
        "items[0].retention.event",
        "until superseded",
        id="event-trigger-without-event",
    ),
    pytest.param(
        GOOD_ITEM.replace('number = "12"', 'number = "12 b"'),
        "items[0].number",
        "exactly as the schedule prints",
        id="number-with-space",
    ),
]


@pytest.mark.parametrize(("item", "key", "fix"), BAD_CASES)
def test_bad_item_names_file_key_and_fix(tmp_path: Path, item: str, key: str, fix: str) -> None:
    path = write(tmp_path, GOOD_HEAD + item)
    with pytest.raises(ConfigError) as info:
        load_schedules(tmp_path)
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert err.hint is not None and fix in err.hint
    message = str(err)
    assert str(path) in message and key in message and "\n" not in message


@pytest.mark.parametrize(
    ("head", "key", "fix"),
    [
        (
            GOOD_HEAD.replace('revised = "2020-01"', 'revised = "Jan 2020"'),
            "schedule.revised",
            "YYYY-MM",
        ),
        (
            GOOD_HEAD.replace('status = "current"', 'status = "old"'),
            "schedule.status",
            "superseded",
        ),
        (GOOD_HEAD.replace('key = "LG9.2020"', 'key = "LG-9"'), "schedule.key", "no hyphens"),
        (
            GOOD_HEAD.replace('source = "https://example.org/schedule-9"\n', ""),
            "schedule.source",
            "URL",
        ),
        (GOOD_HEAD + 'colour = "red"\n', "schedule.colour", "remove it"),
        ("[schedul]\nkey = 'x'\n", "schedul", "remove it"),
    ],
)
def test_bad_schedule_header(tmp_path: Path, head: str, key: str, fix: str) -> None:
    path = write(tmp_path, head + GOOD_ITEM)
    with pytest.raises(ConfigError) as info:
        load_schedules(tmp_path)
    assert (info.value.file, info.value.key) == (str(path), key)
    assert info.value.hint is not None and fix in info.value.hint


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "[[items]\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_schedules(tmp_path)
    assert info.value.file == str(path)


def test_duplicate_schedule_key_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD + GOOD_ITEM, "a.toml")
    second = write(tmp_path, GOOD_HEAD + GOOD_ITEM, "b.toml")
    with pytest.raises(ConfigError, match=r"also used by .*a\.toml") as info:
        load_schedules(tmp_path)
    assert (info.value.file, info.value.key) == (str(second), "schedule.key")


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_schedules(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no schedule files"):
        load_schedules(tmp_path)


def test_check_collects_every_problem(tmp_path: Path) -> None:
    write(
        tmp_path,
        GOOD_HEAD.replace('status = "current"', 'status = "old"')
        + GOOD_ITEM.replace('"calendar_year_end"', '"year_end"')
        + GOOD_ITEM.replace('source = "https://example.org/schedule-9#12"\n', "").replace(
            '"12"', '"13"'
        ),
        "a.toml",
    )
    write(tmp_path, "not = [valid", "b.toml")
    problems = check_schedules(tmp_path)
    keys = [(Path(p.file).name, p.key) for p in problems]
    assert ("a.toml", "schedule.status") in keys
    assert ("a.toml", "items[0].trigger") in keys
    assert ("a.toml", "items[1].source") in keys
    assert ("b.toml", None) in keys
    assert all(str(p) for p in problems)
