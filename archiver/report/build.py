"""Fill ``ReportData`` from the catalog, write the report files, send them, record delivery.

A month is a calendar month in the archive's zone (America/Denver), so "October" means what the
Clerk means, not UTC's October. The catalog stores UTC ISO-8601 text; the month's bounds are
converted to the same text form and compared in SQL.

Disposition is ``None`` (the report prints "not yet available" rather than a misleading
"nothing to report") until eligibility dates have been computed or a batch has been proposed.
Batches awaiting approval are ``disposition_batches`` rows still ``proposed``, with bundle and
record totals from ``batch_bundles``. Overdue records requests are decided by
``archiver.prr.deadlines.is_overdue``, the one place that computes it.

``produce_report`` always writes the files under ``<archive root>/reports/YYYY-MM/`` first, then
sends; a failed send is recorded in ``report_deliveries`` and shown by ``archiver status``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    MetaData,
    Table,
    func,
    inspect,
    select,
)

from archiver import audit
from archiver.catalog import schema as s
from archiver.catalog.sql import SAReader
from archiver.config import SiteConfig
from archiver.coverage import CoverageGap, all_gaps
from archiver.errors import ArchiverError, ReportError
from archiver.log import get_logger
from archiver.prr import requests as prr
from archiver.prr.deadlines import is_overdue
from archiver.report.model import (
    AuthenticityLine,
    BatchLine,
    ComplianceLine,
    ComplianceSection,
    DispositionSection,
    DueLine,
    FailureLine,
    FastLaneLine,
    FixityLine,
    HoldLine,
    ReportData,
    RequestLine,
    RequestsSection,
    SiteSection,
    Totals,
)
from archiver.report.status import status_section as status_section
from archiver.report.tables import report_deliveries as report_deliveries
from archiver.retention import tables as rt

if TYPE_CHECKING:
    from archiver.parts import ArchiveParts

log = get_logger(__name__)

HISTORY_MONTHS = 12
COMMENT_KINDS = ("comment", "reply")
REMOVAL_EVENTS = ("removed_upstream", "hidden_upstream")
_AWAITING_APPROVAL = "proposed"  # disposition_batches.status before anyone approves


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of ``YYYY-MM`` in zone ``tz``, as aware datetimes."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=ZoneInfo(tz))
    except ValueError:
        raise ReportError(
            f"report month {month!r} is not YYYY-MM", hint="e.g. --month 2026-10"
        ) from None
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=ZoneInfo(tz))
    return start, end


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _token_date(value: str | None) -> date | None:
    if not value or value == "never":
        return None
    parsed = _parse(value)
    if parsed is not None:
        return parsed.date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _shift_month(month: str, delta: int) -> str:
    year, mon = (int(p) for p in month.split("-"))
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _counts(conn: Connection, query: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute(query).all()}


@dataclass
class _Window:
    lo: str
    hi: str


def _site_section(conn: Connection, site_row: Any, cfg_site: Any, w: _Window) -> SiteSection:
    sid = site_row.id
    kinds = _counts(
        conn,
        select(s.items.c.kind, func.count())
        .where(
            s.items.c.site_id == sid,
            s.items.c.first_captured_at >= w.lo,
            s.items.c.first_captured_at < w.hi,
        )
        .group_by(s.items.c.kind),
    )
    # The first follower list of a site is its baseline, not people who followed this month.
    baseline = conn.execute(
        select(s.follower_snapshots.c.run_id)
        .where(s.follower_snapshots.c.site_id == sid, s.follower_snapshots.c.identities.is_(True))
        .order_by(s.follower_snapshots.c.id)
        .limit(1)
    ).scalar()
    moves = _counts(
        conn,
        select(s.follower_events.c.event, func.count())
        .where(
            s.follower_events.c.site_id == sid,
            s.follower_events.c.at >= w.lo,
            s.follower_events.c.at < w.hi,
            s.follower_events.c.run_id != (baseline or ""),
        )
        .group_by(s.follower_events.c.event),
    )
    snapshot = conn.execute(
        select(s.follower_snapshots.c.count, s.follower_snapshots.c.identities)
        .where(s.follower_snapshots.c.site_id == sid, s.follower_snapshots.c.taken_at < w.hi)
        .order_by(s.follower_snapshots.c.taken_at.desc(), s.follower_snapshots.c.id.desc())
        .limit(1)
    ).first()
    events = _counts(
        conn,
        select(s.item_events.c.event, func.count())
        .join(s.items, s.items.c.id == s.item_events.c.item_id)
        .where(
            s.items.c.site_id == sid,
            s.item_events.c.at >= w.lo,
            s.item_events.c.at < w.hi,
        )
        .group_by(s.item_events.c.event),
    )
    runs = conn.execute(
        select(s.runs.c.status, s.runs.c.started_at, s.runs.c.error)
        .where(s.runs.c.site_id == sid, s.runs.c.started_at >= w.lo, s.runs.c.started_at < w.hi)
        .order_by(s.runs.c.started_at)
    ).all()
    failures = [
        FailureLine(at=_parse(r.started_at) or datetime.now(UTC), cause=r.error or "unknown cause")
        for r in runs
        if r.status == "failed"
    ]
    degr = conn.execute(
        select(s.degradations.c.capability, s.degradations.c.reason)
        .where(
            s.degradations.c.site_id == sid,
            s.degradations.c.at >= w.lo,
            s.degradations.c.at < w.hi,
        )
        .distinct()
    ).all()
    admins = (
        [f"{a.name} ({a.role})" if a.role else a.name for a in cfg_site.administrators]
        if (cfg_site is not None)
        else []
    )
    return SiteSection(
        site_id=sid,
        platform=site_row.platform,
        account=site_row.account,
        department=(cfg_site.department if cfg_site is not None else site_row.department) or "",
        administrators=admins,
        has_it_admin=bool(cfg_site is not None and cfg_site.has_it_admin),
        posts_captured=kinds.get("post", 0),
        comments_captured=sum(kinds.get(k, 0) for k in COMMENT_KINDS),
        followers_gained=moves.get("followed", 0),
        followers_lost=moves.get("unfollowed", 0),
        follower_count=None if snapshot is None else int(snapshot[0]),
        follower_identities=bool(snapshot[1]) if snapshot is not None else False,
        edits_detected=events.get("edited", 0),
        removals_detected=sum(events.get(k, 0) for k in REMOVAL_EVENTS),
        runs_ok=sum(1 for r in runs if r.status == "succeeded"),
        runs_failed=len(failures),
        failures=failures,
        token_expires=_token_date(site_row.token_expires),
        degradations=[f"{d.capability}: {d.reason}" for d in degr],
    )


@dataclass(frozen=True)
class _UnharvestedSite:
    """Looks like a ``sites`` row for a site that is configured but not yet in the catalog."""

    id: str
    platform: str
    account: str
    department: str
    token_expires: str | None


def _unharvested(site: SiteConfig) -> _UnharvestedSite:
    return _UnharvestedSite(
        site.id, site.platform, site.account, site.department, site.token_expires
    )


def _fixity(conn: Connection) -> FixityLine | None:
    """The latest fixity pass: bundles verified within a day of the newest verification."""
    latest = conn.execute(select(func.max(s.bundles.c.last_verified_at))).scalar()
    checked_at = _parse(latest)
    if checked_at is None:
        return None
    since = _utc_text(checked_at - timedelta(days=1))
    checked = conn.execute(
        select(func.count()).where(
            s.bundles.c.last_verified_at >= since, s.bundles.c.status == "sealed"
        )
    ).scalar()
    bad = conn.execute(
        select(s.bundles.c.id, s.bundles.c.last_verified_at)
        .where(s.bundles.c.last_verify_ok.is_(False), s.bundles.c.status == "sealed")
        .order_by(s.bundles.c.id)
    ).all()
    failures = [
        f"bundle {b.id} failed its fixity check on {(b.last_verified_at or '')[:10]}; "
        f"run `archiver verify --all` and restore it from a copy"
        for b in bad
    ]
    return FixityLine(checked_at=checked_at, bundles_checked=int(checked or 0), failures=failures)


def _reflect(conn: Connection, name: str) -> Table | None:
    """A colleague's table, if it exists in this catalog (never created from here)."""
    if not inspect(conn).has_table(name):
        return None
    return Table(name, MetaData(), autoload_with=conn)


