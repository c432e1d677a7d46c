"""Retention schedules are data: one TOML file per schedule edition, checked before use.

The Montana Local Government Records Committee (LGRC) publishes numbered schedules (No. 1
General, No. 8 Municipal, ...) and revises them; an item's number only means something within
one *edition*. So every file declares a ``key`` naming one edition of one schedule
(``LG1.2006`` = LGRC Schedule No. 1 as of 2006), and an item is addressed by a **ref**::

    <schedule key>-<item number>        e.g.  LG1.2006-1

Keys contain no hyphen, so the ref splits unambiguously at the first ``-``. A new edition gets
a new key, so a mapping written against one edition can never silently point at a different
series after the state renumbers its items.

Nothing here is allowed to be guessed: every item carries ``source`` and ``verified``, and the
loader refuses a file that omits them. ``check_schedules`` collects every problem (for
``archiver schedules check``); ``load_schedules`` raises the first one as a ``ConfigError``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from archiver.errors import ConfigError, RetentionError

__all__ = [
    "Disposal",
    "Problem",
    "Retention",
    "Schedule",
    "ScheduleItem",
    "ScheduleSet",
    "Trigger",
    "check_schedules",
    "load_schedules",
    "schedule_files",
]


class Trigger(StrEnum):
    """What starts an item's retention clock (see ``archiver.retention.dates.clock_start``)."""

    CREATION = "creation"
    CALENDAR_YEAR_END = "calendar_year_end"
    FISCAL_YEAR_END = "fiscal_year_end"
    EVENT = "event"


class Disposal(StrEnum):
    """Which Secretary of State form a disposal goes through.

    RM88 is the internal disposal log used when no permission is needed (kept 30 years);
    RM60 asks the LGRC disposal subcommittee first. NONE is only valid for permanent items.
    """

    RM88 = "RM88"
    RM60 = "RM60"
    NONE = "none"


@dataclass(frozen=True)
class Retention:
    """A minimum retention period, exactly as the schedule states it.

    ``years`` alone counts from the item's trigger; ``event`` (with trigger ``event``) names an
    occurrence the archiver cannot see, such as "until superseded", optionally followed by
    ``years`` more. ``permanent`` excludes both.
    """

    years: int | None = None
    permanent: bool = False
    event: str | None = None

    def __str__(self) -> str:
        if self.permanent:
            return "permanent"
        if self.event and self.years is not None:
            return f"{self.years} years after: {self.event}"
        if self.event:
            return self.event
        return f"{self.years} years"


