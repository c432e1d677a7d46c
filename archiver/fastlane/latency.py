"""Fast-lane latency: record creation-to-sealed delay per first capture; p50/p95 per site.

A *fast-lane miss* is a comment posted while the fast lane was following its site (from the
``fastlane_since`` bookmark, set by the first tick) that the fast lane did not capture first:
a sweep sealed it, more than ``[fastlane] target`` seconds (default 120) after the platform's
``created_at``. Misses are counted per site in ``status`` and in the monthly report beside the
median and 95th percentile, so a lane that silently stopped seeing comments shows up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archiver.catalog.sql import Reader

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from archiver.config import Config

#: Seconds from creation to sealed beyond which a comment a sweep captured first is a miss.
#: Bookmark (per site) holding when the fast lane first followed the site.
SINCE_KEY = "fastlane_since"


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def mark_following(conn: Connection, site_id: str, since: datetime) -> None:
    """Remember when the fast lane first followed ``site_id`` (kept once; misses count after)."""
    from sqlalchemy import select

    from archiver.catalog import schema as s

    b = s.bookmarks
    have = conn.execute(
        select(b.c.value).where(b.c.site_id == site_id, b.c.key == SINCE_KEY)
    ).first()
    if have is None:
        conn.execute(
            b.insert().values(
                site_id=site_id,
                key=SINCE_KEY,
                value=since.astimezone(UTC).isoformat(),
                updated_at=datetime.now(UTC).isoformat(),
            )
        )


def record(conn: Connection, site_id: str, bundle_ids: list[str]) -> int:
    """Samples for items whose *first* version is in ``bundle_ids`` (new to the archive)."""
    if not bundle_ids:
        return 0
    from sqlalchemy import select

    from archiver.catalog import schema as s
    from archiver.fastlane.tables import fastlane_latency

    v, i, b = s.item_versions, s.items, s.bundles
    rows = conn.execute(
        select(i.c.platform_id, i.c.posted_at, b.c.sealed_at)
        .join(v, v.c.item_id == i.c.id)
        .join(b, b.c.id == v.c.bundle_id)
        .where(v.c.version == 1, v.c.bundle_id.in_(bundle_ids), i.c.posted_at.is_not(None))
    ).all()
    samples = []
    for r in rows:
        seconds = (
            datetime.fromisoformat(r.sealed_at) - datetime.fromisoformat(r.posted_at)
        ).total_seconds()
        samples.append(
            {
                "site_id": site_id,
                "platform_id": r.platform_id,
                "posted_at": r.posted_at,
                "sealed_at": r.sealed_at,
                "seconds": max(seconds, 0.0),
            }
        )
    if samples:
        conn.execute(fastlane_latency.insert(), samples)
    return len(samples)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure shown is a real sample)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# The reads below are SQL text run by an ``archiver.catalog.sql`` reader: ``status`` reads an
# embedded catalog without SQLAlchemy, the report passes ``SAReader(conn)``.
SAMPLES = "SELECT site_id, seconds, sealed_at FROM fastlane_latency"
FOLLOWED_SINCE = 'SELECT site_id, value FROM bookmarks WHERE "key" = :key'
LIVE_IDS = "SELECT platform_id FROM fastlane_latency WHERE site_id = :site"
FIRST_SEALED_COMMENTS = (
    "SELECT i.platform_id, i.posted_at, bu.sealed_at FROM items i "
    "JOIN item_versions v ON v.item_id = i.id JOIN bundles bu ON bu.id = v.bundle_id "
    "WHERE i.site_id = :site AND i.record_class = 'comments' AND i.posted_at IS NOT NULL "
    "AND v.version = 1 AND bu.sealed_at >= :began"
)


def per_site(
    db: Reader, *, lo: datetime | None = None, hi: datetime | None = None
) -> dict[str, dict[str, float]]:
    """``{site: {"count", "p50", "p95"}}`` over the samples sealed in ``[lo, hi)`` (all)."""
    out: dict[str, list[float]] = {}
    for r in db.rows(SAMPLES):
        sealed = _when(r["sealed_at"])
        if (lo is not None and sealed < lo) or (hi is not None and sealed >= hi):
            continue
        out.setdefault(r["site_id"], []).append(float(r["seconds"]))
    return {
        site: {"count": len(v), "p50": percentile(v, 0.5), "p95": percentile(v, 0.95)}
        for site, v in out.items()
    }


@dataclass(frozen=True)
class Miss:
    site_id: str
    platform_id: str
    posted_at: datetime
    sealed_at: datetime

    @property
    def seconds(self) -> float:
        return (self.sealed_at - self.posted_at).total_seconds()


def misses(
    db: Reader,
    target: float,
    *,
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> list[Miss]:
    """Comments posted after the fast lane began following their site that a sweep sealed
    first, more than ``target`` seconds after creation; first sealed in ``[lo, hi)``."""
    since = {r["site_id"]: _when(r["value"]) for r in db.rows(FOLLOWED_SINCE, {"key": SINCE_KEY})}
    out: list[Miss] = []
    for site_id, began in sorted(since.items()):
        live = {r["platform_id"] for r in db.rows(LIVE_IDS, {"site": site_id})}
        # sealed after the lane began: a cheap bound, the posting time is checked below
        rows = db.rows(
            FIRST_SEALED_COMMENTS,
            {"site": site_id, "began": began.astimezone(UTC).isoformat()[:19]},
        )
        for r in rows:
            if r["platform_id"] in live:
                continue
            try:
                posted, sealed = _when(r["posted_at"]), _when(r["sealed_at"])
            except ValueError:
                continue
            if posted < began or (sealed - posted).total_seconds() <= target:
                continue
            if (lo is not None and sealed < lo) or (hi is not None and sealed >= hi):
                continue
            out.append(Miss(site_id, r["platform_id"], posted, sealed))
    return out


def miss_counts(
    db: Reader, target: float, *, lo: datetime | None = None, hi: datetime | None = None
) -> dict[str, int]:
    """``{site: misses}`` for every site the fast lane follows (zero included)."""
    counts = {r["site_id"]: 0 for r in db.rows(FOLLOWED_SINCE, {"key": SINCE_KEY})}
    for m in misses(db, target, lo=lo, hi=hi):
        counts[m.site_id] = counts.get(m.site_id, 0) + 1
    return counts


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def describe(figures: dict[str, float] | None, missed: int | None, target: float) -> str:
    """One sentence per site, shared by ``status`` and the monthly report."""
    parts = []
    if figures:
        parts.append(
            f"{figures['count']:.0f} captured live, creation to sealed median "
            f"{_seconds(figures['p50'])}, 95th percentile {_seconds(figures['p95'])}"
        )
    else:
        parts.append("nothing captured live")
    if missed is not None:
        parts.append(
            f"{missed} fast-lane miss{'' if missed == 1 else 'es'} (comments a sweep captured "
            f"first, more than {_seconds(target)} after they were posted)"
        )
    return "; ".join(parts)


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    """``archiver status``: fast-lane latency and misses per site (``--json``:
    ``fastlane_latency`` with ``count``/``p50``/``p95``/``misses`` per site). The CLI escapes
    the notes when it prints them."""
    target = cfg.fastlane.target
    figures = per_site(db)
    missed = miss_counts(db, target)
    out: dict[str, dict[str, float]] = {}
    for site in sorted(set(figures) | set(missed)):
        out[site] = {**figures.get(site, {"count": 0}), "misses": missed.get(site, 0)}
    notes = [
        f"fast lane {site}: {describe(figures.get(site), missed.get(site), target)}"
        for site in sorted(out)
    ]
    from archiver.fastlane.webhooks import unrouted_count, unrouted_dir

    unrouted = unrouted_count(cfg.staging_dir)
    if unrouted:
        notes.append(
            f"webhooks: {unrouted} delivery(ies) named no configured Facebook Page or Instagram "
            f"account; kept in {unrouted_dir(cfg.staging_dir)} and routed when a site for "
            "that account is added (check the Page ids in the Meta app's subscription)"
        )
    spooled = quiet_spool_section(cfg, datetime.now(UTC))
    notes += spooled.pop("notes")
    return {
        "fastlane_latency": out,
        "fastlane_target_seconds": target,
        "webhooks_unrouted": unrouted,
        **spooled,
        "notes": notes,
    }


def quiet_spool_section(cfg: Config, now: datetime) -> dict[str, Any]:
    """Quiet fast-lane polls waiting in staging, per site (``--json``: ``quiet_spool`` with
    ``ticks`` and ``oldest``, ISO 8601 in the City's zone).

    Why status says it: until the site's next bundle carries them, those polls are fsynced on
    the City server but not yet sealed, signed or on WORM storage. They are sealed within
    ``[fastlane] quiet_seal_every`` while the daemon runs; older than that plus two ticks means
    nothing is running to seal them, which an administrator must hear about."""
    from archiver.quiet_spool import QuietSpool
    from archiver.timefmt import iso_local, local_time

    tz = cfg.timezone
    due = cfg.fastlane.quiet_seal_every + 2 * cfg.fastlane.interval
    out: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for site in sorted(cfg.sites, key=lambda s: s.id):
        spool = QuietSpool(cfg.staging_dir, site.id)
        ticks = len(spool.pending())
        if not ticks:
            continue
        oldest = spool.oldest()
        out[site.id] = {"ticks": ticks, "oldest": iso_local(oldest, tz)}
        note = (
            f"fast lane {site.id}: {ticks} quiet poll(s) since {local_time(oldest, tz)} wait in "
            "staging, fsynced but not yet sealed"
        )
        if oldest is not None and (now - oldest).total_seconds() > due:
            note += (
                f"; overdue (they are sealed within {cfg.fastlane.quiet_seal_every:.0f} s while "
                f"the daemon runs): start the daemon or run archiver harvest {site.id}"
            )
        notes.append(note)
    return {"quiet_spool": out, "notes": notes}
