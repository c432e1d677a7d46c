"""Phase 2, collect originals: which sealed WARC records go in, verified, copied byte for byte.

For the selected versions: their own records, every later capture of the same content (often
revisits: evidence it was still there), their attachments, the follower-list exchanges, and
the closure (requests, revisited originals) that lets the WARC stand alone. Records holding
redacted text are dropped when the originals are withheld. Every source bundle is re-verified
before anything is copied; the copy is :func:`archiver.prr.originals.write_subset`.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.errors import ExportError
from archiver.parts import ArchiveParts
from archiver.prr import media
from archiver.prr.export import followers
from archiver.prr.export.options import WARC_NAME, Job, query_dict
from archiver.prr.export.selection import Selection
from archiver.prr.originals import (
    BundleIndex,
    CopiedRecord,
    SourceRecord,
    order_key,
    with_closure,
    write_subset,
)
from archiver.verify import verify_bundle

Key = tuple[str, str]  # (bundle id, WARC record id)


@dataclass(slots=True)
class Originals:
    """The WARC records chosen for the package and the bundles they come from."""

    records: list[SourceRecord]
    #: Later captures of each exported (platform id, content hash).
    captures: dict[tuple[str, str], list[SourceRecord]]
    media_keys: set[Key]
    #: Records left out for redaction (and revisits that depended on them).
    withheld: set[Key]
    follower_rows: list[dict[str, Any]]
    verified: list[dict[str, Any]]


@dataclass(slots=True)
class Copied:
    """What :func:`copy_originals` wrote: the package WARC and where each record landed."""

    warc: Path
    records: dict[Key, CopiedRecord]

    def has(self, h: Mapping[str, Any]) -> bool:
        """Whether a version's own original record is in the package."""
        return (str(h["bundle_id"]), str(h["warc_record_id"])) in self.records

    def of(self, h: Mapping[str, Any]) -> CopiedRecord | None:
        return self.records.get((str(h["bundle_id"]), str(h["warc_record_id"])))


def collect_originals(job: Job, sel: Selection, work: Path) -> Originals:
    """Choose the records (reading the bundles' record maps in ``work``), then verify."""
    job.step("collecting original records")
    index = BundleIndex(job.app.storage, sel.bundles, work)
    try:
        base = [
            index.record(str(h["bundle_id"]), str(h["warc_record_id"]), "match") for h in sel.hits
        ]
        captures = _later_captures(index, sel, base)
        media_keys = _media_records(index, sel, base)
        for snap in sel.snapshots:
            base.extend(index.exchanges(str(snap["bundle_id"]), "followers"))
        records = with_closure(index, base)
        follower_rows = followers.rows(index, sel.snapshots)
    finally:
        index.close()
        shutil.rmtree(work, ignore_errors=True)
    withheld: set[Key] = set()
    if job.opts.withhold_redacted_originals and sel.redaction.text_versions:
        withheld = _redacted_records(sel, captures)
        records = drop_withheld(records, withheld)
    job.step("verifying source bundles")
    verified = _verify_sources(job.app, sel.bundles, {r.bundle_id for r in records})
    return Originals(records, captures, media_keys, withheld, follower_rows, verified)


def _later_captures(
    index: BundleIndex, sel: Selection, base: list[SourceRecord]
) -> dict[tuple[str, str], list[SourceRecord]]:
    """Later captures of each selected version (often revisits): evidence it was still there.

    Appends each to ``base``; returns them by (platform id, content hash).
    """
    wanted: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    earliest: dict[tuple[str, str], str] = {}
    for h in sel.hits:
        g = (str(h["site_id"]), sel.classes.get(int(h["item_id"]), ""))
        wanted[g][str(h["platform_id"])].add(str(h["content_hash"]))
        c = str(h["captured_at"])
        earliest[g] = min(earliest.get(g, c), c)
    captures: dict[tuple[str, str], list[SourceRecord]] = defaultdict(list)
    for (site, rclass), pids in wanted.items():
        for b in _bundles_since(sel.bundles.values(), site, rclass, earliest[(site, rclass)]):
            for pid, digest, rec in index.captures(str(b["id"]), pids):
                captures[(pid, digest)].append(rec)
                base.append(rec)
    return captures


def _bundles_since(
    bundles: Iterable[Mapping[str, Any]], site: str, rclass: str, earliest: str
) -> Iterable[Mapping[str, Any]]:
    """The site's bundles of a record class sealed no earlier than ``earliest``."""
    for b in bundles:
        if b["site_id"] == site and b["record_class"] == rclass and str(b["sealed_at"]) >= earliest:
            yield b


def _media_records(index: BundleIndex, sel: Selection, base: list[SourceRecord]) -> set[Key]:
    """The captured media of every selected version, as recorded (byte for byte).

    Appends each to ``base``; a reference to an unsealed bundle is noted on the reference.
    """
    keys: set[Key] = set()
    for m in sel.media_refs:
        if m.key is None or m.key in keys:
            continue
        if m.key[0] not in sel.bundles:
            m.note = f"original not in the archive (bundle {m.key[0]} is not sealed)"
            m.bundle_id = m.record_id = None
            continue
        keys.add(m.key)
        base.append(index.record(m.key[0], m.key[1], "media"))
    return keys


