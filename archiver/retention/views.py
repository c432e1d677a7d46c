"""Read views of disposition: batches, one batch in full, what ``archiver status`` shows.

Read-only: nothing here changes a batch (the workflow is :mod:`archiver.retention.disposition`,
the disposal records :mod:`archiver.retention.records`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from archiver.catalog.store import Catalog
from archiver.errors import RetentionError
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.retention import tables as t

# ``status`` reads its section without SQLAlchemy (archiver.retention.status); re-exported here.
from archiver.retention.status import ACTIVE_BATCH as ACTIVE_BATCH
from archiver.retention.status import status_section as status_section

log = get_logger(__name__)


def _batch(conn: Connection, batch_id: str) -> Any:
    row = conn.execute(
        select(t.disposition_batches).where(t.disposition_batches.c.id == batch_id)
    ).first()
    if row is None:
        known = [r[0] for r in conn.execute(select(t.disposition_batches.c.id))]
        raise RetentionError(
            f"no disposition batch {batch_id!r}",
            hint="batches: " + (", ".join(known[-5:]) or "none") + " (archiver disposition list)",
        )
    return row


def _confidential(conn: Connection, batch_id: str) -> set[str]:
    c = t.confidential_bundles
    return {r[0] for r in conn.execute(select(c.c.bundle_id).where(c.c.batch_id == batch_id))}


def list_batches(app: ArchiveParts) -> list[dict[str, Any]]:
    with app.catalog.begin() as conn:
        rows = conn.execute(select(t.disposition_batches).order_by(t.disposition_batches.c.id))
        out = []
        for r in rows:
            d = dict(r._mapping)
            counts = conn.execute(
                select(t.batch_bundles.c.state, func.count())
                .where(t.batch_bundles.c.batch_id == r.id)
                .group_by(t.batch_bundles.c.state)
            )
            d["bundles"] = {state: n for state, n in counts}
            out.append(d)
    return out


def batch_detail(app: ArchiveParts, batch_id: str) -> dict[str, Any]:
    with app.catalog.begin() as conn:
        b = dict(_batch(conn, batch_id)._mapping)
        b["bundles"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.batch_bundles)
                .where(t.batch_bundles.c.batch_id == batch_id)
                .order_by(t.batch_bundles.c.bundle_id)
            )
        ]
        confidential = _confidential(conn, batch_id)
        for r in b["bundles"]:
            r["schedule_items"] = json.loads(r.pop("refs_json"))
            r["confidential"] = r["bundle_id"] in confidential
        b["records"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.disposal_records).where(t.disposal_records.c.batch_id == batch_id)
            )
        ]
        copies = t.disposal_record_copies
        stored: dict[str, dict[str, str]] = {}
        for c in conn.execute(select(copies).where(copies.c.batch_id == batch_id)):
            stored.setdefault(c.form, {})[c.kind] = f"{c.storage}:{c.storage_key}"
        for rec in b["records"]:
            rec["stored"] = stored.get(rec["form"], {})
    b["totals"] = {
        "bundles": len(b["bundles"]),
        "records": sum(r["record_count"] for r in b["bundles"]),
        "bytes": sum(r["size_bytes"] for r in b["bundles"]),
    }
    b["schedule_items"] = sorted({i for r in b["bundles"] for i in r["schedule_items"]})
    return b


def in_progress(catalog: Catalog) -> dict[str, str]:
    """Bundles whose disposal was started and not finished (bundle id -> batch id).

    An ``executing`` intent row is committed before the delete; a process killed after it
    leaves the row, and the bundle partly or wholly gone from storage. ``verify`` reports
    these as "disposal in progress", not as missing; ``recover`` finishes them. Read-only.
    """
    bb, db = t.batch_bundles, t.disposition_batches
    with catalog.begin() as conn:
        rows = conn.execute(
            select(bb.c.bundle_id, bb.c.batch_id)
            .join(db, db.c.id == bb.c.batch_id)
            .where(db.c.status == "executing", bb.c.state == "executing")
        ).all()
    return {str(r[0]): str(r[1]) for r in rows}


# -- interrupted execution ------------------------------------------------------------------
