"""Phase 4a, certify: the text of ``certification.txt`` (before the authenticity section).

Every statement is made from what the earlier phases recorded: the counts, the re-verified
source bundles, the withheld records, the redaction log, the follower snapshots and the
holdings and known gaps of :mod:`archiver.prr.certify` (which decides whether "complete" may
be written). The authenticity section (:func:`authenticity.certification_section`) follows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from archiver import __version__
from archiver.prr import certify, readable
from archiver.prr.export import followers
from archiver.prr.export.collect import Originals
from archiver.prr.export.options import WARC_NAME, Job, query_dict, query_text
from archiver.prr.export.render import Summary
from archiver.prr.export.selection import Selection

Section = Callable[[Job, Selection, Originals, Summary], str]

CAPTURE_METHOD = (
    "\nHOW THE ORIGINALS WERE CAPTURED\n"
    "  Every HTTP exchange with the platform was recorded by the archiver as it happened, in\n"
    "  WARC/1.1 (ISO 28500) response and request records, each record compressed as its own\n"
    "  gzip member. Credentials (authorization headers, cookies, API keys and tokens in URL\n"
    "  parameters) were replaced with REDACTED before anything was written; nothing else was\n"
    "  altered: bodies are the bytes received, still content-encoded. Identical\n"
    "  payloads for the same URL were written as 'revisit' records that point to the original\n"
    "  response. Each run's records were sealed in a BagIt bundle with SHA-256 manifests,\n"
    "  made read-only and renamed into place atomically, and cataloged with their digests.\n"
    f"  data/originals/{WARC_NAME} begins with a new warcinfo record describing this export;\n"
    "  every following record is a byte-for-byte copy of the sealed gzip member, including\n"
    "  the request record of each response and the original response of each revisit (even\n"
    "  when it lives in another bundle), so the file stands alone. data/replay/export.wacz\n"
    "  holds the same WARC file for replay tools. data/index.csv gives, per record version,\n"
    "  the source bundle, WARC file, offset, length and record id of its original.\n"
)


def certification_text(
    job: Job, sel: Selection, orig: Originals, summary: Summary, manifest: str
) -> str:
    """``certification.txt`` up to the custodian's signature line; ``manifest`` is the
    package's ``manifest-sha256.txt``, listed file by file."""
    sections: tuple[Section, ...] = (
        _request,
        _counts,
        _holdings,
        _sources,
        _capture_method,
        _followers,
        _redaction,
    )
    return "".join(s(job, sel, orig, summary) for s in sections) + _closing(summary, manifest)


