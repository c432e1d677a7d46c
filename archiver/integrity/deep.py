"""``verify --deep``: recompute what the catalog says from the sealed ``records.sqlite``.

The catalog is derived data; whoever can write the database can make search, reports and
exports say anything. This pass reads every cataloged bundle's sealed records and compares,
in both directions:

* bundle rows: site, run, class, seal time, record count against ``bundle_info``;
* every ``item_versions`` row attributed to the bundle: the sealed record with the same item
  and content hash must exist, with the same text, html, media, extras, edit time,
  visibility and WARC location (a ``text`` changed by SQL is named ``catalog_text``);
* items first captured in the bundle: kind, author, posted time, permalink, thread;
* every sealed item record must have its item and version in the catalog, every sealed
  follower its follower row (deleted rows are named ``catalog_missing``);
* every version pointing at a bundle the catalog no longer has, and (with the storage scan)
  every sealed bundle the catalog does not list (``missing_from_catalog``).

``records.sqlite`` is re-hashed against the catalog's digest before it is trusted.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from archiver.bundle import RECORDS_DB
from archiver.bundle_format import open_records
from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.errors import StorageError
from archiver.storage.base import Storage
from archiver.verify import Problem, default_workers, hash_file, in_parallel

_VERSION_FIELDS = (
    ("text", "text"),
    ("html", "html"),
    ("media_json", "media_json"),
    ("extra_json", "extra_json"),
    ("edited_at", "edited_at"),
    ("warc_file", "warc_file"),
    ("warc_offset", "warc_offset"),
    ("warc_length", "warc_length"),
    ("warc_record_id", "warc_record_id"),
    ("warc_type", "warc_type"),
)
_ITEM_FIELDS = (
    ("kind", "kind"),
    ("author_id", "author_id"),
    ("author_handle", "author_handle"),
    ("author_name", "author_name"),
    ("posted_at", "posted_at"),
    ("permalink", "url"),
    ("parent_id", "parent_id"),
    ("root_id", "root_id"),
)
_CHUNK = 500


@dataclass
class DeepReport:
    bundles: int = 0
    rows_compared: int = 0
    problems: list[Problem] = field(default_factory=list)


def _fetch_records(storage: Storage, key: str, want_sha: str | None) -> tuple[Path, Path | None]:
    """The bundle's records.sqlite as a local file checked against its sealed digest, and the
    temporary folder holding it when it had to be copied out of storage (caller removes)."""
    local = storage.local_path(key)
    tmp: Path | None = None
    if local is not None and (local / RECORDS_DB).is_file():
        path = local / RECORDS_DB
    else:
        tmp = Path(tempfile.mkdtemp(prefix="deep-"))
        path = tmp / "records.sqlite"
        with storage.open(key, RECORDS_DB) as src, path.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    try:
        if want_sha is not None and hash_file(path)[0] != want_sha:
            raise StorageError(f"{RECORDS_DB} of {key} does not match its sealed digest")
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path, tmp


@contextlib.contextmanager
def sealed_records(storage: Storage, key: str, want_sha: str | None) -> Iterator[Path]:
    """The bundle's records.sqlite as a local file, checked against its sealed digest."""
    path, tmp = _fetch_records(storage, key, want_sha)
    try:
        yield path
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return bool(a == b)


