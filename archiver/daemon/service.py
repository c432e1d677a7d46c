"""The daemon process: start-up, signals, systemd notifications, graceful stop.

The main thread only waits for signals and talks to systemd; jobs run on the scheduler's worker
threads. Signal handlers just queue the signal number, because almost nothing is safe to do
inside a Python signal handler while another thread may hold a lock the handler would need.

Watchdog pings (``WATCHDOG=1``) are sent only while the daemon is live: the scheduler's thread
is running and no job has been running longer than ``[daemon] max_job_runtime``. A hung harvest
(a stuck TLS read, a deadlock) therefore stops the pings, with an error log line and a
``STATUS=`` line saying why, and systemd kills and restarts the daemon after ``WatchdogSec``;
the main loop itself staying responsive is not proof that the work is getting done.

Shutdown order (SIGTERM/SIGINT): STOPPING=1, the scheduler stops submitting, jobs that had not
started return at once, running harvests get ``[daemon] stop_grace_seconds`` to finish; after
that they are told to abandon (the harvester discards its unsealed staging, so nothing
half-sealed is ever published) and the process exits 0.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from archiver.app import App, open_app
from archiver.config import load_config
from archiver.daemon import jobs
from archiver.daemon import scheduler as sched
from archiver.errors import ArchiverError
from archiver.harvest import Harvester
from archiver.liveness import abandon_dead_runs
from archiver.log import get_logger
from archiver.resources import restrict_umask
from archiver.retention import disposition
from archiver.sdnotify import Notifier
from connectors.registry import platforms

log = get_logger(__name__)

ABANDON_WAIT_SECONDS = 60.0
"""After the grace period, how long abandoning harvests get to discard staging and return."""


class _StructlogBridge(logging.Handler):
    """APScheduler logs through the standard library; send it on as structlog JSON lines.

    Otherwise its warnings (a missed run, an instance still running) would be the only
    plain-text lines in a journal that is otherwise one JSON object per line.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = record.levelname.lower()
            getattr(log, level if level in ("debug", "info", "warning", "error") else "error")(
                "scheduler_message", logger=record.name, message=record.getMessage()
            )
        except Exception:  # a log line must never take a job down
            self.handleError(record)


def _bridge_scheduler_logs() -> None:
    logger = logging.getLogger("apscheduler")
    logger.handlers[:] = [_StructlogBridge()]
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def liveness_problem(
    *,
    scheduler_alive: bool,
    running_since: Mapping[str, float],
    now: float,
    max_job_runtime: float,
) -> str | None:
    """Why the daemon is not live (so the watchdog must not be pinged), or None if it is.

    ``running_since`` maps each running job to its start (epoch seconds); a job running for
    longer than ``max_job_runtime`` seconds is taken to be hung. The text is stable while the
    problem lasts (it names the start time, not a growing age), so ``STATUS=`` is sent once.
    """
    if not scheduler_alive:
        return "the scheduler thread has stopped; no job can start"
    overdue = sorted(
        (since, job) for job, since in running_since.items() if now - since > max_job_runtime
    )
    if not overdue:
        return None
    since, job = overdue[0]
    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    more = f" (and {len(overdue) - 1} more)" if len(overdue) > 1 else ""
    return (
        f"{job} has been running since {started}, longer than max_job_runtime "
        f"({_duration(max_job_runtime)}){more}"
    )


