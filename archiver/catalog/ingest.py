"""Fold one sealed bundle into the catalog: new items, new versions, removals, follower diffs.

Idempotent: a bundle already cataloged is skipped, so recovery after a crash can simply ingest
every sealed bundle the catalog does not know yet. Streams the bundle's records in batches so
memory does not grow with the size of a run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects import sqlite

from archiver.bundle import RECORDS_DB, read_manifest, sha256_file
from archiver.bundle_format import open_records
from archiver.catalog import schema as s
from archiver.catalog.store import now_iso, uri_hash
from archiver.integrity.seal import SEAL_FILES

BATCH = 2000


@dataclass
class IngestResult:
    bundle_id: str
    new_items: int = 0
    new_versions: int = 0
    removed: int = 0
    reappeared: int = 0
    seen: int = 0
    followed: int = 0
    unfollowed: int = 0
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # Loaded here: a SQLite harvest need not import the PostgreSQL dialect (issue 14).
        from sqlalchemy.dialects import postgresql

        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)


_COMPILED: dict[tuple[Any, tuple[str, ...]], tuple[str, list[tuple[str, Any]]]] = {}


def insert_rows(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(table.insert(), rows)``: on SQLite the statement is compiled once and
    the rows go to the driver's ``executemany`` as tuples.

    SQLAlchemy builds each row's parameters through its compiled-statement machinery, which
    was most of the cost of cataloging a bundle's thousands of follower and item rows
    (issue 14 part 5). Here the same statement runs with the same values: each column's
    bind processor (e.g. Boolean) is applied, and a table with a Python-side default for a
    column the rows leave out takes SQLAlchemy's path, which fills it. PostgreSQL keeps
    SQLAlchemy's batched ``insertmanyvalues``, faster there than a plain ``executemany``.
    """
    if not rows:
        return
    keys = tuple(rows[0])
    if conn.dialect.name != "sqlite" or any(
        c.default is not None and c.key not in keys for c in table.columns
    ):
        conn.execute(table.insert(), rows)
        return
    cached = _COMPILED.get((table, keys))
    if cached is None:
        compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(keys))
        order = compiled.positiontup or []
        assert sorted(order) == sorted(keys), (order, keys)
        processors = compiled._bind_processors
        cached = (compiled.string, [(k, processors.get(k)) for k in order])
        _COMPILED[(table, keys)] = cached
    sql, columns = cached
    if any(p is not None for _, p in columns):
        params = [tuple(r[k] if p is None else p(r[k]) for k, p in columns) for r in rows]
    else:
        params = [tuple(r[k] for k, _ in columns) for r in rows]
    conn.exec_driver_sql(sql, params)


def _batches(cur: sqlite3.Cursor) -> Iterator[list[sqlite3.Row]]:
    while rows := cur.fetchmany(BATCH):
        yield rows


