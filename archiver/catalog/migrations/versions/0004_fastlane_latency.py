"""Fast-lane latency samples (issue 13): a new table, nothing else touched."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_fastlane_latency"
down_revision = "0003_run_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fastlane_latency",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.String(256), nullable=False),
        sa.Column("posted_at", sa.String(40), nullable=False),
        sa.Column("sealed_at", sa.String(40), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_fastlane_latency_site_id", "fastlane_latency", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_fastlane_latency_site_id", table_name="fastlane_latency")
    op.drop_table("fastlane_latency")
