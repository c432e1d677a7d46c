"""A bundle: one run's records of one retention class, sealed so it can be trusted later.

Layout (BagIt 1.0, so ``bagit.py --validate`` checks it independently of this software)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/records.sqlite          normalized records + where each came from in the WARC
    data/warc/<class>-00000.warc.gz

A bundle is written in ``<staging>/<id>.partial``; sealing closes every file, writes the
manifests (``tagmanifest-sha256.txt`` last), fsyncs, makes the files read-only and renames the
folder to ``<id>.sealed``. Only sealed folders are ever published; a ``.partial`` folder found
after a crash is discarded, because its run never advanced a bookmark.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from archiver import __version__
from archiver.bundle_compact import compact, tight_sql
from archiver.errors import BundleError
from archiver.fsutil import fsync_dir, fsync_file
from archiver.model import (
    BookmarkUpdate,
    Coverage,
    Degradation,
    Follower,
    FollowerCount,
    Item,
    LiveRemoval,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.textclean import clean_record
from archiver.warc import RevisitTarget, WarcSink, WrittenRecord

RECORDS_DB = "data/records.sqlite"
BUNDLE_SCHEMA_VERSION = 5
#: Small pages: a run that finds little writes a small records.sqlite (one page per table even
#: when empty: 4 KiB pages made an empty bundle's database 60 KiB).
PAGE_SIZE = 1024
#: A sealed database of at most this many 1 KiB pages is stored with 512-byte pages.
SMALL_DB_PAGES = 64
SMALL_PAGE_SIZE = 512

_SCHEMA = """
CREATE TABLE bundle_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE warc_records (
  record_id TEXT PRIMARY KEY, record_type TEXT NOT NULL, target_uri TEXT, warc_date TEXT,
  warc_file TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  payload_digest TEXT, http_status INTEGER, concurrent_to TEXT,
  refers_to_record_id TEXT, refers_to_uri TEXT, refers_to_date TEXT, refers_to_bundle TEXT);
CREATE INDEX warc_records_dedup ON warc_records(target_uri, payload_digest);
CREATE TABLE items (
  seq INTEGER PRIMARY KEY, platform_id TEXT NOT NULL, kind TEXT NOT NULL,
  posted_at TEXT, edited_at TEXT, author_id TEXT, author_handle TEXT, author_name TEXT,
  author_url TEXT, text TEXT NOT NULL, html TEXT, url TEXT, parent_id TEXT, root_id TEXT,
  media_json TEXT NOT NULL, by_owner INTEGER NOT NULL, hidden INTEGER NOT NULL,
  extra_json TEXT NOT NULL, content_hash TEXT NOT NULL,
  warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL,
  warc_record_id TEXT NOT NULL, warc_type TEXT NOT NULL);
CREATE TABLE followers (
  seq INTEGER PRIMARY KEY, platform_id TEXT NOT NULL, handle TEXT, display_name TEXT, url TEXT,
  warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL);
CREATE TABLE follower_counts (count INTEGER NOT NULL, identities_available INTEGER NOT NULL,
  note TEXT, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL);
