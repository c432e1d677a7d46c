"""Per-bundle disposal dates from the catalog: which class each record is, which item governs it.

A bundle is sealed as one unit, so it may go only when its *last* record may go
(``dates.bundle_eligible_on``), and never before any bundle whose revisit records still need
its bytes (``dates.propagate_revisits``). Anything unknowable (permanent or event items, a
fiscal-year clock without its audit date, no class mapping, a removed comment the City
Attorney has not approved) makes the bundle ``None``: kept. The result is written to
``bundles.eligible_on`` and, where the store supports it, to the object's retain-until date,
which is only ever extended; an undated bundle gets a rolling lock (``[storage]
rolling_lock_days``) so it never falls back to the short lock it got at publish.

Holds, approvals, the 50-year offer and unverified items are *not* folded into the date:
they can change after the date was computed, so disposition checks them at every step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

import archiver
from archiver.catalog import schema as s
from archiver.config import Config
from archiver.errors import ArchiverError
from archiver.parts import ArchiveParts
from archiver.retention import tables as t
from archiver.retention.dates import bundle_eligible_on, eligible_on, parse_time, propagate_revisits
from archiver.retention.holds import sync_store_holds
from archiver.retention.mapping import ClassMapping, load_mapping
from archiver.retention.schedules import ScheduleItem, ScheduleSet, load_schedules

__all__ = [
    "BundleEligibility",
    "RetentionSettings",
    "compute_eligibility",
    "confirmed_refs",
    "default_schedules_dir",
    "load_settings",
    "parse_time",
    "record_class_for",
    "refresh",
    "schedules_dir_for",
    "unusable_refs",
]


def default_schedules_dir() -> Path:
    """The ``retention_schedules/`` folder shipped next to the package (a source checkout)."""
    return Path(archiver.__file__).parent.parent / "retention_schedules"


@dataclass(frozen=True)
class RetentionSettings:
    """Everything retention reads from the configuration, loaded once per command."""

    schedules_dir: Path
    schedules: ScheduleSet
    mapping: ClassMapping | None
    mapping_problem: str | None
    audit_received: Mapping[int, date]
    tz: ZoneInfo


def load_settings(cfg: Config) -> RetentionSettings:
    """Read ``[retention]``: schedules_dir, the class mapping, audit_received.

    A missing class mapping is not an error here (nothing becomes eligible, which is safe);
    a broken schedule file or a bad audit date is, because it would silently change dates.
    """
    section = cfg.retention
    file = str(cfg.path)
    schedules_dir = schedules_dir_for(cfg)
    schedules = load_schedules(schedules_dir)
    mapping: ClassMapping | None = None
    problem: str | None = None
    if section.classes is not None:
        mapping = load_mapping(
            section.mapping_document(),
            file=file,
            schedules=schedules,
            known_sites=[x.id for x in cfg.sites],
        )
    else:
        problem = f"no [retention.classes] mapping in {file}"
    return RetentionSettings(
        schedules_dir=schedules_dir,
        schedules=schedules,
        mapping=mapping,
        mapping_problem=problem,
        audit_received=section.audit_received,
        tz=ZoneInfo(cfg.timezone),
    )


def schedules_dir_for(cfg: Config) -> Path:
    """``[retention] schedules_dir`` (relative to the config file), else the shipped folder."""
    return cfg.retention.schedules_dir or default_schedules_dir()


def record_class_for(kind: str, by_owner: bool, *, removed: bool = False) -> str:
    """The record class of one catalog item (see ``retention_schedules/README.md``)."""
    if removed:
        return "removed_comment"
    if kind == "post":
        return "city_post" if by_owner else "public_comment"
    if kind == "comment":
        return "city_reply" if by_owner else "public_comment"
    if kind == "reply":
        return "city_reply" if by_owner else "comment_reply"
    if kind == "media":
        return "media"
    if kind == "message":
        return "direct_message"
    return "public_comment"


@dataclass
class BundleEligibility:
    """One bundle's computed date, the items behind it, and why it is ``None`` if it is."""

    bundle_id: str
    key: str
    site_id: str
    record_class: str
    own_eligible_on: date | None
    eligible_on: date | None
    refs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    oldest_record_at: datetime | None = None
    empty: bool = False  # no cataloged records of its own


