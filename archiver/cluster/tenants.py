"""Organizations (tenants) and their PostgreSQL roles.

Each organization gets one database role; the row-level security policies of revision
``0008_tenants`` show that role only its organization's sites, runs, bundles, items, versions,
records requests and exports. The role may only read (``SELECT``): clerks' commands that
write go through the workers' role, the tables' owner. Role names are checked against a
strict pattern and quoted, never pasted from user input.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, select, text, update

from archiver.catalog import schema as s
from archiver.catalog.store import now_iso
from archiver.errors import CatalogError

ROLE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
READABLE = (
    "organizations",
    "sites",
    "runs",
    "bundles",
    "bundle_files",
    "items",
    "item_versions",
    "records_requests",
    "exports",
)
"""Tables an organization's role may SELECT (the first eight are under a policy;
``bundle_files`` is reachable only through a bundle id the role can already see)."""


def _check(value: str, pattern: re.Pattern[str], what: str, hint: str) -> str:
    if not pattern.match(value):
        raise CatalogError(f"{value!r} is not a valid {what}", hint=hint)
    return value


def add_organization(engine: Engine, org_id: str, name: str, role: str | None) -> None:
    """Record an organization; on PostgreSQL create (if missing) and grant its read role."""
    _check(org_id, ID_PATTERN, "organization id", "letters, digits, '-', '_', '.'; e.g. bozeman")
    if role is not None:
        _check(role, ROLE_PATTERN, "role name", "lower-case letters, digits, '_'; e.g. org_bozeman")
    with engine.begin() as conn:
        exists = conn.execute(
            select(s.organizations.c.id).where(s.organizations.c.id == org_id)
        ).first()
        if exists:
            conn.execute(
                update(s.organizations)
                .where(s.organizations.c.id == org_id)
                .values(name=name, db_role=role)
            )
        else:
            conn.execute(
                s.organizations.insert().values(
                    id=org_id, name=name, db_role=role, created_at=now_iso()
                )
            )
        if role is not None and conn.dialect.name == "postgresql":
            has = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first()
            if not has:
                conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOINHERIT'))
            db = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            for table in READABLE:
                conn.execute(text(f'GRANT SELECT ON "{table}" TO "{role}"'))


def assign_site(engine: Engine, site_id: str, org_id: str) -> None:
    """Put a site (already harvested or synced once) under an organization."""
    with engine.begin() as conn:
        if not conn.execute(
            select(s.organizations.c.id).where(s.organizations.c.id == org_id)
        ).first():
            raise CatalogError(
                f"no organization {org_id!r}",
                hint="add it first: archiver cluster org add ID --name NAME --role ROLE",
            )
        done = conn.execute(
            update(s.sites).where(s.sites.c.id == site_id).values(organization_id=org_id)
        ).rowcount
    if not done:
        raise CatalogError(
            f"no site {site_id!r} in the catalog",
            hint="a site is in the catalog after its first harvest or `archiver cluster sync`",
        )
