"""``[daemon]``: how many harvests at once, how long to wait at shutdown, maintenance times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config_sections import DAEMON_KEYS
from archiver.errors import ConfigError
from archiver.schedule import check_cron
from archiver.settings.values import no_unknown_keys, parse_duration, whole


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """``[daemon]``: how many harvests at once, how long to wait at shutdown, maintenance times.

    Maintenance schedules are crontab lines in the archive's time zone; the defaults put the
    nightly fixity sample at 02:30, the weekly full verify on Sunday 03:30 and the retention
    refresh at 04:00, after the night's harvests and before office hours.
    """

    jitter_seconds: float | None = None
    fixity_sample: int = 20
    max_concurrent_harvests: int = 2
    stop_grace_seconds: float = 120.0
    max_job_runtime: float = 6 * 3600.0
    """A job running longer than this counts as hung: the daemon stops its watchdog pings."""
    fixity_schedule: str = "30 2 * * *"
    verify_schedule: str = "30 3 * * sun"
    retention_schedule: str = "0 4 * * *"

    def jitter_for(self, interval_seconds: int) -> float:
        """Spread harvests so sites sharing an interval do not all hit the network at once."""
        if self.jitter_seconds is not None:
            return min(self.jitter_seconds, interval_seconds / 2)
        return min(interval_seconds * 0.1, 300.0)


def daemon_from(raw: Mapping[str, Any], *, file: str, timezone: str) -> DaemonSettings:
    """Validate ``[daemon]``; the problem names the file, the key and the fix."""
    no_unknown_keys(raw, DAEMON_KEYS, "daemon", file)
    d = DaemonSettings()
    jitter = raw.get("jitter_seconds")
    if jitter is not None and (
        isinstance(jitter, bool) or not isinstance(jitter, int | float) or jitter < 0
    ):
        raise ConfigError(
            f"{jitter!r} is not a number of seconds ≥ 0",
            file=file,
            key="daemon.jitter_seconds",
            hint="e.g. jitter_seconds = 60; leave it out for 10% of each interval (≤ 300 s)",
        )
    sample = whole(
        raw.get("fixity_sample", d.fixity_sample),
        file=file,
        key="daemon.fixity_sample",
        minimum=1,
        hint="how many bundles the nightly fixity check re-hashes, e.g. 20",
    )
    concurrent = whole(
        raw.get("max_concurrent_harvests", d.max_concurrent_harvests),
        file=file,
        key="daemon.max_concurrent_harvests",
        minimum=1,
        hint="e.g. 2; each harvest holds one network connection at a time",
    )
    grace = parse_duration(
        raw.get("stop_grace_seconds", int(d.stop_grace_seconds)),
        file=file,
        key="daemon.stop_grace_seconds",
    )
    max_runtime = parse_duration(
        raw.get("max_job_runtime", "6h"), file=file, key="daemon.max_job_runtime"
    )
    schedules: dict[str, str] = {}
    for key in ("fixity_schedule", "verify_schedule", "retention_schedule"):
        expr = raw.get(key, getattr(d, key))
        if not isinstance(expr, str):
            raise ConfigError(
                "must be a crontab string", file=file, key=f"daemon.{key}", hint='e.g. "30 2 * * *"'
            )
        check_cron(expr, timezone, file=file, key=f"daemon.{key}", default=getattr(d, key))
        schedules[key] = expr
    return DaemonSettings(
        jitter_seconds=None if jitter is None else float(jitter),
        fixity_sample=sample,
        max_concurrent_harvests=concurrent,
        stop_grace_seconds=float(grace),
        max_job_runtime=float(max_runtime),
        **schedules,
    )
