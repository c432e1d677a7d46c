"""Tenants: every site (and records request) belongs to an organization (issue 19).

Additive: an ``organizations`` table and a nullable ``organization_id`` on ``sites`` and
``records_requests``; catalogs from before it have no organizations and behave as before.

On PostgreSQL the catalog also gets row-level security, so one organization's database role
cannot read another's sites, runs, bundles, items, versions, requests or exports, whatever
query it sends. The table owner (the role the workers and ``archiver migrate`` use) is not
subject to the policies and may write for every organization. SQLite has no roles: the
embedded single-city archive is one organization.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_tenants"
down_revision = "0007_lean_storage"
branch_labels = None
depends_on = None

#: table -> the condition a row must meet to be visible to an organization's role. The
#: subqueries read tables that are themselves under a policy, so visibility chains:
#: organization (db_role = current_user) -> its sites -> their items -> their versions.
POLICIES: dict[str, str] = {
    "organizations": "db_role = current_user",
    "sites": "organization_id IN (SELECT id FROM organizations)",
    "runs": "site_id IN (SELECT id FROM sites)",
    "bundles": "site_id IN (SELECT id FROM sites)",
    "items": "site_id IN (SELECT id FROM sites)",
    "item_versions": "item_id IN (SELECT id FROM items)",
    "records_requests": "organization_id IN (SELECT id FROM organizations)",
    "exports": "request_id IN (SELECT id FROM records_requests)",
}
POLICY = "archiver_tenant_isolation"


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("db_role", sa.String(63), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("db_role", name="uq_organizations_db_role"),
    )
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("organization_id", sa.String(64), nullable=True))
        batch.create_index("ix_sites_organization_id", ["organization_id"], unique=False)
    with op.batch_alter_table("records_requests") as batch:
        batch.add_column(sa.Column("organization_id", sa.String(64), nullable=True))
        batch.create_index("ix_records_requests_organization_id", ["organization_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table, condition in POLICIES.items():
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} FOR SELECT USING ({condition})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in reversed(list(POLICIES)):
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    with op.batch_alter_table("records_requests") as batch:
        batch.drop_index("ix_records_requests_organization_id")
        batch.drop_column("organization_id")
    with op.batch_alter_table("sites") as batch:
        batch.drop_index("ix_sites_organization_id")
        batch.drop_column("organization_id")
    op.drop_table("organizations")