def ingest_bundle(conn: Connection, bundle_dir: Path, *, key: str, storage: str) -> IngestResult:
    """Catalog the sealed bundle found at ``bundle_dir`` (a local folder or a downloaded copy)."""
    rec = open_records(bundle_dir / RECORDS_DB, bundle=key)
    try:
        info = {r["key"]: r["value"] for r in rec.execute("SELECT key, value FROM bundle_info")}
        bundle_id = info["bundle_id"]
        result = IngestResult(bundle_id)
        if conn.execute(select(s.bundles.c.id).where(s.bundles.c.id == bundle_id)).first():
            result.skipped = True
            return result
        site_id = info["site_id"]
        run_id = info["run_id"]
        when = info["started_at"]
        record_class = info["record_class"]
        counts = json.loads(info.get("counts", "{}"))
        result.counts = counts
        _ensure_site(conn, site_id, info.get("platform", ""))
        manifest = read_manifest((bundle_dir / "manifest-sha256.txt").read_text("utf-8"))
        tag = read_manifest((bundle_dir / "tagmanifest-sha256.txt").read_text("utf-8"))
        files: dict[str, tuple[str, int]] = {}
        for rel, digest in {**manifest, **tag}.items():
            files[rel] = (digest, (bundle_dir / rel).stat().st_size)
        for extra in SEAL_FILES:
            if (bundle_dir / extra).is_file():
                files[extra] = (
                    sha256_file(bundle_dir / extra),
                    (bundle_dir / extra).stat().st_size,
                )
        files["tagmanifest-sha256.txt"] = (
            sha256_file(bundle_dir / "tagmanifest-sha256.txt"),
            (bundle_dir / "tagmanifest-sha256.txt").stat().st_size,
        )
        conn.execute(
            s.bundles.insert().values(
                id=bundle_id,
                key=key,
                site_id=site_id,
                run_id=run_id,
                record_class=record_class,
                storage=storage,
                started_at=when,
                sealed_at=info.get("sealed_at", when),
                cataloged_at=now_iso(),
                tagmanifest_sha256=files["tagmanifest-sha256.txt"][0],
                size_bytes=sum(size for _, size in files.values()),
                file_count=len(files),
                record_count=sum(int(v) for v in counts.values()),
                first_posted_at=info.get("first_posted_at") or None,
                last_posted_at=info.get("last_posted_at") or None,
                status="sealed",
            )
        )
        conn.execute(
            s.bundle_files.insert(),
            [
                {"bundle_id": bundle_id, "relpath": rel, "sha256": d, "size": size}
                for rel, (d, size) in sorted(files.items())
            ],
        )
        _ingest_items(conn, rec, result, site_id, run_id, when, bundle_id, record_class)
        _ingest_seen(conn, rec, result, site_id, run_id, when, bundle_id)
        _ingest_sweeps(conn, rec, result, site_id, run_id, when, bundle_id)
        _ingest_thread_polls(conn, rec, site_id, when)
        form = info.get("followers_form") or None
        if form in ("diff", "partial"):
            _ingest_follower_diffs(conn, rec, result, info, site_id, run_id, when, bundle_id)
        else:
            _ingest_followers(conn, rec, result, site_id, run_id, when, bundle_id)
        if form is not None:
            _record_follower_list(conn, info, form, site_id, when, bundle_id)
        _ingest_warc_index(conn, rec, site_id, bundle_id)
        _ingest_misc(conn, rec, site_id, run_id, when, bundle_id)
        _ingest_live_removals(conn, rec, result, site_id, run_id, bundle_id)
        return result
    finally:
        rec.close()


def _ensure_site(conn: Connection, site_id: str, platform: str) -> None:
    if conn.execute(select(s.sites.c.id).where(s.sites.c.id == site_id)).first() is None:
        conn.execute(
            s.sites.insert().values(
                id=site_id,
                platform=platform,
                account="",
                department="",
                base_url="",
                created_at=now_iso(),
            )
        )


