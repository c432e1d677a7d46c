"""Modules that define catalog tables, so ``archiver.db.metadata`` holds every table.

Add a module here when it registers tables on ``archiver.db.metadata`` (and add a migration:
``archiver/catalog/migrations/versions/``). The migration tests compare the schema the
revisions build with this metadata.
"""

from __future__ import annotations

import importlib
import importlib.util

TABLE_MODULES = [
    "archiver.catalog.schema",
    "archiver.audit",
    "archiver.retention.tables",
    "archiver.prr.requests",
    "archiver.daemon.scheduler",
    "archiver.report.build",
    "archiver.integrity.tables",
    "archiver.fastlane.tables",
    "archiver.compliance.tables",
]


def register_tables() -> None:
    for name in TABLE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
