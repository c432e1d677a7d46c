"""Workflow journal: the catalog's decisions, copied into the archive's storage as sealed segments.

Why: holds, records requests, removal reviews, schedule confirmations, disposition batches,
tombstones and the audit log are decisions people made about the records. They are in no
bundle, so a lost catalog would lose them. Every change to them is therefore also written to
storage, where the bundles are (WORM on S3), and ``archiver catalog rebuild`` restores them.

How, in three steps, each safe to interrupt:

1. **capture** compares every journaled table of the catalog with what was journaled before
   (a row digest per primary key, kept in ``<root>/journal/state.sqlite``) and appends the
   full image of each new or changed row, and each deleted key, to ``<root>/journal/pending.jsonl``
   (fsynced) *before* recording the new digests. The audit log is append-only, so only entries
   after the last journaled ``seq`` are read. Capturing from the catalog itself, rather than
   from each write path, means a crash between a workflow write and its journal entry loses
   nothing: the next capture sees the committed row and journals it. A crash after the pending
   write but before the digests are saved journals the same row twice, which replay ignores.
   Every decision writes an audit entry, so when the audit head has not moved since the last
   capture nothing is scanned (read-only commands cost one query). A scan reads each table's
   rows as tuples; a bundle's files, written once, are read only for bundles not journaled
   yet. ``bench/journal_capture.py`` prints these costs; a trigger-fed change table would
   make a scan O(changes) if large catalogs need it.
2. **seal** turns the pending file into one immutable segment object
   ``journal/<seq>-<sha256>.jsonl.gz`` in storage (gzip; ``.jsonl`` before compression, still
   read): a header line (format, segment number, the
   previous segment's SHA-256, time, entry count) and the entries, one JSON object per line.
   The name carries the segment's own SHA-256 and the header the previous one's, so the
   segments form a hash chain: an edited, missing or reordered segment is named by
   :func:`read_chain`. The newest sealed segment is also written to ``<root>/journal/head.json``
   so that losing the *last* segments (which leaves a valid, shorter chain) is noticed too.
   Signing (Ed25519, added separately) can wrap the segment SHA-256: sign
   ``<seq>-<sha256>`` and store the signature next to the segment; nothing here changes.
3. **flush** = capture + seal, run when a command closes its :class:`~archiver.app.App`, after
   each daemon job and by ``recover``; entries left pending by a crash are sealed by the next.

Tables journaled: every catalog table except those rebuilt from the bundles themselves
(:data:`BUNDLE_DERIVED`). ``bundles``, ``bundle_files`` and ``sites`` are journaled as well,
so a disposed bundle's row, the catalog-only columns (status, eligibility, last verified) and
the site details from the config come back after a rebuild; so do the dedup-index, revisit
and bookmark rows a disposed bundle leaves behind (``model._RESIDUE``), and the catalog state of
items a disposition changed in a way no stored bundle shows (``ITEM_RESIDUE``: last seen
in, or versions and events from, a destroyed bundle). A row that names an item
(``comment_removals.item_id``) also carries the item's natural key (site, record class,
platform id), because item ids are renumbered by a rebuild.

Entry (JSON, sorted keys)::

    {"at": "<ISO 8601 UTC>", "op": "put" | "delete", "table": "<name>",
     "key": [<primary key values>], "row": {<column>: <value>, ...}}   # "row" only for put
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from archiver.errors import ArchiverError
from archiver.journal.capture import _locked, capture
from archiver.journal.model import (
    BUNDLE_DERIVED,
    FORMAT,
    GENESIS,
    ITEM_RESIDUE,
    Entry,
    FlushResult,
    JournalError,
    JournalIntegrityError,
    JournalReadOnlyError,
    Segment,
    journal_dir,
    journaled_tables,
)
from archiver.journal.replay import replay
from archiver.journal.segments import read_chain, read_head, seal
from archiver.log import get_logger
from archiver.storage.base import Storage

log = get_logger(__name__)

__all__ = [
    "BUNDLE_DERIVED",
    "FORMAT",
    "GENESIS",
    "ITEM_RESIDUE",
    "Entry",
    "FlushResult",
    "JournalError",
    "JournalIntegrityError",
    "JournalReadOnlyError",
    "Segment",
    "capture",
    "flush",
    "flush_quietly",
    "journal_dir",
    "journaled_tables",
    "read_chain",
    "read_head",
    "replay",
    "seal",
]

# --- flush -------------------------------------------------------------------------------------


def flush(root: Path, catalog_engine: Any, storage: Storage) -> FlushResult:
    """Capture what changed in the catalog and seal it (and anything left pending) to storage."""
    folder = journal_dir(root)
    result = FlushResult()
    with _locked(folder):
        try:
            with catalog_engine.connect() as conn, conn.begin():
                result.captured = capture(conn, folder)
        except OSError as exc:
            raise JournalError(
                f"cannot write the journal in {folder}: {exc.strerror}",
                hint="free space or fix permissions; the changes are journaled by the next run",
            ) from exc
        key = seal(folder, storage)
        if key is not None:
            result.sealed.append(key)
    return result


def flush_quietly(root: Path, catalog_engine: Any, storage: Storage) -> FlushResult | None:
    """Flush at the end of a command or job; a failure is logged, never raised.

    Nothing is lost by a failed flush: the changes stay in the catalog (and the pending file)
    and the next flush journals them. Raising here would turn a finished command into an
    error, or hide the error of a failed one.
    """
    try:
        return flush(root, catalog_engine, storage)
    except JournalReadOnlyError as exc:
        # verify, status and search on a read-only copy of the archive: nothing to journal.
        log.debug("journal_skipped_read_only", reason=str(exc))
        return None
    except (ArchiverError, OSError, sqlite3.Error, SQLAlchemyError) as exc:
        log.error("journal_flush_failed", error=str(exc))
        return None