def _ingest_items(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    site_id: str,
    run_id: str,
    when: str,
    bundle_id: str,
    record_class: str,
) -> None:
    cur = rec.execute("SELECT * FROM items ORDER BY seq")
    fts = conn.dialect.name == "sqlite"
    for rows in _batches(cur):
        # One item can come several times in a run: a re-read page (same content), or its
        # earlier versions read from an edit history. They are applied in platform order:
        # oldest edit first (stable, so same-time rows keep the order they were captured).
        by_id: dict[str, list[sqlite3.Row]] = {}
        for r in rows:
            by_id.setdefault(r["platform_id"], []).append(r)
        for pid, seq in by_id.items():
            if len(seq) > 1:
                by_id[pid] = sorted(
                    seq, key=lambda r: (r["edited_at"] is not None, r["edited_at"] or "")
                )
        latest = {pid: seq[-1] for pid, seq in by_id.items()}
        ids = list(latest)
        existing = {
            row.platform_id: row
            for row in conn.execute(
                select(
                    s.items.c.id,
                    s.items.c.platform_id,
                    s.items.c.current_version,
                    s.items.c.current_hash,
                    s.items.c.disappeared_at,
                    s.items.c.removal_state,
                ).where(
                    s.items.c.site_id == site_id,
                    s.items.c.record_class == record_class,
                    s.items.c.platform_id.in_(ids),
                )
            )
        }
        known = _known_hashes(
            conn, [existing[pid].id for pid in by_id if len(by_id[pid]) > 1 and pid in existing]
        )
        new_rows = [latest[i] for i in ids if i not in existing]
        if new_rows:
            insert_rows(
                conn,
                s.items,
                [
                    {
                        "site_id": site_id,
                        "platform_id": r["platform_id"],
                        "record_class": record_class,
                        "kind": r["kind"],
                        "parent_id": r["parent_id"],
                        "root_id": r["root_id"],
                        "author_id": r["author_id"],
                        "author_handle": r["author_handle"],
                        "author_name": r["author_name"],
                        "by_owner": bool(r["by_owner"]),
                        "permalink": r["url"],
                        "posted_at": r["posted_at"],
                        "first_captured_at": when,
                        "last_seen_at": when,
                        "last_seen_run": run_id,
                        "removal_state": "hidden_upstream" if r["hidden"] else None,
                        "current_version": len(_distinct_versions(by_id[r["platform_id"]])),
                        "current_hash": r["content_hash"],
                    }
                    for r in new_rows
                ],
            )
            id_map = {
                row.platform_id: row.id
                for row in conn.execute(
                    select(s.items.c.id, s.items.c.platform_id).where(
                        s.items.c.site_id == site_id,
                        s.items.c.record_class == record_class,
                        s.items.c.platform_id.in_([r["platform_id"] for r in new_rows]),
                    )
                )
            }
        else:
            id_map = {}
        versions: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for r in new_rows:
            item_id = id_map[r["platform_id"]]
            for number, v in enumerate(_distinct_versions(by_id[r["platform_id"]]), start=1):
                versions.append(_version_row(v, item_id, number, when, run_id, bundle_id))
            events.append(_event(item_id, "captured", when, run_id, bundle_id))
            if r["hidden"]:
                events.append(_event(item_id, "hidden_upstream", when, run_id, bundle_id))
        result.new_items += len(new_rows)
        seen_ids = []
        for pid, row in existing.items():
            r = latest[pid]
            seen_ids.append(row.id)
            values: dict[str, Any] = {}
            if row.disappeared_at is not None:
                values.update(disappeared_at=None, removal_state=None)
                events.append(_event(row.id, "reappeared", when, run_id, bundle_id))
                result.reappeared += 1
            version = row.current_version
            if r["content_hash"] != row.current_hash:
                # Edited since the last run: versions in between (from an edit history) come
                # first, those never archived before only; then the current one.
                current = row.current_hash
                for earlier in by_id[pid][:-1]:
                    digest = earlier["content_hash"]
                    if digest in (current, r["content_hash"]) or digest in known.get(row.id, ()):
                        continue
                    version += 1
                    versions.append(_version_row(earlier, row.id, version, when, run_id, bundle_id))
                    events.append(_event(row.id, "edited", when, run_id, bundle_id, f"v{version}"))
                    known.setdefault(row.id, set()).add(digest)
                    current = digest
                version += 1
                versions.append(_version_row(r, row.id, version, when, run_id, bundle_id))
                was_hidden = row.removal_state == "hidden_upstream"
                if bool(r["hidden"]) != was_hidden:
                    values["removal_state"] = "hidden_upstream" if r["hidden"] else None
                    events.append(
                        _event(
                            row.id,
                            "hidden_upstream" if r["hidden"] else "unhidden_upstream",
                            when,
                            run_id,
                            bundle_id,
                        )
                    )
                if r["text"] is not None:
                    events.append(_event(row.id, "edited", when, run_id, bundle_id, f"v{version}"))
            if version != row.current_version:
                values.update(current_version=version, current_hash=r["content_hash"])
            if values:
                conn.execute(update(s.items).where(s.items.c.id == row.id).values(**values))
        if seen_ids:
            conn.execute(
                update(s.items)
                .where(s.items.c.id.in_(seen_ids))
                .values(last_seen_at=when, last_seen_run=run_id)
            )
        if versions:
            before = 0
            if fts:
                before = (
                    conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM item_versions").scalar()
                    or 0
                )
            insert_rows(conn, s.item_versions, versions)
            result.new_versions += len(versions)
            if fts:
                conn.exec_driver_sql(
                    "INSERT INTO item_versions_fts(rowid, text) "
                    "SELECT id, text FROM item_versions WHERE id > ?",
                    (before,),
                )
        if events:
            insert_rows(conn, s.item_events, events)


