"""Who followed and who left a site in a period, from the catalog's follower diffs.

A follow or unfollow is *detected* by the harvest after it happened (the platform gives no
follow time), so each event carries the time of the follower list that first showed it. The
site's first list with identities is its baseline: those people were already following and
are reported as the baseline, never as "followed" in the period. Where the platform gives only
a count, there are no identities to list, and the answer says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.errors import ArchiverError, BundleError

#: (platform_id, handle, display_name, url) of one follower.
FollowerRow = tuple[str, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class FollowerEvent:
    event: str  # followed | unfollowed
    at: datetime  # aware, UTC: when the harvest that saw the change took its list
    platform_id: str
    handle: str | None
    display_name: str | None
    run_id: str


@dataclass(slots=True)
class FollowerReport:
    site_id: str
    since: datetime | None
    until: datetime | None
    events: list[FollowerEvent] = field(default_factory=list)
    baseline_at: datetime | None = None
    baseline_count: int | None = None
    identities: bool = True
    latest_count: int | None = None
    latest_at: datetime | None = None

    @property
    def followed(self) -> int:
        return sum(1 for e in self.events if e.event == "followed")

    @property
    def unfollowed(self) -> int:
        return sum(1 for e in self.events if e.event == "unfollowed")

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "site": self.site_id,
            "since": iso(self.since),
            "until": iso(self.until),
            "identities": self.identities,
            "followed": self.followed,
            "unfollowed": self.unfollowed,
            "baseline": {"taken_at": iso(self.baseline_at), "count": self.baseline_count},
            "latest": {"taken_at": iso(self.latest_at), "count": self.latest_count},
            "events": [
                {
                    "event": e.event,
                    "detected_at": iso(e.at),
                    "platform_id": e.platform_id,
                    "handle": e.handle,
                    "display_name": e.display_name,
                    "run": e.run_id,
                }
                for e in self.events
            ],
        }


def day_bounds(
    since: date | None, until: date | None, tz: str
) -> tuple[datetime | None, datetime | None]:
    """``since`` from its first moment, ``until`` through its last, in the archive's zone."""
    zone = ZoneInfo(tz)
    lo = None if since is None else datetime.combine(since, time(0), zone)
    hi = None if until is None else datetime.combine(until + timedelta(days=1), time(0), zone)
    if lo is not None and hi is not None and hi <= lo:
        raise ArchiverError(f"--until {until} is before --since {since}", hint="swap the two dates")
    return lo, hi


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def follower_report(
    catalog: Catalog, site_id: str, *, since: datetime | None, until: datetime | None
) -> FollowerReport:
    """Every follow and unfollow of ``site_id`` detected in [since, until), oldest first."""
    snaps = s.follower_snapshots
    ev = s.follower_events
    with catalog.begin() as conn:
        known = conn.execute(select(s.sites.c.id).where(s.sites.c.id == site_id)).first()
        if known is None:
            names = [r[0] for r in conn.execute(select(s.sites.c.id).order_by(s.sites.c.id))]
            raise ArchiverError(
                f"no site {site_id!r} in the archive",
                hint="known sites: " + (", ".join(names) or "none yet (run a harvest first)"),
            )
        report = FollowerReport(site_id, since, until)
        baseline = conn.execute(
            select(snaps.c.run_id, snaps.c.taken_at, snaps.c.count)
            .where(snaps.c.site_id == site_id, snaps.c.identities.is_(True))
            .order_by(snaps.c.id)
            .limit(1)
        ).first()
        for snap in conn.execute(
            select(snaps.c.taken_at, snaps.c.count, snaps.c.identities)
            .where(snaps.c.site_id == site_id)
            .order_by(snaps.c.id)
        ):
            taken = _utc(snap.taken_at)
            if until is not None and taken >= until:
                continue
            if report.latest_at is None or taken >= report.latest_at:
                report.latest_at, report.latest_count = taken, int(snap._mapping["count"])
                report.identities = bool(snap.identities)
        if baseline is not None:
            report.baseline_at = _utc(baseline.taken_at)
            report.baseline_count = int(baseline._mapping["count"])
        q = (
            select(
                ev.c.event,
                ev.c.at,
                ev.c.platform_id,
                ev.c.handle,
                ev.c.run_id,
                s.followers.c.display_name,
            )
            .select_from(
                ev.outerjoin(
                    s.followers,
                    (s.followers.c.site_id == ev.c.site_id)
                    & (s.followers.c.platform_id == ev.c.platform_id),
                )
            )
            .where(ev.c.site_id == site_id, ev.c.run_id != (baseline.run_id if baseline else ""))
            .order_by(ev.c.at, ev.c.id)
        )
        for r in conn.execute(q):
            at = _utc(r.at)
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
            report.events.append(
                FollowerEvent(r.event, at, r.platform_id, r.handle, r.display_name, r.run_id)
            )
    return report


def sealed_follower_list(
    open_db: Callable[[str], sqlite3.Connection], bundle_id: str
) -> list[FollowerRow]:
    """The follower list as of the followers bundle ``bundle_id``, from sealed data alone.

    A checkpoint bundle (or a format 1-2 bundle) holds the whole list; a diff or partial one
    (format 3) names the list it extends (``followers_previous``), back to its checkpoint. The
    list is the checkpoint's, with every later bundle's follows added and, for complete lists
    only, its unfollows removed, in chain order. ``open_db`` opens a bundle's records.sqlite
    (through :func:`archiver.bundle_format.open_records`); the caller closes what it opened.
    """
    chain: list[tuple[str, str, sqlite3.Connection]] = []
    seen: set[str] = set()
    bid = bundle_id
    while True:
        if bid in seen:
            raise BundleError(f"follower list {bid} extends itself (a loop in the chain)")
        seen.add(bid)
        db = open_db(bid)
        info = {r[0]: r[1] for r in db.execute("SELECT key, value FROM bundle_info")}
        form = info.get("followers_form") or "checkpoint"
        chain.append((bid, form, db))
        if form == "checkpoint":
            break
        previous = info.get("followers_previous") or ""
        if not previous:
            raise BundleError(
                f"follower list {bid} ({form}) does not name the list it extends",
                hint="run `archiver verify --deep`; the bundle may be damaged",
            )
        bid = previous
    chain.reverse()
    current: dict[str, FollowerRow] = {}
    for r in chain[0][2].execute(
        "SELECT platform_id, handle, display_name, url FROM followers ORDER BY seq"
    ):
        current.setdefault(r[0], (r[0], r[1], r[2], r[3]))
    for _bid, form, db in chain[1:]:
        for r in db.execute(
            "SELECT event, platform_id, handle, display_name, url FROM follower_diffs ORDER BY seq"
        ):
            if r[0] == "followed":
                current[r[1]] = (r[1], r[2], r[3], r[4])
            elif form == "diff":
                current.pop(r[1], None)
    return list(current.values())


def followers_at(catalog: Catalog, site_id: str, when: datetime) -> set[str]:
    """Who followed ``site_id`` as of ``when`` by the catalog's follow and unfollow events
    (each at the time of the list that showed it)."""
    ev = s.follower_events
    out: set[str] = set()
    with catalog.begin() as conn:
        for r in conn.execute(
            select(ev.c.event, ev.c.at, ev.c.platform_id)
            .where(ev.c.site_id == site_id)
            .order_by(ev.c.at, ev.c.id)
        ):
            if _utc(r.at) > when:
                break
            if r.event == "followed":
                out.add(r.platform_id)
            else:
                out.discard(r.platform_id)
    return out