CREATE TABLE sweeps (record_class TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE bookmarks (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE unparseable (endpoint TEXT, reason TEXT, warc_file TEXT, warc_offset INTEGER,
  warc_length INTEGER);
CREATE TABLE degradations (capability TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE live_removals (platform_id TEXT NOT NULL, reported_at TEXT NOT NULL,
  detail TEXT NOT NULL, warc_file TEXT, warc_offset INTEGER, warc_length INTEGER);
CREATE TABLE coverage (scope TEXT NOT NULL, thread_platform_id TEXT, reported INTEGER NOT NULL,
  captured INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE seen (record_class TEXT NOT NULL, platform_id TEXT NOT NULL,
  content_hash TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,
  warc_length INTEGER NOT NULL, warc_record_id TEXT NOT NULL, warc_type TEXT NOT NULL);
CREATE TABLE follower_diffs (seq INTEGER PRIMARY KEY, event TEXT NOT NULL,
  platform_id TEXT NOT NULL, handle TEXT, display_name TEXT, url TEXT, warc_file TEXT,
  warc_offset INTEGER, warc_length INTEGER);
"""

#: Every table of the current layout, by name: its CREATE statement.
TABLE_SQL: dict[str, str] = {
    stmt.split()[2]: tight_sql(stmt.strip())
    for stmt in _SCHEMA.split(";")
    if stmt.strip().startswith("CREATE TABLE")
}
TABLES = tuple(TABLE_SQL)

#: How a followers bundle keeps its list (``bundle_info.followers_form``; format 3):
#: checkpoint: the whole list in ``followers``; diff: only ``follower_diffs`` against the list
#: of ``followers_previous`` (the chain starts at ``followers_checkpoint``); partial: the part
#: of the list read (never "left" diffs). Format 1-2 bundles are checkpoints or partial lists.
FOLLOWER_FORMS = ("checkpoint", "diff", "partial")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


@dataclass(frozen=True, slots=True)
class SealedBundle:
    """A sealed staging folder, ready to publish."""

    bundle_id: str
    key: str
    path: Path
    site_id: str
    record_class: RecordClass
    run_id: str


def new_bundle_id(site_id: str, record_class: str, started: datetime) -> str:
    return f"{site_id}-{started.strftime('%Y%m%dT%H%M%SZ')}-{record_class}-{uuid.uuid4().hex[:6]}"


def bundle_key(site_id: str, bundle_id: str, started: datetime) -> str:
    return f"{site_id}/{started.year:04d}/{bundle_id}"


class BundleWriter:
    """Accumulates one retention class of one run in a staging folder."""

    def __init__(
        self,
        staging: Path,
        *,
        site_id: str,
        platform: str,
        run_id: str,
        record_class: RecordClass,
        started: datetime,
        organization: str,
        warc_info: dict[str, str],
    ) -> None:
        self.site_id = site_id
        self.run_id = run_id
        self.record_class = record_class
        self.started = started
        self.organization = organization
        self.bundle_id = new_bundle_id(site_id, record_class, started)
        self.key = bundle_key(site_id, self.bundle_id, started)
        self.dir = staging / f"{self.bundle_id}.partial"
        self.lock = BundleLock(staging, self.bundle_id)
        try:
            staging.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
            (self.dir / "data" / "warc").mkdir(parents=True)
        except OSError as exc:
            raise BundleError(
                f"cannot create staging folder {self.dir}: {exc.strerror}",
                hint="check that the archive root is writable and the disk is not full",
            ) from exc
        try:
            self._open(platform, warc_info)
        except BaseException:
            # E.g. the disk filled while creating the first files: leave no .partial behind.
            with contextlib.suppress(sqlite3.Error, AttributeError):
                self.db.close()
            remove_tree(self.dir)
            self.lock.release()
            raise

    def _open(self, platform: str, warc_info: dict[str, str]) -> None:
        site_id, run_id, record_class, started = (
            self.site_id, self.run_id, self.record_class, self.started
        )  # fmt: skip
        self.db = sqlite3.connect(self.dir / RECORDS_DB, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self.db.executescript(tight_sql(_SCHEMA))
        self.db.execute("BEGIN")
        info = {
            "bundle_id": self.bundle_id,
            "site_id": site_id,
            "platform": platform,
            "run_id": run_id,
            "record_class": record_class,
            "started_at": started.isoformat(),
            "schema_version": str(BUNDLE_SCHEMA_VERSION),
            "software": f"muni-archiver/{__version__}",
        }
        self.db.executemany("INSERT INTO bundle_info VALUES (?, ?)", info.items())
        self.sink = WarcSink(
            self.dir / "data" / "warc",
            record_class,
            info={**warc_info, "x-bundle-id": self.bundle_id},
            on_record=self._on_record,
            bundle_id=self.bundle_id,
        )
        self.counts: dict[str, int] = {}
        self._first: str | None = None
        self._last: str | None = None
        self._shrunk = False

    # -- WARC bookkeeping -------------------------------------------------------------------
    def _on_record(self, rec: WrittenRecord) -> None:
        ref = rec.ref
        r = rec.refers_to
        self.db.execute(
            "INSERT INTO warc_records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ref.record_id,
                ref.record_type,
                ref.target_uri,
                rec.warc_date,
                ref.warc_file,
                ref.offset,
                ref.length,
                rec.payload_digest,
                rec.http_status,
                rec.concurrent_to,
                r.record_id if r else None,
                r.target_uri if r else None,
                r.warc_date if r else None,
                (r.bundle_id or self.bundle_id) if r else None,
            ),
        )

    def find_original(self, uri: str, digest: str) -> RevisitTarget | None:
        row = self.db.execute(
            "SELECT record_id, target_uri, warc_date FROM warc_records WHERE target_uri=? AND "
            "payload_digest=? AND record_type='response' LIMIT 1",
            (uri, digest),
        ).fetchone()
        if row is None:
            return None
        return RevisitTarget(record_id=row[0], target_uri=row[1], warc_date=row[2], bundle_id=None)

    # -- quiet fast-lane ticks (archiver.quiet_spool) ----------------------------------------
    def exchange_records(self) -> list[tuple[WrittenRecord, bytes]]:
        """Every record written so far but the warcinfo, with its exact gzip member: a quiet
        tick's exchanges, kept in the spool instead of being sealed in a bundle of their own."""
        self.sink.close()  # flushed and fsynced: the members are read back from the file
        out: list[tuple[WrittenRecord, bytes]] = []
        rows = self.db.execute(
            "SELECT record_id, record_type, target_uri, warc_date, warc_file, offset, length,"
            " payload_digest, http_status, concurrent_to, refers_to_record_id, refers_to_uri,"
            " refers_to_date, refers_to_bundle FROM warc_records"
            " WHERE record_type != 'warcinfo' ORDER BY warc_file, offset"
        ).fetchall()
        for row in rows:
            with (self.dir / "data" / "warc" / row[4]).open("rb") as fh:
                fh.seek(row[5])
                member = fh.read(row[6])
            ref = WarcRef(row[4], row[5], row[6], row[0], row[1], row[2] or "", self.bundle_id)
            refers = RevisitTarget(row[10], row[11], row[12], row[13]) if row[10] else None
            out.append((WrittenRecord(ref, row[3], row[7], row[8], refers, row[9]), member))
        return out

    def adopt(
        self, records: list[tuple[WrittenRecord, bytes]], ticks: list[tuple[str, str]]
    ) -> None:
        """Carry spooled quiet ticks into this bundle: their records, byte for byte, and in
        ``bundle_info.quiet_ticks`` each tick's run id and the time it checked (what makes
        "last checked" provable once sealed)."""
        for rec, member in records:
            self.sink.append_member(member, rec)
        row = self.db.execute("SELECT value FROM bundle_info WHERE key = 'quiet_ticks'").fetchone()
        kept = json.loads(row[0]) if row else []
        self.db.execute(
            "INSERT OR REPLACE INTO bundle_info VALUES ('quiet_ticks', ?)",
            (json.dumps(kept + [list(t) for t in ticks], separators=(",", ":")),),
        )

    def rename_refers(self, renamed: Mapping[str, str]) -> None:
        """Revisits of spooled originals name the bundle a quiet tick was written under
        (never sealed); ``renamed`` maps those to the bundles that now hold the originals."""
        self.db.executemany(
            "UPDATE warc_records SET refers_to_bundle = ? WHERE refers_to_bundle = ?",
            [(new, old) for old, new in renamed.items()],
        )

    # -- normalized records -----------------------------------------------------------------
    def _bump(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def add_item(self, item: Item) -> None:
        item = _storable(item)
        ref = item.ref
        media = [
            {
                "id": m.id,
                "type": m.type,
                "url": m.url,
                "description": m.description,
                "skipped_reason": m.skipped_reason,
                "ref": None
                if m.ref is None
                else {
                    "bundle_id": m.ref.bundle_id,
                    "warc_file": m.ref.warc_file,
                    "offset": m.ref.offset,
                    "length": m.ref.length,
                    "record_id": m.ref.record_id,
                },
            }
            for m in item.media
        ]
        posted = _iso(item.posted_at)
        self.db.execute(
            "INSERT INTO items (platform_id, kind, posted_at, edited_at, author_id, author_handle,"
            " author_name, author_url, text, html, url, parent_id, root_id, media_json, by_owner,"
            " hidden, extra_json, content_hash, warc_file, warc_offset, warc_length,"
            " warc_record_id, warc_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                item.platform_id,
                item.kind,
                posted,
                _iso(item.edited_at),
                item.author.id,
                item.author.handle,
                item.author.display_name,
                item.author.url,
                item.text,
                item.html,
                item.url,
                item.parent_id,
                item.root_id,
                json.dumps(media, ensure_ascii=False),
                int(item.by_owner),
                int(item.hidden),
                json.dumps(dict(item.extra), ensure_ascii=False, default=str),
                item.content_hash(),
                ref.warc_file,
                ref.offset,
                ref.length,
                ref.record_id,
                ref.record_type,
            ),
        )
        if posted:
            self._first = posted if self._first is None or posted < self._first else self._first
            self._last = posted if self._last is None or posted > self._last else self._last
        self._bump(item.kind)

    def add_follower(self, f: Follower) -> None:
        f, _ = clean_record(f)
        self.db.execute(
            "INSERT INTO followers (platform_id, handle, display_name, url, warc_file,"
            " warc_offset, warc_length) VALUES (?,?,?,?,?,?,?)",
            (f.platform_id, f.handle, f.display_name, f.url, *_loc(f.ref)),
        )
        self._bump("follower")

    def add_follower_count(self, fc: FollowerCount) -> None:
        self.db.execute(
            "INSERT INTO follower_counts VALUES (?,?,?,?,?,?)",
            (fc.count, int(fc.identities_available), fc.note, *_loc(fc.ref)),
        )
        self._bump("follower_count")

    def add_sweep(self, sweep: Sweep) -> None:
        self.db.execute("INSERT INTO sweeps VALUES (?, ?)", (sweep.record_class, sweep.scope))

    def add_unparseable(self, u: Unparseable) -> None:
        u, _ = clean_record(u)
        loc = _loc(u.ref) if u.ref else (None, None, None)
        self.db.execute("INSERT INTO unparseable VALUES (?,?,?,?,?)", (u.endpoint, u.reason, *loc))
        self._bump("unparseable")

    def add_live_removal(self, r: LiveRemoval) -> None:
        r, _ = clean_record(r)
        loc = _loc(r.ref) if r.ref else (None, None, None)
        self.db.execute(
            "INSERT INTO live_removals VALUES (?,?,?,?,?,?)",
            (r.platform_id, r.reported_at.isoformat(), r.detail, *loc),
        )
        self._bump("live_removal")

    def add_bookmarks(self, bookmarks: list[BookmarkUpdate]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO bookmarks VALUES (?, ?)",
            [(b.key, b.value) for b in (clean_record(b)[0] for b in bookmarks)],
        )

    def add_degradations(self, degradations: list[Degradation]) -> None:
        self.db.executemany(
            "INSERT INTO degradations VALUES (?, ?)",
            [(d.capability, d.reason) for d in (clean_record(d)[0] for d in degradations)],
        )

    def add_coverage(self, coverage: list[Coverage]) -> None:
        """Additive table: readers of format 1 without it simply ignore it (see bundle_format)."""
        self.db.executemany(
            "INSERT INTO coverage VALUES (?, ?, ?, ?, ?)",
            [
                (c.scope, c.thread_platform_id, c.reported, c.captured, c.reason)
                for c in (clean_record(c)[0] for c in coverage)
            ],
        )

    # -- change-proportional storage (format 3) ---------------------------------------------
    def item_hashes(self) -> Iterator[tuple[str, list[str]]]:
        """Every item id written, with the content hashes of its rows (capture order)."""
        rows: dict[str, list[str]] = {}
        for pid, digest in self.db.execute(
            "SELECT platform_id, content_hash FROM items ORDER BY seq"
        ):
            rows.setdefault(pid, []).append(digest)
        yield from rows.items()

    def move_to_seen(self, current: Mapping[str, str]) -> int:
        """Keep only a ``seen`` row (id, content hash, the WARC record that showed it) for
        items the catalog already holds in exactly this version (``current``: id -> content
        hash of that version): no second copy of their text or of edit history read again.
        """
        platform_ids = list(current)
        moved = 0
        # Dropped again at sealing: only this step looks items up by id.
        self.db.execute(
            "CREATE INDEX IF NOT EXISTS items_by_id ON items(platform_id, content_hash)"
        )
        for start in range(0, len(platform_ids), 500):
            chunk = platform_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self.db.executemany(
                "INSERT INTO seen SELECT ?, platform_id, content_hash, warc_file, warc_offset,"
                " warc_length, warc_record_id, warc_type FROM items WHERE seq = (SELECT"
                " max(seq) FROM items WHERE platform_id = ? AND content_hash = ?)",
                [(self.record_class, pid, current[pid]) for pid in chunk],
            )
            for (kind,) in self.db.execute(
                f"SELECT kind FROM items WHERE platform_id IN ({marks})", chunk
            ).fetchall():
                self.counts[kind] -= 1
                if not self.counts[kind]:
                    del self.counts[kind]
            cur = self.db.execute(f"DELETE FROM items WHERE platform_id IN ({marks})", chunk)
            moved += len(chunk)
            self._shrunk |= cur.rowcount > 0
        if moved:
            self.counts["seen"] = self.counts.get("seen", 0) + moved
        self._first, self._last = self.db.execute(
            "SELECT min(posted_at), max(posted_at) FROM items"
        ).fetchone()
        return moved

    def follower_ids(self) -> Iterator[list[tuple[str, str | None, str | None, str | None]]]:
        """The follower rows written, in batches (deduplicated per batch by the reader)."""
        cur = self.db.execute(
            "SELECT platform_id, handle, display_name, url FROM followers ORDER BY seq"
        )
        while rows := cur.fetchmany(2000):
            yield [tuple(r) for r in rows]

    def followers_complete(self) -> bool:
        """Read to the end with every entry readable (the rule for "left" diffs)."""
        swept = self.db.execute("SELECT 1 FROM sweeps WHERE record_class='followers'").fetchone()
        bad = self.db.execute("SELECT 1 FROM unparseable LIMIT 1").fetchone()
        return swept is not None and bad is None

    def mark_followers_head(self) -> None:
        """The run read only the newest end of the list by design (``FollowersHead``):
        ``bundle_info.followers_walk = head``, so a reader sees that the list stops short on
        purpose, not through an error (an error leaves a degradation instead)."""
        self.db.execute("INSERT OR REPLACE INTO bundle_info VALUES ('followers_walk', 'head')")

    def followers_head(self) -> bool:
        row = self.db.execute(
            "SELECT value FROM bundle_info WHERE key = 'followers_walk'"
        ).fetchone()
        return row is not None and row[0] == "head"

    def set_follower_form(
        self, form: str, *, checkpoint: str | None = None, previous: str | None = None
    ) -> None:
        """State how this bundle keeps the follower list (see :data:`FOLLOWER_FORMS`)."""
        assert form in FOLLOWER_FORMS
        checkpoint = self.bundle_id if form == "checkpoint" else checkpoint
        info = {"followers_form": form, "followers_checkpoint": checkpoint or ""}
        info["followers_previous"] = previous or ""
        self.db.executemany("INSERT OR REPLACE INTO bundle_info VALUES (?, ?)", info.items())

    def replace_followers_with_diffs(
        self, followed: set[str], left: list[tuple[str, str | None, str | None, str | None]]
    ) -> None:
        """Keep only who followed (with the page that showed them) and who left."""
        if followed:
            self.db.execute("CREATE TEMP TABLE new_ids (platform_id TEXT PRIMARY KEY)")
            self.db.executemany("INSERT INTO new_ids VALUES (?)", [(p,) for p in followed])
            self.db.execute(
                "INSERT INTO follower_diffs (event, platform_id, handle, display_name, url,"
                " warc_file, warc_offset, warc_length) SELECT 'followed', platform_id, handle,"
                " display_name, url, warc_file, warc_offset, warc_length FROM followers WHERE seq"
                " IN (SELECT min(seq) FROM followers WHERE platform_id IN (SELECT platform_id"
                " FROM temp.new_ids) GROUP BY platform_id) ORDER BY seq"
            )
            self.db.execute("DROP TABLE temp.new_ids")
        self.db.executemany(
            "INSERT INTO follower_diffs (event, platform_id, handle, display_name, url) "
            "VALUES ('unfollowed', ?, ?, ?, ?)",
            left,
        )
        listed = self.counts.pop("follower", 0)
        self.counts["follower_seen"] = listed
        if followed:
            self.counts["followed"] = len(followed)
        if left:
            self.counts["unfollowed"] = len(left)
        self._shrunk |= listed > 0
        self.db.execute("DELETE FROM followers")

    # -- sealing ----------------------------------------------------------------------------
    def seal(
        self, staging: Path, *, sign: Callable[[bytes], Mapping[str, bytes]] | None = None
    ) -> SealedBundle:
        """Close, hash, write the manifests last, fsync, make read-only, rename to .sealed.

        ``sign`` gets the final tagmanifest bytes and returns extra top-level files (the
        signature, its key id, a timestamp token: see ``archiver.integrity.seal``); they are
        written and fsynced before the rename, so a published bundle is signed or unsigned,
        never half-signed.
        """
        sealed_at = datetime.now(UTC).isoformat()
        self.db.executemany(
            "INSERT OR REPLACE INTO bundle_info VALUES (?, ?)",
            [
                ("sealed_at", sealed_at),
                ("counts", json.dumps(self.counts, sort_keys=True)),
                ("first_posted_at", self._first or ""),
                ("last_posted_at", self._last or ""),
                ("warc_files", json.dumps(self.sink.files)),
            ],
        )
        self.db.execute("COMMIT")
        # The dedup index serves find_original while the run writes; no reader of a sealed
        # bundle looks records up by URI and digest (the catalog's payload_index does).
        self.db.execute("DROP INDEX IF EXISTS warc_records_dedup")
        self.db.execute("DROP INDEX IF EXISTS items_by_id")
        finish_records_db(self.db)
        self.db.close()
        self.sink.close()
        try:
            payload = sorted(p for p in (self.dir / "data").rglob("*") if p.is_file())
            lines = []
            total = 0
            for p in payload:
                fsync_file(p)
                total += p.stat().st_size
                lines.append(f"{sha256_file(p)}  {p.relative_to(self.dir).as_posix()}\n")
            (self.dir / "bagit.txt").write_text(
                "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
            )
            info = [
                ("Source-Organization", self.organization),
                ("Bagging-Date", sealed_at[:10]),
                ("Bag-Software-Agent", f"muni-archiver/{__version__}"),
                ("External-Identifier", self.bundle_id),
                ("Internal-Sender-Identifier", f"{self.site_id}/{self.record_class}/{self.run_id}"),
                ("Payload-Oxum", f"{total}.{len(payload)}"),
                ("Sealed-At", sealed_at),
            ]
            (self.dir / "bag-info.txt").write_text(
                "".join(f"{k}: {v}\n" for k, v in info), encoding="utf-8"
            )
            (self.dir / "manifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
            tag_lines = [
                f"{sha256_file(self.dir / n)}  {n}\n"
                for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
            ]
            tmp = self.dir / "tagmanifest-sha256.txt.tmp"
            tmp.write_text("".join(tag_lines), encoding="utf-8")
            for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", tmp.name):
                fsync_file(self.dir / n)
            os.rename(tmp, self.dir / "tagmanifest-sha256.txt")
            if sign is not None:
                tag_bytes = (self.dir / "tagmanifest-sha256.txt").read_bytes()
                for name, data in sign(tag_bytes).items():
                    (self.dir / name).write_bytes(data)
                    fsync_file(self.dir / name)
            _make_read_only(self.dir)
            fsync_dir(self.dir)
            sealed = staging / f"{self.bundle_id}.sealed"
            os.rename(self.dir, sealed)
            fsync_dir(staging)
        except OSError as exc:
            from archiver.resources import RESOURCE_ERRNOS, describe, hint_for

            if exc.errno in RESOURCE_ERRNOS:
                raise BundleError(
                    f"cannot seal bundle {self.bundle_id} in {self.dir}: {describe(exc.errno)}; "
                    "it was not published and the run's bookmarks were not moved",
                    hint=hint_for(exc.errno, staging),
                ) from exc
            raise BundleError(
                f"cannot seal bundle {self.bundle_id}: {exc.strerror}",
                hint="check free disk space under the archive root; the run will be retried",
            ) from exc
        return SealedBundle(
            bundle_id=self.bundle_id,
            key=self.key,
            path=sealed,
            site_id=self.site_id,
            record_class=self.record_class,
            run_id=self.run_id,
        )

    def discard(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass
        try:
            self.sink.close()
        except OSError:
            pass
        remove_tree(self.dir)
        self.lock.release()


class BundleLock:
    """Marks a bundle as owned by a live process until it is published and cataloged.

    ``flock`` is released by the kernel when the owner dies (even by SIGKILL), so recovery
    can tell a crashed run's leftovers from a concurrent run's work in progress, in another
    process or another thread of the daemon (flock conflicts per open file description).
    """

    def __init__(self, staging: Path, bundle_id: str) -> None:
        self.path = staging / f"{bundle_id}.lock"
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True) -> bool:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def is_in_flight(staging: Path, bundle_id: str) -> bool:
    """True while a live process owns the bundle (its lock cannot be taken)."""
    lock = BundleLock(staging, bundle_id)
    if not lock.path.exists():
        return False
    if lock.acquire(wait=False):
        lock.release()
        return False
    return True


def finish_records_db(db: sqlite3.Connection) -> None:
    """The sealing-time layout (format 4) of a records database written in the format 3 layout.

    The WARC index and the ``seen`` rows become their compact form (``archiver.bundle_compact``);
    the key-value tables become ``WITHOUT ROWID`` (the key is the table: no second index
    page); an empty table is dropped (it costs a page and tells nothing: readers present a
    table a bundle does not have as empty, ``bundle_format.ensure_tables``); then the file is
    vacuumed at the page size that makes it smallest (the file is what WORM keeps).
    """
    compact(db)
    for name in ("bundle_info", "bookmarks"):
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone():
            continue  # a sealed format 3 bundle without bookmarks (a migration test)
        db.execute(f"ALTER TABLE {name} RENAME TO {name}_rowid")
        db.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY,value TEXT NOT NULL) WITHOUT ROWID")
        db.execute(f"INSERT INTO {name} SELECT key, value FROM {name}_rowid")
        db.execute(f"DROP TABLE {name}_rowid")
    names = [
        r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    ]
    for name in names:
        if name != "bundle_info" and not db.execute(f"SELECT 1 FROM {name}").fetchone():
            db.execute(f"DROP TABLE {name}")
    db.execute("VACUUM")  # give the pages of moved rows back
    # Half-KiB pages halve what each table's last, part-filled page wastes, which is most of a
    # run that found little; a big bundle keeps 1 KiB pages (fewer page headers and
    # interior pages).
    if db.execute("PRAGMA page_count").fetchone()[0] <= SMALL_DB_PAGES:
        db.execute(f"PRAGMA page_size={SMALL_PAGE_SIZE}")
        db.execute("VACUUM")


def _loc(ref: WarcRef) -> tuple[str, int, int]:
    return (ref.warc_file, ref.offset, ref.length)


def _make_read_only(top: Path) -> None:
    """Files 0440 and sub-folders 0550 (owner and group only, whatever the umask); the top
    folder (0750) stays writable until published."""
    for p in sorted(top.rglob("*"), reverse=True):
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            os.chmod(p, mode & ~0o227 | 0o550)
        else:
            os.chmod(p, mode & ~0o227 | 0o440)
    os.chmod(top, stat.S_IMODE(top.stat().st_mode) & ~0o027 | 0o700)


def remove_tree(path: Path) -> None:
    """Delete a folder even if sealing already made parts of it read-only."""
    if not path.exists():
        return
    for p in [path, *path.rglob("*")]:
        try:
            os.chmod(p, stat.S_IMODE(p.stat().st_mode) | stat.S_IWUSR | stat.S_IXUSR)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def read_manifest(text: str) -> dict[str, str]:
    """``relpath -> sha256`` from a BagIt manifest."""
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            out[rel.strip()] = digest
    return out


def stale_staging(staging: Path) -> Iterator[tuple[str, Path]]:
    """Leftovers of earlier runs: ('partial', path) to discard, ('sealed', path) to publish."""
    if not staging.exists():
        return
    for p in sorted(staging.iterdir()):
        bundle_id = p.name.rsplit(".", 1)[0]
        if p.is_dir() and is_in_flight(staging, bundle_id):
            continue
        if p.name.endswith(".partial"):
            yield "partial", p
        elif p.name.endswith(".sealed") and (p / "tagmanifest-sha256.txt").is_file():
            yield "sealed", p
        elif p.name.endswith(".sealed"):
            yield "partial", p


def _storable(item: Item) -> Item:
    """``item`` with text every database can hold: a lone surrogate (``"\\ud800"`` in the
    platform's JSON) or NUL made ``Item.content_hash`` and SQLite fail, and with them the whole
    site's harvest. They become U+FFFD here, where every connector's records pass, and the
    version says how many (``extra["unicode_replaced"]``); the WARC keeps the bytes as sent."""
    fitted, replaced = clean_record(item)
    if not replaced:
        return item
    return replace(fitted, extra={**fitted.extra, "unicode_replaced": replaced})