def _distinct_versions(seq: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """A new item's versions: each row whose content differs from the one before it."""
    out: list[sqlite3.Row] = []
    for r in seq:
        if not out or r["content_hash"] != out[-1]["content_hash"]:
            out.append(r)
    return out


def _known_hashes(conn: Connection, item_ids: list[int]) -> dict[int, set[str]]:
    """Content hashes already archived for these items (only asked for items read with their
    edit history, so an old version read again is not taken for a new one)."""
    out: dict[int, set[str]] = {}
    for start in range(0, len(item_ids), 500):
        for item_id, digest in conn.execute(
            select(s.item_versions.c.item_id, s.item_versions.c.content_hash).where(
                s.item_versions.c.item_id.in_(item_ids[start : start + 500])
            )
        ):
            out.setdefault(item_id, set()).add(digest)
    return out


def _version_row(
    r: sqlite3.Row, item_id: int, version: int, when: str, run_id: str, bundle_id: str
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "version": version,
        "content_hash": r["content_hash"],
        "text": r["text"],
        "html": r["html"],
        "media_json": r["media_json"],
        "edited_at": r["edited_at"],
        "hidden": bool(r["hidden"]),
        "extra_json": r["extra_json"],
        "captured_at": when,
        "run_id": run_id,
        "bundle_id": bundle_id,
        "warc_file": r["warc_file"],
        "warc_offset": r["warc_offset"],
        "warc_length": r["warc_length"],
        "warc_record_id": r["warc_record_id"],
        "warc_type": r["warc_type"],
    }


def _event(
    item_id: int, event: str, when: str, run_id: str, bundle_id: str, detail: str | None = None
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "event": event,
        "at": when,
        "run_id": run_id,
        "bundle_id": bundle_id,
        "detail": detail,
    }


def _ingest_sweeps(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    site_id: str,
    run_id: str,
    when: str,
    bundle_id: str,
) -> None:
    # Thread sweeps (one per post, thousands per run) are answered 500 roots per query.
    sweeps: list[tuple[str, list[str] | None]] = []
    roots: dict[str, list[str]] = {}
    for sw in rec.execute("SELECT DISTINCT record_class, scope FROM sweeps"):
        if sw["record_class"] == "followers":
            continue
        if sw["scope"] == "account":
            sweeps.append((sw["record_class"], None))
        else:
            roots.setdefault(sw["record_class"], []).append(sw["scope"])
    for record_class, scopes in roots.items():
        sweeps += [(record_class, scopes[i : i + 500]) for i in range(0, len(scopes), 500)]
    for record_class, chunk in sweeps:
        cond = [
            s.items.c.site_id == site_id,
            s.items.c.record_class == record_class,
            s.items.c.last_seen_run != run_id,
            s.items.c.disappeared_at.is_(None),
        ]
        if chunk is not None:
            cond.append(s.items.c.root_id.in_(chunk))
        rows = conn.execute(select(s.items.c.id, s.items.c.platform_id).where(and_(*cond))).all()
        if not rows:
            continue
        _mark_removed(conn, [r.id for r in rows], when, run_id, bundle_id, None)
        result.removed += len(rows)
        if record_class == "posts":
            # A post gone upstream takes its thread with it; the platform will not list the
            # thread again, so the comments are marked here rather than never.
            gone = [r.platform_id for r in rows]
            for i in range(0, len(gone), 500):
                orphans = [
                    r.id
                    for r in conn.execute(
                        select(s.items.c.id).where(
                            s.items.c.site_id == site_id,
                            s.items.c.record_class == "comments",
                            s.items.c.root_id.in_(gone[i : i + 500]),
                            s.items.c.disappeared_at.is_(None),
                        )
                    )
                ]
                if orphans:
                    _mark_removed(
                        conn, orphans, when, run_id, bundle_id, "the post it replied to was removed"
                    )
                    result.removed += len(orphans)


def _ingest_live_removals(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    site_id: str,
    run_id: str,
    bundle_id: str,
) -> None:
    """Deletions a stream or webhook reported: removed at the *reported* time, or a gap.

    The item keeps its captured versions (readable as before); an item the archive never
    captured cannot be marked, so the report becomes a degradation row naming it, which
    status and reports show as a known gap.
    """
    for r in rec.execute("SELECT platform_id, reported_at, detail FROM live_removals"):
        row = conn.execute(
            select(s.items.c.id, s.items.c.disappeared_at).where(
                s.items.c.site_id == site_id, s.items.c.platform_id == r["platform_id"]
            )
        ).first()
        if row is None:
            conn.execute(
                s.degradations.insert().values(
                    site_id=site_id,
                    run_id=run_id,
                    capability="live_removal_uncaptured",
                    reason=f"item {r['platform_id']} was reported deleted at "
                    f"{r['reported_at']} before it was ever captured: {r['detail']}",
                    at=r["reported_at"],
                )
            )
            continue
        if row.disappeared_at is not None:
            continue
        detail = f"reported live: {r['detail']}"
        _mark_removed(conn, [row.id], r["reported_at"], run_id, bundle_id, detail)
        result.removed += 1


def _mark_removed(
    conn: Connection, ids: list[int], when: str, run_id: str, bundle_id: str, detail: str | None
) -> None:
    conn.execute(
        update(s.items)
        .where(s.items.c.id.in_(ids))
        .values(disappeared_at=when, removal_state="removed_upstream")
    )
    insert_rows(
        conn,
        s.item_events,
        [_event(i, "removed_upstream", when, run_id, bundle_id, detail) for i in ids],
    )


def _ingest_followers(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    site_id: str,
    run_id: str,
    when: str,
    bundle_id: str,
) -> None:
    n = rec.execute("SELECT count(*) FROM followers").fetchone()[0]
    # The list is complete only if it was read to the end *and* every entry was readable: an
    # unreadable entry may be a known follower, who must not be recorded as having unfollowed.
    complete = (
        rec.execute("SELECT 1 FROM sweeps WHERE record_class='followers'").fetchone() is not None
        and not rec.execute("SELECT 1 FROM unparseable LIMIT 1").fetchone()
    )
    # A complete list is its own count; a platform-declared count is kept only without one.
    if not complete:
        _declared_counts(conn, rec, site_id, run_id, bundle_id, when)
    if n == 0 and not complete:
        return
    cur = rec.execute("SELECT platform_id, handle, display_name, url FROM followers ORDER BY seq")
    for rows in _batches(cur):
        uniq = {r["platform_id"]: r for r in rows}
        existing = {
            row.platform_id: row
            for row in conn.execute(
                select(s.followers.c.platform_id, s.followers.c.unfollowed_at).where(
                    s.followers.c.site_id == site_id,
                    s.followers.c.platform_id.in_(list(uniq)),
                )
            )
        }
        new = [r for pid, r in uniq.items() if pid not in existing]
        back = [pid for pid, row in existing.items() if row.unfollowed_at is not None]
        if new:
            insert_rows(
                conn,
                s.followers,
                [
                    {
                        "site_id": site_id,
                        "platform_id": r["platform_id"],
                        "handle": r["handle"],
                        "display_name": r["display_name"],
                        "url": r["url"],
                        "first_seen_at": when,
                        "last_seen_at": when,
                        "last_seen_run": run_id,
                    }
                    for r in new
                ],
            )
        if existing:
            conn.execute(
                update(s.followers)
                .where(
                    s.followers.c.site_id == site_id, s.followers.c.platform_id.in_(list(existing))
                )
                .values(last_seen_at=when, last_seen_run=run_id, unfollowed_at=None)
            )
        followed = [(r["platform_id"], r["handle"]) for r in new] + [
            (pid, uniq[pid]["handle"]) for pid in back
        ]
        if followed:
            insert_rows(
                conn,
                s.follower_events,
                [
                    {
                        "site_id": site_id,
                        "platform_id": pid,
                        "handle": h,
                        "event": "followed",
                        "at": when,
                        "run_id": run_id,
                        "bundle_id": bundle_id,
                    }
                    for pid, h in followed
                ],
            )
            result.followed += len(followed)
    if complete:
        gone = conn.execute(
            select(s.followers.c.platform_id, s.followers.c.handle).where(
                s.followers.c.site_id == site_id,
                s.followers.c.unfollowed_at.is_(None),
                s.followers.c.last_seen_run != run_id,
            )
        ).all()
        if gone:
            conn.execute(
                update(s.followers)
                .where(
                    s.followers.c.site_id == site_id,
                    s.followers.c.unfollowed_at.is_(None),
                    s.followers.c.last_seen_run != run_id,
                )
                .values(unfollowed_at=when)
            )
            insert_rows(
                conn,
                s.follower_events,
                [
                    {
                        "site_id": site_id,
                        "platform_id": g[0],
                        "handle": g[1],
                        "event": "unfollowed",
                        "at": when,
                        "run_id": run_id,
                        "bundle_id": bundle_id,
                    }
                    for g in gone
                ],
            )
            result.unfollowed += len(gone)
        conn.execute(
            s.follower_snapshots.insert().values(
                site_id=site_id,
                run_id=run_id,
                bundle_id=bundle_id,
                taken_at=when,
                count=n,
                identities=True,
                note="complete follower list",
            )
        )


def _ingest_seen(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    site_id: str,
    run_id: str,
    when: str,
    bundle_id: str,
) -> None:
    """Items read again unchanged (format 3 ``seen`` rows): only "last seen" moves.

    The evidence is the bundle's own WARC record (a revisit or response) named in the row; the
    text stays in the bundle that first held this version. A seen item the catalog does not
    hold in that version (a rebuild without the bundle that did) is kept as a known gap.
    """
    cur = rec.execute("SELECT record_class, platform_id, content_hash FROM seen")
    unknown: list[str] = []
    for rows in _batches(cur):
        by_class: dict[str, dict[str, str]] = {}
        for r in rows:
            by_class.setdefault(r["record_class"], {})[r["platform_id"]] = r["content_hash"]
        for record_class, hashes in by_class.items():
            found = conn.execute(
                select(
                    s.items.c.id,
                    s.items.c.platform_id,
                    s.items.c.current_hash,
                    s.items.c.disappeared_at,
                ).where(
                    s.items.c.site_id == site_id,
                    s.items.c.record_class == record_class,
                    s.items.c.platform_id.in_(list(hashes)),
                )
            ).all()
            have = {row.platform_id: row for row in found}
            ids: list[int] = []
            events: list[dict[str, Any]] = []
            for pid, digest in hashes.items():
                row = have.get(pid)
                if row is None or row.current_hash != digest:
                    unknown.append(pid)
                    continue
                ids.append(row.id)
                if row.disappeared_at is not None:
                    conn.execute(
                        update(s.items)
                        .where(s.items.c.id == row.id)
                        .values(disappeared_at=None, removal_state=None)
                    )
                    events.append(_event(row.id, "reappeared", when, run_id, bundle_id))
                    result.reappeared += 1
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(s.items)
                    .where(s.items.c.id.in_(ids[start : start + 500]))
                    .values(last_seen_at=when, last_seen_run=run_id)
                )
            if events:
                insert_rows(conn, s.item_events, events)
            result.seen += len(ids)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        conn.execute(
            s.degradations.insert().values(
                site_id=site_id,
                run_id=run_id,
                capability="seen_without_version",
                reason=f"bundle {bundle_id} saw {len(unknown)} item(s) unchanged whose version "
                f"the catalog does not hold ({shown}); the bundle that first held them is "
                "missing from this catalog",
                at=when,
            )
        )


