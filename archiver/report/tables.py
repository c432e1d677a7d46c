"""The monthly report's catalog table: one ``report_deliveries`` row per delivery attempt.

A leaf module: it imports only ``archiver.db`` (import-linter contract "table modules
are leaves"), so the schema registry (:mod:`archiver.catalog.tables`) can load it from below.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table, Text

from archiver.db import metadata

__all__ = ["report_deliveries"]

report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    Column("attempted_at", String(40), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("recipients", Integer, nullable=False, default=0),
    Column("endpoint", Text),
    Column("out_dir", Text, nullable=False),
    Column("error", Text),
)
