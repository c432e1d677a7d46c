"""The cluster's Procrastinate app: the tasks, their locks, and the periodic slots.

Every task calls the embedded daemon's job code (``archiver.daemon.jobs``), installed by the
worker with a :class:`~archiver.daemon.jobs.Runtime`; nothing here harvests or verifies.

* ``archiver.harvest``: one per site slot. ``lock`` = the site id (one harvest of a site at a
  time in the whole cluster), ``queueing_lock`` = the site id (at most one waiting job per
  site; a slot whose predecessor still waits is coalesced into it, as APScheduler's coalesce
  does). The periodic id is the site id, so Procrastinate's ``procrastinate_periodic_defers``
  unique key (task, site, slot second) defers each slot once, whichever worker's clock gets
  there first.
* ``archiver.maintenance``: fixity, weekly verify, retention refresh, monthly report, once per
  cluster per slot, each under its own lock.
* ``archiver.retry_stalled``: every heartbeat period, jobs of workers that stopped sending
  heartbeats (kill -9, power cut) go back to the queue for another worker. It takes no lock,
  so a worker killed while running it cannot block the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import procrastinate
import structlog
from procrastinate.exceptions import ConnectorException, UniqueViolation
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status

from archiver.cluster import metrics
from archiver.cluster.settings import ClusterSettings
from archiver.cluster.slots import local_cron_to_utc, site_cron
from archiver.config import Config
from archiver.daemon import jobs
from archiver.errors import ArchiverError
from archiver.log import get_logger
from archiver.settings.daemon import DaemonSettings

log = get_logger(__name__)

HARVEST_QUEUE = "harvest"
MAINTENANCE_QUEUE = "maintenance"


class HarvestInterrupted(ArchiverError):
    """The worker was stopped mid-harvest; the job goes back to the queue for another worker."""


#: Maintenance jobs: name -> (the daemon's job function, its [daemon] schedule attribute).
MAINTENANCE: dict[str, tuple[Callable[[], str], str | None]] = {
    "fixity:nightly": (jobs.fixity_check, "fixity_schedule"),
    "verify:weekly": (jobs.full_verify, "verify_schedule"),
    "retention:daily": (jobs.retention_refresh, "retention_schedule"),
    "report:monthly": (jobs.monthly_report, None),
}
REPORT_CRON = "0 7 1 * *"


def slot_iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def build_app(
    dsn: str, cfg: Config, daemon: DaemonSettings, cluster: ClusterSettings
) -> procrastinate.App:
    """The Procrastinate app with every task and every periodic slot of this config."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(
        name="archiver.harvest",
        queue=HARVEST_QUEUE,
        pass_context=True,
        # Only a harvest interrupted by a stopping worker is retried here; a failed one is
        # recorded and backed off by the daemon's own rules (archiver.daemon.scheduler).
        retry=procrastinate.RetryStrategy(
            max_attempts=10, wait=2, retry_exceptions={HarvestInterrupted}
        ),
    )
    def harvest(context: JobContext, timestamp: int, site_id: str) -> str:
        slot = slot_iso(timestamp)
        lag = max(0.0, datetime.now(UTC).timestamp() - timestamp)
        metrics.queue_latency(site_id, lag)
        with structlog.contextvars.bound_contextvars(
            procrastinate_job=context.job.id, slot=slot, worker=context.worker_name
        ):
            _abandon_dead_job_rows(site_id)
            result = jobs.harvest_site(site_id, slot=slot)
        metrics.harvest_done(result, _sealed_bytes(site_id, slot) if result == "succeeded" else 0)
        if result == "abandoned":
            raise HarvestInterrupted(
                f"harvest of {site_id} for slot {slot} was interrupted by a stopping worker"
            )
        return result

    @app.task(name="archiver.maintenance", queue=MAINTENANCE_QUEUE, pass_context=True)
    def maintenance(context: JobContext, timestamp: int, job: str) -> str:
        work = MAINTENANCE[job][0]
        with structlog.contextvars.bound_contextvars(
            procrastinate_job=context.job.id, slot=slot_iso(timestamp)
        ):
            return work()

    @app.task(name="archiver.retry_stalled", queue=MAINTENANCE_QUEUE, pass_context=True)
    async def retry_stalled(context: JobContext, timestamp: int) -> int:
        stalled = list(
            await context.app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=cluster.stalled_seconds
            )
        )
        for job in stalled:
            log.warning(
                "cluster_job_stalled",
                job=job.id,
                task=job.task_name,
                lock=job.lock,
                reason="its worker sent no heartbeat; giving it to another worker",
            )
            try:
                await context.app.job_manager.retry_job(job)
            except UniqueViolation as exc:
                if exc.queueing_lock is None:
                    raise
                # The site's next slot is already waiting (queueing lock): it covers the site,
                # so the stalled one is closed as failed instead of waiting twice.
                log.warning("cluster_stalled_job_coalesced", job=job.id, lock=job.lock)
                await context.app.job_manager.finish_job(
                    job, status=Status.FAILED, delete_job=False
                )
            except ConnectorException as exc:
                # Another worker's check put it back first ("not in doing status").
                log.info("cluster_stalled_job_taken", job=job.id, reason=str(exc.__cause__))
        return len(stalled)

    for site in cfg.sites:
        if not site.enabled:
            continue
        app.periodic(
            cron=site_cron(cfg, site, daemon),
            periodic_id=site.id,
            lock=f"site:{site.id}",
            queueing_lock=f"site:{site.id}",
            task_kwargs={"site_id": site.id},
        )(harvest)
    for name, (_, attr) in MAINTENANCE.items():
        cron = getattr(daemon, attr) if attr else REPORT_CRON
        app.periodic(
            cron=local_cron_to_utc(cron, cfg.timezone),
            periodic_id=name,
            lock=name,
            queueing_lock=name,
            task_kwargs={"job": name},
        )(maintenance)
    beat = max(1, round(cluster.heartbeat_seconds))
    app.periodic(
        cron=f"* * * * * */{beat}" if beat < 60 else "* * * * *",
        periodic_id="stalled",
        # No ``lock``: a worker killed while running this very job would hold the lock with
        # a stalled job and no later check could ever run. Two checks at once are harmless:
        # a job already put back is skipped below. The queueing lock stops a pile-up.
        queueing_lock="retry-stalled",
    )(retry_stalled)
    return app