def _redacted_records(
    sel: Selection, captures: Mapping[tuple[str, str], list[SourceRecord]]
) -> set[Key]:
    """The records (and later captures) of every version whose text was redacted."""
    withheld: set[Key] = set()
    for h in sel.hits:
        if int(h["version_id"]) in sel.redaction.text_versions:
            withheld.add((str(h["bundle_id"]), str(h["warc_record_id"])))
            for rec in captures.get((str(h["platform_id"]), str(h["content_hash"])), []):
                withheld.add((rec.bundle_id, rec.record_id))
    return withheld


def drop_withheld(records: list[SourceRecord], withheld: set[Key]) -> list[SourceRecord]:
    """Remove withheld records, revisits left without their original, and orphaned requests.

    A revisit dropped that way is added to ``withheld`` (the certification lists it).
    """
    kept = {
        (r.bundle_id, r.record_id): r for r in records if (r.bundle_id, r.record_id) not in withheld
    }
    changed = True
    while changed:
        changed = False
        for k, r in list(kept.items()):
            if r.record_type == "revisit":
                target = (r.refers_to_bundle or r.bundle_id, r.refers_to_record_id or "")
                if target not in kept:
                    withheld.add(k)
                    del kept[k]
                    changed = True
            elif (
                r.record_type == "request"
                and r.concurrent_to
                and (r.bundle_id, r.concurrent_to) not in kept
            ):
                del kept[k]
                changed = True
    return list(kept.values())


def _verify_sources(
    app: ArchiveParts, bundles: Mapping[str, Mapping[str, Any]], ids: Iterable[str]
) -> list[dict[str, Any]]:
    results = []
    for bid in sorted(ids):
        b = dict(bundles[bid])
        problems, files, nbytes = verify_bundle(app.storage, b, app.catalog.bundle_files(bid))
        app.catalog.mark_verified(bid, not problems)
        if problems:
            p = problems[0]
            raise ExportError(
                f"source bundle {bid} failed verification ({len(problems)} problem(s), first: "
                f"{p.kind} {p.relpath or '-'}: {p.detail}); nothing was exported",
                hint="run `archiver verify` and restore the bundle from a copy before exporting",
            )
        results.append(
            {
                "bundle_id": bid,
                "key": b["key"],
                "sealed_at": b["sealed_at"],
                "tagmanifest_sha256": b["tagmanifest_sha256"],
                "files_checked": files,
                "bytes_checked": nbytes,
                "result": "OK",
            }
        )
    return results


def copy_originals(job: Job, sel: Selection, orig: Originals, data: Path) -> Copied:
    """Write ``originals/export-00000.warc.gz``, then the attachments decoded from it."""
    job.step("copying original WARC records")
    orig.records.sort(key=order_key(sel.bundles))
    warc = data / "originals" / WARC_NAME
    info = {
        "description": f"Public records export for request {job.req.id}: a byte-for-byte "
        "subset of the City's sealed WARC records (each record an unchanged gzip member)",
        "isPartOf": job.req.id,
        "operator": job.actor,
        "x-export-query": json.dumps(query_dict(job.opts), sort_keys=True),
        "x-source-bundles": ",".join(sorted({r.bundle_id for r in orig.records})),
        "organization": job.app.cfg.city,
    }
    copied = write_subset(job.app.storage, sel.bundles, orig.records, warc, info)
    media_files = media.write_files(data / "readable", warc, copied, sel.media_refs)
    _attach_media(sel.hits, sel.media_refs, copied, media_files)
    media.write_index(data / "media.csv", sel.media_refs, copied, media_files)
    return Copied(warc, copied)


def _attach_media(
    hits: list[dict[str, Any]],
    refs: list[media.MediaRef],
    copied: Mapping[Key, Any],
    files: Mapping[Key, media.MediaFile],
) -> None:
    """Per version: its media records in the package, and views for the readable copy."""
    by_version: dict[int, list[media.MediaRef]] = defaultdict(list)
    for m in refs:
        by_version[m.version_id].append(m)
    for h in hits:
        records, paths, views = [], [], []
        for m in by_version.get(int(h["version_id"]), []):
            f = files.get(m.key) if m.key else None
            if m.key and m.key in copied:
                records.append(m.key[1])
            if f and f.path:
                paths.append(f"readable/{f.path}")
            views.append(_media_view(m, f))
        h["media_records"] = " ".join(records)
        h["media_files"] = " ".join(paths)
        h["media"] = views


def _media_view(m: media.MediaRef, f: media.MediaFile | None) -> dict[str, Any]:
    return {
        "type": m.type or "media",
        "description": m.description,
        "url": m.url,
        "file": f.path if f else None,
        "image": bool(f and f.path and f.content_type.startswith("image/")),
        "note": "; ".join(x for x in (m.note, f.note if f else "") if x),
    }
