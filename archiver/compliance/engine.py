"""Evaluate a site's rules and keep each finding once, with first and last seen.

Runs after each harvest is cataloged (``Harvester``) and on demand (``archiver compliance
check``). A finding that turns from pass to fail is a new failure: its alert and
acknowledgement are reset so the people responsible hear about it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from archiver.compliance import rules as r
from archiver.compliance.tables import compliance_findings
from archiver.config import Config, SiteConfig
from archiver.settings.compliance import SiteCompliance


@dataclass(frozen=True, slots=True)
class StoredFinding:
    id: int
    site_id: str
    rule: str
    subject: str
    status: str
    message: str
    evidence: dict[str, Any]
    first_seen: str
    last_seen: str
    alerted_at: str | None
    acked_at: str | None
    acked_by: str | None
    ack_note: str | None

    @classmethod
    def from_row(cls, row: Any) -> StoredFinding:
        return cls(
            id=row.id,
            site_id=row.site_id,
            rule=row.rule,
            subject=row.subject,
            status=row.status,
            message=row.message,
            evidence=json.loads(row.evidence_json),
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            alerted_at=row.alerted_at,
            acked_at=row.acked_at,
            acked_by=row.acked_by,
            ack_note=row.ack_note,
        )

    @property
    def open(self) -> bool:
        return self.status in ("fail", "unknown") and self.acked_at is None


def _findings(
    conn: Connection, cfg: Config, site: SiteConfig, sc: SiteCompliance, now: datetime
) -> Iterator[r.Finding]:
    produced: dict[str, Iterator[r.Finding]] = {
        "aup_notice": iter(()),
        "it_admin": r.it_admin_rule(site),
        "city_domain_link": r.link_rule(conn, site, sc),
        "reply_review": r.reply_rule(conn, site, sc),
        "principal_counterpart": r.counterpart_rule(conn, cfg, site, sc, now),
        "profile_change": r.profile_change_rule(conn, site, sc, now),
        "post_burst": r.burst_rule(conn, site, sc),
        "deleted_by_city": r.deleted_rule(conn, site),
    }
    for f in r.notice_rules(conn, site, sc):
        if f.rule not in sc.disabled:
            yield f
    for rule, found in produced.items():
        if rule in sc.disabled:
            continue
        yield from found
    for rule, reason in sc.disabled.items():
        yield r.Finding(rule, "", "unknown", f"rule switched off in the config: {reason}")


def evaluate_site(
    conn: Connection, cfg: Config, site: SiteConfig, *, now: datetime | None = None
) -> list[StoredFinding]:
    """Store this evaluation's findings; return every stored finding of the site."""
    now = now or datetime.now(UTC)
    stamp = now.isoformat(timespec="microseconds")
    sc = cfg.compliance.for_site(site.id)
    t = compliance_findings
    # The site's stored findings in one query, not one per finding (a harvest evaluates every
    # site it harvested; issue 14 part 5). (rule, subject) -> (id, status) of the stored row.
    stored: dict[tuple[str, str], tuple[int, str]] = {
        (row.rule, row.subject): (row.id, row.status)
        for row in conn.execute(
            select(t.c.id, t.c.rule, t.c.subject, t.c.status).where(t.c.site_id == site.id)
        )
    }
    for f in _findings(conn, cfg, site, sc, now):
        evidence = json.dumps(f.evidence, sort_keys=True, ensure_ascii=False, default=str)
        old = stored.get((f.rule, f.subject))
        if old is None:
            added = conn.execute(
                insert(t).values(
                    site_id=site.id,
                    rule=f.rule,
                    subject=f.subject,
                    status=f.status,
                    message=f.message,
                    evidence_json=evidence,
                    first_seen=stamp,
                    last_seen=stamp,
                )
            )
            # The same rule and subject again in this evaluation updates this row, as before.
            key = added.inserted_primary_key
            assert key is not None
            stored[(f.rule, f.subject)] = (int(key[0]), f.status)
            continue
        old_id, old_status = old
        values: dict[str, Any] = {
            "status": f.status,
            "message": f.message,
            "evidence_json": evidence,
            "last_seen": stamp,
        }
        if f.status == "fail" and old_status != "fail":
            values |= {"first_seen": stamp, "alerted_at": None, "acked_at": None}
            values |= {"acked_by": None, "ack_note": None}
        conn.execute(update(t).where(t.c.id == old_id).values(**values))
        stored[(f.rule, f.subject)] = (old_id, f.status)
    return site_findings(conn, site.id)


def site_findings(conn: Connection, site_id: str | None = None) -> list[StoredFinding]:
    t = compliance_findings
    q = select(t).order_by(t.c.site_id, t.c.rule, t.c.first_seen, t.c.id)
    if site_id:
        q = q.where(t.c.site_id == site_id)
    return [StoredFinding.from_row(row) for row in conn.execute(q)]


def to_alert(findings: list[StoredFinding]) -> list[StoredFinding]:
    """Failing, never alerted, not acknowledged: each goes out once."""
    return [f for f in findings if f.status == "fail" and not f.alerted_at and not f.acked_at]


def mark_alerted(conn: Connection, ids: list[int], when: datetime) -> None:
    t = compliance_findings
    conn.execute(
        update(t).where(t.c.id.in_(ids)).values(alerted_at=when.isoformat(timespec="microseconds"))
    )
