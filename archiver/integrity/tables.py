"""Catalog tables for authenticity: each cataloged bundle's seal, and quarantined bundles.

A separate table (not columns on ``bundles``) so an archive cataloged before signing existed
keeps its rows untouched; a bundle without a ``bundle_seals`` row was cataloged before this
feature and is re-checked by ``verify``. Quarantined bundles are never in ``bundles``.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

from archiver.db import metadata

bundle_seals = Table(
    "bundle_seals",
    metadata,
    Column("bundle_id", String(128), primary_key=True),
    # signed | legacy_unsigned | unsigned_signing_off
    Column("state", String(24), nullable=False),
    Column("key_fingerprint", String(64)),
    Column("sealed_at", String(40)),
    Column("tagmanifest_sha256", String(64), nullable=False),
    # stamped | pending | none (no TSA configured)
    Column("timestamp_state", String(16), nullable=False, default="none"),
    Column("timestamp_time", String(40)),
    Column("checked_at", String(40), nullable=False),
)

quarantined_bundles = Table(
    "quarantined_bundles",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("bundle_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("tagmanifest_sha256", String(64)),
    Column("found_at", String(40), nullable=False),
    Column("found_by", String(32), nullable=False),  # recover | harvest | verify
)
