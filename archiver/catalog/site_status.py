"""Per-site status rows (``archiver status``, ``Catalog.site_status``), as portable SQL text.

Run through an ``archiver.catalog.sql`` reader, so ``status`` reads an embedded catalog without
importing SQLAlchemy and every other caller gets the same answer through SQLAlchemy.
"""

from __future__ import annotations

import json
from typing import Any

from archiver.catalog.sql import Reader

SITES = "SELECT id, platform, account, token_expires FROM sites ORDER BY id"
LAST_RUN = (
    "SELECT id, status, started_at, finished_at, error, error_kind, counts_json, pid, host "
    "FROM runs WHERE site_id = :site ORDER BY started_at DESC LIMIT 1"
)
LAST_SUCCESS = "SELECT max(finished_at) FROM runs WHERE site_id = :site AND status = 'succeeded'"
ITEMS_BY_KIND = "SELECT kind, count(*) AS n FROM items WHERE site_id = :site GROUP BY kind"
REMOVED = "SELECT count(*) FROM items WHERE site_id = :site AND removal_state IS NOT NULL"
EDITED = "SELECT count(*) FROM items WHERE site_id = :site AND current_version > 1"
FOLLOWERS = "SELECT count(*) FROM followers WHERE site_id = :site AND unfollowed_at IS NULL"
BUNDLES = "SELECT count(*) FROM bundles WHERE site_id = :site AND status = 'sealed'"
DEGRADATIONS = (
    "SELECT capability, reason, at FROM degradations WHERE site_id = :site ORDER BY at DESC LIMIT 5"
)


def site_status(db: Reader) -> list[dict[str, Any]]:
    """Per site: last run, last success, counts of items, followers, bundles."""
    out = []
    for site in db.rows(SITES):
        p = {"site": site["id"]}
        got = db.rows(LAST_RUN, p)
        last = got[0] if got else None
        out.append(
            {
                "site": site["id"],
                "platform": site["platform"],
                "account": site["account"],
                "token_expires": site["token_expires"],
                "last_run": None
                if last is None
                else {
                    "id": last["id"],
                    "status": last["status"],
                    "started_at": last["started_at"],
                    "finished_at": last["finished_at"],
                    "error": last["error"],
                    "error_kind": last["error_kind"],
                    "counts": json.loads(last["counts_json"] or "{}"),
                    "pid": last["pid"],
                    "host": last["host"],
                },
                "last_success": db.scalar(LAST_SUCCESS, p),
                "items": {r["kind"]: int(r["n"]) for r in db.rows(ITEMS_BY_KIND, p)},
                "removed_upstream": int(db.scalar(REMOVED, p) or 0),
                "edited": int(db.scalar(EDITED, p) or 0),
                "followers": int(db.scalar(FOLLOWERS, p) or 0),
                "bundles": int(db.scalar(BUNDLES, p) or 0),
                "degradations": [
                    {"capability": d["capability"], "reason": d["reason"], "at": d["at"]}
                    for d in db.rows(DEGRADATIONS, p)
                ],
            }
        )
    return out
