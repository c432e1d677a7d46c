"""Authenticity (issue 12): each cataloged bundle's seal, and quarantined bundles.

Additive only: existing rows are untouched; bundles cataloged before this revision have no
``bundle_seals`` row and are checked (and recorded) by the next ``archiver verify``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_authenticity"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundle_seals",
        sa.Column("bundle_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("key_fingerprint", sa.String(64)),
        sa.Column("sealed_at", sa.String(40)),
        sa.Column("tagmanifest_sha256", sa.String(64), nullable=False),
        sa.Column("timestamp_state", sa.String(16), nullable=False),
        sa.Column("timestamp_time", sa.String(40)),
        sa.Column("checked_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "quarantined_bundles",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("bundle_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("tagmanifest_sha256", sa.String(64)),
        sa.Column("found_at", sa.String(40), nullable=False),
        sa.Column("found_by", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quarantined_bundles")
    op.drop_table("bundle_seals")
