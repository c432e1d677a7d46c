"""Change-proportional storage (issue 14): follower list chains and thread poll times.

Additive: two new tables, both derived from sealed bundles at ingest; catalogs from before
them start their first follower checkpoint and poll every thread on the next run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_lean_storage"
down_revision = "0006_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follower_lists",
        sa.Column("bundle_id", sa.String(128), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("checkpoint_bundle_id", sa.String(128), nullable=True),
        sa.Column("previous_bundle_id", sa.String(128), nullable=True),
        sa.Column("taken_at", sa.String(40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_id"),
    )
    op.create_index(op.f("ix_follower_lists_site_id"), "follower_lists", ["site_id"], unique=False)
    op.create_table(
        "thread_polls",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("root_id", sa.String(256), nullable=False),
        sa.Column("polled_at", sa.String(40), nullable=True),
        sa.Column("activity_at", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("site_id", "root_id"),
    )


def downgrade() -> None:
    op.drop_table("thread_polls")
    op.drop_index(op.f("ix_follower_lists_site_id"), table_name="follower_lists")
    op.drop_table("follower_lists")
