"""Which schedule item governs each kind of archived record: the records manager's decision.

Montana schedules records by content, and no local-government schedule item for "social media"
has been confirmed, so the archiver never picks an item itself. The city writes::

    [retention.classes]
    city_post = "LG1.2006-1"
    ...

    [retention.sites.bozeman-police-facebook]     # optional per-site overrides
    public_comment = "LG1.2006-1"

Every record class must be mapped city-wide, so a new kind of record can never fall through
to "no rule". Overrides may name only some classes; the rest fall back to the city-wide entry.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archiver.errors import ConfigError, RetentionError
from archiver.retention.schedules import Schedule, ScheduleItem, ScheduleSet

__all__ = ["RECORD_CLASSES", "ClassMapping", "SupersededUse", "load_mapping", "superseded_uses"]

RECORD_CLASSES: tuple[str, ...] = (
    "city_post",
    "city_reply",
    "public_comment",
    "comment_reply",
    "removed_comment",
    "follower_list",
    "media",
    "direct_message",
)

_TABLE_KEYS = ("classes", "sites")


@dataclass(frozen=True)
class ClassMapping:
    """Validated record-class to schedule-item mapping; every ref is known to resolve."""

    classes: Mapping[str, ScheduleItem]
    sites: Mapping[str, Mapping[str, ScheduleItem]]
    file: str

    def item_for(self, record_class: str, site_id: str | None = None) -> ScheduleItem:
        """The item for a record of ``record_class`` captured from ``site_id``."""
        if record_class not in self.classes:
            raise RetentionError(
                f"unknown record class {record_class!r}",
                hint=_suggest(record_class, RECORD_CLASSES),
            )
        if site_id is not None:
            override = self.sites.get(site_id, {}).get(record_class)
            if override is not None:
                return override
        return self.classes[record_class]

    def unverified(self) -> list[tuple[str, ScheduleItem]]:
        """Mapping keys that point at an item whose source did not fully confirm it.

        Loading allows them (the records manager may knowingly choose one); ``archiver
        schedules check`` and the monthly report should keep them visible until resolved.
        """
        found = [(f"retention.classes.{c}", i) for c, i in self.classes.items() if not i.verified]
        for site_id, table in self.sites.items():
            found.extend(
                (f"retention.sites.{site_id}.{c}", i) for c, i in table.items() if not i.verified
            )
        return found


@dataclass(frozen=True)
class SupersededUse:
    """A mapping key pointing at an item of a superseded schedule edition."""

    key: str
    item: ScheduleItem
    schedule: Schedule
    current: tuple[Schedule, ...]

    def __str__(self) -> str:
        s = self.schedule
        if self.current:
            review = "review it against the current edition " + ", ".join(
                f"{c.key} ({c.title}, revised {c.revised})" for c in self.current
            )
        else:
            review = (
                f"no current edition of schedule No. {s.number} is in the schedule files; "
                "add it and review the mapping"
            )
        return (
            f"{self.key} = {self.item.ref}: schedule {s.key} ({s.title}, {s.revised}) is "
            f"superseded; {review}"
        )


def superseded_uses(mapping: ClassMapping, schedules: ScheduleSet) -> list[SupersededUse]:
    """Every mapping key (city-wide and per site) whose item belongs to a superseded edition.

    A warning, not an error: records captured under the old edition may still be governed by
    it, but the records manager should review the mapping against the current edition.
    """
    keyed = [(f"retention.classes.{c}", i) for c, i in mapping.classes.items()]
    for site_id, table in mapping.sites.items():
        keyed.extend((f"retention.sites.{site_id}.{c}", i) for c, i in table.items())
    out = []
    for key, item in keyed:
        schedule = schedules.schedule(item.schedule_key)
        if schedule.status == "superseded":
            current = tuple(schedules.current_editions(schedule))
            out.append(SupersededUse(key, item, schedule, current))
    return out


def load_mapping(
    data: Mapping[str, Any],
    *,
    file: str,
    schedules: ScheduleSet,
    known_sites: Collection[str] | None = None,
) -> ClassMapping:
    """Validate the ``[retention]`` table of a parsed TOML document.

    Only ``retention.classes`` and ``retention.sites`` are read; other keys under
    ``[retention]`` belong to other parts of the archiver and are left alone. Pass
    ``known_sites`` to also reject overrides for sites the configuration does not define.
    """
    retention = data.get("retention")
    if not isinstance(retention, Mapping) or "classes" not in retention:
        raise ConfigError(
            "missing [retention.classes] table",
            file=file,
            key="retention.classes",
            hint="copy retention_schedules/mapping.example.toml and have the records manager "
            "choose an item for each record class",
        )
    classes = _check_classes(
        retention["classes"], "retention.classes", file, schedules, require_all=True
    )
    raw_sites = retention.get("sites", {})
    if not isinstance(raw_sites, Mapping):
        raise ConfigError(
            "must be a table of per-site tables",
            file=file,
            key="retention.sites",
            hint="write [retention.sites.<site id>] with class = item ref lines",
        )
    sites: dict[str, Mapping[str, ScheduleItem]] = {}
    for site_id, table in raw_sites.items():
        key = f"retention.sites.{site_id}"
        if known_sites is not None and site_id not in known_sites:
            raise ConfigError(
                f"override for unknown site {site_id!r}",
                file=file,
                key=key,
                hint=_suggest(site_id, sorted(known_sites)),
            )
        sites[site_id] = _check_classes(table, key, file, schedules, require_all=False)
    return ClassMapping(classes=MappingProxyType(classes), sites=MappingProxyType(sites), file=file)


def _check_classes(
    table: object, key: str, file: str, schedules: ScheduleSet, *, require_all: bool
) -> dict[str, ScheduleItem]:
    if not isinstance(table, Mapping):
        raise ConfigError(
            "must be a table of record class = item ref",
            file=file,
            key=key,
            hint=f'write e.g. [{key}] then city_post = "LG1.2006-1"',
        )
    result: dict[str, ScheduleItem] = {}
    for record_class, ref in table.items():
        where = f"{key}.{record_class}"
        if record_class not in RECORD_CLASSES:
            raise ConfigError(
                f"unknown record class {record_class!r}",
                file=file,
                key=where,
                hint=_suggest(record_class, RECORD_CLASSES),
            )
        if not isinstance(ref, str):
            raise ConfigError(
                f"item ref must be a string, not {ref!r}",
                file=file,
                key=where,
                hint='write the ref in quotes, e.g. "LG1.2006-1"',
            )
        try:
            result[record_class] = schedules.item(ref)
        except RetentionError as exc:
            raise ConfigError(exc.message, file=file, key=where, hint=exc.hint) from exc
    if require_all:
        missing = [c for c in RECORD_CLASSES if c not in result]
        if missing:
            raise ConfigError(
                "no schedule item for record class(es) " + ", ".join(missing),
                file=file,
                key=key,
                hint="the records manager must choose an item for every record class",
            )
    return result


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "known: " + ", ".join(choices) if choices else "none are defined"
