"""Fixity: re-hash every stored byte and compare it with what was recorded at sealing.

Three independent records must agree: the bytes in storage, the bundle's own BagIt manifests,
and the digests the catalog took when it cataloged the bundle. Changing a file *and* its
manifest is still caught, because the catalog's copy differs.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from archiver.bundle import read_manifest
from archiver.catalog.store import Catalog
from archiver.errors import StorageError
from archiver.log import get_logger
from archiver.storage.base import Storage

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Problem:
    bundle_id: str
    key: str
    relpath: str
    kind: str  # missing | modified | unexpected | manifest_mismatch | orphan | unreadable
    detail: str


@dataclass
class VerifyReport:
    bundles_checked: int = 0
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    uncataloged: list[str] = field(default_factory=list)
    #: Sections the authenticity passes add (seals, timestamps, quarantine, deep check).
    extra: dict[str, Any] = field(default_factory=dict)
    # Bundles whose approved disposal was interrupted (bundle id -> batch id): reported,
    # not failed; their files may be partly gone. `archiver recover` finishes the disposal.
    disposal_in_progress: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bundles_checked": self.bundles_checked,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [asdict(p) for p in self.problems],
            "uncataloged": self.uncataloged,
            **self.extra,
            "disposal_in_progress": self.disposal_in_progress,
        }


def record_audit(
    catalog: Catalog, report: VerifyReport, *, scope: str, anchor_path: Path | None
) -> None:
    """Leave an audit entry for a fixity check, whoever ran it (a clerk or the daemon's
    nightly sample): a records manager must be able to show when integrity was checked and
    what it found. The first problems are named; the full list is in the command's output."""
    from archiver import audit

    (log.info if report.ok else log.error)(
        "verify_finished",
        scope=scope,
        ok=report.ok,
        bundles_checked=report.bundles_checked,
        files_checked=report.files_checked,
        bytes_checked=report.bytes_checked,
        problems=len(report.problems),
        uncataloged=len(report.uncataloged),
    )
    with catalog.begin() as conn:
        audit.append(
            conn,
            action="verify",
            subject=scope,
            details={
                "ok": report.ok,
                "bundles_checked": report.bundles_checked,
                "files_checked": report.files_checked,
                "bytes_checked": report.bytes_checked,
                "problems": len(report.problems),
                "first_problems": [
                    f"{p.kind}: bundle {p.bundle_id} file {p.relpath or '-'}"
                    for p in report.problems[:20]
                ],
                "uncataloged": len(report.uncataloged),
                "seals": report.extra.get("seals", {}),
                "quarantined": len(report.extra.get("quarantined", [])),
                "deep": report.extra.get("deep", {}).get("rows_compared")
                if "deep" in report.extra
                else None,
            },
            anchor_path=anchor_path,
        )


#: Hashing block: large enough that hashlib releases the GIL for nearly all the work (it does
#: for buffers over 2 KiB) and per-call overhead vanishes, small enough to stay in cache.
BLOCK = 1 << 20


#: Bundles whose "last verified" notes are written in one catalog transaction.
MARK_BATCH = 256


