"""The daemon's jobs as a table for plain ``archiver status``: next run, last result, back-off.

``archiver.daemon.status.status_section`` gathers the facts (UTC ISO text, also what
``--json`` prints); this module only lays them out for a person, with every time in the
archive's configured zone so the clerk never converts from UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from archiver import timefmt

RESULT_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "abandoned": "yellow",
    "running": "cyan",
    "skipped": "yellow",
    "rate_limited": "yellow",
}


def local_time(value: str | None, tz: str) -> str | None:
    """``value`` (ISO-8601, UTC if naive) as "YYYY-MM-DD HH:MM ZONE" in ``tz``; None if unset."""
    return timefmt.local_time(value, tz) or None


def _next_run(job: Mapping[str, Any], tz: str) -> str:
    if not job.get("scheduled"):
        return "[dim]not scheduled[/]"
    return local_time(job.get("next_run"), tz) or "[yellow]paused[/]"


def _last_result(job: Mapping[str, Any], tz: str) -> str:
    last = job.get("last_run")
    if not last:
        return "[dim]never run[/]"
    result = str(last.get("result") or "unknown")
    style = RESULT_STYLE.get(result, "white")
    if result == "running":
        return f"[{style}]running[/] since {local_time(last.get('started_at'), tz) or '?'}"
    when = local_time(last.get("finished_at") or last.get("started_at"), tz) or "?"
    return f"[{style}]{escape(result)}[/] {when}"


def _backoff(job: Mapping[str, Any], tz: str) -> str:
    b = job.get("backoff")
    if not b:
        return ""
    failures = int(b.get("consecutive_failures") or 0)
    text = f"{failures} failure(s) in a row" if failures else "rate limited"
    until = local_time(b.get("skip_until"), tz)
    if until:
        text += f"; skipping runs until {until}"
    return f"[yellow]{escape(text)}[/]"


def jobs_table(jobs: Sequence[Mapping[str, Any]], tz: str) -> Table:
    """One row per job: id, next run, last result with its time, back-off state if any."""
    table = Table(
        "job",
        "next run",
        "last result",
        "back-off",
        title=f"Daemon jobs (times in {tz})",
        title_justify="left",
    )
    for job in jobs:
        table.add_row(
            escape(str(job["id"])), _next_run(job, tz), _last_result(job, tz), _backoff(job, tz)
        )
    return table