def _col(row: Any, *names: str) -> Any:
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    return None


#: What a proposed batch still needs before ``archiver disposition execute`` will run it; the
#: wording follows ``archiver.retention.disposition.approve`` (the batch's ``path`` column).
_APPROVAL_NEEDED = {
    "RM88": (
        "approval by the City's approving authority (governing body or its delegate), by name "
        "and title (RM88 path)"
    ),
    "RM60": (
        "approval of the RM60 request by the Local Government Records Committee's disposal "
        "subcommittee, then the City's approval by name and title (RM60 path)"
    ),
}


def approval_needed(path: str) -> str:
    """Who must approve a proposed batch on disposal ``path`` (RM88 or RM60)."""
    return _APPROVAL_NEEDED.get(path, f"approval by name and title ({path} path)")


def _awaiting_approval(conn: Connection, now: datetime) -> list[BatchLine]:
    """Proposed batches (not yet approved), with bundle and record totals from their members."""
    db, bb = rt.disposition_batches, rt.batch_bundles
    rows = conn.execute(
        select(
            db.c.id,
            db.c.path,
            db.c.proposed_at,
            func.count(bb.c.bundle_id).label("bundles"),
            func.coalesce(func.sum(bb.c.record_count), 0).label("records"),
        )
        .select_from(db.outerjoin(bb, bb.c.batch_id == db.c.id))
        .where(db.c.status == _AWAITING_APPROVAL)
        .group_by(db.c.id, db.c.path, db.c.proposed_at)
        .order_by(db.c.id)
    ).all()
    return [
        BatchLine(
            batch_id=r.id,
            proposed_on=(_parse(r.proposed_at) or now).astimezone(now.tzinfo).date(),
            bundles=int(r.bundles),
            records=int(r.records),
            needs=approval_needed(r.path),
        )
        for r in rows
    ]


