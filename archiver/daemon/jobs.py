"""Module-level job functions, referenced from the job store as ``archiver.daemon.jobs:<name>``.

The job store pickles only the textual reference and the arguments (a site id), never objects,
so a restart after an upgrade still finds every job. The live objects (catalog, storage, the
stop events) reach the jobs through ``install(runtime)``, done once by the service.

Every job records its outcome in ``job_runs`` and never raises: one site's failure must not
disturb the scheduler or the other sites, and APScheduler's traceback logging would bury the
one-line ArchiverError message the clerk needs.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from structlog.contextvars import bound_contextvars

from archiver.app import App
from archiver.compliance.run import after_harvest
from archiver.config import Config, SiteConfig
from archiver.daemon import scheduler as sched
from archiver.errors import ArchiverError, RateLimitedError
from archiver.harvest import HarvestAborted, Harvester
from archiver.log import get_logger
from archiver.settings.daemon import DaemonSettings

log = get_logger(__name__)


@dataclass
class Runtime:
    """Live state shared by the service loop and the job threads."""

    app: App
    settings: DaemonSettings
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set at SIGTERM: jobs that have not started yet return at once."""
    abandon: threading.Event = field(default_factory=threading.Event)
    """Set when the stop grace period is over: running harvests discard their unsealed data."""
    harvester_class: type[Harvester] = Harvester
    """What runs a harvest; the cluster worker (``archiver.cluster``) scopes recovery per site."""
    journal: bool = True
    """Flush the workflow journal after each job (the embedded daemon; see docs/scale-out.md)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _active: dict[str, float] = field(default_factory=dict)

    @property
    def cfg(self) -> Config:
        return self.app.cfg

    def begin(self, job_id: str) -> None:
        with self._lock:
            self._active[job_id] = datetime.now(UTC).timestamp()

    def end(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)

    def active(self) -> list[str]:
        with self._lock:
            return sorted(self._active)

    def running_since(self) -> dict[str, float]:
        """Each running job and when it began (epoch seconds), for the watchdog's liveness check."""
        with self._lock:
            return dict(self._active)


_runtime: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def _rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("archiver.daemon.jobs used outside the daemon (no runtime installed)")
    return _runtime


def _enabled_site(cfg: Config, site_id: str) -> SiteConfig | None:
    for s in cfg.sites:
        if s.id == site_id and s.enabled:
            return s
    return None


def _flush_journal(rt: Runtime) -> None:
    """Seal what the job changed into the storage's workflow journal (``archiver.journal``)."""
    from archiver import journal

    if rt.journal:
        journal.flush_quietly(rt.cfg.root, rt.app.catalog.engine, rt.app.storage)


def harvest_site(site_id: str, *, slot: str | None = None) -> str:
    """One scheduled harvest; returns the result word it recorded.

    ``slot`` (the cluster's scheduled time, ISO 8601) is kept in the run's detail, so the
    cluster can show that each site was harvested once per slot.
    """
    try:
        return _harvest_site(site_id, slot)
    finally:
        if _runtime is not None:
            _flush_journal(_runtime)


def _harvest_site(site_id: str, slot: str | None = None) -> str:
    rt = _rt()
    job_id = sched.harvest_job_id(site_id)
    catalog = rt.app.catalog
    with bound_contextvars(job=job_id, site=site_id):
        if rt.stopping.is_set():
            return "skipped"
        cfg = rt.cfg
        site = _enabled_site(cfg, site_id)
        if site is None:
            log.warning("harvest_skipped_not_configured")
            sched.record_skip(catalog, job_id, "site no longer configured or disabled")
            return "skipped"
        backoff = sched.backoff_of(catalog, site_id)
        if backoff.skip_until is not None and backoff.skip_until > datetime.now(UTC):
            reason = (
                f"backing off after {backoff.consecutive_failures} consecutive failures "
                f"until {backoff.skip_until.isoformat(timespec='seconds')}"
                if backoff.consecutive_failures
                else f"rate limited until {backoff.skip_until.isoformat(timespec='seconds')}"
            )
            log.info("harvest_skipped_backoff", until=backoff.skip_until.isoformat())
            sched.record_skip(catalog, job_id, reason)
            return "skipped"
        pk = sched.record_start(catalog, job_id)
        rt.begin(job_id)
        try:
            # Harvests share the staging folder: the foundation locks each in-flight bundle and
            # each site (archiver.bundle.BundleLock), so one harvest's recovery never touches
            # another's work, in this process or in a clerk's `archiver harvest`.
            harvester = rt.harvester_class(cfg, catalog, rt.app.storage, after_site=after_harvest)
            result = harvester.harvest_site(site, stop=rt.abandon)
        except HarvestAborted as exc:
            sched.record_finish(catalog, pk, result="abandoned", error=str(exc))
            return "abandoned"
        except RateLimitedError as exc:
            b = sched.note_rate_limited(catalog, site, exc.until, str(exc))
            log.warning("harvest_rate_limited", skip_until=b.skip_until)
            sched.record_finish(catalog, pk, result="rate_limited", error=str(exc))
            return "rate_limited"
        except Exception as exc:
            message = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ArchiverError):
                log.exception("harvest_crashed", error=message)
            b = sched.note_failure(catalog, site, message)
            log.warning(
                "harvest_backoff",
                consecutive_failures=b.consecutive_failures,
                skip_until=b.skip_until.isoformat() if b.skip_until else None,
            )
            sched.record_finish(catalog, pk, result="failed", error=message)
            return "failed"
        finally:
            rt.end(job_id)
        sched.note_success(catalog, site_id)
        detail: dict[str, Any] = {
            "run": result.run_id,
            "bundles": result.bundles,
            "counts": result.counts,
        }
        if slot is not None:
            detail["slot"] = slot
        sched.record_finish(catalog, pk, result="succeeded", detail=detail)
        return "succeeded"


