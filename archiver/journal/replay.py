"""Replay: journal entries applied to a (rebuilt) catalog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from archiver.catalog import schema as s
from archiver.catalog.tables import all_tables
from archiver.db import metadata
from archiver.journal.model import (
    _APPEND_ONLY,
    _ITEM_REFS,
    _RESIDUE,
    BUNDLE_DERIVED,
    ITEM_RESIDUE,
    JournalError,
    JournalIntegrityError,
    Segment,
    _canonical,
    _image,
    _pk,
)


class _ItemIds:
    """Maps an item's natural key to its id in the catalog being rebuilt."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def resolve(self, key: Sequence[Any]) -> int | None:
        """The id for a journal key ``["item", site, class, platform id]`` or ``["item-id", n]``."""
        if key and key[0] == "item-id":
            # The item was gone when journaled (disposed): keep the row, pointing at no item.
            return -abs(int(key[1]))
        natural = list(key[1:])
        if natural:
            found = self.conn.execute(
                select(s.items.c.id).where(
                    s.items.c.site_id == natural[0],
                    s.items.c.record_class == natural[1],
                    s.items.c.platform_id == natural[2],
                )
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
        return None


def replay(conn: Connection, segments: Sequence[Segment]) -> int:
    """Apply every segment's entries to a catalog in order; return the number applied.

    Puts are upserts and deletes remove by key, so an entry journaled twice (after a crash)
    does no harm. Audit-log entries are only ever inserted; one that differs from the row
    already there is tampering. Residue rows (a disposed bundle's leftovers) are settled at
    the end: those still leftovers when last journaled replace what the stored bundles
    rebuilt, because in the original catalog they were there first.
    """
    all_tables()
    items = _ItemIds(conn)
    residue: dict[tuple[str, str], tuple[list[Any], dict[str, Any] | None]] = {}
    count = 0
    for seg in segments:
        count += len(seg.entries)
        _replay_segment(conn, seg, items, residue)
    for (name, _k), (key, row) in residue.items():
        if row is None:
            continue
        if name == ITEM_RESIDUE:
            _apply_item_residue(conn, key, row)
            continue
        table = metadata.tables[name]
        cond = and_(*(table.c[c] == v for c, v in zip(_pk(table), key, strict=True)))
        if conn.execute(update(table).where(cond).values(**row)).rowcount == 0:
            conn.execute(insert(table).values(**row))
    return count


def _apply_item_residue(conn: Connection, key: Sequence[Any], image: Mapping[str, Any]) -> None:
    """Give a rebuilt item the state the original catalog had after its dispositions."""
    i, v, e = s.items, s.item_versions, s.item_events
    found = conn.execute(
        select(i.c.id).where(
            i.c.site_id == key[0], i.c.record_class == key[1], i.c.platform_id == key[2]
        )
    ).scalar_one_or_none()
    if found is None:
        return  # every bundle with the item is gone: nothing of it to correct
    item_id = int(found)
    conn.execute(update(i).where(i.c.id == item_id).values(**image["item"]))
    want = {(str(b), str(rec)): int(n) for n, b, rec in image["versions"]}
    stale: list[int] = []
    for r in conn.execute(
        select(v.c.id, v.c.bundle_id, v.c.warc_record_id).where(v.c.item_id == item_id)
    ):
        number = want.get((str(r.bundle_id), str(r.warc_record_id)))
        if number is None:
            stale.append(int(r.id))  # never a version in the original (see _item_residue)
        else:
            # Negative first: the final numbers may be held by other rows until they move.
            conn.execute(update(v).where(v.c.id == r.id).values(version=-number))
    if stale:
        if conn.dialect.name == "sqlite":
            for vid in stale:
                conn.exec_driver_sql(
                    "INSERT INTO item_versions_fts(item_versions_fts, rowid, text) "
                    "SELECT 'delete', id, text FROM item_versions WHERE id = ?",
                    (vid,),
                )
        conn.execute(delete(v).where(v.c.id.in_(stale)))
    conn.execute(
        update(v).where(v.c.item_id == item_id, v.c.version < 0).values(version=-v.c.version)
    )
    conn.execute(delete(e).where(e.c.item_id == item_id))
    rows = [
        {"item_id": item_id, "event": ev, "at": at, "run_id": run, "bundle_id": b, "detail": d}
        for ev, at, run, b, d in image["events"]
    ]
    if rows:
        conn.execute(insert(e), rows)


def _replay_segment(
    conn: Connection,
    seg: Segment,
    items: _ItemIds,
    residue: dict[tuple[str, str], tuple[list[Any], dict[str, Any] | None]],
) -> None:
    where = seg.key
    for n, e in enumerate(seg.entries, 1):
        if e.table == ITEM_RESIDUE:
            residue[(e.table, _canonical(e.key))] = (e.key, e.row if e.op == "put" else None)
            continue
        table = metadata.tables.get(e.table)
        if table is None or (e.table in BUNDLE_DERIVED and e.table not in _RESIDUE):
            raise JournalError(
                f"{where} entry {n} names table {e.table!r}, which this version cannot restore",
                hint="rebuild with the archiver release that wrote the journal, or a newer one",
            )
        pk = _pk(table)
        ref = _ITEM_REFS.get(e.table)
        key = e.key
        if ref is not None:
            item_id = items.resolve(e.key)
            if item_id is None:
                if e.op == "delete" or e.row is None:
                    continue
                # The item's bundles were disposed later: keep the row, pointing at no item.
                item_id = -abs(int(e.row[ref]))
            key = [item_id]
        cond = and_(*(table.c[c] == v for c, v in zip(pk, key, strict=True)))
        if e.table in _RESIDUE:
            residue[(e.table, _canonical(key))] = (key, e.row if e.op == "put" else None)
            continue
        if e.op == "delete":
            conn.execute(delete(table).where(cond))
            continue
        if e.op != "put" or e.row is None:
            raise JournalError(f"{where} entry {n}: unknown operation {e.op!r}")
        row = dict(e.row)
        row.pop("_item", None)
        unknown = set(row) - set(table.c.keys())
        if unknown:
            raise JournalError(
                f"{where} entry {n}: table {e.table} has no column(s) {sorted(unknown)}",
                hint="migrate the new catalog (`archiver migrate`) or use a newer release",
            )
        if ref is not None:
            row[ref] = key[0]
        if e.table in _APPEND_ONLY:
            existing = conn.execute(select(table).where(cond)).first()
            if existing is None:
                conn.execute(insert(table).values(**row))
            elif _image(existing._mapping) != row:
                raise JournalIntegrityError(
                    f"{where} entry {n}: {e.table} {e.key} differs from the entry journaled "
                    "earlier under the same key",
                    hint="the audit log was rewritten; compare the journal with its backups",
                )
            continue
        if conn.execute(update(table).where(cond).values(**row)).rowcount == 0:
            conn.execute(insert(table).values(**row))