def _disposition(conn: Connection, now: datetime) -> DispositionSection | None:
    today = now.date()
    computed = conn.execute(
        select(func.count()).where(s.bundles.c.eligible_on.is_not(None))
    ).scalar()
    awaiting = _awaiting_approval(conn, now)
    if not computed and not awaiting:
        # No dates and nothing proposed: "none due" would be a guess, so say "not yet available".
        return None
    windows: list[list[DueLine]] = [[], [], []]
    if computed:
        horizon = (today + timedelta(days=90)).isoformat()
        rows = conn.execute(
            select(
                s.bundles.c.id,
                s.bundles.c.site_id,
                s.bundles.c.record_class,
                s.bundles.c.eligible_on,
                s.bundles.c.record_count,
            )
            .where(
                s.bundles.c.status == "sealed",
                s.bundles.c.eligible_on.is_not(None),
                s.bundles.c.eligible_on <= horizon,
            )
            .order_by(s.bundles.c.eligible_on, s.bundles.c.id)
        ).all()
        for r in rows:
            when = date.fromisoformat(r.eligible_on)
            days = (when - today).days
            slot = 0 if days <= 30 else 1 if days <= 60 else 2
            windows[slot].append(
                DueLine(r.site_id, r.id, r.record_class, when, int(r.record_count))
            )
    flags = (
        []
        if computed
        else ["Eligibility dates have not been computed yet; the due lists above are not final."]
    )
    return DispositionSection(windows[0], windows[1], windows[2], awaiting, flags)


