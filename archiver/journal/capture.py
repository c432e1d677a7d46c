"""Capture: compare the catalog with what was journaled and append the changes to pending."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, and_, select

from archiver import audit
from archiver.catalog import schema as s
from archiver.catalog.marks import JOURNALED_AUDIT_MARK
from archiver.clock import now_iso
from archiver.journal.model import (
    _APPEND_ONLY,
    _IMMUTABLE_CHILDREN,
    _ITEM_REFS,
    _LOCK,
    _PENDING,
    _RESIDUE,
    _STATE,
    _VOLATILE,
    ITEM_RESIDUE,
    Entry,
    JournalError,
    JournalReadOnlyError,
    _image,
    _pk,
    _thread_lock,
    journaled_tables,
)
from archiver.resources import make_private

# --- local state -------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One flush at a time: threads of the daemon (lock) and other processes (flock)."""
    with _thread_lock:
        try:
            folder.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            if exc.errno == errno.EROFS:
                raise JournalReadOnlyError(
                    f"the journal folder {folder} is on a read-only filesystem"
                ) from exc
            raise JournalError(
                f"cannot open the journal folder {folder}: {exc.strerror}",
                hint="check the archive root's free space and permissions",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _state(folder: Path) -> sqlite3.Connection:
    # Created 0640 before SQLite opens it: the digests name workflow rows (requests, holds).
    os.close(os.open(folder / _STATE, os.O_RDWR | os.O_CREAT, 0o640))
    make_private(folder / _STATE)
    db = sqlite3.connect(folder / _STATE)
    db.execute(
        "CREATE TABLE IF NOT EXISTS rows (tbl TEXT NOT NULL, key TEXT NOT NULL, "
        "digest TEXT NOT NULL, PRIMARY KEY (tbl, key))"
    )
    db.execute("CREATE TABLE IF NOT EXISTS marks (tbl TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.commit()
    return db


def _item_keys(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        q = select(
            s.items.c.id, s.items.c.site_id, s.items.c.record_class, s.items.c.platform_id
        ).where(s.items.c.id.in_(chunk))
        for r in conn.execute(q):
            out[int(r.id)] = [r.site_id, r.record_class, r.platform_id]
    return out


def _entry_key(name: str, pk: Sequence[str], image: Mapping[str, Any]) -> list[Any]:
    """The row's key in the journal: its primary key, or an item's natural key for item refs.

    Item ids are renumbered by a rebuild, so a key holding one would name another item there.
    """
    ref = _ITEM_REFS.get(name)
    if ref is not None:
        natural = image.get("_item")
        return ["item", *natural] if natural else ["item-id", image[ref]]
    return [image[c] for c in pk]


def _check_same_catalog(conn: Connection, db: sqlite3.Connection) -> bool:
    """Refuse to journal a catalog that is behind the journal (lost, replaced or restored).

    Every workflow change writes an audit entry, so a catalog whose audit log ends before the
    last journaled entry is not the catalog the journal came from: journaling its state would
    record every later decision as deleted.
    """
    got = db.execute(JOURNALED_AUDIT_MARK).fetchone()
    mark = int(got[0]) if got else 0
    seq, _ = audit.head(conn)
    # Returns whether the catalog moved on since the last capture (see capture).
    if seq < mark:
        raise JournalError(
            f"the catalog's audit log ends at entry {seq} but the journal already holds entry "
            f"{mark}: this catalog is older than the journal (lost, replaced or restored from a "
            "backup), so nothing was journaled",
            hint="restore with `archiver catalog rebuild --into NEW`: storage holds the newer "
            "decisions (docs/operations.md, Backup and restore)",
        )
    return seq != mark


def _diff(
    db: sqlite3.Connection,
    name: str,
    keyed: Sequence[tuple[list[Any], dict[str, Any]]],
    at: str,
    puts: list[Entry],
    deletes: list[Entry],
    digests: list[tuple[str, str, str | None]],
) -> None:
    """Compare (key, image) pairs with the digests journaled before; queue what changed."""
    old = dict(db.execute("SELECT key, digest FROM rows WHERE tbl = ?", (name,)).fetchall())
    seen: set[str] = set()
    volatile = _VOLATILE.get(name, ())
    for key, image in keyed:
        key_text = json.dumps(key, ensure_ascii=False)
        # Change detection only (the entry itself carries the canonical JSON image): the repr
        # of the values in column order is stable for the plain types a catalog row holds and
        # several times cheaper than canonical JSON, which matters on large catalogs.
        material = repr([(k, v) for k, v in image.items() if k not in volatile])
        digest = hashlib.sha1(material.encode("utf-8")).hexdigest()
        seen.add(key_text)
        if old.get(key_text) != digest:
            puts.append(Entry(at, "put", name, key, image))
            digests.append((name, key_text, digest))
    for key_text in sorted(set(old) - seen):
        # For residue this says "no longer a destroyed bundle's leftover".
        deletes.append(Entry(at, "delete", name, json.loads(key_text)))
        digests.append((name, key_text, None))


def _changes(
    conn: Connection, db: sqlite3.Connection, at: str
) -> tuple[list[Entry], list[tuple[str, str, str | None]], dict[str, int]]:
    """Entries to journal, the digest updates they imply, and new high-water marks."""
    puts: list[Entry] = []
    deletes: list[Entry] = []
    digests: list[tuple[str, str, str | None]] = []
    marks: dict[str, int] = {}
    for table in journaled_tables():
        name = table.name
        pk = _pk(table)
        if name in _APPEND_ONLY:
            col = _APPEND_ONLY[name]
            got = db.execute("SELECT value FROM marks WHERE tbl = ?", (name,)).fetchone()
            mark = int(got[0]) if got else 0
            q = select(table).where(table.c[col] > mark).order_by(table.c[col])
            for hit in conn.execute(q):
                image = _image(hit._mapping)
                puts.append(Entry(at, "put", name, [image[c] for c in pk], image))
                mark = max(mark, int(image[col]))
            marks[name] = mark
            continue
        if name in _IMMUTABLE_CHILDREN:
            _new_children(conn, db, table, at, puts, digests)
            continue
        order = [table.c[c] for c in pk]
        q = select(table).order_by(*order)
        if name in _RESIDUE:
            disposed = select(s.bundles.c.id).where(s.bundles.c.status == "disposed")
            q = q.where(table.c[_RESIDUE[name]].in_(disposed))
        ref = _ITEM_REFS.get(name)
        if ref is None:
            _diff_rows(conn, db, table, q, at, puts, deletes, digests)
            continue
        rows = [_image(r._mapping) for r in conn.execute(q)]
        if ref is not None:
            keys = _item_keys(conn, [int(i[ref]) for i in rows if i[ref] is not None])
            for i in rows:
                i["_item"] = keys.get(int(i[ref])) if i[ref] is not None else None
        keyed = [(_entry_key(name, pk, image), image) for image in rows]
        _diff(db, name, keyed, at, puts, deletes, digests)
    _diff(db, ITEM_RESIDUE, _item_residue(conn), at, puts, deletes, digests)
    # Children are deleted before their parents.
    return puts + deletes[::-1], digests, marks


def _diff_rows(
    conn: Connection,
    db: sqlite3.Connection,
    table: Table,
    q: Any,
    at: str,
    puts: list[Entry],
    deletes: list[Entry],
    digests: list[tuple[str, str, str | None]],
) -> None:
    """``_diff`` for a plain table, reading rows as tuples: the per-row cost of large tables.

    Same digests as ``_diff`` (values in column order, volatile columns left out); the row
    becomes a dict only when it changed.
    """
    name = table.name
    cols = [c.name for c in table.columns]
    volatile = _VOLATILE.get(name, ())
    keep = [n for n, c in enumerate(cols) if c not in volatile]
    pk_at = [cols.index(c) for c in _pk(table)]
    old = dict(db.execute("SELECT key, digest FROM rows WHERE tbl = ?", (name,)).fetchall())
    seen: set[str] = set()
    sha1 = hashlib.sha1
    for row in conn.execute(q):
        key = [row[n] for n in pk_at]
        key_text = json.dumps(key, ensure_ascii=False)
        material = repr([(cols[n], row[n]) for n in keep])
        digest = sha1(material.encode("utf-8")).hexdigest()
        seen.add(key_text)
        if old.get(key_text) != digest:
            puts.append(Entry(at, "put", name, key, dict(zip(cols, row, strict=True))))
            digests.append((name, key_text, digest))
    for key_text in sorted(set(old) - seen):
        deletes.append(Entry(at, "delete", name, json.loads(key_text)))
        digests.append((name, key_text, None))


def _new_children(
    conn: Connection,
    db: sqlite3.Connection,
    table: Table,
    at: str,
    puts: list[Entry],
    digests: list[tuple[str, str, str | None]],
) -> None:
    """Rows written once with their parent and never changed: journal new parents' rows only.

    The state remembers the parents whose rows were journaled, so a large table (a bundle's
    files) costs a comparison of parent ids, not a read of every row, on each capture.
    """
    parent = _IMMUTABLE_CHILDREN[table.name]
    pk = _pk(table)
    done = {
        str(json.loads(k)[0])
        for (k,) in db.execute("SELECT key FROM rows WHERE tbl = ?", (table.name,))
    }
    ids = sorted(str(r[0]) for r in conn.execute(select(s.bundles.c.id)) if str(r[0]) not in done)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        q = select(table).where(table.c[parent].in_(chunk)).order_by(*(table.c[c] for c in pk))
        for r in conn.execute(q):
            image = _image(r._mapping)
            puts.append(Entry(at, "put", table.name, [image[c] for c in pk], image))
        digests += [(table.name, json.dumps([bid], ensure_ascii=False), "done") for bid in chunk]


def _item_residue(conn: Connection) -> list[tuple[list[Any], dict[str, Any]]]:
    """Items a disposition left in a state no stored bundle shows: (natural key, image).

    An item whose versions, events or last sighting came partly from a destroyed bundle keeps
    them in the catalog (first captured, last seen, version numbers, edit and removal events),
    while a rebuild only sees the surviving bundles. The item's catalog state is journaled
    for as long as that is so, and replayed over what the rebuild derived.
    """
    b, i, e, v = s.bundles, s.items, s.item_events, s.item_versions
    disposed = select(b.c.id).where(b.c.status == "disposed")
    if conn.execute(disposed.limit(1)).first() is None:
        return []
    last_seen = select(i.c.id).join(
        b,
        and_(
            b.c.status == "disposed",
            b.c.site_id == i.c.site_id,
            b.c.record_class == i.c.record_class,
            b.c.run_id == i.c.last_seen_run,
        ),
    )
    ids = {int(r[0]) for r in conn.execute(last_seen)}
    ids |= {int(r[0]) for r in conn.execute(select(e.c.item_id).where(e.c.bundle_id.in_(disposed)))}
    out: list[tuple[list[Any], dict[str, Any]]] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        versions: dict[int, list[list[Any]]] = {}
        for r in conn.execute(
            select(v.c.item_id, v.c.version, v.c.bundle_id, v.c.warc_record_id)
            .where(v.c.item_id.in_(chunk))
            .order_by(v.c.item_id, v.c.version)
        ):
            versions.setdefault(int(r.item_id), []).append(
                [r.version, r.bundle_id, r.warc_record_id]
            )
        events: dict[int, list[list[Any]]] = {}
        for ev in conn.execute(
            select(e.c.item_id, e.c.event, e.c.at, e.c.run_id, e.c.bundle_id, e.c.detail)
            .where(e.c.item_id.in_(chunk))
            .order_by(e.c.item_id, e.c.id)
        ):
            events.setdefault(int(ev.item_id), []).append(
                [ev.event, ev.at, ev.run_id, ev.bundle_id, ev.detail]
            )
        for it in conn.execute(select(i).where(i.c.id.in_(chunk)).order_by(i.c.id)):
            row = _image(it._mapping)
            item_id = int(row.pop("id"))
            image = {
                "item": row,
                "versions": versions.get(item_id, []),
                "events": events.get(item_id, []),
            }
            out.append(([row["site_id"], row["record_class"], row["platform_id"]], image))
    return out


def capture(catalog_conn: Connection, folder: Path) -> int:
    """Append what changed since the last capture to the pending file; return the count.

    The caller holds the journal lock and gives a connection whose single read transaction
    sees one consistent state of the catalog.
    """
    db = _state(folder)
    try:
        if not _check_same_catalog(catalog_conn, db):
            # Every decision writes an audit entry, so an unmoved audit head means nothing
            # worth a scan happened: read-only commands cost one query. Operational rows
            # written without one (job history, eligibility cache, WORM checks, back-off)
            # wait for the next audited change; they are in the catalog meanwhile.
            return 0
        entries, digests, marks = _changes(catalog_conn, db, now_iso())
        if not entries:
            return 0
        pending = folder / _PENDING
        with _open_append(pending) as fh:
            for e in entries:
                fh.write((e.to_json() + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        # Only now is it safe to forget the change: it is on disk in the pending file.
        with db:
            for tbl, key_text, digest in digests:
                if digest is None:
                    db.execute("DELETE FROM rows WHERE tbl = ? AND key = ?", (tbl, key_text))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO rows (tbl, key, digest) VALUES (?, ?, ?)",
                        (tbl, key_text, digest),
                    )
            for tbl, value in marks.items():
                db.execute("INSERT OR REPLACE INTO marks (tbl, value) VALUES (?, ?)", (tbl, value))
        return len(entries)
    finally:
        db.close()


@contextlib.contextmanager
def _open_append(path: Path) -> Iterator[Any]:
    """Append after the last complete line: a line cut off by a crash is dropped, not kept.

    Dropping it is safe because its digest was never recorded, so it is captured again.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    with os.fdopen(fd, "r+b") as fh:
        data = fh.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            fh.truncate(keep)
        fh.seek(keep)
        yield fh
