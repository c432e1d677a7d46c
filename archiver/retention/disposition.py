"""Approved disposition (the workflow): due list, frozen batches, approval, the 50-year offer,
execution. Read views live in :mod:`archiver.retention.views`, the disposal records
(render + store) in :mod:`archiver.retention.records`; their public names are re-exported.

Destroying a public record cannot be undone, so every step re-checks what the previous one
decided: a batch is a frozen list proposed by one person and approved by another (by name
and title, with the RM60 subcommittee date where the schedule item requires it), and at
execution each bundle is checked again against *today*: still eligible, not held now (holds
and open records requests are queries, so new captures can bring a bundle under one), every
schedule item verified or confirmed, and the MCA 2-6-1205 offer made with 30 days' notice
for records more than 50 years old.

Execution is resumable. Per bundle: an "executing" intent row is committed, the bundle is
deleted from storage, then the tombstone, ``bundles.status = 'disposed'`` and the audit entry
commit together. A crash after the delete leaves the intent row; the next run sees the bundle
gone and writes the tombstone. A storage failure raises before anything is marked disposed.

The disposal record (equivalent of form RM88, or the RM60 request at proposal time) is
rendered to HTML and PDF under ``<archive root>/disposal-records/`` and registered in
``disposal_records``. Those files are not bundles, so disposition never touches them; the
row states the 30-year keep-until date. Both files are also put in the configured storage
(``Storage.put_document``, key ``disposal-records/<batch>-<form>.<html|pdf>``): on S3 under
Object Lock until keep-until and verified by hash. Where each copy went is kept in
``disposal_record_copies``; a copy the store did not take is a warning, and the next
``disposition execute`` of the batch (also of an executed one) stores it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from archiver import audit
from archiver.catalog import schema as s
from archiver.catalog.purge import purge_bundle_records
from archiver.clock import now_iso
from archiver.errors import ArchiverError, RetentionError, StorageError
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.retention import tables as t
from archiver.retention.dates import (
    HISTORICAL_OFFER_NOTICE_DAYS,
    long_retention_flag,
    needs_historical_offer,
)
from archiver.retention.eligibility import (
    RetentionSettings,
    compute_eligibility,
    confirmed_refs,
    load_settings,
    parse_time,
    unusable_refs,
)
from archiver.retention.holds import held_bundles, sync_store_holds
from archiver.retention.records import render_record, store_records
from archiver.retention.schedules import Disposal
from archiver.retention.views import (
    ACTIVE_BATCH,
    _batch,
    _confidential,
    batch_detail,
    in_progress,
    list_batches,
    status_section,
)

log = get_logger(__name__)

__all__ = [
    "ExecuteResult",
    "approve",
    "batch_detail",
    "due",
    "execute",
    "in_progress",
    "list_batches",
    "mark_confidential",
    "offer",
    "propose",
    "render_record",
    "roll_forward",
    "status_section",
    "store_records",
]


def _today(settings: RetentionSettings) -> date:
    return datetime.now(settings.tz).date()


def _in_open_batch(conn: Connection) -> set[str]:
    bb, db = t.batch_bundles, t.disposition_batches
    rows = conn.execute(
        select(bb.c.bundle_id)
        .join(db, db.c.id == bb.c.batch_id)
        .where(db.c.status.in_(ACTIVE_BATCH), bb.c.state.in_(("pending", "executing")))
    )
    return {r[0] for r in rows}


def due(
    app: ArchiveParts, settings: RetentionSettings, *, as_of: date | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(due, blocked, warnings): bundles eligible by ``as_of``, and eligible ones that may not go.

    Recomputes eligibility and store holds first, so the list reflects today's captures.
    """
    today = _today(settings)
    as_of = as_of or today
    results, warnings = compute_eligibility(app, settings, today=today)
    if settings.mapping is None:
        warnings.append(
            f"{settings.mapping_problem}: nothing is eligible until the records manager maps "
            "every record class (see retention_schedules/mapping.example.toml)"
        )
    held = held_bundles(app)
    warnings += sync_store_holds(app, held)
    with app.catalog.begin() as conn:
        confirmed = confirmed_refs(conn, settings.schedules)
        batched = _in_open_batch(conn)
        bundles = {
            r.id: r for r in conn.execute(select(s.bundles).where(s.bundles.c.status == "sealed"))
        }
    out: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    for bid, res in sorted(results.items(), key=lambda kv: (str(kv[1].eligible_on), kv[0])):
        if res.eligible_on is None or res.eligible_on > as_of or bid in batched:
            continue
        b = bundles[bid]
        items = [settings.schedules.item(r) for r in res.refs]
        oldest = res.oldest_record_at
        row: dict[str, Any] = {
            "bundle_id": bid,
            "key": b.key,
            "site_id": b.site_id,
            "record_class": b.record_class,
            "eligible_on": res.eligible_on.isoformat(),
            "schedule_items": res.refs,
            "disposal": _path_for(items),
            "record_count": b.record_count,
            "size_bytes": b.size_bytes,
            "first_posted_at": b.first_posted_at,
            "last_posted_at": b.last_posted_at,
            "oldest_record_at": oldest.isoformat() if oldest else None,
            "long_retention": any(long_retention_flag(i) for i in items),
            "needs_historical_offer": bool(
                oldest and needs_historical_offer(oldest, as_of, tz=settings.tz)
            ),
        }
        reasons = []
        # The store's lock can outlast the catalog's date (retention was extended, then the
        # schedule shortened): deleting before it ends would be refused, so it is not due.
        try:
            locked = _store_lock(app, bid, b.key)
        except ArchiverError as exc:
            warnings.append(f"retain-until of bundle {b.key} not readable: {exc}")
            locked = None
        if locked is not None and locked > as_of:
            row["locked_until"] = locked.isoformat()
            reasons.append(f"locked in storage until {locked.isoformat()}")
        if bid in held:
            reasons.append("held: " + ", ".join(held[bid]))
        bad = unusable_refs(settings, res.refs, confirmed)
        if bad:
            reasons.append(
                "unverified schedule item(s) "
                + ", ".join(bad)
                + " not confirmed (archiver schedules confirm ITEM --by NAME)"
            )
        if reasons:
            row["blocked"] = reasons
            blocked.append(row)
        else:
            out.append(row)
    return out, blocked, warnings


