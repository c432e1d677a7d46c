"""Phase 1, select: which record versions an export holds and what their copies may show.

The search hits, widened to every version of a matched item and to whole conversations,
each re-read from its sealed bundle (:func:`authenticity.check_against_bundles`), with the
removed-comment review trail, the attachments, the follower snapshots and the redactions of
the readable text. Nothing is written to the package here; every later phase reads the
:class:`Selection`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select

from archiver.catalog import schema as s
from archiver.integrity.seal import SealCheck
from archiver.parts import ArchiveParts
from archiver.prr import authenticity, media
from archiver.prr import threads as threads_mod
from archiver.prr.export import followers
from archiver.prr.export.options import Job
from archiver.prr.redact import Rule, redact_text
from archiver.retention import tables as rt
from archiver.retention.removal import CATEGORIES
from archiver.search import search

CHUNK: Final = 900
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
#: The fields a redaction rule applies to; only ``text`` is in the original WARC record.
REDACTED_FIELDS: Final = ("text", "city_removal_note", "attorney_note")


@dataclass(slots=True)
class Redaction:
    """What the rules changed: the log lines and the versions they touched."""

    log: list[dict[str, str]] = field(default_factory=list)
    #: Versions whose text was redacted (their original WARC record holds that text).
    text_versions: set[int] = field(default_factory=set)
    #: Versions with any field redacted.
    any_versions: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Selection:
    """The exported versions (search rows, one per version) and what was learned of them."""

    hits: list[dict[str, Any]]
    seals: dict[str, SealCheck]
    classes: dict[int, str]
    media_refs: list[media.MediaRef]
    bundles: dict[str, dict[str, Any]]
    redaction: Redaction
    snapshots: list[dict[str, Any]]


def select_versions(job: Job) -> Selection:
    app, opts = job.app, job.opts
    hits = _matching_versions(job)
    # Every exported version, the conversations' too, is re-read from its sealed bundle
    # (not the catalog alone).
    seals = authenticity.check_against_bundles(app, hits)
    classes = _item_classes(app, sorted({int(h["item_id"]) for h in hits}))
    _attach_removal_reviews(app, hits)
    media_refs = media.media_of(app, hits)
    bundles = {str(b["id"]): b for b in app.catalog.bundles()}
    redaction = redact(hits, opts.rules)
    sites = {str(h["site_id"]) for h in hits} | (
        {opts.filters.site} if opts.filters.site else set()
    )
    snaps = followers.snapshots(app, sites, opts.filters) if opts.include_followers else []
    return Selection(hits, seals, classes, media_refs, bundles, redaction, snaps)


def _matching_versions(job: Job) -> list[dict[str, Any]]:
    app, opts = job.app, job.opts
    job.step("searching")
    hits = search(app.catalog, opts.query, opts.filters, limit=None)
    if opts.filters.all_versions and opts.query.strip():
        hits = _with_every_version(app, hits)
    if opts.matches_only:
        for h in hits:
            h["included_as"] = threads_mod.MATCH
        return hits
    job.step("adding whole conversations")
    return _stable(threads_mod.with_conversations(app.catalog, hits, opts.filters))


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
        for i in range(0, len(item_ids), CHUNK):
            chunk = item_ids[i : i + CHUNK]
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
        for i in range(0, len(item_ids), CHUNK):
            chunk = item_ids[i : i + CHUNK]
            rows = conn.execute(
                select(s.items.c.id, s.items.c.record_class).where(s.items.c.id.in_(chunk))
            )
            out.update({int(r[0]): str(r[1]) for r in rows})
    return out


def _attach_removal_reviews(app: ArchiveParts, hits: list[dict[str, Any]]) -> None:
    """Add the removed-comment review trail (policy category, who recorded the removal and
    when, the City Attorney's decision) to each version of an item that has one."""
    item_ids = sorted({int(h["item_id"]) for h in hits})
    found: dict[int, dict[str, Any]] = {}
    cr = rt.comment_removals
    with app.catalog.begin() as conn:
        for i in range(0, len(item_ids), CHUNK):
            chunk = item_ids[i : i + CHUNK]
            for r in conn.execute(select(cr).where(cr.c.item_id.in_(chunk))):
                found[int(r.item_id)] = dict(r._mapping)
    for h in hits:
        rem = found.get(int(h["item_id"]))
        for col, key in REMOVAL_COLUMNS.items():
            h[col] = rem.get(key) if rem else None
        h["city_removal_category_name"] = (
            CATEGORIES.get(int(rem["category"]), "unknown category") if rem else None
        )


def redact(hits: list[dict[str, Any]], rules: tuple[Rule, ...]) -> Redaction:
    """Apply the rules to the readable fields of each version, in place, and log each use.

    Only the readable copies and the indexes are redacted; the originals never are.
    """
    done = Redaction()
    for h in hits:
        h["redacted"] = False
        for fld in REDACTED_FIELDS:
            if h.get(fld):
                _redact_field(h, fld, rules, done)
    return done


def _redact_field(h: dict[str, Any], fld: str, rules: tuple[Rule, ...], done: Redaction) -> None:
    text, applied = redact_text(str(h[fld]), rules)
    if not applied:
        return
    h[fld] = text
    h["redacted"] = True
    done.any_versions.add(int(h["version_id"]))
    if fld == "text":  # only the text is in the original WARC record
        done.text_versions.add(int(h["version_id"]))
    for a in applied:
        done.log.append(
            {
                "record": f"{h['site_id']}/{h['platform_id']} v{h['version']}",
                "warc_record_id": str(h["warc_record_id"]),
                "field": fld,
                "rule": a.rule,
                "reason": a.reason,
                "occurrences": str(a.count),
            }
        )
