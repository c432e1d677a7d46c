"""What ``archiver cluster status`` and ``/metrics`` show: workers, queue, last success per site."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import Engine, text


def cluster_figures(engine: Engine, *, stalled_seconds: float) -> dict[str, Any]:
    """Workers alive, queue depth per queue, age of the oldest waiting job, fast-lane latency."""
    with engine.connect() as conn:
        workers = conn.execute(
            text(
                "SELECT id, last_heartbeat FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :s) ORDER BY id"
            ),
            {"s": stalled_seconds},
        ).all()
        depth = {
            str(q): int(n)
            for q, n in conn.execute(
                text(
                    "SELECT queue_name, count(*) FROM procrastinate_jobs "
                    "WHERE status = 'todo' GROUP BY queue_name"
                )
            )
        }
        oldest = conn.execute(
            text(
                "SELECT extract(epoch FROM now() - min(coalesce(j.scheduled_at, e.at))) "
                "FROM procrastinate_jobs j JOIN procrastinate_events e "
                "ON e.job_id = j.id AND e.type = 'deferred' "
                "WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
            )
        ).scalar()
        running = conn.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'")
        ).scalar()
        lane = {
            str(site): float(sec)
            for site, sec in conn.execute(
                text(
                    "SELECT DISTINCT ON (site_id) site_id, seconds FROM fastlane_latency "
                    "ORDER BY site_id, id DESC"
                )
            )
        }
    return {
        "workers": len(workers),
        "worker_heartbeats": [
            {"id": int(w.id), "last_heartbeat": w.last_heartbeat.astimezone(UTC).isoformat()}
            for w in workers
        ],
        "queue_depth": depth,
        "running": int(running or 0),
        "oldest_waiting_seconds": None if oldest is None else max(0.0, float(oldest)),
        "fastlane_latency": lane,
    }


def last_success(engine: Engine, site_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each site's newest succeeded harvest (finished time and slot), None if it has none."""
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(site_ids)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT ON (job_id) job_id, finished_at, detail_json FROM job_runs "
                "WHERE result = 'succeeded' AND job_id LIKE 'harvest:%' "
                "ORDER BY job_id, id DESC"
            )
        )
        for job_id, finished, detail in rows:
            site = str(job_id).removeprefix("harvest:")
            if site in out:
                slot = json.loads(detail or "{}").get("slot")
                out[site] = {"finished_at": finished, "slot": slot}
    return out


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "none waiting"
    s = int(seconds)
    return f"{s // 3600}h {s % 3600 // 60}m" if s >= 3600 else f"{s // 60}m {s % 60}s"