def check_bundle(conn: Connection, rec: sqlite3.Connection, b: dict[str, Any]) -> DeepReport:
    bid, key = b["id"], b["key"]
    out = DeepReport(bundles=1)

    def problem(kind: str, detail: str, rel: str = RECORDS_DB) -> None:
        out.problems.append(Problem(bid, key, rel, kind, detail))

    info = {r["key"]: r["value"] for r in rec.execute("SELECT key, value FROM bundle_info")}
    counts = json.loads(info.get("counts", "{}"))
    expect = {
        "site_id": info.get("site_id"),
        "run_id": info.get("run_id"),
        "record_class": info.get("record_class"),
        "started_at": info.get("started_at"),
        "sealed_at": info.get("sealed_at", info.get("started_at")),
        "record_count": sum(int(v) for v in counts.values()),
    }
    for col, want in expect.items():
        out.rows_compared += 1
        if b[col] != want:
            problem("catalog_bundle_row", f"bundles.{col} is {b[col]!r}, sealed as {want!r}")
    site_id, record_class = info.get("site_id"), info.get("record_class")

    # Sealed item records, keyed by (platform_id, content_hash).
    sealed: dict[tuple[str, str], sqlite3.Row] = {}
    # One item can be read twice in a run (e.g. in two thread pages) with other context;
    # the catalog's item row was taken from one of those reads, any one is fine.
    identities: dict[str, list[tuple[Any, ...]]] = {}
    for r in rec.execute("SELECT * FROM items ORDER BY seq"):
        sealed.setdefault((r["platform_id"], r["content_hash"]), r)
        identities.setdefault(r["platform_id"], []).append(tuple(r[c] for _, c in _ITEM_FIELDS))

    # 1. Catalog versions attributed to this bundle must be sealed records, field for field.
    v, i = s.item_versions, s.items
    rows = conn.execute(
        select(
            v.c.id,
            v.c.version,
            v.c.content_hash,
            v.c.hidden,
            *[v.c[c] for c, _ in _VERSION_FIELDS],
            i.c.id.label("item_id"),
            i.c.platform_id,
            i.c.site_id,
            i.c.record_class,
            *[i.c[c].label(f"item_{c}") for c, _ in _ITEM_FIELDS],
        )
        .join(i, i.c.id == v.c.item_id)
        .where(v.c.bundle_id == bid)
    )
    for row in rows:
        m = row._mapping
        out.rows_compared += 1
        who = f"item {m['platform_id']} v{m['version']} (item_versions.id {m['id']})"
        if m["site_id"] != site_id or m["record_class"] != record_class:
            problem("catalog_version", f"{who} belongs to {m['site_id']}/{m['record_class']}")
        r = sealed.get((m["platform_id"], m["content_hash"]))
        if r is None:
            problem(
                "catalog_version",
                f"{who}: no sealed record of this item with content hash "
                f"{m['content_hash'][:16]}… in the bundle it cites",
            )
            continue
        if m["text"] != r["text"]:
            problem(
                "catalog_text",
                f"{who}: catalog text {_short(m['text'])} differs from the sealed record "
                f"{_short(r['text'])}",
            )
        for col, rcol in _VERSION_FIELDS[1:]:
            if not _same(m[col], r[rcol]):
                problem("catalog_version", f"{who}: {col} {m[col]!r} != sealed {r[rcol]!r}")
        if not _same(m["hidden"], r["hidden"]):
            problem("catalog_version", f"{who}: hidden {m['hidden']!r} != sealed {r['hidden']!r}")
        if m["version"] == 1:
            mine = tuple(m[f"item_{c}"] for c, _ in _ITEM_FIELDS)
            reads = identities.get(m["platform_id"], [])
            if mine not in reads and reads:
                for n, (col, _rcol) in enumerate(_ITEM_FIELDS):
                    if all(not _same(mine[n], read[n]) for read in reads):
                        problem(
                            "catalog_item",
                            f"item {m['platform_id']}: items.{col} {mine[n]!r} != sealed "
                            f"{reads[-1][n]!r}",
                        )

    # 2. Every sealed record must be in the catalog (as a version of its item, any bundle);
    # a format 3 ``seen`` row names a version an earlier bundle sealed, which must be there too.
    by_pid: dict[str, set[str]] = {}
    for pid, digest in sealed:
        by_pid.setdefault(pid, set()).add(digest)
    for r in rec.execute("SELECT platform_id, content_hash FROM seen"):
        by_pid.setdefault(r[0], set()).add(r[1])
    pids = sorted(by_pid)
    for start in range(0, len(pids), _CHUNK):
        chunk = pids[start : start + _CHUNK]
        have: dict[str, set[str]] = {}
        for pid, digest in conn.execute(
            select(i.c.platform_id, v.c.content_hash)
            .join(v, v.c.item_id == i.c.id, isouter=True)
            .where(
                i.c.site_id == site_id,
                i.c.record_class == record_class,
                i.c.platform_id.in_(chunk),
            )
        ):
            have.setdefault(pid, set())
            if digest is not None:
                have[pid].add(digest)
        for pid in chunk:
            out.rows_compared += 1
            if pid not in have:
                problem("catalog_missing", f"item {pid} is sealed in this bundle but not cataloged")
                continue
            for digest in sorted(by_pid[pid] - have[pid]):
                problem(
                    "catalog_missing",
                    f"item {pid}: the sealed version {digest[:16]}… has no catalog version",
                )

    # 3. Followers.
    fpids = [
        r[0]
        for r in rec.execute(
            "SELECT DISTINCT platform_id FROM followers UNION SELECT platform_id FROM "
            "follower_diffs WHERE event = 'followed'"
        )
    ]
    for start in range(0, len(fpids), _CHUNK):
        chunk = fpids[start : start + _CHUNK]
        have_f = {
            r[0]
            for r in conn.execute(
                select(s.followers.c.platform_id).where(
                    s.followers.c.site_id == site_id, s.followers.c.platform_id.in_(chunk)
                )
            )
        }
        for pid in chunk:
            out.rows_compared += 1
            if pid not in have_f:
                problem("catalog_missing", f"follower {pid} is sealed but has no catalog row")
    return out


