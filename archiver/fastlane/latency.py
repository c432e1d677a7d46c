"""Fast-lane latency: record creation-to-sealed delay per first capture; p50/p95 per site."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from rich.markup import escape
from sqlalchemy import Connection, select

from archiver.catalog import schema as s
from archiver.fastlane.tables import fastlane_latency


def record(conn: Connection, site_id: str, bundle_ids: list[str]) -> int:
    """Samples for items whose *first* version is in ``bundle_ids`` (new to the archive)."""
    if not bundle_ids:
        return 0
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


def per_site(conn: Connection) -> dict[str, dict[str, float]]:
    """``{site: {"count", "p50", "p95"}}`` over every recorded sample."""
    out: dict[str, list[float]] = {}
    for r in conn.execute(select(fastlane_latency.c.site_id, fastlane_latency.c.seconds)):
        out.setdefault(r.site_id, []).append(float(r.seconds))
    return {
        site: {"count": len(v), "p50": percentile(v, 0.5), "p95": percentile(v, 0.95)}
        for site, v in out.items()
    }


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def status_section(app: Any) -> dict[str, Any]:
    """``archiver status``: fast-lane latency per site (``--json``: ``fastlane_latency``)."""
    with app.catalog.begin() as conn:
        figures = per_site(conn)
    notes = [
        f"fast lane {escape(site)}: {f['count']:.0f} capture(s), creation to sealed "
        f"p50 {_seconds(f['p50'])}, p95 {_seconds(f['p95'])}"
        for site, f in sorted(figures.items())
    ]
    return {"fastlane_latency": figures, "notes": notes}
