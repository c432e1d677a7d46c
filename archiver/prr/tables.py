"""The public-records catalog tables: the request log (``records_requests``) and export
custody (``exports``).

A leaf module: it imports only ``archiver.db`` (import-linter contract "table modules
are leaves"), so the schema registry (:mod:`archiver.catalog.tables`) can load it from below.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text, UniqueConstraint

from archiver.db import metadata

__all__ = ["exports", "records_requests"]

records_requests = Table(
    "records_requests",
    metadata,
    Column("id", String(16), primary_key=True),  # PRR-YYYY-NNNN
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("requester", Text, nullable=False),
    Column("received", String(10), nullable=False),  # YYYY-MM-DD (City's local date)
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("acknowledge_by", String(10), nullable=False),
    Column("respond_by", String(10), nullable=False),
    Column("estimated_minutes", Integer),
    Column("fee_estimate", String(16)),
    Column("opened_at", String(40), nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("closed_at", String(40)),
    Column("closed_by", String(200)),
    Column("outcome", Text),
    # The tenant whose clerk opened it (issue 19); None on a one-city archive.
    Column("organization_id", String(64), index=True),
    UniqueConstraint("year", "seq", name="uq_records_requests_year_seq"),
)

exports = Table(
    "exports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(16), nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("at", String(40), nullable=False),
    Column("out_path", Text, nullable=False),
    Column("package_sha256", String(64), nullable=False),  # sha256 of tagmanifest-sha256.txt
    Column("counts_json", Text, nullable=False),
    Column("query_json", Text, nullable=False),
)