def _maintenance(job_id: str, work: Callable[[Runtime], dict[str, Any]]) -> str:
    """Run a non-harvest job with the same recording and never-raise rules."""
    try:
        return _run_maintenance(job_id, work)
    finally:
        if _runtime is not None:
            _flush_journal(_runtime)


def _run_maintenance(job_id: str, work: Callable[[Runtime], dict[str, Any]]) -> str:
    rt = _rt()
    with bound_contextvars(job=job_id):
        if rt.stopping.is_set():
            return "skipped"
        pk = sched.record_start(rt.app.catalog, job_id)
        rt.begin(job_id)
        try:
            detail = work(rt)
        except Exception as exc:
            message = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ArchiverError):
                log.exception("job_crashed", error=message)
            else:
                log.error("job_failed", error=message)
            sched.record_finish(rt.app.catalog, pk, result="failed", error=message)
            return "failed"
        finally:
            rt.end(job_id)
        failed = bool(detail.pop("_failed", False))
        sched.record_finish(
            rt.app.catalog,
            pk,
            result="failed" if failed else "succeeded",
            error=detail.get("error") if failed else None,
            detail=detail,
        )
        log.info("job_finished", result="failed" if failed else "succeeded", **detail)
        return "failed" if failed else "succeeded"


def _verify(rt: Runtime, sample: int | None) -> dict[str, Any]:
    from archiver.integrity.run import check_archive
    from archiver.verify import record_audit

    # The weekly full verify is also the deep one: the catalog against the sealed records.
    report = check_archive(rt.app, sample=sample, deep=sample is None)
    record_audit(
        rt.app.catalog,
        report,
        scope="archive" if sample is None else "sample",
        anchor_path=rt.app.cfg.audit_anchor,
    )
    detail: dict[str, Any] = {
        "bundles_checked": report.bundles_checked,
        "files_checked": report.files_checked,
        "problems": len(report.problems),
    }
    # Periodic audit checkpoint: the head sealed with the bundles (after the log verified).
    from archiver.audit import AuditIntegrityError
    from archiver.integrity.audit_check import seal_checkpoint
    from archiver.integrity.keyops import retry_timestamps

    try:
        detail["audit_checkpoint"] = seal_checkpoint(rt.app).n
    except AuditIntegrityError as exc:
        detail["_failed"] = True
        detail["error"] = str(exc)
        return detail
    detail["timestamps_pending"] = retry_timestamps(rt.app).still_pending
    if not report.ok:
        first = report.problems[0]
        detail["_failed"] = True
        detail["error"] = (
            f"{len(report.problems)} fixity problem(s), first: bundle {first.bundle_id} "
            f"{first.relpath or ''} {first.kind}: {first.detail}"
        )
    return detail


def fixity_check() -> str:
    """Nightly: re-hash a random sample of bundles (``[daemon] fixity_sample``)."""
    return _maintenance("fixity:nightly", lambda rt: _verify(rt, rt.settings.fixity_sample))


def full_verify() -> str:
    """Weekly: re-hash every stored byte and look for orphans."""
    return _maintenance("verify:weekly", lambda rt: _verify(rt, None))


def _retention(rt: Runtime) -> dict[str, Any]:
    from archiver.retention.eligibility import refresh

    outcome = refresh(rt.app)
    if outcome["warnings"]:
        log.warning("retention_refresh_warnings", warnings=outcome["warnings"])
    # The run detail keeps the shape it had before the explicit-wiring change ("outcome").
    return {"outcome": outcome}


def retention_refresh() -> str:
    """Daily: recompute which bundles are eligible for disposal (never disposes anything)."""
    return _maintenance("retention:daily", _retention)


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def _report(rt: Runtime) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from archiver.report.build import produce_report

    month = previous_month(datetime.now(ZoneInfo(rt.cfg.timezone)).date())
    outcome = produce_report(rt.app, month, send=True)
    detail: dict[str, Any] = {"month": month, "out_dir": str(outcome.out_dir)}
    if outcome.error:
        detail["_failed"] = True
        detail["error"] = outcome.error
    return detail


def monthly_report() -> str:
    """1st of the month: last month's report, kept on disk and e-mailed."""
    return _maintenance("report:monthly", _report)