@dataclass(frozen=True)
class ScheduleItem:
    """One series of one schedule edition; ``ref`` is how mappings and the catalog name it."""

    ref: str
    schedule_key: str
    number: str
    title: str
    retention: Retention
    trigger: Trigger | None
    disposal: Disposal
    source: str
    verified: bool
    description: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Schedule:
    """One edition of one LGRC schedule, with only the items a source has confirmed."""

    key: str
    number: str
    title: str
    revised: str
    status: str
    source: str
    file: str
    items: tuple[ScheduleItem, ...] = ()
    adopted_by: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a schedule file, phrased so the records manager can fix it."""

    file: str
    key: str | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return str(self.as_error())

    def as_error(self) -> ConfigError:
        return ConfigError(self.message, file=self.file, key=self.key, hint=self.hint)


@dataclass(frozen=True)
class ScheduleSet:
    """Every loaded schedule, looked up by item ref."""

    schedules: tuple[Schedule, ...] = ()
    _by_ref: Mapping[str, ScheduleItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {item.ref: item for schedule in self.schedules for item in schedule.items}
        object.__setattr__(self, "_by_ref", index)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_ref))

    def items(self) -> Iterator[ScheduleItem]:
        for schedule in self.schedules:
            yield from schedule.items

    def schedule(self, key: str) -> Schedule:
        for schedule in self.schedules:
            if schedule.key == key:
                return schedule
        raise RetentionError(
            f"no retention schedule with key {key!r}",
            hint=_suggest(key, [s.key for s in self.schedules], "schedule keys"),
        )

    def __contains__(self, ref: object) -> bool:
        return ref in self._by_ref

    def current_editions(self, schedule: Schedule) -> list[Schedule]:
        """The ``status = "current"`` editions of the same schedule number, newest first.

        Supersession is expressed by ``status``: an edition marked ``superseded`` is replaced
        by the edition of the same ``number`` marked ``current`` (e.g. LG1.2006 by LG1.2017).
        """
        same = [
            s
            for s in self.schedules
            if s.number == schedule.number and s.status == "current" and s.key != schedule.key
        ]
        return sorted(same, key=lambda s: s.revised, reverse=True)

    def item(self, ref: str) -> ScheduleItem:
        """Return the item, or explain why the ref names nothing.

        A ref into a schedule we know but whose items are unconfirmed gets its own message,
        because the fix there is research, not a typo.
        """
        found = self._by_ref.get(ref)
        if found is not None:
            return found
        key = ref.split("-", 1)[0]
        for schedule in self.schedules:
            if schedule.key == key and "-" in ref:
                return _raise_unknown_item(ref, schedule, self.refs)
        raise RetentionError(
            f"no retention schedule item {ref!r}",
            hint=_suggest(ref, self.refs, "item refs"),
        )


def _raise_unknown_item(ref: str, schedule: Schedule, refs: tuple[str, ...]) -> ScheduleItem:
    if not schedule.items:
        raise RetentionError(
            f"no retention schedule item {ref!r}: schedule {schedule.key} ({schedule.file}) "
            "has no confirmed items",
            hint=f"add the item to {schedule.file} with its source, or map to another item",
        )
    raise RetentionError(
        f"no item {ref.split('-', 1)[1]!r} in schedule {schedule.key} ({schedule.file})",
        hint=_suggest(ref, refs, "item refs"),
    )


def _suggest(word: str, choices: list[str] | tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if choices:
        return f"known {what}: " + ", ".join(choices)
    return f"there are no {what} yet"


# --- loading ------------------------------------------------------------------------------

_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")
_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.()/]*$")
_REVISED_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_STATUSES = ("current", "superseded")

_SCHEDULE_FIELDS = ("key", "number", "title", "revised", "status", "source", "adopted_by", "notes")
_SCHEDULE_KEYS = set(_SCHEDULE_FIELDS)
_SCHEDULE_REQUIRED = ("key", "number", "title", "revised", "status", "source")
_ITEM_KEYS = {
    "number",
    "title",
    "description",
    "retention",
    "trigger",
    "disposal",
    "source",
    "verified",
    "notes",
}
_ITEM_REQUIRED = ("number", "title", "retention", "source", "verified")
_RETENTION_KEYS = {"years", "permanent", "event"}


def schedule_files(directory: Path) -> list[Path]:
    """Schedule files are ``*.toml`` in the directory, except ``mapping*.toml`` examples."""
    return sorted(p for p in directory.glob("*.toml") if not p.name.startswith("mapping"))


def check_schedules(directory: Path) -> list[Problem]:
    """Every problem in every schedule file, in file order; empty means the set loads."""
    problems, _ = _check(directory)
    return problems


def load_schedules(directory: Path) -> ScheduleSet:
    """Load every schedule in ``directory``; raise ``ConfigError`` on the first problem."""
    problems, schedules = _check(directory)
    if problems:
        raise problems[0].as_error()
    return ScheduleSet(tuple(schedules))


def _check(directory: Path) -> tuple[list[Problem], list[Schedule]]:
    where = str(directory)
    if not directory.is_dir():
        return [Problem(where, None, "retention schedule directory does not exist", _DIR_HINT)], []
    files = schedule_files(directory)
    if not files:
        return [Problem(where, None, "no schedule files (*.toml) in directory", _DIR_HINT)], []
    problems: list[Problem] = []
    schedules: list[Schedule] = []
    seen_keys: dict[str, str] = {}
    for path in files:
        schedule = _check_file(path, problems)
        if schedule is None:
            continue
        if schedule.key in seen_keys:
            problems.append(
                Problem(
                    schedule.file,
                    "schedule.key",
                    f"schedule key {schedule.key!r} is also used by {seen_keys[schedule.key]}",
                    "give each schedule edition its own key, e.g. LG1.2017 and LG1.2006",
                )
            )
            continue
        seen_keys[schedule.key] = schedule.file
        schedules.append(schedule)
    return problems, schedules


_DIR_HINT = "point the configuration at the retention_schedules/ folder shipped with the archiver"


def _check_file(path: Path, problems: list[Problem]) -> Schedule | None:
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, None, f"cannot read file: {exc}", "check the file"))
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(file, None, f"not valid TOML: {exc}", "fix the TOML syntax"))
        return None
    before = len(problems)
    ok = _check_unknown(data, {"schedule", "items"}, "", file, problems)
    head = data.get("schedule")
    if not isinstance(head, dict):
        problems.append(
            Problem(file, "schedule", "missing [schedule] table", "add [schedule] with key etc.")
        )
        return None
    ok = _check_unknown(head, _SCHEDULE_KEYS, "schedule.", file, problems) and ok
    values: dict[str, str] = {}
    for name in _SCHEDULE_FIELDS:
        value = _text(head, name, "schedule.", file, problems, required=name in _SCHEDULE_REQUIRED)
        if value is None:
            ok = False
        values[name] = value or ""
    key = values["key"]
    if key and not _KEY_RE.match(key):
        ok = _bad(
            problems,
            file,
            "schedule.key",
            f"key {key!r} is not letters, digits and dots",
            "use e.g. LG1.2017 (no hyphens: refs are <key>-<item number>)",
        )
    number = values["number"]
    if values["revised"] and not _REVISED_RE.match(values["revised"]):
        ok = _bad(
            problems,
            file,
            "schedule.revised",
            f"{values['revised']!r} is not a date",
            'write the revision as "YYYY", "YYYY-MM" or "YYYY-MM-DD"',
        )
    if values["status"] and values["status"] not in _STATUSES:
        ok = _bad(
            problems,
            file,
            "schedule.status",
            f"unknown status {values['status']!r}",
            'use "current" or "superseded"',
        )
    raw_items = data.get("items", [])
    if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
        problems.append(
            Problem(file, "items", "items must be an array of tables", "write each as [[items]]")
        )
        return None
    items: list[ScheduleItem] = []
    numbers: set[str] = set()
    for index, raw in enumerate(raw_items):
        item = _check_item(raw, f"items[{index}].", key, file, problems)
        if item is None:
            continue
        if item.number in numbers:
            _bad(
                problems,
                file,
                f"items[{index}].number",
                f"item number {item.number!r} appears twice in this schedule",
                "each item number may appear once; remove or renumber the duplicate",
            )
            continue
        numbers.add(item.number)
        items.append(item)
    if not ok or len(problems) > before:
        return None
    return Schedule(
        key=key,
        number=number,
        title=values["title"],
        revised=values["revised"],
        status=values["status"],
        source=values["source"],
        file=file,
        items=tuple(items),
        adopted_by=values["adopted_by"],
        notes=values["notes"],
    )


def _check_item(
    raw: dict[str, Any], prefix: str, key: str, file: str, problems: list[Problem]
) -> ScheduleItem | None:
    before = len(problems)
    _check_unknown(raw, _ITEM_KEYS, prefix, file, problems)
    texts: dict[str, str] = {}
    for name in ("number", "title", "description", "source", "notes"):
        texts[name] = (
            _text(raw, name, prefix, file, problems, required=name in _ITEM_REQUIRED) or ""
        )
    number = texts["number"]
    if number and not _NUMBER_RE.match(number):
        _bad(
            problems,
            file,
            f"{prefix}number",
            f"item number {number!r} has spaces or symbols",
            "copy the item number exactly as the schedule prints it (letters, digits, dots)",
        )
    verified = raw.get("verified")
    if "verified" in raw and not isinstance(verified, bool):
        _bad(
            problems,
            file,
            f"{prefix}verified",
            "verified must be true or false",
            "true only if the item's number, title and retention were read in its source",
        )
    elif "verified" not in raw:
        _bad(
            problems,
            file,
            f"{prefix}verified",
            "missing verified",
            "add verified = true (read in the source) or false with the reason in notes",
        )
    if verified is False and not texts["notes"]:
        _bad(
            problems,
            file,
            f"{prefix}notes",
            "an unverified item needs notes saying why",
            "explain in notes what is not confirmed and where the item's existence comes from",
        )
    retention = _check_retention(raw.get("retention"), prefix, file, problems)
    trigger = _check_trigger(raw, retention, prefix, file, problems)
    disposal = _check_disposal(raw, retention, prefix, file, problems)
    if len(problems) > before or retention is None or disposal is None:
        return None
    return ScheduleItem(
        ref=f"{key}-{number}",
        schedule_key=key,
        number=number,
        title=texts["title"],
        retention=retention,
        trigger=trigger,
        disposal=disposal,
        source=texts["source"],
        verified=bool(verified),
        description=texts["description"],
        notes=texts["notes"],
    )


def _check_retention(
    raw: object, prefix: str, file: str, problems: list[Problem]
) -> Retention | None:
    where = f"{prefix}retention"
    hint = 'write retention = { years = 3 }, { permanent = true } or { event = "until superseded" }'
    if raw is None:
        _bad(problems, file, where, "missing retention", hint)
        return None
    if not isinstance(raw, dict):
        _bad(problems, file, where, "retention must be a table", hint)
        return None
    before = len(problems)
    _check_unknown(raw, _RETENTION_KEYS, f"{where}.", file, problems)
    years = raw.get("years")
    permanent = raw.get("permanent", False)
    event = raw.get("event")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int) or years < 0):
        _bad(
            problems,
            file,
            f"{where}.years",
            f"years must be a whole number >= 0, not {years!r}",
            "write e.g. years = 3",
        )
    if not isinstance(permanent, bool):
        _bad(
            problems,
            file,
            f"{where}.permanent",
            "permanent must be true or false",
            "write permanent = true, or leave it out",
        )
    if event is not None and (not isinstance(event, str) or not event.strip()):
        _bad(
            problems,
            file,
            f"{where}.event",
            "event must be a non-empty string",
            'describe the event, e.g. event = "until superseded"',
        )
    if len(problems) > before:
        return None
    if permanent is True and (years is not None or event is not None):
        _bad(
            problems,
            file,
            where,
            "permanent excludes years and event",
            "keep only permanent = true",
        )
        return None
    if permanent is not True and years is None and event is None:
        _bad(problems, file, where, "retention gives no period", hint)
        return None
    return Retention(years=years, permanent=permanent is True, event=event)


def _check_trigger(
    raw: dict[str, Any],
    retention: Retention | None,
    prefix: str,
    file: str,
    problems: list[Problem],
) -> Trigger | None:
    where = f"{prefix}trigger"
    choices = ", ".join(t.value for t in Trigger)
    value = raw.get("trigger")
    if value is None:
        if retention is not None and not retention.permanent:
            _bad(problems, file, where, "missing trigger", f"add trigger = one of {choices}")
        return None
    try:
        trigger = Trigger(value)
    except ValueError:
        _bad(problems, file, where, f"unknown trigger {value!r}", f"use one of {choices}")
        return None
    if retention is None:
        return trigger
    if retention.permanent:
        _bad(problems, file, where, "a permanent item has no trigger", "remove trigger")
    elif retention.event is not None and trigger is not Trigger.EVENT:
        _bad(
            problems,
            file,
            where,
            f"retention names an event but trigger is {value!r}",
            'use trigger = "event", or drop retention.event',
        )
    elif retention.event is None and trigger is Trigger.EVENT:
        _bad(
            problems,
            file,
            f"{prefix}retention.event",
            'trigger "event" needs retention.event',
            'name the event, e.g. event = "until superseded"',
        )
    return trigger


def _check_disposal(
    raw: dict[str, Any],
    retention: Retention | None,
    prefix: str,
    file: str,
    problems: list[Problem],
) -> Disposal | None:
    where = f"{prefix}disposal"
    value = raw.get("disposal")
    permanent = retention is not None and retention.permanent
    if value is None:
        if permanent:
            return Disposal.NONE
        _bad(
            problems,
            file,
            where,
            "missing disposal",
            'add disposal = "RM88" (no permission needed) or "RM60" (ask the subcommittee)',
        )
        return None
    try:
        disposal = Disposal(value)
    except ValueError:
        _bad(
            problems,
            file,
            where,
            f"unknown disposal {value!r}",
            'use "RM88" (no permission needed) or "RM60" (ask the subcommittee)',
        )
        return None
    if permanent and disposal is not Disposal.NONE:
        _bad(problems, file, where, "a permanent item is never disposed of", "remove disposal")
        return None
    if not permanent and disposal is Disposal.NONE:
        _bad(
            problems,
            file,
            where,
            'disposal "none" is only for permanent items',
            'use "RM88" or "RM60"',
        )
        return None
    return disposal


def _check_unknown(
    table: Mapping[str, Any], allowed: set[str], prefix: str, file: str, problems: list[Problem]
) -> bool:
    ok = True
    for name in table:
        if name not in allowed:
            ok = False
            problems.append(
                Problem(
                    file,
                    f"{prefix}{name}",
                    "unknown key",
                    _suggest(name, sorted(allowed), "keys here") + " (or remove it)",
                )
            )
    return ok


_FIELD_HINTS = {
    "source": 'add source = "<URL or citation of the page where this was read>"',
    "number": 'add number = "<item number exactly as the schedule prints it>"',
    "key": 'add key = "LG<schedule number>.<edition year>", e.g. "LG1.2017"',
}


def _text(
    table: Mapping[str, Any],
    name: str,
    prefix: str,
    file: str,
    problems: list[Problem],
    *,
    required: bool,
) -> str | None:
    """A string field; item and schedule numbers may also be written as TOML integers."""
    value = table.get(name)
    if value is None:
        if required:
            _bad(
                problems,
                file,
                f"{prefix}{name}",
                f"missing {name}",
                _FIELD_HINTS.get(name, f'add {name} = "..."'),
            )
            return None
        return ""
    if name == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        _bad(problems, file, f"{prefix}{name}", f"{name} must be a string", f'write {name} = "..."')
        return None
    if required and not value.strip():
        _bad(
            problems,
            file,
            f"{prefix}{name}",
            f"{name} is empty",
            _FIELD_HINTS.get(name, f"fill in {name}"),
        )
        return None
    return value.strip()


def _bad(problems: list[Problem], file: str, key: str, message: str, hint: str) -> bool:
    problems.append(Problem(file, key, message, hint))
    return False