def _sealed_bytes(site_id: str, slot: str) -> int:
    """Bytes of the bundles the slot's harvest cataloged (for the bytes-sealed metric)."""
    import json

    from sqlalchemy import func, select

    from archiver.catalog import schema as s
    from archiver.daemon import scheduler as sched

    rt: Any = jobs._runtime
    if rt is None:
        return 0
    with rt.app.catalog.begin() as conn:
        for (detail,) in conn.execute(
            select(sched.job_runs.c.detail_json)
            .where(
                sched.job_runs.c.job_id == sched.harvest_job_id(site_id),
                sched.job_runs.c.result == "succeeded",
            )
            .order_by(sched.job_runs.c.id.desc())
            .limit(3)
        ):
            d = json.loads(detail or "{}")
            if d.get("slot") == slot:
                total = conn.execute(
                    select(func.coalesce(func.sum(s.bundles.c.size_bytes), 0)).where(
                        s.bundles.c.run_id == d.get("run")
                    )
                ).scalar()
                return int(total or 0)
    return 0


def _abandon_dead_job_rows(site_id: str) -> None:
    """``job_runs`` rows of this site still "running": their worker died (we hold the lock)."""
    from sqlalchemy import update

    from archiver.daemon import scheduler as sched

    rt: Any = jobs._runtime
    if rt is None:
        return
    with rt.app.catalog.begin() as conn:
        conn.execute(
            update(sched.job_runs)
            .where(
                sched.job_runs.c.job_id == sched.harvest_job_id(site_id),
                sched.job_runs.c.result == "running",
            )
            .values(
                result="abandoned",
                finished_at=sched.now_iso(),
                error="the worker running it stopped (no heartbeat); another worker took over",
            )
        )
