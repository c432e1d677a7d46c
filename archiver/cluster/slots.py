"""A site's harvest slots as a cron line for Procrastinate's periodic tasks.

Procrastinate defers one job per (task, periodic id, scheduled second) across the whole
cluster: the slot *is* that scheduled time, so every worker computes the same slots. An
interval becomes fixed slots with the site's stable phase (``site_phase``, as the embedded
daemon spreads sites); it must divide a minute, an hour or a day so the slots do not drift.
Procrastinate reads cron lines in UTC: a site's ``cron`` is turned from the archive's zone into
UTC with the offset in force when the worker starts (restart workers after a DST change).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from archiver.config import Config, SiteConfig
from archiver.daemon.scheduler import site_phase
from archiver.errors import ConfigError
from archiver.settings.daemon import DaemonSettings


def _site_index(cfg: Config, site: SiteConfig) -> int:
    return next((i for i, s in enumerate(cfg.sites) if s.id == site.id), 0)


def site_cron(cfg: Config, site: SiteConfig, settings: DaemonSettings) -> str:
    """The site's slots as a cron line (UTC; six fields = with seconds)."""
    if site.cron is not None:
        return local_cron_to_utc(site.cron, cfg.timezone)
    i = site.interval_seconds
    spread = settings.jitter_for(i)
    phase = int(site_phase(site.id, spread))
    if i < 60 and 60 % i == 0:
        return f"* * * * * {phase % i}-59/{i}"
    if i % 60 == 0 and i < 3600 and 3600 % i == 0:
        m = i // 60
        return f"{(phase // 60) % m}-59/{m} * * * *"
    if i % 3600 == 0 and i <= 86_400 and 86_400 % i == 0:
        h = i // 3600
        return f"{(phase // 60) % 60} {(phase // 3600) % h}-23/{h} * * *"
    raise ConfigError(
        f"an interval of {i} s cannot be cut into fixed cluster slots",
        file=str(cfg.path),
        key=f"sites[{_site_index(cfg, site)}].interval",
        hint='use one that divides a minute, an hour or a day ("15m", "2h", "6h", "1d"), '
        "or a cron line",
    )


def site_slots(cfg: Config, site: SiteConfig) -> str:
    """``site_cron`` with the ``[daemon]`` settings of ``cfg`` (for ``config check``)."""
    return site_cron(cfg, site, cfg.daemon)


def local_cron_to_utc(expr: str, tz: str) -> str:
    """Shift a five-field cron line's hours from ``tz`` to UTC (whole-hour offsets only)."""
    fields = expr.split()
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if len(fields) != 5 or seconds == 0:
        return expr
    if seconds % 3600:
        raise ConfigError(
            f"the zone {tz} is not a whole number of hours from UTC",
            key="archive.timezone",
            hint="give cluster sites an interval instead of a cron line",
        )
    hour = fields[1]
    if hour == "*" or hour.startswith("*/"):
        return expr
    try:
        hours = sorted({(int(h) - seconds // 3600) % 24 for h in hour.split(",")})
    except ValueError:
        raise ConfigError(
            f"the hour field {hour!r} of {expr!r} cannot be moved to UTC",
            key="sites.cron",
            hint='list the hours ("6,18") or use an interval',
        ) from None
    shift = seconds // 3600
    wraps = any(not 0 <= int(h) - shift <= 23 for h in hour.split(","))
    if wraps and (fields[2] != "*" or fields[4] != "*"):
        raise ConfigError(
            f"{expr!r} moves to another day in UTC, which its day fields cannot follow",
            key="cron",
            hint="use an hour that stays on the same day in UTC, or an interval",
        )
    fields[1] = ",".join(str(h) for h in hours)
    return " ".join(fields)
