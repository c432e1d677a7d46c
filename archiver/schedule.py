"""Schedules as data: a crontab line in the City's zone becomes an APScheduler trigger.

Pure (no I/O, no clock, no catalog): the daemon builds its job plan from these, and the
report checks its ``[report] schedule`` with them, without either importing the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiver.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger


def check_cron(expr: str, tz: str, *, file: str, key: str, default: str) -> None:
    """A ``ConfigError`` unless ``expr`` is a crontab line APScheduler can schedule.

    The built-in ``default`` is not parsed at every start: importing APScheduler costs every
    command tens of milliseconds (issue 14 part 2), a test holds the defaults valid, and the
    zone is checked with ``[archive] timezone``. A configured line is always parsed.
    """
    if expr != default:
        cron_trigger(expr, tz, file=file, key=key)


def cron_trigger(
    expr: str, tz: str, *, file: str, key: str, jitter: float | None = None
) -> BaseTrigger:
    """A crontab line ("m h dom mon dow") as a trigger in the archive's zone, or a ConfigError.

    ``jitter`` (seconds) delays each run by a random amount up to that much, as for intervals.
    """
    from apscheduler.triggers.cron import CronTrigger

    try:
        fields = expr.split()
        if len(fields) != 5:
            raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
        minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=tz,
            jitter=jitter,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{expr!r} is not a crontab schedule ({exc})",
            file=file,
            key=key,
            hint='five fields "minute hour day month weekday", e.g. "0 7 1 * *"',
        ) from None
