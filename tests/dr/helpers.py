"""Helpers for the disaster-recovery tests: run the CLI, snapshot a catalog for comparison.

Test modules import these from here, never from each other.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

ARCHIVER = str(Path(sys.executable).parent / "archiver")

#: Ids assigned by ``ingest_bundle`` (autoincrement): a rebuild numbers them afresh.
RENUMBERED = {
    "items": ["id"],
    "item_versions": ["id"],
    "item_events": ["id"],
    "follower_events": ["id"],
    "follower_snapshots": ["id"],
    "degradations": ["id"],
    "unparseable": ["id"],
}
#: Columns holding an ``items.id``: compared as the item's natural key.
ITEM_REFS = {"item_versions": "item_id", "item_events": "item_id", "comment_removals": "item_id"}
#: FTS5 shadow tables are keyed by rowid; the index is compared through a search instead.
SKIP_PREFIXES = ("sqlite_", "item_versions_fts")


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", ARCHIVER_LOG_LEVEL="WARNING")
    return subprocess.run(
        [ARCHIVER, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def snapshot(db_path: Path) -> dict[str, list[str]]:
    """Every table's rows as sorted canonical JSON, renumbered ids replaced by natural keys."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        natural = {
            r["id"]: [r["site_id"], r["record_class"], r["platform_id"]]
            for r in db.execute("SELECT id, site_id, record_class, platform_id FROM items")
        }
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith(SKIP_PREFIXES)
        ]
        out: dict[str, list[str]] = {}
        for name in sorted(tables):
            rows = []
            for r in db.execute(f'SELECT * FROM "{name}"'):
                row: dict[str, Any] = dict(r)
                for col in RENUMBERED.get(name, []):
                    row.pop(col)
                ref = ITEM_REFS.get(name)
                if ref is not None:
                    row[ref] = natural.get(row[ref])
                rows.append(json.dumps(row, sort_keys=True, default=str))
            out[name] = sorted(rows)
        out["fts:snow"] = sorted(
            str(r[0])
            for r in db.execute(
                "SELECT v.text FROM item_versions_fts f JOIN item_versions v ON v.id = f.rowid "
                "WHERE item_versions_fts MATCH 'snow'"
            )
        )
        return out
    finally:
        db.close()
