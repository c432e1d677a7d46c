"""``[report]``: when the monthly report is built and who else receives it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config_sections import REPORT_KEYS
from archiver.errors import ConfigError
from archiver.schedule import check_cron
from archiver.settings.values import no_unknown_keys

DEFAULT_SCHEDULE = "0 7 1 * *"
"""07:00 on the 1st, in the archive's zone (America/Denver): last month is complete and the
report is waiting when the Clerk's office opens."""
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True, slots=True)
class ReportSettings:
    schedule: str = DEFAULT_SCHEDULE
    recipients: tuple[str, ...] = ()


def addresses(value: Any, *, file: str, key: str) -> list[str]:
    """A list of e-mail addresses, each checked, or one ``ConfigError`` naming the bad one."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            "must be a list of e-mail addresses",
            file=file,
            key=key,
            hint='e.g. recipients = ["clerk@bozeman.net", "it-director@bozeman.net"]',
        )
    out = []
    for i, v in enumerate(value):
        if not _ADDRESS.match(v.strip()):
            raise ConfigError(
                f"{v!r} is not an e-mail address", file=file, key=f"{key}[{i}]", hint="name@domain"
            )
        out.append(v.strip())
    return out


def report_from(raw: Mapping[str, Any], *, file: str, timezone: str) -> ReportSettings:
    """``[report]``: the monthly schedule (crontab, archive zone) and extra recipients."""
    no_unknown_keys(raw, REPORT_KEYS, "report", file)
    schedule = raw.get("schedule", DEFAULT_SCHEDULE)
    if not isinstance(schedule, str):
        raise ConfigError(
            "must be a crontab string", file=file, key="report.schedule", hint='"0 7 1 * *"'
        )
    check_cron(schedule, timezone, file=file, key="report.schedule", default=DEFAULT_SCHEDULE)
    recipients = addresses(raw.get("recipients"), file=file, key="report.recipients")
    return ReportSettings(schedule=schedule, recipients=tuple(recipients))
