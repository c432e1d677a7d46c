"""Catalog tables for the policy compliance monitor (issue 17).

``compliance_findings``: one row per (site, rule, subject); a rule that keeps failing updates
``last_seen`` instead of adding rows, so an alert goes out once per finding. ``alerted_at``
records that the e-mail went out; ``acked_*`` that a person closed it (audited).
``profile_expectations``: a profile change announced beforehand (``archiver profile expect``),
which turns the matching change into an expected one instead of a vandalism alert.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text, UniqueConstraint

from archiver.db import metadata

compliance_findings = Table(
    "compliance_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("rule", String(48), nullable=False),
    # what the finding is about: "" for a site-wide rule, an item id or profile version
    Column("subject", String(256), nullable=False),
    Column("status", String(8), nullable=False),  # pass | fail | unknown
    Column("message", Text, nullable=False),
    Column("evidence_json", Text, nullable=False),
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
    Column("alerted_at", String(40)),
    Column("acked_at", String(40)),
    Column("acked_by", Text),
    Column("ack_note", Text),
    UniqueConstraint("site_id", "rule", "subject", name="uq_compliance_finding"),
)

profile_expectations = Table(
    "profile_expectations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("announced_at", String(40), nullable=False),
    Column("announced_by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("used_at", String(40)),  # the change it covered, once matched
)
