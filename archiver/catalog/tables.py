"""The schema registry: every catalog table, loaded by plain imports so ``metadata`` holds all.

The tables of a feature live next to it (``archiver/<feature>/tables.py``) but those modules
are leaves: they import only ``archiver.db`` and SQLAlchemy (import-linter contract "table
modules are leaves"), so the catalog can load them without depending on the feature. Add a
module here when it defines tables, with an Alembic revision in
``catalog/migrations/versions/``: the migration tests compare the schema the revisions build
with this metadata.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from archiver.db import metadata


def all_tables() -> MetaData:
    """``archiver.db.metadata`` with every table registered on it.

    The imports are here, not at module top, because importing ``archiver.<feature>.tables``
    first runs the feature package's ``__init__``, and some of those (compliance, fast lane)
    import the catalog: loading them while the catalog itself is being imported would be a
    cycle. They are ordinary imports, so mypy and import-linter see every one.
    """
    import archiver.audit
    import archiver.catalog.schema
    import archiver.compliance.tables
    import archiver.daemon.tables
    import archiver.fastlane.tables
    import archiver.integrity.tables
    import archiver.prr.tables
    import archiver.report.tables
    import archiver.retention.tables  # noqa: F401  (each import registers its tables)

    return metadata