_UPDATE_POLL = (
    update(s.thread_polls)
    .where(s.thread_polls.c.root_id == bindparam("b_root"))
    .values(polled_at=bindparam("b_polled"), activity_at=bindparam("b_activity"))
)


def _ingest_thread_polls(
    conn: Connection, rec: sqlite3.Connection, site_id: str, when: str
) -> None:
    """When each thread was read (its sweep) and last showed activity (a reply or edit)."""
    polled = {
        r[0] for r in rec.execute("SELECT DISTINCT scope FROM sweeps WHERE record_class='comments'")
    }
    activity: dict[str, str] = {}
    for root, posted, edited in rec.execute(
        "SELECT root_id, max(posted_at), max(edited_at) FROM items WHERE root_id IS NOT NULL "
        "GROUP BY root_id"
    ):
        latest = max((v for v in (posted, edited) if v), default=None)
        if latest:
            activity[root] = latest
    roots = sorted(polled | set(activity))
    tp = s.thread_polls
    for start in range(0, len(roots), 500):
        chunk = roots[start : start + 500]
        existing = {
            r.root_id: r
            for r in conn.execute(
                select(tp.c.root_id, tp.c.polled_at, tp.c.activity_at).where(
                    tp.c.site_id == site_id, tp.c.root_id.in_(chunk)
                )
            )
        }
        new = []
        changed = []
        for root in chunk:
            act = activity.get(root)
            old = existing.get(root)
            if old is None:
                new.append(
                    {
                        "site_id": site_id,
                        "root_id": root,
                        "polled_at": when if root in polled else None,
                        "activity_at": act,
                    }
                )
                continue
            polled_at, activity_at = old.polled_at, old.activity_at
            if root in polled and (polled_at or "") < when:
                polled_at = when
            if act and (activity_at or "") < act:
                activity_at = act
            if (polled_at, activity_at) != (old.polled_at, old.activity_at):
                changed.append({"b_root": root, "b_polled": polled_at, "b_activity": activity_at})
        if new:
            conn.execute(tp.insert(), new)
        if changed:
            # One statement for the chunk (executemany), not one built and run per thread.
            conn.execute(_UPDATE_POLL.where(tp.c.site_id == site_id), changed)


