"""Remove a disposed bundle's records from the catalog.

Why: the catalog holds a copy of every record's text (for search, exports and reports). A
disposition that deleted the bundle's files but left that copy would not have destroyed the
record: search would still find it and an export would still hand it out. So when a bundle is
disposed, its versions, their full-text entries, items left with no version, and the follower
data it brought in are removed in the tombstone's own transaction. What stays is what a
tombstone is for (ids, counts, date range, manifest hashes, approvals) plus events and the
removal-review trail, which describe records without being their content.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, exists, func, select, update

from archiver.catalog import schema as s

__all__ = ["PurgeResult", "purge_bundle_records"]


@dataclass(frozen=True, slots=True)
class PurgeResult:
    versions: int
    items: int
    followers: int


def purge_bundle_records(conn: Connection, bundle_id: str) -> PurgeResult:
    """Delete what ``bundle_id`` contributed to the catalog; the caller owns the transaction."""
    v, i = s.item_versions, s.items
    item_ids = [
        r[0] for r in conn.execute(select(v.c.item_id).where(v.c.bundle_id == bundle_id).distinct())
    ]
    if conn.dialect.name == "sqlite":
        # External-content FTS5: an entry must be deleted with the text it was indexed from.
        conn.exec_driver_sql(
            "INSERT INTO item_versions_fts(item_versions_fts, rowid, text) "
            "SELECT 'delete', id, text FROM item_versions WHERE bundle_id = ?",
            (bundle_id,),
        )
    versions = conn.execute(delete(v).where(v.c.bundle_id == bundle_id)).rowcount or 0

    emptied: list[int] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        emptied += [
            r[0]
            for r in conn.execute(
                select(i.c.id).where(
                    i.c.id.in_(chunk), ~exists().where(and_(v.c.item_id == i.c.id))
                )
            )
        ]
        # Items that keep other versions point at their newest surviving one.
        latest = select(func.max(v.c.version)).where(v.c.item_id == i.c.id).scalar_subquery()
        conn.execute(
            update(i)
            .where(i.c.id.in_(chunk), exists().where(v.c.item_id == i.c.id))
            .values(current_version=latest)
        )
        conn.execute(
            update(i)
            .where(i.c.id.in_(chunk), exists().where(v.c.item_id == i.c.id))
            .values(
                current_hash=select(v.c.content_hash)
                .where(v.c.item_id == i.c.id, v.c.version == i.c.current_version)
                .scalar_subquery()
            )
        )
    for start in range(0, len(emptied), 500):
        chunk = emptied[start : start + 500]
        conn.execute(delete(s.item_events).where(s.item_events.c.item_id.in_(chunk)))
        conn.execute(delete(i).where(i.c.id.in_(chunk)))

    followers = 0
    bundle = conn.execute(
        select(s.bundles.c.site_id, s.bundles.c.run_id, s.bundles.c.record_class).where(
            s.bundles.c.id == bundle_id
        )
    ).first()
    if bundle is not None and bundle.record_class == "followers":
        conn.execute(delete(s.follower_events).where(s.follower_events.c.bundle_id == bundle_id))
        # The next run then finds no list to extend and seals a new checkpoint.
        conn.execute(delete(s.follower_lists).where(s.follower_lists.c.bundle_id == bundle_id))
        conn.execute(
            delete(s.follower_snapshots).where(s.follower_snapshots.c.bundle_id == bundle_id)
        )
        # A follower last seen in this run appears in no later bundle: its identity goes too.
        followers = (
            conn.execute(
                delete(s.followers).where(
                    s.followers.c.site_id == bundle.site_id,
                    s.followers.c.last_seen_run == bundle.run_id,
                )
            ).rowcount
            or 0
        )
    return PurgeResult(versions=versions, items=len(emptied), followers=followers)
