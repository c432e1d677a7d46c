"""Policy compliance monitor (issue 17): findings and announced profile changes.

Additive only: two new tables; nothing existing changes. An archive upgraded to this revision
has no findings until the next harvest evaluates its sites.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_compliance"
down_revision = "0004_fastlane_latency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence_json", sa.Text, nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("alerted_at", sa.String(40)),
        sa.Column("acked_at", sa.String(40)),
        sa.Column("acked_by", sa.Text),
        sa.Column("ack_note", sa.Text),
        sa.UniqueConstraint("site_id", "rule", "subject", name="uq_compliance_finding"),
    )
    op.create_index(
        "ix_compliance_findings_site_id", "compliance_findings", ["site_id"], unique=False
    )
    op.create_table(
        "profile_expectations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("announced_at", sa.String(40), nullable=False),
        sa.Column("announced_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("used_at", sa.String(40)),
    )
    op.create_index(
        "ix_profile_expectations_site_id", "profile_expectations", ["site_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_profile_expectations_site_id", table_name="profile_expectations")
    op.drop_table("profile_expectations")
    op.drop_index("ix_compliance_findings_site_id", table_name="compliance_findings")
    op.drop_table("compliance_findings")