def _record_follower_list(
    conn: Connection, info: dict[str, str], form: str, site_id: str, when: str, bundle_id: str
) -> None:
    count = conn.execute(
        select(func.count()).where(
            s.followers.c.site_id == site_id, s.followers.c.unfollowed_at.is_(None)
        )
    ).scalar()
    # A diff is read against the lists it extends: retention keeps them while it is kept,
    # exactly as it keeps a revisit's original (eligibility follows revisit_refs).
    refs = {info.get("followers_previous") or "", info.get("followers_checkpoint") or ""}
    refs -= {"", bundle_id}
    insert_ignore(
        conn,
        s.revisit_refs,
        [{"bundle_id": bundle_id, "refers_to_bundle_id": r} for r in sorted(refs)],
    )
    insert_ignore(  # a bundle cataloged again by recovery keeps its one row
        conn,
        s.follower_lists,
        [
            {
                "bundle_id": bundle_id,
                "site_id": site_id,
                "form": form,
                "checkpoint_bundle_id": info.get("followers_checkpoint") or None,
                "previous_bundle_id": info.get("followers_previous") or None,
                "taken_at": when,
                "count": int(count or 0),
            }
        ],
    )


def _ingest_follower_diffs(
    conn: Connection,
    rec: sqlite3.Connection,
    result: IngestResult,
    info: dict[str, str],
    site_id: str,
    run_id: str,
    when: str,
    bundle_id: str,
) -> None:
    """A format 3 diff (complete list: followed and left) or partial list (followed only)."""
    form = info["followers_form"]
    previous = info.get("followers_previous") or None
    fl = s.follower_lists
    last = conn.execute(
        select(fl.c.bundle_id).where(fl.c.site_id == site_id).order_by(fl.c.taken_at.desc())
    ).first()
    if (last[0] if last else None) not in (previous, bundle_id):
        conn.execute(
            s.degradations.insert().values(
                site_id=site_id,
                run_id=run_id,
                capability="follower_chain",
                reason=f"follower diff {bundle_id} extends list {previous}, but the catalog's "
                f"last list is {last[0] if last else 'none'}; its follows and unfollows are "
                "applied to the catalog's list",
                at=when,
            )
        )
    f = s.followers
    for rows in _batches(
        rec.execute(
            "SELECT event, platform_id, handle, display_name, url FROM follower_diffs ORDER BY seq"
        )
    ):
        events: list[dict[str, Any]] = []
        for r in rows:
            pid = r["platform_id"]
            if r["event"] == "followed":
                row = conn.execute(
                    select(f.c.unfollowed_at).where(f.c.site_id == site_id, f.c.platform_id == pid)
                ).first()
                values = {
                    "handle": r["handle"],
                    "display_name": r["display_name"],
                    "url": r["url"],
                    "last_seen_at": when,
                    "last_seen_run": run_id,
                }
                if row is None:
                    conn.execute(
                        f.insert().values(
                            site_id=site_id, platform_id=pid, first_seen_at=when, **values
                        )
                    )
                elif row.unfollowed_at is None:
                    continue  # already following (a diff read twice): nothing happened
                else:
                    conn.execute(
                        update(f)
                        .where(f.c.site_id == site_id, f.c.platform_id == pid)
                        .values(unfollowed_at=None, **values)
                    )
                result.followed += 1
            elif form == "diff":
                n = conn.execute(
                    update(f)
                    .where(
                        f.c.site_id == site_id, f.c.platform_id == pid, f.c.unfollowed_at.is_(None)
                    )
                    .values(unfollowed_at=when)
                ).rowcount
                if not n:
                    continue
                result.unfollowed += 1
            else:
                continue  # a partial list never says anyone left
            events.append(
                {
                    "site_id": site_id,
                    "platform_id": pid,
                    "handle": r["handle"],
                    "event": r["event"],
                    "at": when,
                    "run_id": run_id,
                    "bundle_id": bundle_id,
                }
            )
        if events:
            insert_rows(conn, s.follower_events, events)
    if form == "diff":
        # A complete list was read: everyone still following was seen in it.
        conn.execute(
            update(f)
            .where(f.c.site_id == site_id, f.c.unfollowed_at.is_(None))
            .values(last_seen_at=when, last_seen_run=run_id)
        )
        count = conn.execute(
            select(func.count()).where(f.c.site_id == site_id, f.c.unfollowed_at.is_(None))
        ).scalar()
        conn.execute(
            s.follower_snapshots.insert().values(
                site_id=site_id,
                run_id=run_id,
                bundle_id=bundle_id,
                taken_at=when,
                count=int(count or 0),
                identities=True,
                note="complete follower list (kept as changes since checkpoint "
                f"{info.get('followers_checkpoint')})",
            )
        )
        return
    _declared_counts(conn, rec, site_id, run_id, bundle_id, when)


