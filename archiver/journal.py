"""Workflow journal: the catalog's decisions, copied into the archive's storage as sealed segments.

Why: holds, records requests, removal reviews, schedule confirmations, disposition batches,
tombstones and the audit log are decisions people made about the records. They are in no
bundle, so a lost catalog would lose them. Every change to them is therefore also written to
storage, where the bundles are (WORM on S3), and ``archiver catalog rebuild`` restores them.

How, in three steps, each safe to interrupt:

1. **capture** compares every journaled table of the catalog with what was journaled before
   (a row digest per primary key, kept in ``<root>/journal/state.sqlite``) and appends the
   full image of each new or changed row, and each deleted key, to ``<root>/journal/pending.jsonl``
   (fsynced) *before* recording the new digests. The audit log is append-only, so only entries
   after the last journaled ``seq`` are read. Capturing from the catalog itself, rather than
   from each write path, means a crash between a workflow write and its journal entry loses
   nothing: the next capture sees the committed row and journals it. A crash after the pending
   write but before the digests are saved journals the same row twice, which replay ignores.
   Every decision writes an audit entry, so when the audit head has not moved since the last
   capture nothing is scanned (read-only commands cost one query). A scan reads each table's
   rows as tuples; a bundle's files, written once, are read only for bundles not journaled
   yet. ``bench/journal_capture.py`` prints these costs; a trigger-fed change table would
   make a scan O(changes) if large catalogs need it.
2. **seal** turns the pending file into one immutable segment object
   ``journal/<seq>-<sha256>.jsonl`` in storage: a header line (format, segment number, the
   previous segment's SHA-256, time, entry count) and the entries, one JSON object per line.
   The name carries the segment's own SHA-256 and the header the previous one's, so the
   segments form a hash chain: an edited, missing or reordered segment is named by
   :func:`read_chain`. The newest sealed segment is also written to ``<root>/journal/head.json``
   so that losing the *last* segments (which leaves a valid, shorter chain) is noticed too.
   Signing (Ed25519, added separately) can wrap the segment SHA-256: sign
   ``<seq>-<sha256>`` and store the signature next to the segment; nothing here changes.
3. **flush** = capture + seal, run when a command closes its :class:`~archiver.app.App`, after
   each daemon job and by ``recover``; entries left pending by a crash are sealed by the next.

Tables journaled: every catalog table except those rebuilt from the bundles themselves
(:data:`BUNDLE_DERIVED`). ``bundles``, ``bundle_files`` and ``sites`` are journaled as well,
so a disposed bundle's row, the catalog-only columns (status, eligibility, last verified) and
the site details from the config come back after a rebuild; so do the dedup-index, revisit
and bookmark rows a disposed bundle leaves behind (:data:`_RESIDUE`), and the catalog state of
items a disposition changed in a way no stored bundle shows (:data:`ITEM_RESIDUE`: last seen
in, or versions and events from, a destroyed bundle). A row that names an item
(``comment_removals.item_id``) also carries the item's natural key (site, record class,
platform id), because item ids are renumbered by a rebuild.

Entry (JSON, sorted keys)::

    {"at": "<ISO 8601 UTC>", "op": "put" | "delete", "table": "<name>",
     "key": [<primary key values>], "row": {<column>: <value>, ...}}   # "row" only for put
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import structlog
from sqlalchemy import Connection, Table, and_, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from archiver import audit
from archiver.catalog import schema as s
from archiver.db import metadata
from archiver.errors import ArchiverError, CatalogError, IntegrityError
from archiver.storage.base import JOURNAL_PREFIX, Storage

log = structlog.get_logger(__name__)

__all__ = [
    "BUNDLE_DERIVED",
    "FORMAT",
    "GENESIS",
    "Entry",
    "FlushResult",
    "JournalError",
    "JournalIntegrityError",
    "JournalReadOnlyError",
    "Segment",
    "capture",
    "flush",
    "flush_quietly",
    "journal_dir",
    "journaled_tables",
    "read_chain",
    "replay",
    "seal",
]

FORMAT: Final = 1
GENESIS: Final = "0" * 64

#: Tables every row of which ``ingest_bundle`` rebuilds from the sealed bundles.
BUNDLE_DERIVED: Final = frozenset(
    {
        "items",
        "item_versions",
        "item_events",
        "followers",
        "follower_events",
        "follower_snapshots",
        "bookmarks",
        "payload_index",
        "revisit_refs",
        "degradations",
        "unparseable",
    }
)

#: Bundle-derived rows a disposition leaves behind (the dedup index, revisit links and
#: bookmarks of a destroyed bundle): not in storage any more, so journaled while their bundle is
#: ``disposed``. Replayed only where a stored bundle did not already rebuild the row.
_RESIDUE: Final = {
    "payload_index": "bundle_id",
    "revisit_refs": "bundle_id",
    "bookmarks": "bundle_id",
}

#: Columns that change on every recomputation without changing content: a row is not journaled
#: again for them alone (its image carries the value from its last real change).
_VOLATILE: Final = {"bundle_eligibility": ("computed_at",)}

#: Tables whose rows are written once with their bundle and never changed (by bundle id).
_IMMUTABLE_CHILDREN: Final = {"bundle_files": "bundle_id"}

#: Pseudo-table of journal entries holding an item's catalog state after a disposition.
ITEM_RESIDUE: Final = "item_residue"

#: Append-only tables journaled by a high-water mark instead of by digest.
_APPEND_ONLY: Final = {"audit_log": "seq"}

#: Columns holding an ``items.id``; journaled with the item's natural key as ``_item``.
_ITEM_REFS: Final = {"comment_removals": "item_id"}

_NAME_RE: Final = re.compile(r"([0-9]{8,})-([0-9a-f]{64})\.jsonl")
_PENDING: Final = "pending.jsonl"
_STATE: Final = "state.sqlite"
_HEAD: Final = "head.json"
_LOCK: Final = ".lock"

_thread_lock = threading.Lock()


class JournalError(CatalogError):
    """The journal could not be written or read (disk, storage, a newer format)."""


class JournalReadOnlyError(JournalError):
    """The archive is mounted read-only: nothing can have changed, nothing is journaled."""


class JournalIntegrityError(IntegrityError):
    """A journal segment is missing, altered or out of order."""


@dataclass(frozen=True)
class Entry:
    at: str
    op: str
    table: str
    key: list[Any]
    row: dict[str, Any] | None = None

    def to_json(self) -> str:
        obj: dict[str, Any] = {"at": self.at, "op": self.op, "table": self.table, "key": self.key}
        if self.row is not None:
            obj["row"] = self.row
        return _canonical(obj)


@dataclass(frozen=True)
class Segment:
    seq: int
    name: str
    sha256: str
    prev_sha256: str
    created_at: str
    entries: list[Entry]

    @property
    def key(self) -> str:
        return f"{JOURNAL_PREFIX}/{self.name}"


@dataclass
class FlushResult:
    captured: int = 0
    sealed: list[str] = field(default_factory=list)


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def journal_dir(root: Path) -> Path:
    """Where the local journal files live: ``<archive root>/journal``."""
    return root / "journal"


def journaled_tables() -> list[Table]:
    """Every catalog table not rebuilt from bundles, parents before children."""
    from archiver import features

    features.register_tables()
    return [t for t in metadata.sorted_tables if t.name not in BUNDLE_DERIVED or t.name in _RESIDUE]


def _pk(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


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
    db = sqlite3.connect(folder / _STATE)
    db.execute(
        "CREATE TABLE IF NOT EXISTS rows (tbl TEXT NOT NULL, key TEXT NOT NULL, "
        "digest TEXT NOT NULL, PRIMARY KEY (tbl, key))"
    )
    db.execute("CREATE TABLE IF NOT EXISTS marks (tbl TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.commit()
    return db


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- capture -----------------------------------------------------------------------------------


def _image(row: Any) -> dict[str, Any]:
    """A row as a plain dict (SQLAlchemy ``RowMapping`` in, JSON-ready values out)."""
    return dict(row)


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
    got = db.execute("SELECT value FROM marks WHERE tbl = 'audit_log'").fetchone()
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
        entries, digests, marks = _changes(catalog_conn, db, _now())
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


# --- seal --------------------------------------------------------------------------------------


def _segment_names(storage: Storage) -> list[tuple[int, str, str]]:
    out = []
    for name in storage.list_journal():
        m = _NAME_RE.fullmatch(name)
        if m is None:
            raise JournalIntegrityError(
                f"journal: unexpected object {JOURNAL_PREFIX}/{name} among the segments",
                hint="remove it only if it is not part of the journal; compare with backups",
            )
        out.append((int(m.group(1)), m.group(2), name))
    return sorted(out)


def read_head(folder: Path) -> tuple[int, str] | None:
    """(seq, sha256) of the newest segment this archive root sealed, if recorded."""
    try:
        data = json.loads((folder / _HEAD).read_text("utf-8"))
        return int(data["seq"]), str(data["sha256"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JournalError(
            f"journal head file {folder / _HEAD} is unreadable: {exc}",
            hint="restore it from backup or delete it (the chain in storage is still checked)",
        ) from exc


def _write_head(folder: Path, seq: int, sha: str, name: str) -> None:
    path = folder / _HEAD
    tmp = folder / f".{_HEAD}.tmp"
    body = _canonical({"seq": seq, "sha256": sha, "name": name, "written_at": _now()}) + "\n"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(folder)


def _body_of(data: bytes) -> bytes:
    return data.split(b"\n", 1)[1] if b"\n" in data else b""


def seal(folder: Path, storage: Storage) -> str | None:
    """Store the pending entries as the next segment; return its key (None: nothing pending)."""
    pending = folder / _PENDING
    try:
        body = pending.read_bytes()
    except FileNotFoundError:
        return None
    body = body[: body.rfind(b"\n") + 1]
    if not body:
        pending.unlink(missing_ok=True)
        return None
    names = _segment_names(storage)
    seq, prev = (names[-1][0], names[-1][1]) if names else (0, GENESIS)
    head = read_head(folder)
    if head is not None and head[0] > seq:
        raise JournalIntegrityError(
            f"journal segment {head[0]} recorded in {folder / _HEAD} is missing from storage "
            f"(storage ends at segment {seq}); not sealing onto a broken chain",
            hint="restore the missing journal segments from backup",
        )
    if names and _body_of(storage.read_journal(names[-1][2])) == body:
        # A crash after storing the segment but before clearing the pending file.
        _write_head(folder, seq, prev, names[-1][2])
        pending.unlink()
        return None
    count = body.count(b"\n")
    header = {
        "journal": FORMAT,
        "segment": seq + 1,
        "prev_sha256": prev,
        "created_at": _now(),
        "entries": count,
    }
    data = (_canonical(header) + "\n").encode("utf-8") + body
    sha = hashlib.sha256(data).hexdigest()
    name = f"{seq + 1:08d}-{sha}.jsonl"
    key = storage.put_journal(name, data)
    _write_head(folder, seq + 1, sha, name)
    pending.unlink()
    _fsync_dir(folder)
    log.info("journal_sealed", key=key, entries=count)
    return key


# --- flush -------------------------------------------------------------------------------------


def flush(root: Path, catalog_engine: Any, storage: Storage) -> FlushResult:
    """Capture what changed in the catalog and seal it (and anything left pending) to storage."""
    folder = journal_dir(root)
    result = FlushResult()
    with _locked(folder):
        try:
            with catalog_engine.connect() as conn, conn.begin():
                result.captured = capture(conn, folder)
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal in {folder}: {exc.strerror}",
                hint="free space or fix permissions; the changes are journaled by the next run",
            ) from exc
        key = seal(folder, storage)
        if key is not None:
            result.sealed.append(key)
    return result


def flush_quietly(root: Path, catalog_engine: Any, storage: Storage) -> FlushResult | None:
    """Flush at the end of a command or job; a failure is logged, never raised.

    Nothing is lost by a failed flush: the changes stay in the catalog (and the pending file)
    and the next flush journals them. Raising here would turn a finished command into an
    error, or hide the error of a failed one.
    """
    try:
        return flush(root, catalog_engine, storage)
    except JournalReadOnlyError as exc:
        # verify, status and search on a read-only copy of the archive: nothing to journal.
        log.debug("journal_skipped_read_only", reason=str(exc))
        return None
    except (ArchiverError, OSError, sqlite3.Error, SQLAlchemyError) as exc:
        log.error("journal_flush_failed", error=str(exc))
        return None


# --- reading and replay ------------------------------------------------------------------------


def _parse_segment(seq: int, name: str, sha: str, data: bytes, prev: str) -> Segment:
    key = f"{JOURNAL_PREFIX}/{name}"
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        raise JournalIntegrityError(
            f"journal segment {key} was altered: its content hashes to {actual}",
            hint="restore this segment from a backup of the storage; nothing was rebuilt",
        )
    lines = data.decode("utf-8").split("\n")
    try:
        header = json.loads(lines[0])
        entries = [json.loads(line) for line in lines[1:] if line]
    except ValueError as exc:
        raise JournalIntegrityError(f"journal segment {key} is not JSON lines: {exc}") from exc
    if header.get("journal") != FORMAT:
        raise JournalError(
            f"journal segment {key} has format {header.get('journal')!r}; this version reads "
            f"format {FORMAT}",
            hint="rebuild with the archiver release that wrote it, or a newer one",
        )
    if header.get("segment") != seq or header.get("prev_sha256") != prev:
        raise JournalIntegrityError(
            f"journal segment {key} does not follow segment {seq - 1} (its header names "
            f"segment {header.get('segment')} after {header.get('prev_sha256')}): the chain "
            "was reordered or a segment replaced",
            hint="restore the journal from a backup of the storage",
        )
    if header.get("entries") != len(entries):
        raise JournalIntegrityError(f"journal segment {key} lost entries")
    return Segment(
        seq=seq,
        name=name,
        sha256=sha,
        prev_sha256=prev,
        created_at=str(header.get("created_at")),
        entries=[
            Entry(e["at"], e["op"], e["table"], list(e["key"]), e.get("row")) for e in entries
        ],
    )


def read_chain(storage: Storage, *, head: tuple[int, str] | None = None) -> list[Segment]:
    """Every segment in order, each checked against its name's hash and its predecessor.

    ``head`` (from ``head.json``) is the newest segment known to have been sealed: a chain
    that ends before it lost its newest segments.
    """
    names = _segment_names(storage)
    out: list[Segment] = []
    prev = GENESIS
    expected = 1
    for seq, sha, name in names:
        if seq < expected:
            raise JournalIntegrityError(
                f"journal: two segments claim number {seq} ({JOURNAL_PREFIX}/{name} and "
                f"{out[-1].key})",
                hint="the journal was forked; restore it from a backup of the storage",
            )
        if seq > expected:
            before = out[-1].key if out else "the start"
            raise JournalIntegrityError(
                f"journal segment {expected} is missing (between {before} and "
                f"{JOURNAL_PREFIX}/{name})",
                hint="restore the missing segment from a backup of the storage",
            )
        segment = _parse_segment(seq, name, sha, storage.read_journal(name), prev)
        out.append(segment)
        prev = sha
        expected = seq + 1
    if head is not None:
        last = out[-1].seq if out else 0
        if head[0] > last:
            raise JournalIntegrityError(
                f"journal segment {last + 1} is missing: this archive sealed segments up to "
                f"{head[0]} but storage ends at segment {last}",
                hint="restore the missing segments from a backup of the storage",
            )
        if head[0] and out[head[0] - 1].sha256 != head[1]:
            raise JournalIntegrityError(
                f"journal segment {out[head[0] - 1].key} differs from the one this archive "
                "sealed (head.json)",
                hint="restore the journal from a backup of the storage",
            )
    return out


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
    from archiver import features

    features.register_tables()
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
