"""Alembic environment for the catalog, run by :mod:`archiver.catalog.migrate` only.

There is no ``alembic.ini``: the caller passes an open connection in
``config.attributes["connection"]`` and the upgrade runs inside one transaction on it, so a
failed step leaves the catalog exactly as it was. ``render_as_batch`` lets column changes work
on SQLite, which rebuilds the table to alter it.
"""

from __future__ import annotations

from alembic import context

from archiver.catalog.migrate import include_object, target_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running the alembic CLI directly
    raise RuntimeError("the catalog migrations run through `archiver migrate`, not alembic")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=True,
    include_object=include_object,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
