"""The daemon's job plan, kept in the catalog database, and the record of what each job did.

APScheduler's ``SQLAlchemyJobStore`` keeps every job (and its next run time) in the
``apscheduler_jobs`` table of the catalog database, so a restart neither forgets a schedule nor
runs a missed job twice: on start-up the stored jobs are *reconciled* against the config (added,
removed, re-timed) instead of being replaced, because replacing a job would throw away the
missed run time that ``coalesce`` turns into exactly one catch-up run.

``job_runs`` records every run (started, finished, result, error) and ``harvest_backoff`` the
consecutive failures per site, so ``archiver status`` can show each job's next run, last result
and back-off even when the daemon is not running: it only reads these tables
(``archiver.daemon.status``, which imports neither APScheduler nor SQLAlchemy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    delete,
    select,
    update,
)

from archiver.clock import now_iso as now_iso
from archiver.config import Config, SiteConfig
from archiver.daemon.status import JOBS_TABLE as JOBS_TABLE
from archiver.daemon.tables import harvest_backoff as harvest_backoff
from archiver.daemon.tables import job_runs as job_runs
from archiver.schedule import cron_trigger as cron_trigger
from archiver.settings.daemon import DaemonSettings

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from apscheduler.triggers.base import BaseTrigger
    from sqlalchemy import Engine

    from archiver.catalog.store import Catalog

JOBS_MODULE = "archiver.daemon.jobs"
MAX_BACKOFF_SECONDS = 86_400
"""A failing site is still tried at least once a day, so a fixed token is noticed the next day."""


# -- the job plan ---------------------------------------------------------------------------
@dataclass(frozen=True)
class JobSpec:
    """One job the config asks for; ``misfire_grace_time`` None means "always catch up once"."""

    id: str
    func: str
    args: tuple[str, ...]
    trigger: BaseTrigger
    executor: str
    misfire_grace_time: int | None
    name: str
    run_when_added: bool = False
    """Harvest a newly configured site now instead of one interval from now."""


def harvest_job_id(site_id: str) -> str:
    return f"harvest:{site_id}"


_PERIOD_REFERENCE = datetime(2001, 1, 1, tzinfo=UTC)
_PERIOD_SAMPLES = 32


def site_period_seconds(site: SiteConfig) -> int:
    """How often a site is harvested: its interval, or for ``cron`` the shortest gap between runs.

    Jitter and back-off are measured in these periods. For a cron site the gap is taken over a
    fixed stretch of calendar (not "from now"), so the figure, and with it the trigger's jitter,
    is the same on every start and reload and an unchanged job is never re-timed by ``reconcile``.
    """
    if site.cron is None:
        return site.interval_seconds
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(site.cron, timezone="UTC")
    fires: list[datetime] = []
    previous: datetime | None = None
    now = _PERIOD_REFERENCE
    for _ in range(_PERIOD_SAMPLES):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        fires.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    gaps = [int((b - a).total_seconds()) for a, b in pairwise(fires)]
    return max(60, min(gaps)) if gaps else site.interval_seconds


def harvest_trigger(site: SiteConfig, settings: DaemonSettings, cfg: Config) -> BaseTrigger:
    """The site's ``interval`` or ``cron`` schedule, in the archive's zone, with jitter."""
    from apscheduler.triggers.interval import IntervalTrigger

    jitter = settings.jitter_for(site_period_seconds(site))
    if site.cron is not None:
        index = next((i for i, s in enumerate(cfg.sites) if s.id == site.id), 0)
        return cron_trigger(
            site.cron, cfg.timezone, file=str(cfg.path), key=f"sites[{index}].cron", jitter=jitter
        )
    # Interval sites are spread by a fixed phase, not APScheduler's random jitter: after a
    # coalesced catch-up APScheduler 3 re-times the job from the last missed slot with a new
    # random draw, which can fall in the past and run the job a second time at once.
    return IntervalTrigger(
        seconds=site.interval_seconds,
        start_date=_PERIOD_REFERENCE + timedelta(seconds=site_phase(site.id, jitter)),
        timezone=cfg.timezone,
    )


def site_phase(site_id: str, spread: float) -> float:
    """A fixed offset in [0, spread) seconds derived from the site id: sites sharing an
    interval run apart, and the same site lands on the same slots on every start and reload."""
    if spread <= 0:
        return 0.0
    number = int.from_bytes(hashlib.sha256(site_id.encode()).digest()[:8], "big")
    return (number % int(spread * 1000)) / 1000


def desired_jobs(cfg: Config, settings: DaemonSettings) -> list[JobSpec]:
    """What should be scheduled for this config: one harvest per enabled site + maintenance."""
    file = str(cfg.path)
    specs: list[JobSpec] = []
    for site in cfg.sites:
        if not site.enabled:
            continue
        specs.append(
            JobSpec(
                id=harvest_job_id(site.id),
                func=f"{JOBS_MODULE}:harvest_site",
                args=(site.id,),
                trigger=harvest_trigger(site, settings, cfg),
                executor="harvest",
                # A harvest missed by any amount is still worth one catch-up run: records that
                # are not captured may be edited or deleted upstream before the next one.
                misfire_grace_time=None,
                name=f"harvest {site.id}",
                run_when_added=True,
            )
        )
    day = 86_400
    maintenance = [
        ("fixity:nightly", "fixity_check", settings.fixity_schedule, "daemon.fixity_schedule", day),
        (
            "verify:weekly",
            "full_verify",
            settings.verify_schedule,
            "daemon.verify_schedule",
            7 * day,
        ),
        (
            "retention:daily",
            "retention_refresh",
            settings.retention_schedule,
            "daemon.retention_schedule",
            day,
        ),
    ]
    report = cfg.report
    maintenance.append(
        ("report:monthly", "monthly_report", report.schedule, "report.schedule", 14 * day)
    )
    for job_id, fn, expr, key, grace in maintenance:
        specs.append(
            JobSpec(
                id=job_id,
                func=f"{JOBS_MODULE}:{fn}",
                args=(),
                trigger=cron_trigger(expr, cfg.timezone, file=file, key=key),
                executor="default",
                misfire_grace_time=grace,
                name=job_id,
            )
        )
    return specs


def build_scheduler(engine: Engine, settings: DaemonSettings, timezone: str) -> BaseScheduler:
    """A background scheduler whose jobs live in the catalog database.

    Harvests get their own pool of ``max_concurrent_harvests`` threads so a slow site can never
    starve the nightly fixity check, and vice versa.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={
            "harvest": ThreadPoolExecutor(max_workers=settings.max_concurrent_harvests),
            "default": ThreadPoolExecutor(max_workers=2),
        },
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=timezone,
    )


