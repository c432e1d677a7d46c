"""``archiver status`` jobs: next run, last result, back-off; works with the daemon down.

Its own module, apart from ``archiver.daemon.scheduler`` (APScheduler, SQLAlchemy): ``status``
reads these rows through an ``archiver.catalog.sql`` reader without importing either
(issue 14 part 2). ``archiver.daemon.status_table`` renders what this gathers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archiver.catalog.sql import Reader

if TYPE_CHECKING:
    from archiver.config import Config

#: APScheduler's job store table in the catalog database (``archiver.daemon.scheduler``).
JOBS_TABLE = "apscheduler_jobs"

STORED_JOBS = f"SELECT id, next_run_time FROM {JOBS_TABLE} ORDER BY id"
#: Each job's newest run that did something (a skipped run is not a result).
LAST_RUNS = (
    "SELECT job_id, started_at, finished_at, result, error, detail_json FROM job_runs "
    "WHERE id IN (SELECT max(id) FROM job_runs WHERE result != 'skipped' GROUP BY job_id)"
)
BACKOFFS = (
    "SELECT site_id, consecutive_failures, skip_until, backoff_seconds, last_error "
    "FROM harvest_backoff"
)


def stored_jobs(db: Reader) -> list[tuple[str, float | None]] | None:
    """(id, next run as epoch seconds) straight from the job store; None if never started."""
    if not db.has_table(JOBS_TABLE):
        return None
    rows = db.rows(STORED_JOBS)
    return [
        (str(r["id"]), None if r["next_run_time"] is None else float(r["next_run_time"]))
        for r in rows
    ]


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    """``archiver status`` jobs: next run, last result, back-off; works with the daemon down."""
    stored = stored_jobs(db)
    notes: list[str] = []
    if stored is None:
        notes.append("daemon: no job schedule yet (start `archiver daemon` to schedule harvests)")
        stored = []
    next_runs = dict(stored)
    last = {r["job_id"]: r for r in db.rows(LAST_RUNS)}
    backoffs = {r["site_id"]: r for r in db.rows(BACKOFFS)}
    jobs: list[dict[str, Any]] = []
    for job_id in sorted(set(next_runs) | set(last)):
        row = last.get(job_id)
        entry: dict[str, Any] = {
            "id": job_id,
            "scheduled": job_id in next_runs,
            "next_run": _iso(next_runs.get(job_id)),
            "last_run": None
            if row is None
            else {
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "result": row["result"],
                "error": row["error"],
                "detail": json.loads(row["detail_json"] or "{}"),
            },
            "backoff": None,
        }
        if job_id.startswith("harvest:"):
            b = backoffs.get(job_id.split(":", 1)[1])
            if b is not None:
                entry["backoff"] = {
                    "consecutive_failures": int(b["consecutive_failures"]),
                    "skip_until": b["skip_until"],
                    "backoff_seconds": float(b["backoff_seconds"]),
                    "last_error": b["last_error"],
                }
                if b["skip_until"] and b["consecutive_failures"]:
                    notes.append(
                        f"{job_id}: backing off after {b['consecutive_failures']} consecutive "
                        f"failures, next attempt after {b['skip_until'][:19]} UTC: "
                        f"{b['last_error']}"
                    )
                elif b["skip_until"]:
                    notes.append(
                        f"{job_id}: rate limited, next attempt after {b['skip_until'][:19]} UTC: "
                        f"{b['last_error']}"
                    )
        if row is not None and row["result"] == "failed" and entry["backoff"] is None:
            notes.append(f"{job_id}: last run failed: {row['error']}")
        jobs.append(entry)
    upcoming = sorted((t, j) for j, t in stored if t is not None and j.startswith("harvest:"))
    if upcoming:
        t, j = upcoming[0]
        notes.insert(
            0,
            f"daemon: {len(stored)} job(s) scheduled; next harvest {j.removeprefix('harvest:')} "
            f"at {_iso(t)} (details: archiver status --json)",
        )
    return {"jobs": jobs, "notes": notes}
