"""Phase 3, render: what a requester opens, made from the selection and the copied WARC.

``replay/export.wacz`` (the same WARC with pages and a CDXJ index), ``index.csv`` and
``index.json`` (one row per version with its provenance), the follower CSV files, and the
readable copy (HTML pages and the PDF). The counts the readable copy, the certification and
the custody row share are computed once here (:class:`Summary`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from archiver.csvsafe import SafeDictWriter
from archiver.prr import authenticity, certify, readable
from archiver.prr.export import followers
from archiver.prr.export.collect import Copied, Originals
from archiver.prr.export.options import WARC_NAME, Job, query_text
from archiver.prr.export.selection import Selection
from archiver.prr.wacz import IndexEntry, Page, write_wacz
from archiver.prr.wacz_sign import WaczSignature

INDEX_FIELDS: Final = (
    "item_id",
    "version_id",
    "site_id",
    "platform",
    "platform_id",
    "kind",
    "parent_id",
    "root_id",
    "permalink",
    "author_handle",
    "author_name",
    "posted_at",
    "first_captured_at",
    "last_seen_at",
    "disappeared_at",
    "removal_state",
    "city_removal_category",
    "city_removal_category_name",
    "city_removal_recorded_by",
    "city_removal_recorded_at",
    "city_removal_note",
    "attorney_decision",
    "attorney",
    "attorney_reviewed_at",
    "attorney_note",
    "version",
    "current_version",
    "captured_at",
    "edited_at",
    "text",
    "redacted",
    "content_hash",
    "bundle_id",
    "warc_file",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "warc_type",
    "original_in_package",
    "export_warc_file",
    "export_warc_offset",
    "export_warc_length",
    "captures",
    "media_records",
    "media_files",
    "included_as",
)


@dataclass(slots=True)
class Summary:
    """What the package holds, counted once for the readable copy, certification and custody."""

    counts: dict[str, int]
    gaps: list[certify.Gap]
    #: Versions whose own original record is not in the package.
    without_original: set[int]
    #: Of those, the versions not redacted themselves (they share a record with one that is).
    collateral: int


def write_replay(job: Job, sel: Selection, copied: Copied, data: Path) -> WaczSignature | None:
    """``replay/export.wacz``: the package WARC, indexed, one page per exported record."""
    job.step("writing WACZ")
    entries = [
        IndexEntry(
            url=c.source.target_uri or "",
            warc_date=c.source.warc_date or "",
            record_type=c.source.record_type,
            status=c.source.http_status,
            digest=c.source.payload_digest,
            offset=c.offset,
            length=c.length,
        )
        for c in copied.records.values()
        if c.source.record_type in ("response", "revisit") and c.source.target_uri
    ]
    (data / "replay").mkdir(parents=True)
    return write_wacz(
        data / "replay" / "export.wacz",
        copied.warc,
        entries,
        _pages(sel, copied).values(),
        title=f"{job.app.cfg.city} records request {job.req.id}",
        description=job.req.description,
        sign=authenticity.signing_enabled(job.app),
    )


def _pages(sel: Selection, copied: Copied) -> dict[str, Page]:
    """One page per response a version opens, keyed by that response's record id."""
    pages: dict[str, Page] = {}
    for h in sel.hits:
        c = copied.of(h)
        if c is not None and c.source.record_type == "revisit":
            # A page opens the response the revisit stands for (carried in the package).
            src = c.source
            c = copied.records.get(
                (src.refers_to_bundle or src.bundle_id, src.refers_to_record_id or "")
            )
        if c is None or c.source.record_id in pages:
            continue
        pages[c.source.record_id] = Page(
            url=c.source.target_uri or "",
            ts=c.source.warc_date or "",
            title=f"{h['kind']} {h['platform_id']} by @{h['author_handle'] or h['author_id']}"
            + (f" ({h['permalink']})" if h["permalink"] else ""),
            page_id=hashlib.sha1(c.source.record_id.encode()).hexdigest()[:16],
        )
    return pages