def long_retention_sentences(app: ArchiveParts) -> list[str]:
    """One sentence per mapped schedule item kept more than 10 years (ARM 44.14.202).

    Why in the monthly report: the current rule (amended 2015) asks that the electronic system
    holding such records follow ARMA's Generally Accepted Recordkeeping Principles, so the
    records manager sees, every month, which of the City's classes it covers.
    """
    from archiver.errors import ArchiverError
    from archiver.retention.dates import (
        LONG_RETENTION_RULE,
        LONG_RETENTION_YEARS,
        long_retention_flag,
    )
    from archiver.retention.eligibility import load_settings
    from archiver.retention.mapping import RECORD_CLASSES
    from archiver.retention.schedules import ScheduleItem

    try:
        mapping = load_settings(app.cfg).mapping
    except ArchiverError:
        return []  # the retention section is broken; `archiver schedules check` explains it
    if mapping is None:
        return []
    classes_of: dict[str, list[str]] = {}
    items: dict[str, ScheduleItem] = {}
    for site in [None, *(site_cfg.id for site_cfg in app.cfg.sites)]:
        for record_class in RECORD_CLASSES:
            try:
                item = mapping.item_for(record_class, site)
            except ArchiverError:
                continue
            if site is not None and item == mapping.item_for(record_class, None):
                continue  # no override for this site
            if long_retention_flag(item):
                label = record_class.replace("_", " ") + (f" (site {site})" if site else "")
                classes_of.setdefault(item.ref, []).append(label)
                items[item.ref] = item
    return [
        f"{ref} ({items[ref].title}; kept {items[ref].retention}) covers "
        f"{', '.join(classes)}: more than {LONG_RETENTION_YEARS} years. {LONG_RETENTION_RULE}."
        for ref, classes in sorted(classes_of.items())
    ]


def _holds(conn: Connection) -> list[HoldLine] | None:
    t = _reflect(conn, "legal_holds")
    if t is None:
        return None
    q = select(t)
    if "released_at" in t.c:
        q = q.where(t.c.released_at.is_(None))
    elif "status" in t.c:
        q = q.where(t.c.status == "active")
    out = []
    for row in conn.execute(q).mappings():
        placed = _col(row, "placed_at", "created_at")
        placed_dt = placed if isinstance(placed, datetime) else _parse(str(placed or ""))
        out.append(
            HoldLine(
                name=str(_col(row, "name", "id")),
                matter=str(_col(row, "matter", "reason", "description") or ""),
                placed_at=(placed_dt or datetime.now(UTC)).astimezone(UTC),
                placed_by=str(_col(row, "placed_by", "created_by") or ""),
            )
        )
    return out


def _requests(conn: Connection, today: date) -> RequestsSection:
    """Open records requests; "overdue" is decided by ``archiver.prr.deadlines.is_overdue``."""
    rr = prr.records_requests
    rows = conn.execute(
        select(rr.c.id, rr.c.received, rr.c.respond_by, rr.c.description)
        .where(rr.c.status == prr.STATUS_OPEN)
        .order_by(rr.c.respond_by, rr.c.id)
    ).all()
    overdue = []
    for row in rows:
        target = date.fromisoformat(row.respond_by)
        if is_overdue(target, today):
            overdue.append(
                RequestLine(
                    request_id=row.id,
                    received_on=date.fromisoformat(row.received),
                    target_on=target,
                    summary=row.description,
                )
            )
    return RequestsSection(open=len(rows), overdue=overdue)


