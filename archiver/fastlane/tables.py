"""Catalog table for fast-lane latency: one row per item the fast lane first captured.

``seconds`` is the delay from the platform's ``created_at`` to the sealing of the bundle that
first held the item; ``status`` reads the median and 95th percentile per site from it.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table

from archiver.db import metadata

fastlane_latency = Table(
    "fastlane_latency",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("platform_id", String(256), nullable=False),
    Column("posted_at", String(40), nullable=False),
    Column("sealed_at", String(40), nullable=False),
    Column("seconds", Float, nullable=False),
)