def _trigger_key(trigger: BaseTrigger) -> tuple[Any, ...]:
    """What makes two triggers the same schedule (start dates differ on every construction)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(trigger, IntervalTrigger):
        return ("interval", trigger.interval, trigger.jitter, trigger.start_date)
    if isinstance(trigger, CronTrigger):
        return ("cron", str(trigger), str(trigger.timezone), trigger.jitter)
    return ("other", repr(trigger))


def reconcile(scheduler: BaseScheduler, specs: list[JobSpec]) -> dict[str, list[str]]:
    """Bring the stored jobs in line with ``specs`` without resetting unchanged ones.

    Unchanged jobs keep their stored next run time (so a missed run is still caught up once);
    changed triggers are re-timed from now; jobs no longer wanted are removed.
    """
    changes: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    wanted = {s.id: s for s in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            changes["removed"].append(job.id)
    for spec in specs:
        job = scheduler.get_job(spec.id)
        if job is None:
            # Passing next_run_time=None would add the job paused, so only pass it when wanted.
            first: dict[str, Any] = (
                {"next_run_time": datetime.now(UTC)} if spec.run_when_added else {}
            )
            scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                args=list(spec.args),
                id=spec.id,
                name=spec.name,
                executor=spec.executor,
                misfire_grace_time=spec.misfire_grace_time,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
                **first,
            )
            changes["added"].append(spec.id)
            continue
        if _trigger_key(job.trigger) != _trigger_key(spec.trigger):
            scheduler.reschedule_job(spec.id, trigger=spec.trigger)
            changes["changed"].append(spec.id)
        if (
            job.misfire_grace_time != spec.misfire_grace_time
            or job.executor != spec.executor
            or job.func_ref != spec.func
            or tuple(job.args) != spec.args
        ):
            scheduler.modify_job(
                spec.id,
                func=spec.func,
                args=list(spec.args),
                executor=spec.executor,
                misfire_grace_time=spec.misfire_grace_time,
            )
            if spec.id not in changes["changed"]:
                changes["changed"].append(spec.id)
    return changes


# -- job outcomes and back-off --------------------------------------------------------------
def record_start(catalog: Catalog, job_id: str) -> int:
    with catalog.begin() as conn:
        result = conn.execute(
            job_runs.insert().values(job_id=job_id, started_at=now_iso(), result="running")
        )
        pk = result.inserted_primary_key
        assert pk is not None
        return int(pk[0])


def record_finish(
    catalog: Catalog,
    run_pk: int,
    *,
    result: str,
    error: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    with catalog.begin() as conn:
        conn.execute(
            update(job_runs)
            .where(job_runs.c.id == run_pk)
            .values(
                finished_at=now_iso(),
                result=result,
                error=error,
                detail_json=json.dumps(dict(detail or {}), sort_keys=True, default=str),
            )
        )


def record_skip(catalog: Catalog, job_id: str, reason: str) -> None:
    stamp = now_iso()
    with catalog.begin() as conn:
        conn.execute(
            job_runs.insert().values(
                job_id=job_id, started_at=stamp, finished_at=stamp, result="skipped", error=reason
            )
        )


def abandon_running(catalog: Catalog) -> int:
    """Rows left 'running' by a killed daemon; called once at start-up."""
    with catalog.begin() as conn:
        res = conn.execute(
            update(job_runs)
            .where(job_runs.c.result == "running")
            .values(
                result="abandoned",
                finished_at=now_iso(),
                error="the daemon stopped before this job finished",
            )
        )
        return int(res.rowcount or 0)


@dataclass(frozen=True, slots=True)
class Backoff:
    consecutive_failures: int
    skip_until: datetime | None
    last_error: str | None


def backoff_of(catalog: Catalog, site_id: str) -> Backoff:
    with catalog.begin() as conn:
        row = conn.execute(
            select(harvest_backoff).where(harvest_backoff.c.site_id == site_id)
        ).first()
    if row is None:
        return Backoff(0, None, None)
    until = datetime.fromisoformat(row.skip_until) if row.skip_until else None
    return Backoff(int(row.consecutive_failures), until, row.last_error)


def backoff_seconds(site: SiteConfig, failures: int) -> float:
    """After n consecutive failures skip 2^(n-1) - 1 intervals: 0, 1, 3, 7 ... capped at 24 h.

    One failure is retried at the next regular run (a network blip should cost nothing);
    a site that keeps failing stops hammering the platform and filling the log.
    """
    if failures <= 1:
        return 0.0
    period = site_period_seconds(site)
    return float(min(period * (2 ** (failures - 1) - 1), MAX_BACKOFF_SECONDS))


def note_failure(catalog: Catalog, site: SiteConfig, error: str) -> Backoff:
    previous = backoff_of(catalog, site.id)
    failures = previous.consecutive_failures + 1
    wait = backoff_seconds(site, failures)
    now = datetime.now(UTC)
    until = now + timedelta(seconds=wait) if wait else None
    values = {
        "consecutive_failures": failures,
        "last_failure_at": now.isoformat(timespec="microseconds"),
        "last_error": error,
        "skip_until": until.isoformat(timespec="microseconds") if until else None,
        "backoff_seconds": wait,
    }
    with catalog.begin() as conn:
        conn.execute(delete(harvest_backoff).where(harvest_backoff.c.site_id == site.id))
        conn.execute(harvest_backoff.insert().values(site_id=site.id, **values))
    return Backoff(failures, until, error)


def note_rate_limited(catalog: Catalog, site: SiteConfig, until: datetime, error: str) -> Backoff:
    """The platform asked for a wait past the run's budget: skip the site's runs until then.

    Not a failure (the consecutive-failure count and its growing back-off are left as they
    were); the first scheduled run after ``until`` goes ahead.
    """
    previous = backoff_of(catalog, site.id)
    if previous.skip_until is not None and previous.skip_until > until:
        until = previous.skip_until
    now = datetime.now(UTC)
    values = {
        "consecutive_failures": previous.consecutive_failures,
        "last_failure_at": now.isoformat(timespec="microseconds"),
        "last_error": error,
        "skip_until": until.isoformat(timespec="microseconds"),
        "backoff_seconds": max(0.0, (until - now).total_seconds()),
    }
    with catalog.begin() as conn:
        conn.execute(delete(harvest_backoff).where(harvest_backoff.c.site_id == site.id))
        conn.execute(harvest_backoff.insert().values(site_id=site.id, **values))
    return Backoff(previous.consecutive_failures, until, error)


def note_success(catalog: Catalog, site_id: str) -> None:
    with catalog.begin() as conn:
        conn.execute(delete(harvest_backoff).where(harvest_backoff.c.site_id == site_id))


# -- status ---------------------------------------------------------------------------------