def write_index(job: Job, sel: Selection, orig: Originals, copied: Copied, data: Path) -> None:
    """``index.csv``/``index.json``, and the follower files when followers were asked for."""
    job.step("writing index")
    rows = [_index_row(h, orig, copied) for h in sel.hits]
    with (data / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(INDEX_FIELDS))
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    with (data / "index.json").open("w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1, ensure_ascii=False, default=str)
        fh.write("\n")
    if job.opts.include_followers:
        followers.write_followers(data / "followers.csv", orig.follower_rows)
        followers.write_snapshots(data / "follower-snapshots.csv", sel.snapshots)


def _index_row(h: dict[str, Any], orig: Originals, copied: Copied) -> dict[str, Any]:
    c = copied.of(h)
    caps = orig.captures.get((str(h["platform_id"]), str(h["content_hash"])), [])
    row = {k: h.get(k) for k in INDEX_FIELDS if k in h}
    row.update(
        {
            "original_in_package": c is not None,
            "export_warc_file": f"originals/{WARC_NAME}" if c else None,
            "export_warc_offset": c.offset if c else None,
            "export_warc_length": c.length if c else None,
            "captures": len({(r.bundle_id, r.record_id) for r in caps}),
        }
    )
    return {k: row.get(k) for k in INDEX_FIELDS}


@dataclass(slots=True)
class Readable:
    """The readable copy under way: its HTML pages written, its PDF being printed."""

    summary: Summary
    pdf: readable.PdfPrint

    def __enter__(self) -> Readable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pdf.__exit__(*exc)


def render_readable(
    job: Job, sel: Selection, orig: Originals, copied: Copied, data: Path
) -> Readable:
    """``readable/``: the HTML pages, and the PDF started, both opening with the counts.

    The PDF's volumes print in worker processes while the caller writes the rest of the
    package (see :func:`finish_readable`): a with-block around that work makes sure an error
    there leaves no worker writing into the staging folder.
    """
    job.step("rendering readable copy")
    opts = job.opts
    with job.app.catalog.begin() as conn:
        gaps = certify.known_gaps(
            conn,
            {int(h["item_id"]) for h in sel.hits},
            sites=[opts.filters.site] if opts.filters.site else [],
        )
    missing_roots = {
        (g.site_id, g.scope.removeprefix("thread ")) for g in gaps if g.source == "missing-root"
    }
    threads = readable.build_threads(sel.hits, job.tz, missing_roots=missing_roots)
    summary = _summarise(sel, orig, copied, gaps, threads)
    context = {
        "city": job.app.cfg.city,
        "request": job.req,
        "query_text": query_text(opts),
        "exported_at": readable.fmt_time(job.started.isoformat(), job.tz),
        "actor": job.actor,
        "tz": job.tz,
        "counts": summary.counts,
        "redacted": bool(opts.rules),
        "rules": ", ".join(r.name for r in opts.rules),
        "followers": [followers.view(snap, job.tz) for snap in sel.snapshots],
        "gaps": [g.line(job.tz) for g in gaps],
        "matches_only": opts.matches_only,
    }
    (data / "readable").mkdir(parents=True, exist_ok=True)
    printing = readable.start_pdf(data / "readable" / "export.pdf", threads, context)
    with contextlib.ExitStack() as undo:
        undo.enter_context(printing)  # an error writing the pages stops the printing
        readable.write_site(data / "readable", threads, context)
        undo.pop_all()
    return Readable(summary, printing)


def finish_readable(job: Job, started: Readable) -> Summary:
    """Wait for the PDF started by :func:`render_readable`; the package's counts."""
    job.step("rendering PDF")
    started.pdf.wait()
    return started.summary


def _summarise(
    sel: Selection,
    orig: Originals,
    copied: Copied,
    gaps: list[certify.Gap],
    threads: list[readable.ThreadView],
) -> Summary:
    hits = sel.hits
    missing = [h for h in hits if not copied.has(h)]
    # Versions that were not redacted themselves but lost their original anyway: one WARC
    # record can hold a whole timeline page (or be a revisit of one) with a redacted version.
    collateral = sum(1 for h in missing if int(h["version_id"]) not in sel.redaction.text_versions)
    counts = {
        "items": len({h["item_id"] for h in hits}),
        "items_matched": len({h["item_id"] for h in hits if h.get("included_as") == "match"}),
        "known_gaps": len(gaps),
        "versions": len(hits),
        "warc_records": len(copied.records),
        "bundles": len(orig.verified),
        "threads": len(threads),
        "redacted_versions": len(sel.redaction.any_versions),
        "withheld_records": len(orig.withheld),
        "versions_without_original": len(missing),
        "unredacted_versions_withheld_with_a_redacted_one": collateral,
        "media_attachments": len(sel.media_refs),
        "media_records": sum(1 for k in orig.media_keys if k in copied.records),
        "follower_snapshots": len(sel.snapshots),
        "followers_listed": len(orig.follower_rows),
    }
    without_original = {int(h["version_id"]) for h in missing}
    return Summary(counts, gaps, without_original, collateral)
