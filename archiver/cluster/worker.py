"""``archiver worker``: one member of a cluster on a shared PostgreSQL catalog and S3 store.

Start-up refuses, with one line each, a config that is not PostgreSQL + S3, a catalog at
another schema revision than this software's (``check_revision``: every worker of a cluster
must run the same version), and a database without Procrastinate's tables (``archiver cluster
schema`` applies them). It then finishes what this machine's staging holds from a killed run
(sealed bundles published and cataloged, unsealed ones discarded), and joins the queue.

SIGTERM/SIGINT drain: the worker stops taking jobs, running ones get ``[daemon]
stop_grace_seconds`` to finish; after that they are told to abandon (unsealed staging
discarded, bookmarks untouched) and their jobs go back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from datetime import UTC, datetime
from typing import Any

from procrastinate.worker import Worker
from sqlalchemy import Engine, text

from archiver.app import App, open_app
from archiver.catalog.migrate import check_revision
from archiver.cluster import metrics
from archiver.cluster.settings import (
    ClusterSettings,
    cluster_settings,
    procrastinate_dsn,
    require_cluster,
)
from archiver.cluster.slots import site_cron
from archiver.cluster.status import cluster_figures
from archiver.config import load_config
from archiver.daemon import jobs
from archiver.errors import CatalogError
from archiver.harvest import Harvester
from archiver.log import get_logger
from connectors.registry import platforms

log = get_logger(__name__)


class ClusterHarvester(Harvester):
    """The daemon's harvester, looking in storage only for its own site's leftovers."""

    scoped_recovery = True


def require_queue_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        present = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    if present is None:
        raise CatalogError(
            "the catalog database has no job queue tables (Procrastinate's schema)",
            hint="run `archiver cluster schema` once, then start the workers",
        )


def open_worker_app(config_path: str | None) -> tuple[App, ClusterSettings]:
    """Every refusal before anything is written: config, software version, queue tables."""
    cfg = load_config(config_path, platforms=platforms())
    require_cluster(cfg)
    settings = cluster_settings(cfg)
    daemon = cfg.daemon
    for site in cfg.sites:  # every site's slots, before anything is opened
        if site.enabled:
            site_cron(cfg, site, daemon)
    app = open_app(config_path)
    try:
        check_revision(app.catalog.engine)
        require_queue_schema(app.catalog.engine)
    except BaseException:
        app.catalog.close()
        raise
    return app, settings


class ClusterWorker:
    def __init__(self, config_path: str | None) -> None:
        self.app, self.settings = open_worker_app(config_path)
        self.daemon = self.app.cfg.daemon
        self.runtime = jobs.Runtime(
            app=self.app, settings=self.daemon, harvester_class=ClusterHarvester, journal=False
        )
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.worker: Worker | None = None
        self.metrics_port: int | None = None
        self._draining = False

    def recover(self) -> None:
        """This machine's staging only: other workers' bundles are theirs to finish."""
        report = ClusterHarvester(self.app.cfg, self.app.catalog, self.app.storage).recover(
            scan_storage=False
        )
        log.info("worker_recovered", **report)

    def run(self) -> int:
        from archiver.cluster.tasks import build_app

        jobs.install(self.runtime)
        self.recover()
        if self.settings.metrics_port is not None:
            engine = self.app.catalog.engine
            stalled = self.settings.stalled_seconds
            self.metrics_port = metrics.serve(
                self.settings.metrics_host,
                self.settings.metrics_port,
                lambda: cluster_figures(engine, stalled_seconds=stalled),
            )
        dsn = procrastinate_dsn(self.app.cfg.catalog_url)
        queue_app = build_app(dsn, self.app.cfg, self.daemon, self.settings)
        try:
            asyncio.run(self._run(queue_app))
        finally:
            jobs.install(None)
            self.app.catalog.close()
        if not self._draining:
            # Procrastinate stops a worker whose heartbeat or deferrer lost the database for
            # good; exit non-zero so systemd (Restart=on-failure) starts it again.
            log.error("worker_stopped_unexpectedly", worker=self.name)
            return 1
        log.info("worker_stopped", worker=self.name, at=datetime.now(UTC).isoformat())
        return 0

    async def _run(self, queue_app: Any) -> None:
        loop = asyncio.get_running_loop()
        async with queue_app.open_async():
            self.worker = Worker(
                queue_app,
                name=self.name,
                concurrency=self.settings.concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=self.settings.heartbeat_seconds,
                stalled_worker_timeout=self.settings.stalled_seconds,
                fetch_job_polling_interval=1.0,
            )
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._drain, sig)
            log.info(
                "worker_started",
                worker=self.name,
                sites=[s.id for s in self.app.cfg.sites if s.enabled],
                concurrency=self.settings.concurrency,
                metrics_port=self.metrics_port,
            )
            await self.worker.run()  # type: ignore[no-untyped-call]

    def _drain(self, sig: int) -> None:
        """Stop taking jobs; give running ones the grace period, then tell them to abandon."""
        if self._draining:
            return
        self._draining = True
        grace = self.daemon.stop_grace_seconds
        log.info(
            "worker_draining",
            signal=signal.Signals(sig).name,
            active=self.runtime.active(),
            grace_seconds=grace,
        )
        assert self.worker is not None
        self.worker.stop()  # type: ignore[no-untyped-call]
        asyncio.get_running_loop().call_later(grace, self._abandon)

    def _abandon(self) -> None:
        if self.runtime.active():
            log.warning("worker_abandoning", active=self.runtime.active())
        self.runtime.abandon.set()


def run_worker(config_path: str | None) -> int:
    from archiver.resources import restrict_umask

    restrict_umask()
    return ClusterWorker(config_path).run()
