"""Modules that define catalog tables; imported before ``create_all`` so every table exists.

Add a module here when it registers tables on ``archiver.db.metadata``.
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
]


def register_tables() -> None:
    for name in TABLE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