def build_report_data(app: ArchiveParts, month: str, *, now: datetime | None = None) -> ReportData:
    """Everything the report for ``month`` says, read from the catalog and the config."""
    tz = app.cfg.timezone
    start, end = month_bounds(month, tz)
    generated = (now or datetime.now(UTC)).astimezone(ZoneInfo(tz))
    w = _Window(_utc_text(start), _utc_text(end))
    configured = {site.id: site for site in app.cfg.sites}
    notes: list[str] = []
    with app.catalog.begin() as conn:
        site_rows: list[Any] = list(conn.execute(select(s.sites).order_by(s.sites.c.id)).all())
        known = {r.id for r in site_rows}
        # A configured site that was never harvested still belongs in the report: zero captures
        # and a missing IT administrator are exactly what the Clerk needs to see.
        site_rows += [_unharvested(c) for c in app.cfg.sites if c.id not in known]
        site_rows.sort(key=lambda r: r.id)
        sections = [_site_section(conn, r, configured.get(r.id), w) for r in site_rows]
        fast = _fastlane(conn, app, start, end)
        sections = [replace(sec, fastlane=fast.get(sec.site_id)) for sec in sections]
        bundles = conn.execute(
            select(func.count()).where(s.bundles.c.sealed_at >= w.lo, s.bundles.c.sealed_at < w.hi)
        ).scalar()
        stored = conn.execute(
            select(func.coalesce(func.sum(s.bundles.c.size_bytes), 0)).where(
                s.bundles.c.status == "sealed"
            )
        ).scalar()
        fixity = _fixity(conn)
        from archiver.catalog.worm_state import warning_lines

        storage_warnings = warning_lines(app.cfg, SAReader(conn))
        disposition = _disposition(conn, generated)
        if disposition is not None:
            disposition.long_retention_flags.extend(long_retention_sentences(app))
        holds = _holds(conn)
        requests = _requests(conn, generated.date())
        compliance = _compliance(conn, w)
        coverage = _coverage(conn, app, start, end, generated)
    never = sorted(set(configured) - known)
    if never:
        notes.append("configured but never harvested: " + ", ".join(never))
    for sec in sections:
        if sec.site_id not in configured:
            notes.append(f"{sec.site_id} is archived but no longer in the configuration")
    totals = Totals.from_sites(
        sections, bundles_sealed=int(bundles or 0), bytes_stored=int(stored or 0)
    )
    city = app.cfg.city.removeprefix("City of ").strip() or app.cfg.city
    return ReportData(
        month=month,
        generated_at=generated,
        city=city,
        sites=sections,
        totals=totals,
        disposition=disposition,
        holds=holds,
        fixity=fixity,
        requests=requests,
        notes=notes,
        storage_warnings=storage_warnings,
        authenticity=authenticity_line(app),
        coverage=coverage,
        compliance=compliance,
    )


def _fastlane(
    conn: Connection, app: ArchiveParts, start: datetime, end: datetime
) -> dict[str, FastLaneLine]:
    """Per followed site: the month's fast-lane latency (sealed in the month) and misses."""
    from archiver.fastlane import latency

    target = app.cfg.fastlane.target
    figures = latency.per_site(SAReader(conn), lo=start, hi=end)
    missed = latency.miss_counts(SAReader(conn), target, lo=start, hi=end)
    out: dict[str, FastLaneLine] = {}
    for site in set(figures) | set(missed):
        f = figures.get(site)
        out[site] = FastLaneLine(
            captured=int(f["count"]) if f else 0,
            p50=f["p50"] if f else None,
            p95=f["p95"] if f else None,
            misses=missed.get(site, 0),
            target=target,
        )
    return out


def _compliance(conn: Connection, w: _Window) -> ComplianceSection:
    """Findings open now, plus the month's opened and acknowledged counts."""
    from archiver.compliance.engine import site_findings

    found = site_findings(conn)
    return ComplianceSection(
        open=[
            ComplianceLine(f.id, f.site_id, f.rule, f.status, f.subject, f.message, f.first_seen)
            for f in found
            if f.open
        ],
        opened_in_month=sum(1 for f in found if f.status == "fail" and w.lo <= f.first_seen < w.hi),
        acked_in_month=sum(1 for f in found if f.acked_at and w.lo <= f.acked_at < w.hi),
    )


def _coverage(
    conn: Connection, app: ArchiveParts, start: datetime, end: datetime, generated: datetime
) -> list[CoverageGap]:
    """Coverage gaps (archiver.coverage) that were seen or open during the month."""
    upto = min(end, generated)
    gaps = all_gaps(SAReader(conn), list(app.cfg.sites), since=start, now=upto, tz=app.cfg.timezone)
    return [g for g in gaps if g.start < end]


def capture_history(
    app: ArchiveParts, month: str, months: int = HISTORY_MONTHS
) -> dict[str, dict[str, int]]:
    """Posts + comments first captured per site for the ``months`` before ``month``."""
    tz = app.cfg.timezone
    history: dict[str, dict[str, int]] = {}
    kinds = ("post", *COMMENT_KINDS)
    with app.catalog.begin() as conn:
        for back in range(months - 1, 0, -1):
            m = _shift_month(month, -back)
            start, end = month_bounds(m, tz)
            rows = conn.execute(
                select(s.items.c.site_id, func.count())
                .where(
                    s.items.c.kind.in_(kinds),
                    s.items.c.first_captured_at >= _utc_text(start),
                    s.items.c.first_captured_at < _utc_text(end),
                )
                .group_by(s.items.c.site_id)
            ).all()
            history[m] = {sid: int(n) for sid, n in rows}
    return history


