"""Journal vocabulary: formats, which tables are journaled how, entries, segments, errors."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Table

from archiver.catalog import marks
from archiver.catalog.tables import all_tables
from archiver.errors import CatalogError, IntegrityError
from archiver.storage.base import JOURNAL_PREFIX

FORMAT: Final = 1
GENESIS: Final = "0" * 64

#: Tables every row of which ``ingest_bundle`` rebuilds from the sealed bundles.
BUNDLE_DERIVED: Final = frozenset(
    {
        "items",
        "item_versions",
        "item_events",
        "followers",
        "follower_events",
        "follower_snapshots",
        "follower_lists",
        "bookmarks",
        "payload_index",
        "revisit_refs",
        "degradations",
        "unparseable",
    }
)

#: Bundle-derived rows a disposition leaves behind (the dedup index, revisit links and
#: bookmarks of a destroyed bundle): not in storage any more, so journaled while their bundle is
#: ``disposed``. Replayed only where a stored bundle did not already rebuild the row.
_RESIDUE: Final = {
    "payload_index": "bundle_id",
    "revisit_refs": "bundle_id",
    "bookmarks": "bundle_id",
}

#: Columns that change on every recomputation without changing content: a row is not journaled
#: again for them alone (its image carries the value from its last real change).
_VOLATILE: Final = {"bundle_eligibility": ("computed_at",)}

#: Tables whose rows are written once with their bundle and never changed (by bundle id).
_IMMUTABLE_CHILDREN: Final = {"bundle_files": "bundle_id"}

#: Pseudo-table of journal entries holding an item's catalog state after a disposition.
ITEM_RESIDUE: Final = "item_residue"

#: Append-only tables journaled by a high-water mark instead of by digest.
_APPEND_ONLY: Final = {"audit_log": "seq"}

#: Columns holding an ``items.id``; journaled with the item's natural key as ``_item``.
_ITEM_REFS: Final = {"comment_removals": "item_id"}

_NAME_RE: Final = re.compile(r"([0-9]{8,})-([0-9a-f]{64})\.jsonl(?:\.gz)?")
_PENDING: Final = marks.JOURNAL_PENDING
_STATE: Final = marks.JOURNAL_STATE
_HEAD: Final = "head.json"
_LOCK: Final = marks.JOURNAL_LOCK

_thread_lock = threading.Lock()


class JournalError(CatalogError):
    """The journal could not be written or read (disk, storage, a newer format)."""


class JournalReadOnlyError(JournalError):
    """The archive is mounted read-only: nothing can have changed, nothing is journaled."""


class JournalIntegrityError(IntegrityError):
    """A journal segment is missing, altered or out of order."""


@dataclass(frozen=True)
class Entry:
    at: str
    op: str
    table: str
    key: list[Any]
    row: dict[str, Any] | None = None

    def to_json(self) -> str:
        obj: dict[str, Any] = {"at": self.at, "op": self.op, "table": self.table, "key": self.key}
        if self.row is not None:
            obj["row"] = self.row
        return _canonical(obj)


@dataclass(frozen=True)
class Segment:
    seq: int
    name: str
    sha256: str
    prev_sha256: str
    created_at: str
    entries: list[Entry]

    @property
    def key(self) -> str:
        return f"{JOURNAL_PREFIX}/{self.name}"


@dataclass
class FlushResult:
    captured: int = 0
    sealed: list[str] = field(default_factory=list)


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def journal_dir(root: Path) -> Path:
    """Where the local journal files live: ``<archive root>/journal``."""
    return marks.journal_dir(root)


def journaled_tables() -> list[Table]:
    """Every catalog table not rebuilt from bundles, parents before children."""
    return [
        t for t in all_tables().sorted_tables if t.name not in BUNDLE_DERIVED or t.name in _RESIDUE
    ]


def _pk(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


# --- capture -----------------------------------------------------------------------------------


def _image(row: Any) -> dict[str, Any]:
    """A row as a plain dict (SQLAlchemy ``RowMapping`` in, JSON-ready values out)."""
    return dict(row)
