"""Runs record their process (pid, host), so a killed harvest shows as "interrupted".

Additive: two nullable columns on ``runs``; runs started before this revision have none and
are shown as they are stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_run_owner"
down_revision = "0002_authenticity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("host")
        batch.drop_column("pid")