def default_workers() -> int:
    """The cores this process may run on (``verify --workers`` default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def hash_stream(fh: BinaryIO) -> tuple[str, int]:
    """sha256 and length of a stream, read in :data:`BLOCK` pieces into one reused buffer
    (no allocation per block, as ``hashlib.file_digest`` does, with a larger block)."""
    h = hashlib.sha256()
    n = 0
    readinto = getattr(fh, "readinto", None)
    if readinto is None:  # a stream without readinto: plain reads
        while chunk := fh.read(BLOCK):
            h.update(chunk)
            n += len(chunk)
        return h.hexdigest(), n
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    while got := readinto(view):
        h.update(view[:got])
        n += got
    return h.hexdigest(), n


def hash_file(path: Path) -> tuple[str, int]:
    with path.open("rb", buffering=0) as fh:
        return hash_stream(fh)


def _hash_stream(storage: Storage, key: str, relpath: str) -> tuple[str, int]:
    with storage.open(key, relpath) as fh:
        return hash_stream(fh)


def in_parallel(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int
) -> Iterator[tuple[Any, Any]]:
    """(item, fn(item)) in the order of ``items``, computed by ``workers`` threads at most a
    few items ahead of the consumer (so temporary copies and results stay bounded). Threads,
    not processes: the work is hashing and reading, and hashlib and file reads release the
    GIL. ``workers`` <= 1 runs everything in the calling thread."""
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    window = workers * 2
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        pending: list[tuple[Any, Any]] = []
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= window:
                first, fut = pending.pop(0)
                yield first, fut.result()
        for item, fut in pending:
            yield item, fut.result()


def verify_bundle(
    storage: Storage, bundle: dict[str, Any], recorded: dict[str, tuple[str, int]]
) -> tuple[list[Problem], int, int]:
    """Check one bundle; returns problems, files checked and bytes read."""
    bid, key = bundle["id"], bundle["key"]
    problems: list[Problem] = []
    try:
        stored = {f.relpath: f.size for f in storage.list_files(key)}
    except StorageError as exc:
        return [Problem(bid, key, "", "missing", str(exc))], 0, 0
    files = 0
    total = 0
    for rel in sorted(set(recorded) - set(stored)):
        problems.append(Problem(bid, key, rel, "missing", "file recorded at sealing is gone"))
    for rel in sorted(set(stored) - set(recorded)):
        problems.append(Problem(bid, key, rel, "unexpected", "file not in the sealed manifest"))
    for rel, (digest, size) in sorted(recorded.items()):
        if rel not in stored:
            continue
        try:
            actual, n = _hash_stream(storage, key, rel)
        except (StorageError, OSError) as exc:
            problems.append(Problem(bid, key, rel, "unreadable", str(exc)))
            continue
        files += 1
        total += n
        if actual != digest or n != size:
            problems.append(
                Problem(
                    bid,
                    key,
                    rel,
                    "modified",
                    f"sha256 {actual[:16]}… ({n} bytes) != sealed {digest[:16]}… ({size} bytes)",
                )
            )
    # The bundle's own manifest must still say what the catalog recorded.
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        if manifest not in stored:
            continue
        try:
            with storage.open(key, manifest) as fh:
                listed = read_manifest(fh.read().decode("utf-8", "replace"))
        except (StorageError, OSError, ValueError) as exc:
            problems.append(Problem(bid, key, manifest, "unreadable", str(exc)))
            continue
        for rel, digest in listed.items():
            if rel in recorded and recorded[rel][0] != digest:
                problems.append(
                    Problem(
                        bid,
                        key,
                        manifest,
                        "manifest_mismatch",
                        f"lists {rel} as {digest[:16]}…, sealed as {recorded[rel][0][:16]}…",
                    )
                )
    return problems, files, total


def verify_archive(
    catalog: Catalog,
    storage: Storage,
    *,
    sample: int | None = None,
    site_id: str | None = None,
    on_bundle: Callable[[str], None] | None = None,
    in_disposal: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify all sealed bundles (or a random sample of ``sample`` of them), hashing
    ``workers`` bundles at a time (default: the core count).

    ``in_disposal`` (``disposition.in_progress``): bundles whose deletion was started; what
    is missing of them is expected and listed under ``disposal_in_progress`` instead.
    """
    bundles = catalog.bundles(site_id=site_id)
    chosen: Iterable[dict[str, Any]] = bundles
    if sample is not None and sample < len(bundles):
        chosen = random.sample(bundles, sample)
    report = VerifyReport()
    checked: list[dict[str, Any]] = []
    for b in chosen:
        if in_disposal and b["id"] in in_disposal:
            report.disposal_in_progress[b["id"]] = in_disposal[b["id"]]
            if on_bundle:
                on_bundle(b["id"])
            continue  # neither a failure nor a pass: it is being destroyed as approved
        checked.append(b)
    recorded = catalog.bundle_files_many([b["id"] for b in checked])
    todo = [(b, recorded[b["id"]]) for b in checked]
    # Bundles are hashed by worker threads; the catalog is written from this thread only,
    # its notes a batch at a time (a commit per bundle cost more than hashing a small one).
    n_workers = default_workers() if workers is None else max(1, workers)
    marks: list[tuple[str, bool]] = []
    try:
        for (b, _files), (problems, files, nbytes) in in_parallel(
            lambda job: verify_bundle(storage, job[0], job[1]), todo, n_workers
        ):
            report.bundles_checked += 1
            report.files_checked += files
            report.bytes_checked += nbytes
            report.problems.extend(problems)
            marks.append((b["id"], not problems))
            if len(marks) >= MARK_BATCH:
                catalog.mark_verified_many(marks)
                marks = []
            if on_bundle:
                on_bundle(b["id"])
    finally:
        catalog.mark_verified_many(marks)  # what was checked stays noted, also when stopped
    if sample is None and site_id is None:
        known = {b["key"] for b in bundles} | {b["key"] for b in catalog.bundles(status="disposed")}
        for key in storage.list_bundles():
            if key in known:
                continue
            # Sealed and published, not yet cataloged (e.g. the process died in between):
            # check it against its own manifests; the next harvest or `recover` catalogs it.
            report.uncataloged.append(key)
            problems, files, nbytes = verify_uncataloged(storage, key)
            report.bundles_checked += 1
            report.files_checked += files
            report.bytes_checked += nbytes
            report.problems.extend(problems)
    return report


def verify_uncataloged(storage: Storage, key: str) -> tuple[list[Problem], int, int]:
    """Check a bundle the catalog does not know yet against its own BagIt manifests."""
    bid = key.rsplit("/", 1)[-1]
    try:
        with storage.open(key, "tagmanifest-sha256.txt") as fh:
            tag = read_manifest(fh.read().decode("utf-8", "replace"))
        with storage.open(key, "manifest-sha256.txt") as fh:
            payload = read_manifest(fh.read().decode("utf-8", "replace"))
    except (StorageError, OSError, ValueError) as exc:
        return [Problem(bid, key, "", "unreadable", str(exc))], 0, 0
    recorded = {rel: (digest, -1) for rel, digest in {**payload, **tag}.items()}
    problems: list[Problem] = []
    files = total = 0
    for rel, (digest, _size) in sorted(recorded.items()):
        try:
            actual, n = _hash_stream(storage, key, rel)
        except (StorageError, OSError) as exc:
            problems.append(Problem(bid, key, rel, "missing", str(exc)))
            continue
        files += 1
        total += n
        if actual != digest:
            problems.append(Problem(bid, key, rel, "modified", "does not match its manifest"))
    return problems, files, total