class Daemon:
    """One running daemon; ``run()`` returns the process exit code."""

    def __init__(self, config_path: str | None, notifier: Notifier | None = None) -> None:
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.app: App | None = None
        self.runtime: jobs.Runtime | None = None
        self.scheduler: Any = None
        self._last_status = ""
        self._problem: str | None = None
        self.fastlane: Any = None

    # -- signals ------------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.put(signum)
        self.wake.set()

    def _install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    # -- start-up -----------------------------------------------------------------------------
    def _recover(self, app: App) -> None:
        """Finish what a killed daemon left: publish sealed bundles, drop unsealed staging."""
        report = Harvester(app.cfg, app.catalog, app.storage).recover()
        abandoned = sched.abandon_running(app.catalog)
        runs = abandon_dead_runs(app.catalog, app.cfg.staging_dir)
        # A disposition execute killed mid-delete is finished, not left half done. A failure
        # here (storage unreachable) must not keep the daemon from harvesting: it is logged,
        # verify keeps reporting "disposal in progress", and the next start tries again.
        disposed: list[str] = []
        try:
            disposed = [b for r in disposition.roll_forward(app) for b in r.disposed]
        except ArchiverError as exc:
            log.error("disposal_roll_forward_failed", error=str(exc))
        log.info(
            "daemon_recovered",
            abandoned_jobs=abandoned,
            interrupted_runs=runs,
            disposals_finished=len(disposed),
            **report,
        )

    def start(self) -> None:
        app = open_app(self.config_path, check_storage=True)  # the daemon probes WORM at start
        self.app = app
        settings = app.cfg.daemon
        specs = sched.desired_jobs(app.cfg, settings)  # validate everything before starting
        self.runtime = jobs.Runtime(app=app, settings=settings)
        jobs.install(self.runtime)
        self._recover(app)
        self.scheduler = sched.build_scheduler(app.catalog.engine, settings, app.cfg.timezone)
        self.scheduler.start(paused=True)
        changes = sched.reconcile(self.scheduler, specs)
        self.scheduler.resume()
        self._start_fastlane(app)
        log.info(
            "daemon_started",
            pid=os.getpid(),
            jobs=[s.id for s in specs],
            max_concurrent_harvests=settings.max_concurrent_harvests,
            **changes,
        )

    def _start_fastlane(self, app: App) -> None:
        """The near-real-time lane beside the sweeps, when ``[fastlane] enabled`` (issue 13)."""
        from archiver.fastlane.runner import FastLane

        settings = app.cfg.fastlane
        if settings.enabled:
            self.fastlane = FastLane(app, settings)
            self.fastlane.start()

    # -- reload -------------------------------------------------------------------------------
    def reload(self) -> None:
        """SIGHUP: re-read the config and reconcile jobs; a bad config keeps the old one."""
        assert self.app is not None and self.runtime is not None
        self.notifier.reloading()
        try:
            cfg = load_config(self.config_path, platforms=platforms())
            settings = cfg.daemon
            specs = sched.desired_jobs(cfg, settings)
        except ArchiverError as exc:
            log.error("daemon_reload_failed", error=str(exc))
            self.notifier.ready(f"config reload failed, still running the old config: {exc}")
            return
        if cfg.catalog_url != self.app.cfg.catalog_url or cfg.storage != self.app.cfg.storage:
            log.warning(
                "daemon_reload_partial",
                reason="catalog_url or [storage] changed; restart the daemon to use them",
            )
        if settings.max_concurrent_harvests != self.runtime.settings.max_concurrent_harvests:
            log.warning(
                "daemon_reload_partial",
                reason="max_concurrent_harvests changed; restart the daemon to use it",
            )
        self.app.cfg = cfg
        self.runtime.settings = settings
        changes = sched.reconcile(self.scheduler, specs)
        log.info("daemon_reloaded", **changes)
        self.notifier.ready(self._status_text())

    # -- status -------------------------------------------------------------------------------
    def _status_text(self) -> str:
        assert self.runtime is not None
        if self._problem is not None:
            return f"UNHEALTHY, watchdog pings stopped: {self._problem}"
        active = self.runtime.active()
        if active:
            sites = [a.removeprefix("harvest:") for a in active if a.startswith("harvest:")]
            other = [a for a in active if not a.startswith("harvest:")]
            parts = (["harvesting " + ", ".join(sites)] if sites else []) + (
                ["running " + ", ".join(other)] if other else []
            )
            return "; ".join(parts)
        upcoming = [
            j for j in (self.scheduler.get_jobs() if self.scheduler else []) if j.next_run_time
        ]
        if not upcoming:
            return "idle, nothing scheduled"
        job = min(upcoming, key=lambda j: j.next_run_time)
        when = job.next_run_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"idle, next: {job.id.removeprefix('harvest:')} at {when}"

    def _update_status(self) -> None:
        text = self._status_text()
        if text != self._last_status:
            self._last_status = text
            self.notifier.status(text)

    # -- liveness -----------------------------------------------------------------------------
    def _scheduler_alive(self) -> bool:
        thread = getattr(self.scheduler, "_thread", None)
        return bool(self.scheduler is not None and self.scheduler.running) and (
            thread is None or thread.is_alive()
        )

    def _check_liveness(self) -> bool:
        """Re-evaluate liveness; log and remember a change. True when pings may be sent."""
        assert self.runtime is not None
        problem = liveness_problem(
            scheduler_alive=self._scheduler_alive(),
            running_since=self.runtime.running_since(),
            now=time.time(),
            max_job_runtime=self.runtime.settings.max_job_runtime,
        )
        if problem != self._problem:
            if problem is not None:
                log.error("watchdog_withheld", reason=problem)
            else:
                log.info("watchdog_resumed", previous=self._problem)
            self._problem = problem
        return problem is None

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        _bridge_scheduler_logs()
        self.start()
        interval = self.notifier.watchdog_interval()
        tick = 1.0 if interval is None else max(0.05, min(interval / 2, 1.0))
        self.notifier.ready(self._status_text())
        if self._check_liveness():
            self.notifier.watchdog()
        last_ping = time.monotonic()
        while True:
            self.wake.wait(tick)
            self.wake.clear()
            stop = False
            while not self.signals.empty():
                signum = self.signals.get()
                if signum == signal.SIGHUP:
                    log.info("daemon_sighup")
                    self.reload()
                else:
                    log.info("daemon_stop_requested", signal=signal.Signals(signum).name)
                    stop = True
            if stop:
                return self.shutdown()
            live = self._check_liveness()
            if live and interval is not None and time.monotonic() - last_ping >= interval * 0.9:
                self.notifier.watchdog()
                last_ping = time.monotonic()
            self._update_status()

    def shutdown(self) -> int:
        assert self.runtime is not None and self.app is not None
        rt = self.runtime
        self.notifier.stopping()
        rt.stopping.set()
        self.scheduler.shutdown(wait=False)
        grace = rt.settings.stop_grace_seconds
        busy = ", ".join(rt.active())
        self.notifier.status(
            f"stopping: waiting up to {grace:.0f}s for {busy}" if busy else "stopping"
        )
        log.info("daemon_stopping", active=rt.active(), grace_seconds=grace)
        ok = self._wait_idle(time.monotonic() + grace)
        if not ok:
            log.warning("daemon_abandoning", active=rt.active())
            self.notifier.status("stopping: abandoning " + ", ".join(rt.active()))
            rt.abandon.set()
            ok = self._wait_idle(time.monotonic() + ABANDON_WAIT_SECONDS)
        if not ok:
            # A thread stuck in I/O past every deadline: exit anyway; staging is discarded by
            # the next start's recovery, so nothing half-sealed becomes visible.
            log.error("daemon_stop_forced", active=rt.active())
            os._exit(1)
        if self.fastlane is not None:
            self.fastlane.stop()
        jobs.install(None)
        self.app.close()
        log.info("daemon_stopped", at=datetime.now(UTC).isoformat())
        return 0

    def _wait_idle(self, deadline: float) -> bool:
        """Wait for running jobs, still pinging the watchdog so systemd does not kill us."""
        assert self.runtime is not None
        interval = self.notifier.watchdog_interval()
        last_ping = 0.0
        while self.runtime.active():
            now = time.monotonic()
            if now >= deadline:
                return False
            if interval is not None and now - last_ping >= interval * 0.9:
                self.notifier.watchdog()
                last_ping = now
            time.sleep(0.1)
        return True


def run_daemon(config_path: str | None) -> int:
    restrict_umask()  # catalog, bundles and reports private also outside the systemd unit
    return Daemon(config_path).run()