@dataclass
class ReportOutcome:
    month: str
    out_dir: Path
    paths: list[Path] = field(default_factory=list)
    sent: bool = False
    error: str | None = None
    data: ReportData | None = None


def report_dir(app: ArchiveParts, month: str) -> Path:
    return app.cfg.root / "reports" / month


def produce_report(
    app: ArchiveParts, month: str, *, send: bool, out_dir: Path | None = None
) -> ReportOutcome:
    """Build, keep on disk (always), then optionally e-mail; a failed send is recorded, not raised.

    The archive copy under ``<root>/reports/YYYY-MM/`` is written even when ``out_dir`` names
    another folder, so the record of what was reported never depends on the mail server.
    """
    from archiver.report.mailer import build_message, send_report
    from archiver.report.render import write_report
    from archiver.report.settings import smtp_settings

    data = build_report_data(app, month)
    history = capture_history(app, month)
    keep = report_dir(app, month)
    outcome = ReportOutcome(month=month, out_dir=out_dir or keep, data=data)
    outcome.paths = write_report(data, keep, history)
    if out_dir is not None and out_dir.resolve() != keep.resolve():
        outcome.paths = write_report(data, out_dir, history)
    log.info("report_written", month=month, out_dir=str(outcome.out_dir), files=len(outcome.paths))
    if not send:
        return outcome
    endpoint: str | None = None
    recipients = 0
    try:
        settings = smtp_settings(app.cfg)
        endpoint, recipients = settings.endpoint, len(settings.recipients)
        chart = next((p for p in outcome.paths if p.suffix == ".png"), None)
        message = build_message(data, settings, chart.read_bytes() if chart else None)
        send_report(message, settings)
        outcome.sent = True
    except ArchiverError as exc:
        outcome.error = str(exc)
        log.error("report_not_delivered", month=month, error=outcome.error)
    _record_delivery(app, outcome, endpoint, recipients)
    return outcome


def _record_delivery(
    app: ArchiveParts, outcome: ReportOutcome, endpoint: str | None, n: int
) -> None:
    with app.catalog.begin() as conn:
        conn.execute(
            report_deliveries.insert().values(
                month=outcome.month,
                attempted_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                ok=outcome.sent,
                recipients=n,
                endpoint=endpoint,
                out_dir=str(outcome.out_dir),
                error=outcome.error,
            )
        )


def to_json(data: ReportData) -> dict[str, Any]:
    """A plain-JSON view for ``archiver report --json`` (dates as ISO text)."""
    from dataclasses import asdict

    plain: dict[str, Any] = json.loads(json.dumps(asdict(data), default=str))
    return plain


def authenticity_line(app: ArchiveParts) -> AuthenticityLine:
    """Read-only: the audit head, newest checkpoint, keys, quarantine, waiting timestamps."""
    from archiver.errors import StorageError
    from archiver.integrity.admit import quarantined
    from archiver.integrity.checkpoints import latest_checkpoint
    from archiver.integrity.keys import TrustStore, trusted_keys_path
    from archiver.integrity.status import status_section

    with app.catalog.begin() as conn:
        seq, digest = audit.head(conn)
    try:
        cp = latest_checkpoint(app.storage)
    except (StorageError, ValueError, KeyError):
        cp = None
    trust = TrustStore.load(trusted_keys_path(app.cfg.root))
    with app.catalog.begin() as conn:
        pending = int(status_section(app.cfg, SAReader(conn))["integrity"]["timestamps_pending"])
    return AuthenticityLine(
        audit_seq=seq,
        audit_hash=digest,
        checkpoint=None
        if cp is None
        else f"checkpoint {cp.n}: seq {cp.seq} {cp.entry_hash} sealed {cp.at[:19]} UTC",
        signing_keys=[]
        if trust is None
        else [
            f"ed25519 {k.fingerprint} ({'current' if k.valid_until is None else 'retired'})"
            for k in trust.keys
        ],
        quarantined=[f"{q['key']}: {q['reason']}" for q in quarantined(app.catalog)],
        timestamps_pending=pending,
    )
