"""Coverage as data: what the platform reported beside what a harvest captured (issue 11).

Additive: one new table; catalogs from before it simply have no coverage rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_coverage"
down_revision = "0005_compliance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("thread_platform_id", sa.String(128), nullable=True),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.Column("captured", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_coverage_site_id"), "coverage", ["site_id"], unique=False)
    op.create_index(
        op.f("ix_coverage_thread_platform_id"), "coverage", ["thread_platform_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_coverage_thread_platform_id"), table_name="coverage")
    op.drop_index(op.f("ix_coverage_site_id"), table_name="coverage")
    op.drop_table("coverage")