def confirmed_refs(conn: Connection, schedules: ScheduleSet) -> set[str]:
    """Refs confirmed with ``archiver schedules confirm`` whose content has not changed since
    (a confirmation covers the item as it was confirmed; see ``confirmations``)."""
    from archiver.retention.confirmations import current_refs

    return current_refs(conn, schedules)


def unusable_refs(settings: RetentionSettings, refs: list[str], confirmed: set[str]) -> list[str]:
    """Refs of unverified items nobody has confirmed with ``archiver schedules confirm``."""
    out = []
    for ref in refs:
        known = ref in settings.schedules
        if known and not settings.schedules.item(ref).verified and ref not in confirmed:
            out.append(ref)
    return out


def _records(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    v, i, cr = s.item_versions, s.items, t.comment_removals
    stmt = (
        select(
            v.c.bundle_id,
            i.c.kind,
            i.c.by_owner,
            i.c.posted_at,
            i.c.first_captured_at,
            cr.c.item_id.label("removed"),
            cr.c.decision,
        )
        .select_from(v.join(i, i.c.id == v.c.item_id).outerjoin(cr, cr.c.item_id == i.c.id))
        .join(s.bundles, s.bundles.c.id == v.c.bundle_id)
        .where(s.bundles.c.status == "sealed")
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(stmt):
        out.setdefault(r.bundle_id, []).append(dict(r._mapping))
    return out


def _one_bundle(
    b: Any, records: list[dict[str, Any]], settings: RetentionSettings
) -> BundleEligibility:
    result = BundleEligibility(
        bundle_id=b.id,
        key=b.key,
        site_id=b.site_id,
        record_class=b.record_class,
        own_eligible_on=None,
        eligible_on=None,
    )
    started = parse_time(b.started_at)
    pairs: list[tuple[str, datetime | None, str | None]] = []  # class, time, blocked reason
    if b.record_class == "followers":
        pairs.append(("follower_list", started, None))
    elif b.record_class == "media" and not records:
        pairs.append(("media", parse_time(b.last_posted_at) or started, None))
        if b.first_posted_at:
            pairs.append(("media", parse_time(b.first_posted_at), None))
    else:
        for r in records:
            if r["kind"] == "profile":
                # The account's profile snapshot (issue 17) rides in every posts bundle; it
                # follows the bundle's posts instead of holding old posts to today's date.
                continue
            when = parse_time(r["posted_at"]) or parse_time(r["first_captured_at"])
            if b.record_class == "media":
                pairs.append(("media", when, None))
                continue
            removed = r["removed"] is not None
            cls = record_class_for(r["kind"], bool(r["by_owner"]), removed=removed)
            blocked = None
            if removed and r["decision"] != "approve":
                blocked = "removed comment not approved by the City Attorney"
            pairs.append((cls, when, blocked))
    if settings.mapping is None:
        result.reasons.append(settings.mapping_problem or "no class mapping")
    dates: list[date | None] = []
    refs: set[str] = set()
    reasons: set[str] = set()
    for cls, when, blocked in pairs:
        if when is not None and (result.oldest_record_at is None or when < result.oldest_record_at):
            result.oldest_record_at = when
        if settings.mapping is None:
            dates.append(None)
            continue
        item = settings.mapping.item_for(cls, b.site_id)
        refs.add(item.ref)
        if blocked:
            reasons.add(blocked)
            dates.append(None)
            continue
        if when is None:
            reasons.add("a record has no date")
            dates.append(None)
            continue
        d = eligible_on(item, when, tz=settings.tz, audit_received=settings.audit_received)
        if d is None:
            reasons.add(_why_none(item))
        dates.append(d)
    if not pairs:
        result.empty = True
        reasons.add(_EMPTY)
    result.refs = sorted(refs)
    result.reasons.extend(sorted(reasons))
    result.own_eligible_on = bundle_eligible_on(dates) if pairs else None
    return result


_EMPTY = "no records in the catalog for this bundle"


def _date_revisit_only(results: dict[str, BundleEligibility], refs: list[tuple[str, str]]) -> None:
    """Date a bundle whose only records are revisits by the records they revisit.

    An incremental run that found nothing new still seals a bundle: its WARC holds revisit
    records of payloads already archived. Those are copies of records whose class and date
    the originals' bundles know, so the bundle gets the latest of its originals' own dates
    (``None`` if any is ``None``). Without this, such bundles would never be eligible and,
    through ``propagate_revisits``, would keep their originals forever. A bundle with no
    records and no revisits stays ``None``: nothing says what it is.
    """
    originals: dict[str, set[str]] = {}
    for referrer, original in refs:
        originals.setdefault(referrer, set()).add(original)
    todo = [b for b, r in results.items() if r.empty and b in originals and r.reasons == [_EMPTY]]
    for _ in range(len(todo) + 1):  # chains of revisit-only bundles settle within len(todo)
        changed = False
        for bid in todo:
            res = results[bid]
            sources = [results.get(o) for o in originals[bid]]
            if any(src is None for src in sources):
                continue
            known = [src for src in sources if src is not None]
            date_ = bundle_eligible_on(src.own_eligible_on for src in known)
            if date_ is None or date_ == res.own_eligible_on:
                continue
            res.own_eligible_on = date_
            res.refs = sorted({ref for src in known for ref in src.refs})
            times = [src.oldest_record_at for src in known if src.oldest_record_at is not None]
            res.oldest_record_at = min(times) if times else None
            res.reasons = ["only revisits of earlier bundles: dated by their records"]
            changed = True
        if not changed:
            return


def _why_none(item: ScheduleItem) -> str:
    if item.retention.permanent:
        return f"{item.ref} is permanent"
    if item.trigger is not None and item.trigger.value == "event":
        return f"{item.ref} starts at an event the archiver cannot see"
    if item.trigger is not None and item.trigger.value == "fiscal_year_end":
        return f"{item.ref}: final audit report date not recorded in [retention] audit_received"
    return f"{item.ref} gives no disposal date"


def compute_eligibility(
    app: ArchiveParts,
    settings: RetentionSettings,
    *,
    today: date | None = None,
    worm: bool = True,
) -> tuple[dict[str, BundleEligibility], list[str]]:
    """Recompute every sealed bundle, store the dates, extend store retention.

    Returns the per-bundle results and warnings (store calls that failed). The catalog is
    updated even if the store refuses, because the catalog is what disposition checks;
    the warning tells IT the store lags behind.
    """
    today = today or datetime.now(settings.tz).date()
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with app.catalog.begin() as conn:
        bundles = list(conn.execute(select(s.bundles).where(s.bundles.c.status == "sealed")))
        records = _records(conn)
        results = {b.id: _one_bundle(b, records.get(b.id, []), settings) for b in bundles}
        # Records kept raw because they could not be parsed have no known class or date:
        # their bundle is kept until someone classifies them.
        for (bid,) in conn.execute(select(s.unparseable.c.bundle_id).distinct()):
            if bid in results:
                results[bid].own_eligible_on = None
                results[bid].reasons.append("holds unparseable records (class and date unknown)")
        refs = [
            (r.bundle_id, r.refers_to_bundle_id)
            for r in conn.execute(
                select(s.revisit_refs)
                .join(s.bundles, s.bundles.c.id == s.revisit_refs.c.bundle_id)
                .where(s.bundles.c.status == "sealed")
            )
        ]
        _date_revisit_only(results, refs)
        propagated = propagate_revisits({k: v.own_eligible_on for k, v in results.items()}, refs)
        for bid, res in results.items():
            res.eligible_on = propagated.get(bid)
            if res.own_eligible_on is not None and res.eligible_on != res.own_eligible_on:
                res.reasons.append("held back by a later bundle that refers to its records")
        existing = {r.bundle_id: r for r in conn.execute(select(t.bundle_eligibility))}
    # Writes in their own transaction: an SQLite reader that later writes fails at once if a
    # harvest committed in between, while a fresh writer waits for the lock (busy_timeout).
    with app.catalog.begin() as conn:
        for bid, res in results.items():
            values = {
                "own_eligible_on": _iso(res.own_eligible_on),
                "eligible_on": _iso(res.eligible_on),
                "refs_json": json.dumps(res.refs),
                "reason": "; ".join(res.reasons),
                "oldest_record_at": res.oldest_record_at.isoformat()
                if res.oldest_record_at
                else None,
                "computed_at": now,
            }
            if bid in existing:
                conn.execute(
                    update(t.bundle_eligibility)
                    .where(t.bundle_eligibility.c.bundle_id == bid)
                    .values(**values)
                )
            else:
                conn.execute(t.bundle_eligibility.insert().values(bundle_id=bid, **values))
            conn.execute(
                update(s.bundles)
                .where(s.bundles.c.id == bid)
                .values(eligible_on=values["eligible_on"])
            )
    warnings = _extend_store_retention(app, results, existing, today) if worm else []
    return results, warnings


def _extend_store_retention(
    app: ArchiveParts, results: dict[str, BundleEligibility], existing: dict[str, Any], today: date
) -> list[str]:
    """Ask the store to refuse deletion before each future eligibility date; extend only.

    A bundle with no date at all (permanent or event items, unmapped classes, unapproved
    removals) gets a *rolling* lock instead: retain-until today + ``[storage]
    rolling_lock_days``, renewed whenever less than half of it is left, so it never falls
    back to the short lock it got at publish. ``worm_until`` records the date the store
    holds (the store's own, later date when it already retained the bundle longer).
    """
    rolling = app.cfg.storage.rolling_lock_days
    warnings: list[str] = []
    for bid, res in results.items():
        previous = existing.get(bid)
        done = date.fromisoformat(previous.worm_until) if previous and previous.worm_until else None
        until = res.eligible_on
        if until is None:
            if done is not None and (done - today).days * 2 >= rolling:
                continue
            until = today + timedelta(days=rolling)
        elif until <= today or (done is not None and done >= until):
            continue
        try:
            app.storage.set_retention(res.key, until)
        except ArchiverError as exc:
            # The store already retains it longer (e.g. the default lock at publish): that
            # is the extend-only rule working, not a problem to report.
            if "refusing to shorten" not in exc.message:
                warnings.append(f"retain-until {until} not set on bundle {res.key}: {exc}")
                continue
            try:
                stored = app.storage.retained_until(res.key)
            except ArchiverError as exc2:
                warnings.append(f"retain-until of bundle {res.key} not readable: {exc2}")
                continue
            until = max(until, stored) if stored is not None else until
        with app.catalog.begin() as conn:
            conn.execute(
                update(t.bundle_eligibility)
                .where(t.bundle_eligibility.c.bundle_id == bid)
                .values(worm_until=until.isoformat())
            )
    return warnings


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def refresh(app: ArchiveParts) -> dict[str, Any]:
    """The daemon's daily job: recompute dates, extend store retention, sync store holds.

    Never disposes of anything. Holds are queries, so yesterday's captures may have come
    under one; syncing here puts the store-level hold on them within a day.
    """
    settings = load_settings(app.cfg)
    results, warnings = compute_eligibility(app, settings)
    warnings += sync_store_holds(app)
    return {
        "bundles": len(results),
        "eligible": sum(1 for r in results.values() if r.eligible_on is not None),
        "warnings": warnings[:5],
    }
