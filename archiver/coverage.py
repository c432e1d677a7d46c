"""Coverage as data (issue 11 part 3): what the archive lacks, with the reason and the fix.

Two sources, one list:

* **count gaps**: a harvest saw the platform report a count (a thread's replies) larger than
  what it captured; the catalog ``coverage`` table keeps both numbers and the reason.
* **harvest gaps**: a configured site had no successful harvest for longer than twice its
  interval. Computed from ``runs`` and the site's configured interval; nothing is stored.

Read by ``archiver coverage``, ``status``, the monthly report and the export certification,
through an ``archiver.catalog.sql`` reader: ``status`` reads an embedded catalog without
SQLAlchemy, the others pass ``SAReader(conn)``; the SQL text is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.catalog.sql import Reader, in_list
from archiver.config import Config, SiteConfig
from archiver.timefmt import iso_local, local_time


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """One thing the archive lacks: a short count or a period without a harvest."""

    site_id: str
    kind: str  # "count" or "harvest"
    scope: str  # "thread" / "followers" / "media" / "harvests"
    thread_platform_id: str | None
    reported: int | None
    captured: int | None
    reason: str
    fix: str
    start: datetime  # when it was seen (count) or the gap opened (harvest)
    end: datetime | None = None  # harvest gaps: when it closed (None: still open)

    def describe(self) -> str:
        """One line for a clerk, without times (callers add them in City time)."""
        if self.kind == "harvest":
            return f"{self.site_id}: no successful harvest ({self.reason})"
        what = f"thread {self.thread_platform_id}" if self.thread_platform_id else self.scope
        missing = (self.reported or 0) - (self.captured or 0)
        return (
            f"{self.site_id}: {what}: platform reports {self.reported}, {self.captured} "
            f"captured: {missing} {self.reason}"
        )


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _fix_for(reason: str) -> str:
    low = reason.lower()
    if low.startswith("tier"):
        return "give the site a token (token_env) or a higher API tier; re-run the harvest"
    if low.startswith("api limit"):
        return "give the site a token with a higher limit; the next harvest re-reads the thread"
    return "nothing the archive can fetch; keep this note with any answer about the thread"


def count_gaps(
    db: Reader,
    *,
    sites: Sequence[str] = (),
    since: datetime | None = None,
    threads: Iterable[str] | None = None,
) -> list[CoverageGap]:
    """Latest reported-vs-captured shortfall per (site, scope, thread), oldest first.

    Only the newest row of each thread counts: a later harvest that caught up replaces it.
    """
    where: list[str] = []
    params: dict[str, object] = {}
    if sites:
        frag, p = in_list("site", list(sites))
        where.append(f"site_id IN {frag}")
        params.update(p)
    if threads is not None:
        wanted = list(threads)
        if not wanted:
            return []
        frag, p = in_list("thread", wanted)
        where.append(f"thread_platform_id IN {frag}")
        params.update(p)
    sql = (
        "SELECT site_id, scope, thread_platform_id, reported, captured, reason, at "
        "FROM coverage" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY at, id"
    )
    latest: dict[tuple[str, str, str | None], CoverageGap] = {}
    for r in db.rows(sql, params):
        at = _parse(r["at"]) or datetime.now(UTC)
        latest[(r["site_id"], r["scope"], r["thread_platform_id"])] = CoverageGap(
            site_id=r["site_id"],
            kind="count",
            scope=r["scope"],
            thread_platform_id=r["thread_platform_id"],
            reported=r["reported"],
            captured=r["captured"],
            reason=r["reason"],
            fix=_fix_for(r["reason"]),
            start=at,
        )
    out = [g for g in latest.values() if (g.reported or 0) > (g.captured or 0)]
    if since is not None:
        out = [g for g in out if g.start >= since]
    return out


def site_interval(site: SiteConfig, tz: str = "UTC") -> timedelta:
    """The longest wait between two scheduled harvests: the interval, or for a ``cron`` site
    the longest gap between its fire times over the coming fortnight (a weekly crontab line
    must not be flagged every other day)."""
    if not site.cron:
        return timedelta(seconds=site.interval_seconds)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(site.cron, timezone=tz)
    start = datetime.now(UTC)
    prev: datetime | None = None
    longest = timedelta(0)
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire - start < timedelta(days=15):
        if prev is not None:
            longest = max(longest, fire - prev)
        prev = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return longest or timedelta(days=31)


#: A site's runs in time order (harvest gaps).
SITE_RUNS = (
    "SELECT started_at, finished_at, status FROM runs WHERE site_id = :site ORDER BY started_at"
)


def harvest_gaps(
    db: Reader,
    sites: Iterable[SiteConfig],
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    tz: str = "UTC",
) -> list[CoverageGap]:
    """Periods longer than twice a site's interval between successful harvests.

    Starts counting at the site's first run of any kind (before that it was not harvested at
    all, which ``status`` says otherwise); a gap still open at ``now`` ends with ``None``.
    """
    now = now or datetime.now(UTC)
    out: list[CoverageGap] = []
    for site in sites:
        if not site.enabled:
            continue
        allowed = 2 * site_interval(site, tz)
        rows = db.rows(SITE_RUNS, {"site": site.id})
        if not rows:
            continue
        last = _parse(rows[0]["started_at"])
        assert last is not None
        for row in rows:
            if row["status"] != "succeeded":
                continue
            done = _parse(row["finished_at"]) or _parse(row["started_at"])
            assert done is not None
            if done - last > allowed:
                out.append(_harvest_gap(site, last, done, allowed))
            last = max(last, done)
        if now - last > allowed:
            out.append(_harvest_gap(site, last, None, allowed))
    if since is not None:
        out = [g for g in out if g.end is None or g.end >= since]
    return out


def _harvest_gap(
    site: SiteConfig, start: datetime, end: datetime | None, allowed: timedelta
) -> CoverageGap:
    hours = allowed.total_seconds() / 3600
    return CoverageGap(
        site_id=site.id,
        kind="harvest",
        scope="harvests",
        thread_platform_id=None,
        reported=None,
        captured=None,
        reason=f"longer than twice the {'schedule' if site.cron else 'interval'} ({hours:g} h)",
        fix=(
            f"check `archiver status` for the last error of {site.id} and that the daemon runs; "
            "posts removed upstream in this period may never have been captured"
        ),
        start=start,
        end=end,
    )


def all_gaps(
    db: Reader,
    sites: Sequence[SiteConfig],
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    tz: str = "UTC",
) -> list[CoverageGap]:
    """Both kinds for ``sites``, in the order they began."""
    gaps = count_gaps(db, sites=[x.id for x in sites], since=since) + harvest_gaps(
        db, sites, since=since, now=now, tz=tz
    )
    return sorted(gaps, key=lambda g: g.start)


def gap_json(g: CoverageGap, tz: str) -> dict[str, object]:
    return {
        "site": g.site_id,
        "kind": g.kind,
        "scope": g.scope,
        "thread": g.thread_platform_id,
        "reported": g.reported,
        "captured": g.captured,
        "reason": g.reason,
        "fix": g.fix,
        "start": iso_local(g.start, tz),
        "end": iso_local(g.end, tz),
    }


def gap_line(g: CoverageGap, tz: str) -> str:
    """Plain text (callers escape it) with the times in City time."""
    if g.kind == "harvest":
        until = local_time(g.end, tz) if g.end else "now"
        return f"{g.describe()}: {local_time(g.start, tz)} to {until}"
    return f"{g.describe()} (seen {local_time(g.start, tz)})"


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    """``archiver status``: the coverage gaps of the last 31 days under NEEDS ATTENTION.

    Notes are plain text: ``status`` escapes each note as it prints it.
    """
    tz = cfg.timezone
    now = datetime.now(UTC)
    gaps = all_gaps(db, list(cfg.sites), since=now - timedelta(days=31), now=now, tz=tz)
    notes: list[str] = []
    if gaps:
        notes.append(
            f"NEEDS ATTENTION: {len(gaps)} coverage gap(s) in the last 31 days "
            "(`archiver coverage` lists them all):"
        )
        for g in gaps:
            notes.append(f"  {gap_line(g, tz)}; fix: {g.fix}")
    return {"coverage": [gap_json(g, tz) for g in gaps], "notes": notes}