def _request(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    req, tz = job.req, job.tz
    return (
        "CERTIFICATION OF PUBLIC RECORDS EXPORT\n"
        f"{'=' * 40}\n\n"
        f"Organization: {job.app.cfg.city}\n"
        f"Software: muni-archiver/{__version__}\n\n"
        "REQUEST\n"
        f"  Id:          {req.id}\n"
        f"  Requester:   {req.requester}\n"
        f"  Received:    {req.received.isoformat()}\n"
        f"  Description: {req.description}\n"
        f"  Status:      {req.status} (respond-by target {req.respond_by}, the City's own "
        'target under MCA 2-6-1006(2) "timely manner")\n\n'
        "QUERY (exactly as run)\n"
        f"  {query_text(job.opts)}\n"
        f"  As JSON: {json.dumps(query_dict(job.opts), sort_keys=True)}\n\n"
        "PREPARED\n"
        f"  By:   {job.actor} (operating-system user running the export; self-reported)\n"
        f"  When: {job.started.isoformat(timespec='seconds')} "
        f"({readable.fmt_time(job.started.isoformat(), tz)})\n\n"
    )


def _counts(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    counts = summary.counts
    text = "COUNTS\n" + "".join(f"  {name.replace('_', ' ')}: {n}\n" for name, n in counts.items())
    if counts["versions"] == 0:
        text += (
            "\n  NO RECORDS MATCHED THIS QUERY. This package is intentionally empty: the archive\n"
            "  was searched as stated above and nothing matched"
            + (
                ".\n"
                if certify.is_complete(summary.gaps)
                else " (see KNOWN GAPS for what the archive could not capture).\n"
            )
        )
    return text


def _holdings(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    f = job.opts.filters
    return "\n" + certify.holdings_section(
        certify.holdings(sel.hits, sel.classes, summary.without_original),
        summary.gaps,
        tz=job.tz,
        matches_only=job.opts.matches_only,
        bounded_by_dates=bool(f.since or f.until),
        withheld_lines=withheld_lines(sel.hits, summary.without_original, sel.redaction.log),
    )


def withheld_lines(
    hits: list[dict[str, Any]], without_original: set[int], log: list[dict[str, str]]
) -> list[str]:
    """Each version whose original is not in the package, with its redaction-log line."""
    first_line: dict[str, int] = {}
    for n, entry in enumerate(log, start=2):  # line 1 of redaction-log.csv is the header
        first_line.setdefault(entry["record"], n)
    out = []
    for h in hits:
        if int(h["version_id"]) not in without_original:
            continue
        rec = f"{h['site_id']}/{h['platform_id']} v{h['version']}"
        line = first_line.get(rec)
        out.append(
            f"{rec}: "
            + (
                f"redaction-log.csv line {line}"
                if line
                else "shares a WARC record with a redacted version"
            )
        )
    return out


def _sources(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    text = (
        "\nSOURCE BUNDLES (each re-verified immediately before copying: every file re-hashed\n"
        "against its BagIt manifest and the digests the catalog recorded at sealing)\n"
    )
    if not orig.verified:
        text += "  none (no records were copied)\n"
    for v in orig.verified:
        text += (
            f"  {v['bundle_id']}: {v['result']} — {v['files_checked']} file(s), "
            f"{v['bytes_checked']} bytes; sealed {readable.fmt_time(v['sealed_at'], job.tz)}; "
            f"tagmanifest sha256 {v['tagmanifest_sha256']}\n"
        )
    return text


def _capture_method(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    return CAPTURE_METHOD


def _followers(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    text = "\nFOLLOWER LISTS\n"
    if not job.opts.include_followers:
        return text + (
            "  Not included. Follower-list responses were excluded from this package by default\n"
            "  (export with --include-followers to add them).\n"
        )
    text += (
        f"  Included: {len(sel.snapshots)} follower-list snapshot(s) (data/followers.csv,\n"
        "  data/follower-snapshots.csv and their original responses in the WARC):\n"
    )
    for snap in sel.snapshots:
        text += (
            f"    {snap['site_id']} taken {readable.fmt_time(str(snap['taken_at']), job.tz)} "
            f"({snap['count']} followers), "
            f"bundle {snap['bundle_id']}\n"
            f"      {followers.statement(snap)}\n"
        )
        if snap.get("note"):
            text += f"      platform note: {snap['note']}\n"
    return text


def _redaction(job: Job, sel: Selection, orig: Originals, summary: Summary) -> str:
    opts, counts = job.opts, summary.counts
    text = "\nREDACTION AND WITHHOLDING\n"
    if not opts.rules:
        return text + "  No redaction rules were applied.\n"
    text += f"  Rules: {', '.join(r.name for r in opts.rules)}\n" + (
        f"  {len(sel.redaction.log)} redaction(s) in {counts['redacted_versions']} record "
        "version(s);\n"
        "  see redaction-log.csv (record, field, rule, reason; never the redacted value).\n"
        "  Redaction applies to data/readable/ and data/index.* only. The originals in\n"
        "  data/originals/ and data/replay/ are never modified.\n"
    )
    if not opts.withhold_redacted_originals:
        return text + "  Originals of redacted records are included unredacted (not withheld).\n"
    text += (
        f"  --withhold-redacted-originals: {len(orig.withheld)} original WARC record(s) that\n"
        "  held redacted content (and revisits depending on them) were omitted:\n"
    )
    text += "".join(f"    {rid} (bundle {bid})\n" for bid, rid in sorted(orig.withheld))
    return text + (
        f"  Record versions without their original in this package: "
        f"{counts['versions_without_original']} of {counts['versions']}.\n"
        f"  Of these, {summary.collateral} version(s) were not redacted themselves but lost "
        "their\n"
        "  original because it shares a WARC record with a redacted version (one record\n"
        "  can hold a whole timeline page or thread) or is a revisit of such a record.\n"
        "  data/index.csv marks each with original_in_package = False.\n"
    )


def _closing(summary: Summary, manifest: str) -> str:
    text = "\nFILES IN THIS PACKAGE (SHA-256; tag files are listed in tagmanifest-sha256.txt)\n"
    text += "".join(f"  {line}\n" for line in manifest.splitlines() if line.strip())
    if certify.is_complete(summary.gaps):
        text += (
            "\nI certify that this package is a true and complete copy of the records in the "
            "City's\narchive that match the query above, produced as described.\n\n"
        )
    else:
        text += (
            "\nI certify that this package is a true copy of the records in the City's archive "
            "that\nmatch the query above, produced as described; the archive itself is short of "
            "the\nrecords described under KNOWN GAPS.\n\n"
        )
    return text + "Records custodian: ______________________    Date: ____________\n"
