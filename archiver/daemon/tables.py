"""The daemon's catalog tables: ``job_runs`` (every job outcome ``archiver status`` shows) and
``harvest_backoff`` (per-site back-off after failures).

A leaf module: it imports only ``archiver.db`` (import-linter contract "table modules
are leaves"), so the schema registry (:mod:`archiver.catalog.tables`) can load it from below.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text

from archiver.db import metadata

__all__ = ["harvest_backoff", "job_runs"]

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(191), nullable=False, index=True),
    Column("started_at", String(40), nullable=False, index=True),
    Column("finished_at", String(40)),
    # running | succeeded | failed | abandoned | skipped | rate_limited
    Column("result", String(16), nullable=False),
    Column("error", Text),
    Column("detail_json", Text, nullable=False, default="{}"),
)

harvest_backoff = Table(
    "harvest_backoff",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_failure_at", String(40)),
    Column("last_error", Text),
    Column("skip_until", String(40)),
    Column("backoff_seconds", Float, nullable=False, default=0),
)
