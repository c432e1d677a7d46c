"""Build the package that answers a public-records request.

The package is a BagIt bag (sha256) that a requester can open and a court can check without
this software::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    certification.txt            who exported what, why, from which verified bundles
    redaction-log.csv            (only when redaction rules were given)
    data/originals/export-00000.warc.gz   the matched records' WARC records, byte for byte
    data/replay/export.wacz      the same WARC, replayable (pages.jsonl, CDXJ index)
    data/readable/index.html, posts/*.html, media/*, export.pdf
    data/index.csv, data/index.json       one row per record version, with provenance
    data/media.csv               one row per attachment of an exported version
    data/followers.csv, data/follower-snapshots.csv   (only with --include-followers)

It is built in ``<out>.partial`` next to the target and renamed into place only when whole
(and after the custody row and audit entry are written in the same transaction), so a kill or
a full disk never leaves something that looks like a finished package. Every source bundle
is re-verified first; the export refuses to copy from a bundle that fails, naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import bagit
from sqlalchemy import select

from archiver import __version__, audit, filters
from archiver.bundle import remove_tree, sha256_file
from archiver.catalog import schema as s
from archiver.csvsafe import SafeDictWriter
from archiver.errors import ExportError
from archiver.filters import UnknownFilterError as UnknownFilterError
from archiver.followers import sealed_follower_list
from archiver.fsutil import fsync_dir, fsync_tree
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.prr import authenticity, certify, media, readable
from archiver.prr import threads as threads_mod
from archiver.prr.originals import (
    BundleIndex,
    SourceRecord,
    order_key,
    with_closure,
    write_subset,
)
from archiver.prr.redact import Rule, redact_text
from archiver.prr.requests import RecordsRequest, exports, get_request
from archiver.prr.wacz import IndexEntry, Page, write_wacz
from archiver.resources import make_private
from archiver.retention import tables as rt
from archiver.retention.removal import CATEGORIES
from archiver.search import SearchFilters, search
from archiver.verify import verify_bundle

log = get_logger(__name__)

WARC_NAME: Final = "export-00000.warc.gz"
#: Said wherever a follower snapshot holds only the number the platform reports.
COUNT_ONLY: Final = "count only — the platform does not list follower identities"
#: The review-trail columns (from ``comment_removals``) and the row keys they come from.
REMOVAL_COLUMNS: Final = {
    "city_removal_category": "category",
    "city_removal_recorded_by": "recorded_by",
    "city_removal_recorded_at": "recorded_at",
    "city_removal_note": "note",
    "attorney_decision": "decision",
    "attorney": "attorney",
    "attorney_reviewed_at": "reviewed_at",
    "attorney_note": "review_note",
}
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


@dataclass(frozen=True, slots=True)
class ExportOptions:
    request_id: str
    query: str
    filters: SearchFilters
    out: Path
    zip: bool = False
    rules: tuple[Rule, ...] = ()
    withhold_redacted_originals: bool = False
    include_followers: bool = False
    #: Only the records the query matched, without their conversations (the old behaviour).
    matches_only: bool = False


@dataclass
class ExportResult:
    request_id: str
    path: Path
    package_sha256: str
    counts: dict[str, int]
    export_id: int
    zip_sha256: str | None = None
    bundles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


Step = Callable[[str], None]


def _check_target(out: Path, *, zip_: bool) -> None:
    if out.is_file() or (out.exists() and not out.is_dir()):
        kind = "file" if out.is_file() else "thing that is not a folder"
        raise ExportError(
            f"--out {out} is an existing {kind}; an export never overwrites one",
            hint="choose a new path for the package",
        )
    if out.is_dir() and zip_:
        raise ExportError(
            f"--out {out} is an existing folder; --zip writes a single .zip file",
            hint="choose a new file name, e.g. PRR-2026-0001.zip",
        )
    if out.is_dir() and any(out.iterdir()):
        raise ExportError(
            f"--out {out} exists and is not empty",
            hint="choose a new path; an export never overwrites or mixes with other files",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ExportError(
                    f"--out {out}: {parent} is a file, not a folder",
                    hint="choose a path inside an existing folder",
                )
            break


def check_filters(app: ArchiveParts, f: SearchFilters) -> None:
    """Refuse a filter value that names nothing (see :mod:`archiver.filters`).

    Otherwise a typo gives a valid, empty package whose certification says no records
    matched: true of the typo, false of the records the requester asked for.
    """
    filters.check_filters(app, site=f.site, platform=f.platform, kinds=f.kinds, author=f.author)


def run_export(
    app: ArchiveParts, opts: ExportOptions, *, on_step: Step | None = None
) -> ExportResult:
    """Search, verify sources, build the bag in ``<out>.partial``, record custody, rename."""
    step: Step = on_step or (lambda _s: None)
    req = get_request(app.catalog, opts.request_id)
    check_filters(app, opts.filters)
    out = Path(os.path.abspath(opts.out.expanduser()))
    _check_target(out, zip_=opts.zip)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create {out.parent}: {exc.strerror}", hint="check the path and permissions"
        ) from exc
    staging = out.parent / f"{out.name}.partial"
    zip_tmp = out.parent / f"{out.name}.partial.zip"
    for leftover in (staging, zip_tmp):
        if leftover.is_dir():
            remove_tree(leftover)  # left by a killed export: never complete, never published
        elif leftover.exists():
            leftover.unlink()
    try:
        staging.mkdir()
        # Scratch space (downloaded records maps) lives inside the staging folder, so a
        # killed export leaves only ``.partial`` names behind.
        work = staging / ".work"
        work.mkdir()
        result = _build(app, opts, req, out, staging, zip_tmp, work, step)
        log.info(
            "export_finished",
            request=result.request_id,
            export_id=result.export_id,
            bundles=len(result.bundles),
            counts=result.counts,
        )
        return result
    except OSError as exc:
        from archiver.resources import RESOURCE_ERRNOS, describe, hint_for

        if exc.errno in RESOURCE_ERRNOS:
            raise ExportError(
                f"writing the package {out} failed: {describe(exc.errno)}; nothing was published",
                hint=hint_for(exc.errno, out.parent),
            ) from exc
        raise ExportError(
            f"writing the package under {out.parent} failed: {exc.strerror or exc}",
            hint="check free disk space and permissions; nothing was published",
        ) from exc
    finally:
        if staging.exists():
            remove_tree(staging)
        zip_tmp.unlink(missing_ok=True)


def _with_every_version(app: ArchiveParts, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A text query matches single versions; a requester gets every version of a matched item.

    Otherwise an edit that removed the searched words would hide the earlier wording, which
    is exactly what a records request about an edited post wants to see.
    """
    have = {int(h["version_id"]) for h in hits}
    item_ids = sorted({int(h["item_id"]) for h in hits})
    template = {int(h["item_id"]): h for h in hits}
    v = s.item_versions
    extra: list[dict[str, Any]] = []
    with app.catalog.begin() as conn:
        for i in range(0, len(item_ids), 900):
            chunk = item_ids[i : i + 900]
            rows = conn.execute(
                select(
                    v.c.id.label("version_id"),
                    v.c.item_id,
                    v.c.version,
                    v.c.text,
                    v.c.edited_at,
                    v.c.captured_at,
                    v.c.content_hash,
                    v.c.bundle_id,
                    v.c.warc_file,
                    v.c.warc_offset,
                    v.c.warc_length,
                    v.c.warc_record_id,
                    v.c.warc_type,
                ).where(v.c.item_id.in_(chunk))
            )
            for r in rows:
                if int(r.version_id) in have:
                    continue
                extra.append(template[int(r.item_id)] | dict(r._mapping))
    return _stable(hits + extra) if extra else hits


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest posted first, then item, then version (the order search() returns)."""
    rows.sort(key=lambda h: (int(h["item_id"]), int(h["version"])))
    rows.sort(key=lambda h: str(h["posted_at"] or ""), reverse=True)
    return rows


def _item_classes(app: ArchiveParts, item_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    with app.catalog.begin() as conn:
        for i in range(0, len(item_ids), 900):
            chunk = item_ids[i : i + 900]
            rows = conn.execute(
                select(s.items.c.id, s.items.c.record_class).where(s.items.c.id.in_(chunk))
            )
            out.update({int(r[0]): str(r[1]) for r in rows})
    return out


def _snapshots(app: ArchiveParts, sites: set[str], f: SearchFilters) -> list[dict[str, Any]]:
    """Follower snapshots of the sites in the date range, or the latest per site without one."""
    if not sites:
        return []
    tz = ZoneInfo(f.tz)
    with app.catalog.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(s.follower_snapshots)
                .where(s.follower_snapshots.c.site_id.in_(sorted(sites)))
                .order_by(s.follower_snapshots.c.taken_at)
            )
        ]
    chosen: dict[str, dict[str, Any]] = {}
    for r in rows:
        day = datetime.fromisoformat(r["taken_at"]).astimezone(tz).date()
        in_range = (f.since is None or day >= f.since) and (f.until is None or day <= f.until)
        if (f.since or f.until) and in_range:
            chosen[r["bundle_id"]] = r
    if not chosen:
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:
            latest[r["site_id"]] = r
        chosen = {r["bundle_id"]: r for r in latest.values()}
    return sorted(chosen.values(), key=lambda r: (r["site_id"], r["taken_at"]))


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


def _build(
    app: ArchiveParts,
    opts: ExportOptions,
    req: RecordsRequest,
    out: Path,
    staging: Path,
    zip_tmp: Path,
    tmp: Path,
    step: Step,
) -> ExportResult:
    cfg = app.cfg
    tz = opts.filters.tz
    actor = audit.current_actor()
    started = datetime.now(UTC)
    step("searching")
    hits = search(app.catalog, opts.query, opts.filters, limit=None)
    if opts.filters.all_versions and opts.query.strip():
        hits = _with_every_version(app, hits)
    if opts.matches_only:
        for h in hits:
            h["included_as"] = threads_mod.MATCH
    else:
        step("adding whole conversations")
        hits = _stable(threads_mod.with_conversations(app.catalog, hits, opts.filters))
    # Every exported version, the conversations' too, is re-read from its sealed bundle
    # (not the catalog alone).
    seals = authenticity.check_against_bundles(app, hits)
    classes = _item_classes(app, sorted({int(h["item_id"]) for h in hits}))
    _attach_removal_reviews(app, hits)
    media_refs = media.media_of(app, hits)
    all_bundles = {str(b["id"]): b for b in app.catalog.bundles()}

    # -- redaction (readable copies and indexes only) -----------------------------------
    redaction_log: list[dict[str, str]] = []
    redacted_versions: set[int] = set()
    redacted_any: set[int] = set()
    for h in hits:
        h["redacted"] = False
        for fld in ("text", "city_removal_note", "attorney_note"):
            if not h.get(fld):
                continue
            text, applied = redact_text(str(h[fld]), opts.rules)
            if not applied:
                continue
            h[fld] = text
            h["redacted"] = True
            redacted_any.add(int(h["version_id"]))
            if fld == "text":  # only the text is in the original WARC record
                redacted_versions.add(int(h["version_id"]))
            for a in applied:
                redaction_log.append(
                    {
                        "record": f"{h['site_id']}/{h['platform_id']} v{h['version']}",
                        "warc_record_id": str(h["warc_record_id"]),
                        "field": fld,
                        "rule": a.rule,
                        "reason": a.reason,
                        "occurrences": str(a.count),
                    }
                )

    # -- which WARC records ----------------------------------------------------------------
    step("collecting original records")
    index = BundleIndex(app.storage, all_bundles, tmp)
    try:
        base: list[SourceRecord] = []
        for h in hits:
            base.append(index.record(str(h["bundle_id"]), str(h["warc_record_id"]), "match"))
        # Later captures of each matched version (often revisits): evidence it was still there.
        wanted: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        earliest: dict[tuple[str, str], str] = {}
        for h in hits:
            g = (str(h["site_id"]), classes.get(int(h["item_id"]), ""))
            wanted[g][str(h["platform_id"])].add(str(h["content_hash"]))
            c = str(h["captured_at"])
            earliest[g] = min(earliest.get(g, c), c)
        captures: dict[tuple[str, str], list[SourceRecord]] = defaultdict(list)
        for (site, rclass), pids in wanted.items():
            for b in all_bundles.values():
                if b["site_id"] != site or b["record_class"] != rclass:
                    continue
                if str(b["sealed_at"]) < earliest[(site, rclass)]:
                    continue
                for pid, digest, rec in index.captures(str(b["id"]), pids):
                    captures[(pid, digest)].append(rec)
                    base.append(rec)
        # The captured media of every exported version, as recorded (byte for byte).
        media_keys: set[tuple[str, str]] = set()
        for m in media_refs:
            if m.key is None or m.key in media_keys:
                continue
            if m.key[0] not in all_bundles:
                m.note = f"original not in the archive (bundle {m.key[0]} is not sealed)"
                m.bundle_id = m.record_id = None
                continue
            media_keys.add(m.key)
            base.append(index.record(m.key[0], m.key[1], "media"))
        snapshots = (
            _snapshots(
                app,
                {str(h["site_id"]) for h in hits}
                | ({opts.filters.site} if opts.filters.site else set()),
                opts.filters,
            )
            if opts.include_followers
            else []
        )
        for snap in snapshots:
            base.extend(index.exchanges(str(snap["bundle_id"]), "followers"))
        records = with_closure(index, base)

        withheld: set[tuple[str, str]] = set()
        if opts.withhold_redacted_originals and redacted_versions:
            for h in hits:
                if int(h["version_id"]) in redacted_versions:
                    withheld.add((str(h["bundle_id"]), str(h["warc_record_id"])))
                    for rec in captures.get((str(h["platform_id"]), str(h["content_hash"])), []):
                        withheld.add((rec.bundle_id, rec.record_id))
            records = _drop_withheld(records, withheld)

        step("verifying source bundles")
        verified = _verify_sources(app, all_bundles, {r.bundle_id for r in records})

        # -- originals ---------------------------------------------------------------------
        step("copying original WARC records")
        records.sort(key=order_key(all_bundles))
        data = staging / "payload"
        warc_path = data / "originals" / WARC_NAME
        copied = write_subset(
            app.storage,
            all_bundles,
            records,
            warc_path,
            {
                "description": f"Public records export for request {req.id}: a byte-for-byte "
                "subset of the City's sealed WARC records (each record an unchanged gzip member)",
                "isPartOf": req.id,
                "operator": actor,
                "x-export-query": json.dumps(_query_dict(opts), sort_keys=True),
                "x-source-bundles": ",".join(sorted({r.bundle_id for r in records})),
                "organization": cfg.city,
            },
        )

        media_files = media.write_files(data / "readable", warc_path, copied, media_refs)
        _attach_media(hits, media_refs, copied, media_files)
        media.write_index(data / "media.csv", media_refs, copied, media_files)

        # -- replay copy ---------------------------------------------------------------------
        step("writing WACZ")
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
            for c in copied.values()
            if c.source.record_type in ("response", "revisit") and c.source.target_uri
        ]
        pages: dict[str, Page] = {}
        for h in hits:
            c2 = copied.get((str(h["bundle_id"]), str(h["warc_record_id"])))
            if c2 is not None and c2.source.record_type == "revisit":
                # A page opens the response the revisit stands for (carried in the package).
                src = c2.source
                c2 = copied.get(
                    (src.refers_to_bundle or src.bundle_id, src.refers_to_record_id or "")
                )
            if c2 is None or c2.source.record_id in pages:
                continue
            pages[c2.source.record_id] = Page(
                url=c2.source.target_uri or "",
                ts=c2.source.warc_date or "",
                title=f"{h['kind']} {h['platform_id']} by @{h['author_handle'] or h['author_id']}"
                + (f" ({h['permalink']})" if h["permalink"] else ""),
                page_id=hashlib.sha1(c2.source.record_id.encode()).hexdigest()[:16],
            )
        (data / "replay").mkdir(parents=True)
        wacz_signature = write_wacz(
            data / "replay" / "export.wacz",
            warc_path,
            entries,
            pages.values(),
            title=f"{cfg.city} records request {req.id}",
            description=req.description,
            sign=authenticity.signing_enabled(app),
        )

        # -- index ------------------------------------------------------------------------------
        step("writing index")
        rows = []
        for h in hits:
            c3 = copied.get((str(h["bundle_id"]), str(h["warc_record_id"])))
            caps = captures.get((str(h["platform_id"]), str(h["content_hash"])), [])
            row = {k: h.get(k) for k in INDEX_FIELDS if k in h}
            row.update(
                {
                    "original_in_package": c3 is not None,
                    "export_warc_file": f"originals/{WARC_NAME}" if c3 else None,
                    "export_warc_offset": c3.offset if c3 else None,
                    "export_warc_length": c3.length if c3 else None,
                    "captures": len({(r.bundle_id, r.record_id) for r in caps}),
                }
            )
            rows.append({k: row.get(k) for k in INDEX_FIELDS})
        _write_index(data, rows)
        follower_rows = _follower_rows(index, snapshots)
        if opts.include_followers:
            _write_followers(data / "followers.csv", follower_rows)
            _write_snapshots(data / "follower-snapshots.csv", snapshots)
    finally:
        index.close()
        shutil.rmtree(tmp, ignore_errors=True)

    # -- readable ---------------------------------------------------------------------------
    step("rendering readable copy")
    # Versions that were not redacted themselves but lost their original anyway: one WARC
    # record can hold a whole timeline page (or be a revisit of one) with a redacted version.
    collateral = sum(
        1
        for h in hits
        if int(h["version_id"]) not in redacted_versions
        and (str(h["bundle_id"]), str(h["warc_record_id"])) not in copied
    )
    withheld_versions = sum(
        1 for h in hits if (str(h["bundle_id"]), str(h["warc_record_id"])) not in copied
    )
    without_original = {
        int(h["version_id"])
        for h in hits
        if (str(h["bundle_id"]), str(h["warc_record_id"])) not in copied
    }
    with app.catalog.begin() as conn:
        gaps = certify.known_gaps(
            conn,
            {int(h["item_id"]) for h in hits},
            sites=[opts.filters.site] if opts.filters.site else [],
        )
    holds_text = certify.holdings_section(
        certify.holdings(hits, classes, without_original),
        gaps,
        tz=tz,
        matches_only=opts.matches_only,
        bounded_by_dates=bool(opts.filters.since or opts.filters.until),
        withheld_lines=_withheld_lines(hits, without_original, redaction_log),
    )
    threads = readable.build_threads(
        hits,
        tz,
        missing_roots={
            (g.site_id, g.scope.removeprefix("thread ")) for g in gaps if g.source == "missing-root"
        },
    )
    counts = {
        "items": len({h["item_id"] for h in hits}),
        "items_matched": len({h["item_id"] for h in hits if h.get("included_as") == "match"}),
        "known_gaps": len(gaps),
        "versions": len(hits),
        "warc_records": len(copied),
        "bundles": len(verified),
        "threads": len(threads),
        "redacted_versions": len(redacted_any),
        "withheld_records": len(withheld),
        "versions_without_original": withheld_versions,
        "unredacted_versions_withheld_with_a_redacted_one": collateral,
        "media_attachments": len(media_refs),
        "media_records": sum(1 for k in media_keys if k in copied),
        "follower_snapshots": len(snapshots),
        "followers_listed": len(follower_rows),
    }
    context = {
        "city": cfg.city,
        "request": req,
        "query_text": _query_text(opts),
        "exported_at": readable.fmt_time(started.isoformat(), tz),
        "actor": actor,
        "tz": tz,
        "counts": counts,
        "redacted": bool(opts.rules),
        "rules": ", ".join(r.name for r in opts.rules),
        "followers": [_snapshot_view(snap, tz) for snap in snapshots],
        "gaps": [g.line(tz) for g in gaps],
        "matches_only": opts.matches_only,
    }
    readable.write_site(data / "readable", threads, context)
    step("rendering PDF")
    readable.write_pdf(data / "readable" / "export.pdf", threads, context)

    # -- bag ------------------------------------------------------------------------------------
    step("bagging")
    for child in data.iterdir():
        shutil.move(str(child), staging / child.name)
    data.rmdir()
    bag = bagit.make_bag(
        str(staging),
        {
            "Source-Organization": cfg.city,
            "External-Identifier": req.id,
            "External-Description": f"Public records export for {req.id}: {req.description}"[:500],
            "Bag-Software-Agent": f"muni-archiver/{__version__}",
            "Contact-Name": actor,
        },
        checksums=["sha256"],
    )
    if opts.rules:
        _write_redaction_log(staging / "redaction-log.csv", redaction_log)
    evidence = authenticity.write_evidence(
        app,
        staging,
        seals,
        source_ids=[str(v["bundle_id"]) for v in verified],
        request_id=req.id,
        wacz=wacz_signature,
    )
    manifest = (staging / "manifest-sha256.txt").read_text("utf-8")
    (staging / "certification.txt").write_text(
        _certification(
            app,
            opts,
            req,
            actor=actor,
            started=started,
            counts=counts,
            verified=verified,
            manifest=manifest,
            withheld=withheld,
            redaction_log=redaction_log,
            snapshots=snapshots,
            collateral=collateral,
            holdings=holds_text,
            complete=certify.is_complete(gaps),
        )
        + authenticity.certification_section(app, evidence, actor=actor),
        encoding="utf-8",
    )
    bag.save()  # rewrites tagmanifest-sha256.txt to cover certification.txt and the log
    authenticity.sign_package(app, staging)
    package_sha256 = sha256_file(staging / "tagmanifest-sha256.txt")
    fsync_tree(staging)

    # -- publish ------------------------------------------------------------------------------
    step("publishing")
    zip_sha: str | None = None
    if opts.zip:
        _zip_bag(staging, zip_tmp, out.name[:-4] if out.name.endswith(".zip") else out.name)
        zip_sha = sha256_file(zip_tmp)
    with app.catalog.begin() as conn:
        details = {
            "request_id": req.id,
            "out": str(out),
            "package_sha256": package_sha256,
            "zip_sha256": zip_sha,
            "counts": counts,
            "query": _query_dict(opts),
            "bundles": [v["bundle_id"] for v in verified],
        }
        audit.append(
            conn,
            actor=actor,
            action="export",
            subject=req.id,
            details=details,
            anchor_path=cfg.audit_anchor,
        )
        inserted = conn.execute(
            exports.insert().values(
                request_id=req.id,
                actor=actor,
                at=started.isoformat(timespec="microseconds"),
                out_path=str(out),
                package_sha256=package_sha256,
                counts_json=json.dumps(counts | ({"zip_sha256": zip_sha} if zip_sha else {})),
                query_json=json.dumps(_query_dict(opts), sort_keys=True),
            )
        ).inserted_primary_key
        export_id = int(inserted[0]) if inserted else 0
        # Owner and group only, whatever the umask: a package names requesters.
        make_private(zip_tmp if opts.zip else staging)
        # Rename inside the transaction: if it fails the custody row rolls back with it.
        if opts.zip:
            os.replace(zip_tmp, out)
        else:
            if out.is_dir():
                out.rmdir()  # empty, checked above
            os.rename(staging, out)
        fsync_dir(out.parent)
    return ExportResult(
        request_id=req.id,
        path=out,
        package_sha256=package_sha256,
        counts=counts,
        export_id=export_id,
        zip_sha256=zip_sha,
        bundles=[v["bundle_id"] for v in verified],
    )


def _withheld_lines(
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


def _drop_withheld(
    records: list[SourceRecord], withheld: set[tuple[str, str]]
) -> list[SourceRecord]:
    """Remove withheld records, revisits left without their original, and orphaned requests."""
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


def _attach_removal_reviews(app: ArchiveParts, hits: list[dict[str, Any]]) -> None:
    """Add the removed-comment review trail (policy category, who recorded the removal and
    when, the City Attorney's decision) to each version of an item that has one."""
    item_ids = sorted({int(h["item_id"]) for h in hits})
    found: dict[int, dict[str, Any]] = {}
    cr = rt.comment_removals
    with app.catalog.begin() as conn:
        for i in range(0, len(item_ids), 900):
            chunk = item_ids[i : i + 900]
            for r in conn.execute(select(cr).where(cr.c.item_id.in_(chunk))):
                found[int(r.item_id)] = dict(r._mapping)
    for h in hits:
        rem = found.get(int(h["item_id"]))
        for col, key in REMOVAL_COLUMNS.items():
            h[col] = rem.get(key) if rem else None
        h["city_removal_category_name"] = (
            CATEGORIES.get(int(rem["category"]), "unknown category") if rem else None
        )


def _attach_media(
    hits: list[dict[str, Any]],
    refs: list[media.MediaRef],
    copied: Mapping[tuple[str, str], Any],
    files: Mapping[tuple[str, str], media.MediaFile],
) -> None:
    """Per version: its media records in the package, and views for the readable copy."""
    by_version: dict[int, list[media.MediaRef]] = defaultdict(list)
    for m in refs:
        by_version[m.version_id].append(m)
    for h in hits:
        ms = by_version.get(int(h["version_id"]), [])
        records, paths, views = [], [], []
        for m in ms:
            f = files.get(m.key) if m.key else None
            if m.key and m.key in copied:
                records.append(m.key[1])
            if f and f.path:
                paths.append(f"readable/{f.path}")
            views.append(
                {
                    "type": m.type or "media",
                    "description": m.description,
                    "url": m.url,
                    "file": f.path if f else None,
                    "image": bool(f and f.path and f.content_type.startswith("image/")),
                    "note": "; ".join(x for x in (m.note, f.note if f else "") if x),
                }
            )
        h["media_records"] = " ".join(records)
        h["media_files"] = " ".join(paths)
        h["media"] = views


def _snapshot_view(snap: Mapping[str, Any], tz: str) -> dict[str, Any]:
    return {
        "site_id": snap["site_id"],
        "taken": readable.fmt_time(str(snap["taken_at"]), tz),
        "count": snap["count"],
        "listed": bool(snap["identities"]),
        "note": snap.get("note") or "",
        "statement": _snapshot_statement(snap),
    }


def _snapshot_statement(snap: Mapping[str, Any]) -> str:
    if snap["identities"]:
        return "complete follower list: every follower is named in data/followers.csv"
    return COUNT_ONLY


def _write_snapshots(path: Path, snapshots: list[dict[str, Any]]) -> None:
    fields = ["site_id", "taken_at", "count", "identities_listed", "statement", "note", "bundle_id"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=fields)
        w.writeheader()
        for snap in snapshots:
            w.writerow(
                {
                    "site_id": snap["site_id"],
                    "taken_at": snap["taken_at"],
                    "count": snap["count"],
                    "identities_listed": bool(snap["identities"]),
                    "statement": _snapshot_statement(snap),
                    "note": snap.get("note") or "",
                    "bundle_id": snap["bundle_id"],
                }
            )


def _follower_rows(index: BundleIndex, snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for snap in snapshots:
        if not snap["identities"]:
            continue  # a count: the platform names no one
        bid = str(snap["bundle_id"])
        # A format 3 diff bundle keeps only changes: the list is its checkpoint plus diffs.
        for pid, handle, display_name, url in sealed_follower_list(index.db, bid):
            rows.append(
                {
                    "site_id": snap["site_id"],
                    "snapshot_taken_at": snap["taken_at"],
                    "bundle_id": bid,
                    "platform_id": pid,
                    "handle": handle,
                    "display_name": display_name,
                    "url": url,
                }
            )
    return rows


def _write_followers(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = [
        "site_id",
        "snapshot_taken_at",
        "bundle_id",
        "platform_id",
        "handle",
        "display_name",
        "url",
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _write_index(data: Path, rows: list[dict[str, Any]]) -> None:
    with (data / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(INDEX_FIELDS))
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    with (data / "index.json").open("w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1, ensure_ascii=False, default=str)
        fh.write("\n")


def _write_redaction_log(path: Path, log: list[dict[str, str]]) -> None:
    fields = ["record", "warc_record_id", "field", "rule", "reason", "occurrences"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(log)


def _query_dict(opts: ExportOptions) -> dict[str, Any]:
    f = opts.filters
    return {
        "query": opts.query,
        "site": f.site,
        "platform": f.platform,
        "kinds": list(f.kinds),
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "author": f.author,
        "all_versions": f.all_versions,
        "include_removed": f.include_removed,
        "timezone": f.tz,
        "include_followers": opts.include_followers,
        "redact": [r.name for r in opts.rules],
        "withhold_redacted_originals": opts.withhold_redacted_originals,
        "matches_only": opts.matches_only,
    }


def _query_text(opts: ExportOptions) -> str:
    f = opts.filters
    parts = [f'words "{opts.query}"' if opts.query.strip() else "all words (no text query)"]
    if f.site:
        parts.append(f"site {f.site}")
    if f.platform:
        parts.append(f"platform {f.platform}")
    if f.kinds:
        parts.append("kinds " + ", ".join(f.kinds))
    if f.since:
        parts.append(f"posted on or after {f.since} ({f.tz})")
    if f.until:
        parts.append(f"posted on or before {f.until} ({f.tz})")
    if f.author:
        parts.append(f"author {f.author}")
    parts.append("every captured version" if f.all_versions else "current versions only")
    parts.append(
        "matched records only (--matches-only)"
        if opts.matches_only
        else "each match with its whole conversation (dates bound the matching, not the thread)"
    )
    parts.append(
        "items removed upstream included"
        if f.include_removed
        else "items removed upstream excluded"
    )
    return "; ".join(parts)


def _certification(
    app: ArchiveParts,
    opts: ExportOptions,
    req: RecordsRequest,
    *,
    actor: str,
    started: datetime,
    counts: Mapping[str, int],
    verified: list[dict[str, Any]],
    manifest: str,
    withheld: set[tuple[str, str]],
    redaction_log: list[dict[str, str]],
    snapshots: list[dict[str, Any]],
    collateral: int = 0,
    holdings: str = "",
    complete: bool = True,
) -> str:
    tz = opts.filters.tz
    buf = io.StringIO()
    w = buf.write
    w("CERTIFICATION OF PUBLIC RECORDS EXPORT\n")
    w("=" * 40 + "\n\n")
    w(f"Organization: {app.cfg.city}\n")
    w(f"Software: muni-archiver/{__version__}\n\n")
    w("REQUEST\n")
    w(f"  Id:          {req.id}\n")
    w(f"  Requester:   {req.requester}\n")
    w(f"  Received:    {req.received.isoformat()}\n")
    w(f"  Description: {req.description}\n")
    w(
        f"  Status:      {req.status} (respond-by target {req.respond_by}, the City's own "
        'target under MCA 2-6-1006(2) "timely manner")\n\n'
    )
    w("QUERY (exactly as run)\n")
    w(f"  {_query_text(opts)}\n")
    w(f"  As JSON: {json.dumps(_query_dict(opts), sort_keys=True)}\n\n")
    w("PREPARED\n")
    w(f"  By:   {actor} (operating-system user running the export; self-reported)\n")
    w(
        f"  When: {started.isoformat(timespec='seconds')} "
        f"({readable.fmt_time(started.isoformat(), tz)})\n\n"
    )
    w("COUNTS\n")
    for name, n in counts.items():
        w(f"  {name.replace('_', ' ')}: {n}\n")
    if counts["versions"] == 0:
        w(
            "\n  NO RECORDS MATCHED THIS QUERY. This package is intentionally empty: the archive\n"
            "  was searched as stated above and nothing matched"
            + (".\n" if complete else " (see KNOWN GAPS for what the archive could not capture).\n")
        )
    w("\n" + holdings)
    w(
        "\nSOURCE BUNDLES (each re-verified immediately before copying: every file re-hashed\n"
        "against its BagIt manifest and the digests the catalog recorded at sealing)\n"
    )
    if not verified:
        w("  none (no records were copied)\n")
    for v in verified:
        w(
            f"  {v['bundle_id']}: {v['result']} — {v['files_checked']} file(s), "
            f"{v['bytes_checked']} bytes; sealed {readable.fmt_time(v['sealed_at'], tz)}; "
            f"tagmanifest sha256 {v['tagmanifest_sha256']}\n"
        )
    w("\nHOW THE ORIGINALS WERE CAPTURED\n")
    w(
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
    w("\nFOLLOWER LISTS\n")
    if opts.include_followers:
        w(
            f"  Included: {len(snapshots)} follower-list snapshot(s) (data/followers.csv,\n"
            "  data/follower-snapshots.csv and their original responses in the WARC):\n"
        )
        for snap in snapshots:
            w(
                f"    {snap['site_id']} taken {readable.fmt_time(str(snap['taken_at']), tz)} "
                f"({snap['count']} followers), "
                f"bundle {snap['bundle_id']}\n"
                f"      {_snapshot_statement(snap)}\n"
            )
            if snap.get("note"):
                w(f"      platform note: {snap['note']}\n")
    else:
        w(
            "  Not included. Follower-list responses were excluded from this package by default\n"
            "  (export with --include-followers to add them).\n"
        )
    w("\nREDACTION AND WITHHOLDING\n")
    if not opts.rules:
        w("  No redaction rules were applied.\n")
    else:
        w(f"  Rules: {', '.join(r.name for r in opts.rules)}\n")
        w(
            f"  {len(redaction_log)} redaction(s) in {counts['redacted_versions']} record version(s);\n"
            "  see redaction-log.csv (record, field, rule, reason; never the redacted value).\n"
            "  Redaction applies to data/readable/ and data/index.* only. The originals in\n"
            "  data/originals/ and data/replay/ are never modified.\n"
        )
        if opts.withhold_redacted_originals:
            w(
                f"  --withhold-redacted-originals: {len(withheld)} original WARC record(s) that\n"
                "  held redacted content (and revisits depending on them) were omitted:\n"
            )
            for bid, rid in sorted(withheld):
                w(f"    {rid} (bundle {bid})\n")
            w(
                f"  Record versions without their original in this package: "
                f"{counts['versions_without_original']} of {counts['versions']}.\n"
                f"  Of these, {collateral} version(s) were not redacted themselves but lost their\n"
                "  original because it shares a WARC record with a redacted version (one record\n"
                "  can hold a whole timeline page or thread) or is a revisit of such a record.\n"
                "  data/index.csv marks each with original_in_package = False.\n"
            )
        else:
            w("  Originals of redacted records are included unredacted (not withheld).\n")
    w("\nFILES IN THIS PACKAGE (SHA-256; tag files are listed in tagmanifest-sha256.txt)\n")
    for line in manifest.splitlines():
        if line.strip():
            w(f"  {line}\n")
    if complete:
        w(
            "\nI certify that this package is a true and complete copy of the records in the "
            "City's\narchive that match the query above, produced as described.\n\n"
        )
    else:
        w(
            "\nI certify that this package is a true copy of the records in the City's archive "
            "that\nmatch the query above, produced as described; the archive itself is short of "
            "the\nrecords described under KNOWN GAPS.\n\n"
        )
    w("Records custodian: ______________________    Date: ____________\n")
    return buf.getvalue()


def _zip_bag(bag_dir: Path, zip_path: Path, top: str) -> None:
    with zipfile.ZipFile(zip_path, "x", allowZip64=True) as z:
        for p in sorted(bag_dir.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(bag_dir).as_posix()
            stored = p.suffix in (".gz", ".wacz", ".pdf", ".zip")
            z.write(p, f"{top}/{rel}", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    fd = os.open(zip_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