def _short(text: str | None) -> str:
    if text is None:
        return "None"
    return repr(text if len(text) <= 40 else text[:37] + "...")


def deep_check(
    catalog: Catalog,
    storage: Storage,
    *,
    bundles: list[dict[str, Any]],
    scan_storage: bool,
    on_bundle: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> DeepReport:
    report = DeepReport()
    jobs = [(b, catalog.bundle_files(b["id"]).get(RECORDS_DB, (None, 0))[0]) for b in bundles]

    def fetch(job: tuple[dict[str, Any], str | None]) -> tuple[Path, Path | None] | Exception:
        try:
            return _fetch_records(storage, job[0]["key"], job[1])
        except (StorageError, OSError) as exc:
            return exc

    # Copying and hashing run in ``workers`` threads (as ``verify``); comparing rows with the
    # catalog stays in this thread, so the catalog is only ever used from one thread.
    n_workers = default_workers() if workers is None else max(1, workers)
    for (b, _want), fetched in in_parallel(fetch, jobs, n_workers):
        if isinstance(fetched, Exception):
            report.problems.append(
                Problem(b["id"], b["key"], RECORDS_DB, "unreadable", str(fetched))
            )
            continue
        path, tmp = fetched
        try:
            rec = open_records(path)
            try:
                with catalog.begin() as conn:
                    part = check_bundle(conn, rec, b)
            finally:
                rec.close()
        except (StorageError, OSError, sqlite3.Error) as exc:
            report.problems.append(Problem(b["id"], b["key"], RECORDS_DB, "unreadable", str(exc)))
            continue
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        report.bundles += part.bundles
        report.rows_compared += part.rows_compared
        report.problems.extend(part.problems)
        if on_bundle:
            on_bundle(b["id"])
    with catalog.begin() as conn:
        orphans = conn.execute(
            select(s.item_versions.c.bundle_id, s.item_versions.c.id)
            .join(s.bundles, s.bundles.c.id == s.item_versions.c.bundle_id, isouter=True)
            .where(s.bundles.c.id.is_(None))
            .limit(1000)
        ).all()
    for bundle_id, vid in orphans:
        report.problems.append(
            Problem(
                bundle_id,
                "",
                "",
                "catalog_orphan",
                f"item_versions.id {vid} cites bundle {bundle_id}, which the catalog no longer has",
            )
        )
    if scan_storage:
        from archiver.integrity.admit import quarantined

        keys = {b["key"] for b in catalog.bundles()} | {
            b["key"] for b in catalog.bundles(status="disposed")
        }
        held = {q["key"] for q in quarantined(catalog)}
        for key in storage.list_bundles():
            if key not in keys and key not in held:
                report.problems.append(
                    Problem(
                        key.rsplit("/", 1)[-1],
                        key,
                        "",
                        "missing_from_catalog",
                        "a sealed bundle in storage that the catalog does not list "
                        "(its rows were deleted, or recovery has not run)",
                    )
                )
    return report
