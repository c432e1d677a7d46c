"""The operations the harvester and the CLI call: check + alert, acknowledge, announce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from archiver import audit
from archiver.catalog.store import Catalog
from archiver.compliance.engine import (
    StoredFinding,
    evaluate_site,
    mark_alerted,
    to_alert,
)
from archiver.compliance.tables import compliance_findings, profile_expectations
from archiver.config import Config, SiteConfig
from archiver.errors import ArchiverError, ConfigError, ReportError


@dataclass(slots=True)
class CheckResult:
    findings: list[StoredFinding]
    alerted: list[int] = field(default_factory=list)
    alert_error: str | None = None
    """Why new failures were not e-mailed (no contacts, no [smtp], server refused)."""


def check_and_alert(
    catalog: Catalog, cfg: Config, site: SiteConfig, *, now: datetime | None = None
) -> CheckResult:
    """Evaluate, then e-mail every new failure of the site in one message."""
    now = now or datetime.now(UTC)
    with catalog.begin() as conn:
        findings = evaluate_site(conn, cfg, site, now=now)
    result = CheckResult(findings)
    pending = to_alert(findings)
    if not pending:
        return result
    contacts = cfg.compliance.for_site(site.id).alert_to
    if not contacts:
        result.alert_error = (
            f"{len(pending)} new failing finding(s) not e-mailed: no alert_to contacts "
            "in [compliance]"
        )
        return result
    # Mail code (ssl) loads only when something is to be sent: the CLI starts without it.
    from archiver.compliance.alerts import send_alert
    from archiver.report.settings import smtp_settings

    try:
        settings = smtp_settings(cfg)
        send_alert(site.id, pending, settings, contacts, cfg.city)
    except (ConfigError, ReportError) as exc:
        result.alert_error = f"{len(pending)} new failing finding(s) not e-mailed: {exc}"
        return result
    with catalog.begin() as conn:
        mark_alerted(conn, [f.id for f in pending], now)
    result.alerted = [f.id for f in pending]
    return result


def after_harvest(catalog: Catalog, cfg: Config, site: SiteConfig, rlog: Any) -> None:
    """The harvest's ``after_site`` hook: the City's policy rules over what was just cataloged.

    A compliance problem never fails the sealed, cataloged harvest: it is logged, and the
    findings stay un-alerted so the next run (or `archiver compliance check`) retries.
    """
    try:
        res = check_and_alert(catalog, cfg, site)
    except ArchiverError as exc:
        rlog.error("compliance_check_failed", error=str(exc))
        return
    if res.alert_error:
        rlog.warning("compliance_alert_not_sent", reason=res.alert_error)
    rlog.info(
        "compliance_checked",
        open=sum(1 for f in res.findings if f.open),
        alerted=len(res.alerted),
    )


def ack(catalog: Catalog, cfg: Config, finding_id: int, *, by: str, note: str) -> StoredFinding:
    """Close a finding after review; audited with who and why."""
    t = compliance_findings
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with catalog.begin() as conn:
        row = conn.execute(select(t).where(t.c.id == finding_id)).first()
        if row is None:
            raise ArchiverError(
                f"no compliance finding {finding_id}",
                hint="list them with `archiver compliance`",
            )
        if row.acked_at:
            raise ArchiverError(
                f"finding {finding_id} was already acknowledged by {row.acked_by} at {row.acked_at}"
            )
        conn.execute(
            update(t).where(t.c.id == finding_id).values(acked_at=now, acked_by=by, ack_note=note)
        )
        audit.append(
            conn,
            action="compliance.ack",
            subject=row.site_id,
            details={"finding": finding_id, "rule": row.rule, "subject": row.subject, "by": by}
            | {"note": note, "status": row.status},
            anchor_path=cfg.audit_anchor,
        )
        new = conn.execute(select(t).where(t.c.id == finding_id)).one()
    return StoredFinding.from_row(new)


def expect_profile_change(
    catalog: Catalog, cfg: Config, site_id: str, *, by: str, note: str
) -> int:
    """Announce a profile change before making it, so it is not reported as vandalism."""
    site = cfg.site(site_id)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    pe = profile_expectations
    with catalog.begin() as conn:
        rid = conn.execute(
            insert(pe).values(site_id=site.id, announced_at=now, announced_by=by, note=note)
        ).inserted_primary_key
        audit.append(
            conn,
            action="profile.expect",
            subject=site.id,
            details={"by": by, "note": note},
            anchor_path=cfg.audit_anchor,
        )
    return int(rid[0]) if rid else 0
