"""Where the audit log stands: its head, the last config file it recorded, what is journaled.

Small reads every command makes when it opens and closes the archive (is there a config
change to record? has the journal anything to capture or seal?), written once: the SQL as
text for an ``archiver.catalog.sql`` reader (``archiver.audit`` and ``archiver.app`` run it
through SQLAlchemy, ``status`` on an embedded catalog without it; issue 14 part 2), and the
journal's local file names, which ``archiver.journal`` uses from here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archiver.catalog.sql import Reader

GENESIS_HASH = "0" * 64
AUDIT_HEAD = "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
LAST_CONFIG_CHANGE = (
    "SELECT details FROM audit_log WHERE action = 'config.change' ORDER BY seq DESC LIMIT 1"
)


def audit_head(db: Reader) -> tuple[int, str]:
    """Latest (seq, entry_hash); (0, 64 zeros) for an empty log."""
    rows = db.rows(AUDIT_HEAD)
    if not rows:
        return 0, GENESIS_HASH
    return int(rows[0]["seq"]), str(rows[0]["entry_hash"])


def last_config_change(db: Reader) -> str | None:
    """The details (JSON text) of the newest ``config.change`` entry, None if there is none."""
    value = db.scalar(LAST_CONFIG_CHANGE)
    return None if value is None else str(value)


# -- the local journal files (archiver.journal) -------------------------------------------------
JOURNAL_PENDING = "pending.jsonl"
JOURNAL_STATE = "state.sqlite"
JOURNAL_LOCK = ".lock"
#: The audit ``seq`` the journal captured last (``archiver.journal.capture``).
JOURNALED_AUDIT_MARK = "SELECT value FROM marks WHERE tbl = 'audit_log'"


def journal_dir(root: Path) -> Path:
    """Where the local journal files live: ``<archive root>/journal``."""
    return root / "journal"


def journal_idle(root: Path, db: Reader) -> bool:
    """True when a journal flush now would do nothing at all: no entry waits to be sealed,
    the audit head is the one captured last (so capture would not scan), and the journal's
    files exist (so a flush would not create them). Read-only; any doubt is False."""
    folder = journal_dir(root)
    state = folder / JOURNAL_STATE
    if (folder / JOURNAL_PENDING).exists() or not (folder / JOURNAL_LOCK).exists():
        return False
    try:
        if state.stat().st_mode & 0o007:  # a flush would take "other" bits away first
            return False
        conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            got = conn.execute(JOURNALED_AUDIT_MARK).fetchone()
        finally:
            conn.close()
    except (OSError, sqlite3.Error):
        return False
    mark = int(got[0]) if got else 0
    return audit_head(db)[0] == mark