def _store_lock(app: ArchiveParts, bundle_id: str, key: str) -> date | None:
    """The store's retain-until for a bundle (None: not locked), kept in ``worm_until``."""
    locked = app.storage.retained_until(key)
    if locked is not None:
        with app.catalog.begin() as conn:
            conn.execute(
                update(t.bundle_eligibility)
                .where(
                    t.bundle_eligibility.c.bundle_id == bundle_id,
                    (t.bundle_eligibility.c.worm_until.is_(None))
                    | (t.bundle_eligibility.c.worm_until < locked.isoformat()),
                )
                .values(worm_until=locked.isoformat())
            )
    return locked


def _path_for(items: list[Any]) -> str:
    return "RM60" if any(i.disposal is Disposal.RM60 for i in items) else "RM88"


def propose(
    app: ArchiveParts, settings: RetentionSettings, *, by: str, as_of: date | None = None
) -> dict[str, Any]:
    """Freeze the current due list into a batch; renders the RM60 request where needed."""
    if not by.strip():
        raise RetentionError("a proposal needs --by NAME")
    rows, _blocked, _warnings = due(app, settings, as_of=as_of)
    as_of = as_of or _today(settings)
    if not rows:
        raise RetentionError(
            f"nothing is due for disposal by {as_of}",
            hint="see archiver disposition due (held, unconfirmed and not-yet-eligible bundles are left out)",
        )
    path = "RM60" if any(r["disposal"] == "RM60" for r in rows) else "RM88"
    year = _today(settings).year  # numbered by the year it was proposed
    with app.catalog.begin() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(t.disposition_batches)
            .where(t.disposition_batches.c.id.like(f"DISP-{year}-%"))
        ).scalar_one()
    batch_id = f"DISP-{year}-{n + 1:04d}"
    with app.catalog.begin() as conn:
        totals = {
            "bundles": len(rows),
            "records": sum(r["record_count"] for r in rows),
            "bytes": sum(r["size_bytes"] for r in rows),
        }
        refs = sorted({ref for r in rows for ref in r["schedule_items"]})
        audit.append(
            conn, actor=by, action="disposition.propose", subject=f"batch:{batch_id}",
            details={"as_of": as_of.isoformat(), "path": path, "totals": totals,
                     "schedule_items": refs, "bundles": [r["bundle_id"] for r in rows]},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        conn.execute(
            t.disposition_batches.insert().values(
                id=batch_id,
                as_of=as_of.isoformat(),
                path=path,
                status="proposed",
                proposed_by=by,
                proposed_at=now_iso(),
            )
        )
        for r in rows:
            conn.execute(
                t.batch_bundles.insert().values(
                    batch_id=batch_id,
                    bundle_id=r["bundle_id"],
                    key=r["key"],
                    site_id=r["site_id"],
                    record_class=r["record_class"],
                    refs_json=json.dumps(r["schedule_items"]),
                    eligible_on=r["eligible_on"],
                    record_count=r["record_count"],
                    size_bytes=r["size_bytes"],
                    first_posted_at=r["first_posted_at"],
                    last_posted_at=r["last_posted_at"],
                    oldest_record_at=r["oldest_record_at"],
                    state="pending",
                )
            )
    warnings: list[str] = []
    if path == "RM60":
        render_record(app, settings, batch_id, form="RM60")
        warnings = store_records(app, batch_id)
    detail = batch_detail(app, batch_id)
    detail["warnings"] = warnings
    log.info("disposition_proposed", batch=batch_id, path=path, **detail["totals"])
    return detail


def approve(
    app: ArchiveParts,
    *,
    batch_id: str,
    by: str,
    title: str,
    authority: str | None = None,
    rm60_approved: date | None = None,
) -> dict[str, Any]:
    """Record the approval by name and title; RM60 batches need the subcommittee's date."""
    if not by.strip() or not title.strip():
        raise RetentionError(f"approving {batch_id} needs --by NAME and --title TITLE")
    with app.catalog.begin() as conn:
        b = _batch(conn, batch_id)
    if b.status != "proposed":
        raise _already(batch_id, b)
    if _same_person(by, b.proposed_by) and not app.cfg.retention.allow_self_approval:
        raise RetentionError(
            f"{by.strip()} proposed batch {batch_id}; another person must approve it",
            hint="the approval is the check on the proposal: ask the approving authority (e.g. "
            "the City Clerk) to run the approve command. A city whose single records officer "
            "must do both can set [retention] allow_self_approval = true; the disposal record "
            "shows the same name as proposer and approver",
        )
    if b.path == "RM60" and rm60_approved is None:
        raise RetentionError(
            f"batch {batch_id} follows the RM60 path: the LGRC disposal subcommittee must "
            "approve it first",
            hint="pass --rm60-approved YYYY-MM-DD once the subcommittee has approved the RM60 request",
        )
    with app.catalog.begin() as conn:
        # Audit first (SQLite: take the write lock before reading), then a conditional update
        # so two approvers racing cannot both succeed; the loser rolls back with its entry.
        audit.append(
            conn, actor=by, action="disposition.approve", subject=f"batch:{batch_id}",
            details={"title": title, "authority": authority, "path": b.path,
                     "rm60_approved": rm60_approved.isoformat() if rm60_approved else None},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        done = conn.execute(
            update(t.disposition_batches)
            .where(
                t.disposition_batches.c.id == batch_id, t.disposition_batches.c.status == "proposed"
            )
            .values(
                status="approved",
                approved_by=by,
                approved_title=title,
                approved_at=now_iso(),
                authority=authority,
                rm60_approved=rm60_approved.isoformat() if rm60_approved else None,
            )
        )
        if done.rowcount != 1:
            raise _already(batch_id, _batch(conn, batch_id))
    log.info("disposition_approved", batch=batch_id, by=by.strip())
    return batch_detail(app, batch_id)


def _already(batch_id: str, b: Any) -> RetentionError:
    by = f" (approved by {b.approved_by} on {b.approved_at[:10]})" if b.approved_by else ""
    return RetentionError(
        f"batch {batch_id} is already {b.status}{by}",
        hint="a batch is approved once; propose a new batch for anything else",
    )


def offer(app: ArchiveParts, *, batch_id: str, to: str, notified: date, by: str) -> dict[str, Any]:
    """Record the MCA 2-6-1205 offer of records more than 50 years old (30 days' notice)."""
    if not to.strip():
        raise RetentionError('an offer needs --to, e.g. "Montana Historical Society"')
    with app.catalog.begin() as conn:
        b = _batch(conn, batch_id)
    if b.status == "executed":
        raise RetentionError(f"batch {batch_id} was already executed; no offer is needed now")
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=by, action="disposition.approve", subject=f"batch:{batch_id}",
            details={"step": "MCA 2-6-1205 offer", "offered_to": to,
                     "notified": notified.isoformat()},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        conn.execute(
            update(t.disposition_batches)
            .where(t.disposition_batches.c.id == batch_id)
            .values(offer_to=to, offer_notified=notified.isoformat())
        )
    return batch_detail(app, batch_id)


def mark_confidential(
    app: ArchiveParts, *, batch_id: str, bundle_ids: list[str], by: str, reason: str
) -> dict[str, Any]:
    """Mark bundles of a batch confidential: they are never offered under MCA 2-6-1205.

    The Secretary of State leaves the confidentiality decision to the local entity, and
    2-6-1205 forbids adding confidential records to the central registry; so the offer step
    does not apply to them. The decision is the City's, by name and with a reason.
    """
    if not by.strip() or not reason.strip():
        raise RetentionError("marking records confidential needs --by NAME and --reason TEXT")
    with app.catalog.begin() as conn:
        b = _batch(conn, batch_id)
        members = {
            r[0]
            for r in conn.execute(
                select(t.batch_bundles.c.bundle_id).where(t.batch_bundles.c.batch_id == batch_id)
            )
        }
    if b.status == "executed":
        raise RetentionError(f"batch {batch_id} was already executed")
    unknown = [x for x in bundle_ids if x not in members]
    if unknown or not bundle_ids:
        raise RetentionError(
            f"bundle(s) {', '.join(unknown) or '(none given)'} not in batch {batch_id}",
            hint=f"see archiver disposition show {batch_id}",
        )
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=by, action="disposition.approve", subject=f"batch:{batch_id}",
            details={"step": "confidential", "bundles": sorted(bundle_ids), "reason": reason},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        at = now_iso()
        for bundle_id in sorted(set(bundle_ids)):
            conn.execute(
                t.confidential_bundles.delete().where(
                    t.confidential_bundles.c.batch_id == batch_id,
                    t.confidential_bundles.c.bundle_id == bundle_id,
                )
            )
            conn.execute(
                t.confidential_bundles.insert().values(
                    batch_id=batch_id,
                    bundle_id=bundle_id,
                    marked_by=by,
                    marked_at=at,
                    reason=reason,
                )
            )
    return batch_detail(app, batch_id)


@dataclass
class ExecuteResult:
    batch_id: str
    status: str
    disposed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    already_done: bool = False
    records: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def execute(
    app: ArchiveParts,
    settings: RetentionSettings,
    *,
    batch_id: str,
    by: str | None = None,
    today: date | None = None,
) -> ExecuteResult:
    """Dispose of an approved batch, bundle by bundle, re-checking each one; safe to re-run."""
    by = by or audit.current_actor()
    today = today or _today(settings)
    with app.catalog.begin() as conn:
        b = _batch(conn, batch_id)
    if b.status == "executed":
        done = ExecuteResult(batch_id, "executed", already_done=True)
        with app.catalog.begin() as conn:
            has_record = conn.execute(
                select(t.disposal_records.c.id).where(
                    t.disposal_records.c.batch_id == batch_id, t.disposal_records.c.form == "RM88"
                )
            ).first()
        # Crashed between marking the batch executed and writing its record.
        if has_record is None and _any_disposed(app, batch_id):
            done.records = render_record(app, settings, batch_id, form="RM88")
        # A record the store did not take last time (unreachable, crash) is stored now.
        done.warnings = store_records(app, batch_id)
        return done
    if b.status == "proposed":
        raise RetentionError(
            f"batch {batch_id} is not approved; nothing was deleted",
            hint=f"archiver disposition approve {batch_id} --by NAME --title TITLE",
        )
    if b.path == "RM60" and not b.rm60_approved:
        raise RetentionError(f"batch {batch_id} has no RM60 approval date; nothing was deleted")
    result = ExecuteResult(batch_id, b.status)
    results, result.warnings = compute_eligibility(app, settings, today=today)
    held = held_bundles(app)
    # A released hold may still be set in the store (sync failed earlier): clear it first.
    result.warnings += sync_store_holds(app, held)
    with app.catalog.begin() as conn:
        if b.status == "approved":  # write first: SQLite takes the write lock before reading
            conn.execute(
                update(t.disposition_batches)
                .where(t.disposition_batches.c.id == batch_id)
                .values(status="executing")
            )
        confirmed = confirmed_refs(conn, settings.schedules)
        confidential = _confidential(conn, batch_id)
        rows = list(
            conn.execute(
                select(t.batch_bundles)
                .where(
                    t.batch_bundles.c.batch_id == batch_id,
                    t.batch_bundles.c.state.in_(("pending", "executing")),
                )
                .order_by(t.batch_bundles.c.bundle_id)
            )
        )
    approvals = _approvals(b)
    for row in rows:
        # The bundle may already be gone (crash after the delete): finish its tombstone. The
        # delete is repeated first (it is idempotent): a crash mid-delete can leave data
        # objects behind a bundle that no longer looks present.
        if row.state == "executing" and not _exists(app, row.key, batch_id):
            _delete(app, row.key, batch_id)
            _tombstone(app, row, approvals, by, batch_id)
            result.disposed.append(row.bundle_id)
            continue
        why, wait = _refusal(row, b, results, held, confirmed, confidential, settings, today)
        if why is None:
            locked = _locked_until(app, row, batch_id)
            if locked is not None and locked > today:
                # Not an error: the store will refuse the delete until then, so skip it
                # instead of stopping the whole batch at this bundle on every run.
                why = f"locked in storage until {locked.isoformat()}"
        if why is not None:
            state = "pending" if wait else "skipped"
            with app.catalog.begin() as conn:
                conn.execute(
                    update(t.batch_bundles)
                    .where(
                        t.batch_bundles.c.batch_id == batch_id,
                        t.batch_bundles.c.bundle_id == row.bundle_id,
                    )
                    .values(state=state, note=why)
                )
            (result.waiting if wait else result.skipped)[row.bundle_id] = why
            continue
        with app.catalog.begin() as conn:
            conn.execute(
                update(t.batch_bundles)
                .where(
                    t.batch_bundles.c.batch_id == batch_id,
                    t.batch_bundles.c.bundle_id == row.bundle_id,
                )
                .values(state="executing", note=None)
            )
        _delete(app, row.key, batch_id)
        _tombstone(app, row, approvals, by, batch_id)
        result.disposed.append(row.bundle_id)
    with app.catalog.begin() as conn:
        left = conn.execute(
            select(func.count())
            .select_from(t.batch_bundles)
            .where(
                t.batch_bundles.c.batch_id == batch_id,
                t.batch_bundles.c.state.in_(("pending", "executing")),
            )
        ).scalar_one()
    status = "executing" if left else "executed"
    with app.catalog.begin() as conn:
        if status == "executed":
            audit.append(
                conn, actor=by, action="disposition.execute", subject=f"batch:{batch_id}",
                details={"disposed_now": len(result.disposed), "skipped": result.skipped},
                anchor_path=app.cfg.audit_anchor,
            )  # fmt: skip
            conn.execute(
                update(t.disposition_batches)
                .where(t.disposition_batches.c.id == batch_id)
                .values(status="executed", executed_by=by, executed_at=now_iso())
            )
    result.status = status
    if status == "executed" and _any_disposed(app, batch_id):
        result.records = render_record(app, settings, batch_id, form="RM88")
    if status == "executed":
        result.warnings += store_records(app, batch_id)
    log.info(
        "disposition_executed",
        batch=batch_id,
        status=status,
        disposed=len(result.disposed),
        skipped=len(result.skipped),
        waiting=len(result.waiting),
    )
    return result


def _any_disposed(app: ArchiveParts, batch_id: str) -> bool:
    """An RM88 record documents a destruction; a batch that destroyed nothing gets none."""
    with app.catalog.begin() as conn:
        return (
            conn.execute(
                select(t.batch_bundles.c.bundle_id).where(
                    t.batch_bundles.c.batch_id == batch_id,
                    t.batch_bundles.c.state == "disposed",
                )
            ).first()
            is not None
        )


def _same_person(a: str, b: str | None) -> bool:
    return b is not None and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _delete(app: ArchiveParts, key: str, batch_id: str) -> None:
    try:
        app.storage.delete(key)
    except ArchiverError as exc:
        raise StorageError(
            f"disposition {batch_id}: could not delete bundle {key} from "
            f"{app.storage.name} storage: {exc}",
            hint=f"nothing was marked disposed for it; fix the storage and run "
            f"archiver disposition execute {batch_id} again",
        ) from exc


def _locked_until(app: ArchiveParts, row: Any, batch_id: str) -> date | None:
    try:
        return _store_lock(app, row.bundle_id, row.key)
    except ArchiverError as exc:
        raise StorageError(
            f"disposition {batch_id}: cannot read the retention of {row.key} from "
            f"{app.storage.name} storage: {exc}",
            hint="nothing was marked disposed; run execute again when the storage is reachable",
        ) from exc


def _exists(app: ArchiveParts, key: str, batch_id: str) -> bool:
    try:
        return app.storage.exists(key)
    except ArchiverError as exc:
        raise StorageError(
            f"disposition {batch_id}: cannot reach {app.storage.name} storage to check {key}: {exc}",
            hint="nothing was marked disposed; run execute again when the storage is reachable",
        ) from exc


def _refusal(
    row: Any,
    batch: Any,
    results: dict[str, Any],
    held: dict[str, list[str]],
    confirmed: set[str],
    confidential: set[str],
    settings: RetentionSettings,
    today: date,
) -> tuple[str | None, bool]:
    """Why this bundle may not go today (and whether waiting will fix it), or (None, False)."""
    res = results.get(row.bundle_id)
    if res is None:
        return "bundle is no longer a sealed bundle in the catalog", False
    if res.eligible_on is None or res.eligible_on > today:
        when = (
            res.eligible_on.isoformat()
            if res.eligible_on
            else "never (" + "; ".join(res.reasons) + ")"
        )
        return f"not eligible on {today}: eligible {when}", False
    if row.bundle_id in held:
        return "held: " + ", ".join(held[row.bundle_id]), False
    bad = unusable_refs(settings, res.refs, confirmed)
    if bad:
        return "unconfirmed unverified schedule item(s) " + ", ".join(bad), False
    oldest = parse_time(row.oldest_record_at)
    # Confidential records must never go to the 2-6-1205 registry, so there is no offer.
    if (
        oldest is not None
        and row.bundle_id not in confidential
        and needs_historical_offer(oldest, today, tz=settings.tz)
    ):
        if not batch.offer_notified:
            return (
                "records more than 50 years old: record the MCA 2-6-1205 offer first "
                f'(archiver disposition offer {batch.id} --to "Montana Historical Society" '
                "--notified DATE)",
                True,
            )
        ready = date.fromisoformat(batch.offer_notified) + timedelta(
            days=HISTORICAL_OFFER_NOTICE_DAYS
        )
        if today < ready:
            return f"MCA 2-6-1205 notice runs until {ready}", True
    return None, False


def _approvals(b: Any) -> dict[str, Any]:
    return {
        "path": b.path,
        "proposed_by": b.proposed_by,
        "proposed_at": b.proposed_at,
        "approved_by": b.approved_by,
        "approved_title": b.approved_title,
        "approved_at": b.approved_at,
        "authority": b.authority,
        "rm60_approved": b.rm60_approved,
        "offer_to": b.offer_to,
        "offer_notified": b.offer_notified,
    }


def _tombstone(
    app: ArchiveParts, row: Any, approvals: dict[str, Any], by: str, batch_id: str
) -> None:
    """Tombstone, status, the catalog's copy of the records, and the audit entry in one
    transaction (after the bytes are gone): a destroyed record must not stay searchable."""
    at = now_iso()
    with app.catalog.begin() as conn:
        purged = purge_bundle_records(conn, row.bundle_id)
        audit.append(
            conn, actor=by, action="disposition.execute", subject=f"bundle:{row.bundle_id}",
            details={"batch": batch_id, "key": row.key, "record_count": row.record_count,
                     "schedule_items": json.loads(row.refs_json),
                     "catalog_purged": {"versions": purged.versions, "items": purged.items,
                                        "followers": purged.followers}},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        bundle = conn.execute(select(s.bundles).where(s.bundles.c.id == row.bundle_id)).first()
        files = {
            f.relpath: f.sha256
            for f in conn.execute(
                select(s.bundle_files).where(s.bundle_files.c.bundle_id == row.bundle_id)
            )
        }
        conn.execute(
            t.tombstones.insert().values(
                bundle_id=row.bundle_id,
                batch_id=batch_id,
                key=row.key,
                site_id=row.site_id,
                record_class=row.record_class,
                schedule_items_json=row.refs_json,
                record_count=row.record_count,
                first_posted_at=row.first_posted_at,
                last_posted_at=row.last_posted_at,
                tagmanifest_sha256=bundle.tagmanifest_sha256 if bundle else "",
                files_json=json.dumps(files, sort_keys=True),
                approvals_json=json.dumps(approvals, sort_keys=True),
                executed_at=at,
                executed_by=by,
            )
        )
        conn.execute(
            update(s.bundles).where(s.bundles.c.id == row.bundle_id).values(status="disposed")
        )
        conn.execute(
            update(t.batch_bundles)
            .where(
                t.batch_bundles.c.batch_id == batch_id, t.batch_bundles.c.bundle_id == row.bundle_id
            )
            .values(state="disposed", note=None)
        )
        conn.execute(t.store_holds.delete().where(t.store_holds.c.bundle_id == row.bundle_id))


def roll_forward(app: ArchiveParts, *, by: str | None = None) -> list[ExecuteResult]:
    """Finish every batch whose execution was interrupted (``recover``, daemon start).

    Runs ``execute`` again for the batch: it was approved and a person started executing
    it; execution re-checks every remaining bundle against today (holds, eligibility,
    confirmations), finishes the tombstone of a bundle already deleted, and completes the
    batch. ``by`` (default: whoever runs recover) is recorded as the executor of the rest.
    """
    batches = sorted(set(in_progress(app.catalog).values()))
    if not batches:
        return []
    settings = load_settings(app.cfg)
    by = by or f"{audit.current_actor()} (archiver recover)"
    return [execute(app, settings, batch_id=b, by=by) for b in batches]
