"""Follower-list snapshots in an export (only with ``--include-followers``).

One module for what every phase says about them (which snapshots, their rows, the CSV files,
the one-line statement) so the readable copy, the CSV files and the certification cannot
describe the same snapshot differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from archiver.catalog import schema as s
from archiver.csvsafe import SafeDictWriter
from archiver.followers import sealed_follower_list
from archiver.parts import ArchiveParts
from archiver.prr import readable
from archiver.prr.originals import BundleIndex
from archiver.search import SearchFilters

#: Said wherever a follower snapshot holds only the number the platform reports.
COUNT_ONLY: Final = "count only — the platform does not list follower identities"
SNAPSHOT_FIELDS: Final = (
    "site_id",
    "taken_at",
    "count",
    "identities_listed",
    "statement",
    "note",
    "bundle_id",
)
FOLLOWER_FIELDS: Final = (
    "site_id",
    "snapshot_taken_at",
    "bundle_id",
    "platform_id",
    "handle",
    "display_name",
    "url",
)


def snapshots(app: ArchiveParts, sites: set[str], f: SearchFilters) -> list[dict[str, Any]]:
    """Follower snapshots of the sites in the date range, or the latest per site without one."""
    if not sites:
        return []
    with app.catalog.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(s.follower_snapshots)
                .where(s.follower_snapshots.c.site_id.in_(sorted(sites)))
                .order_by(s.follower_snapshots.c.taken_at)
            )
        ]
    chosen = _in_range(rows, f) or _latest_per_site(rows)
    return sorted(chosen.values(), key=lambda r: (r["site_id"], r["taken_at"]))


def _in_range(rows: list[dict[str, Any]], f: SearchFilters) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    if not (f.since or f.until):
        return chosen
    tz = ZoneInfo(f.tz)
    for r in rows:
        day = datetime.fromisoformat(r["taken_at"]).astimezone(tz).date()
        if (f.since is None or day >= f.since) and (f.until is None or day <= f.until):
            chosen[r["bundle_id"]] = r
    return chosen


def _latest_per_site(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        latest[r["site_id"]] = r
    return {r["bundle_id"]: r for r in latest.values()}


def statement(snap: Mapping[str, Any]) -> str:
    if snap["identities"]:
        return "complete follower list: every follower is named in data/followers.csv"
    return COUNT_ONLY


def view(snap: Mapping[str, Any], tz: str) -> dict[str, Any]:
    """A snapshot as the readable copy shows it."""
    return {
        "site_id": snap["site_id"],
        "taken": readable.fmt_time(str(snap["taken_at"]), tz),
        "count": snap["count"],
        "listed": bool(snap["identities"]),
        "note": snap.get("note") or "",
        "statement": statement(snap),
    }


def rows(index: BundleIndex, snaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every follower a snapshot names, read from its sealed bundle."""
    out: list[dict[str, Any]] = []
    for snap in snaps:
        if not snap["identities"]:
            continue  # a count: the platform names no one
        bid = str(snap["bundle_id"])
        # A format 3 diff bundle keeps only changes: the list is its checkpoint plus diffs.
        for pid, handle, display_name, url in sealed_follower_list(index.db, bid):
            out.append(
                {
                    "site_id": snap["site_id"],
                    "snapshot_taken_at": snap["taken_at"],
                    "bundle_id": bid,
                    "platform_id": pid,
                    "handle": handle,
                    "display_name": display_name,
                    "url": url,
                }
            )
    return out


def write_snapshots(path: Path, snaps: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(SNAPSHOT_FIELDS))
        w.writeheader()
        for snap in snaps:
            w.writerow(
                {
                    "site_id": snap["site_id"],
                    "taken_at": snap["taken_at"],
                    "count": snap["count"],
                    "identities_listed": bool(snap["identities"]),
                    "statement": statement(snap),
                    "note": snap.get("note") or "",
                    "bundle_id": snap["bundle_id"],
                }
            )


def write_followers(path: Path, follower_rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(FOLLOWER_FIELDS))
        w.writeheader()
        w.writerows(follower_rows)