def _declared_counts(
    conn: Connection, rec: sqlite3.Connection, site_id: str, run_id: str, bundle_id: str, when: str
) -> None:
    """The follower counts the platform declared, one snapshot row each."""
    for fc in rec.execute("SELECT * FROM follower_counts"):
        conn.execute(
            s.follower_snapshots.insert().values(
                site_id=site_id,
                run_id=run_id,
                bundle_id=bundle_id,
                taken_at=when,
                count=fc["count"],
                identities=bool(fc["identities_available"]),
                note=fc["note"],
            )
        )


def _ingest_warc_index(
    conn: Connection, rec: sqlite3.Connection, site_id: str, bundle_id: str
) -> None:
    cur = rec.execute(
        "SELECT record_id, target_uri, warc_date, payload_digest FROM warc_records "
        "WHERE record_type='response' AND http_status=200 AND payload_digest IS NOT NULL"
    )
    for rows in _batches(cur):
        insert_ignore(
            conn,
            s.payload_index,
            [
                {
                    "site_id": site_id,
                    "uri_hash": uri_hash(r["target_uri"]),
                    "payload_digest": r["payload_digest"],
                    "target_uri": r["target_uri"],
                    "record_id": r["record_id"],
                    "warc_date": r["warc_date"],
                    "bundle_id": bundle_id,
                }
                for r in rows
            ],
        )
    refs = [
        {"bundle_id": bundle_id, "refers_to_bundle_id": r[0]}
        for r in rec.execute(
            "SELECT DISTINCT refers_to_bundle FROM warc_records WHERE refers_to_bundle IS NOT NULL"
        )
        if r[0] != bundle_id
    ]
    insert_ignore(conn, s.revisit_refs, refs)


def _ingest_coverage(
    conn: Connection, rec: sqlite3.Connection, site_id: str, run_id: str, when: str
) -> None:
    """Reported-vs-captured counts (format 1 bundles: none, see ``bundle_format``)."""
    rows = [
        {
            "site_id": site_id,
            "run_id": run_id,
            "scope": c[0],
            "thread_platform_id": c[1],
            "reported": c[2],
            "captured": c[3],
            "reason": c[4],
            "at": when,
        }
        for c in rec.execute(
            "SELECT scope, thread_platform_id, reported, captured, reason FROM coverage"
        )
    ]
    if rows:
        conn.execute(s.coverage.insert(), rows)


def _ingest_misc(
    conn: Connection, rec: sqlite3.Connection, site_id: str, run_id: str, when: str, bundle_id: str
) -> None:
    for b in rec.execute("SELECT key, value FROM bookmarks"):
        row = conn.execute(
            select(s.bookmarks.c.key).where(
                s.bookmarks.c.site_id == site_id, s.bookmarks.c.key == b["key"]
            )
        ).first()
        values = {"value": b["value"], "updated_at": when, "bundle_id": bundle_id}
        if row is None:
            conn.execute(s.bookmarks.insert().values(site_id=site_id, key=b["key"], **values))
        else:
            conn.execute(
                update(s.bookmarks)
                .where(s.bookmarks.c.site_id == site_id, s.bookmarks.c.key == b["key"])
                .values(**values)
            )
    degr = [
        {"site_id": site_id, "run_id": run_id, "capability": d[0], "reason": d[1], "at": when}
        for d in rec.execute("SELECT capability, reason FROM degradations")
    ]
    if degr:
        conn.execute(s.degradations.insert(), degr)
    _ingest_coverage(conn, rec, site_id, run_id, when)
    bad = [
        {
            "site_id": site_id,
            "run_id": run_id,
            "bundle_id": bundle_id,
            "endpoint": u[0],
            "reason": u[1],
            "warc_file": u[2],
            "warc_offset": u[3],
            "warc_length": u[4],
        }
        for u in rec.execute("SELECT * FROM unparseable")
    ]
    if bad:
        conn.execute(s.unparseable.insert(), bad)
