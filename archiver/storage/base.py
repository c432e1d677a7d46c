"""The storage seam: sealed bundles go in whole, come out byte for byte, and leave only on purpose.

A bundle is published from a sealed staging folder (see ``archiver.bundle``). ``publish`` must
make the bundle visible all at once: ``list_bundles`` never returns a bundle whose files are not
all present and verified. Keys look like ``<site_id>/<yyyy>/<bundle_id>``; relative paths inside a
bundle use ``/`` (``data/warc/....warc.gz``, ``manifest-sha256.txt``).

Standalone documents that must outlive the bundles they describe (the RM88/RM60 disposal
records) go in with ``put_document`` under the reserved top-level prefix ``disposal-records/``
(``DOCUMENTS_PREFIX``). A document key has two parts, a bundle key three plus the seal marker,
so ``list_bundles`` never mistakes one for the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

#: Reserved top-level prefix for standalone documents (``put_document``); never a bundle.
DOCUMENTS_PREFIX = "disposal-records"

#: Reserved top-level prefix for the workflow journal's sealed segments (``archiver.journal``).
JOURNAL_PREFIX = "journal"
#: Names a journal segment may end with: ``.jsonl`` (plain, the first journal format's
#: container) and ``.jsonl.gz`` (the same lines, gzip-compressed).
JOURNAL_SUFFIXES = (".jsonl", ".jsonl.gz")


def check_journal_name(name: str) -> str:
    """A journal segment's name below ``journal/``: ``<seq>-<sha256>.jsonl`` (or ``.jsonl.gz``,
    gzip-compressed, as written since bundle format 4), nothing else.

    Flat (no year folders): a key of two parts can never be mistaken for a bundle's three.
    """
    import re

    from archiver.errors import StorageError

    if not re.fullmatch(r"[0-9]{8,}-[0-9a-f]{64}\.jsonl(\.gz)?", name):
        raise StorageError(
            f"refusing unsafe journal segment name {name!r}",
            hint="a segment name looks like 00000001-<64 hex digits>.jsonl.gz",
        )
    return name


def check_document_name(name: str) -> str:
    """A document's file name: one path part, no separators, nothing hidden or relative."""
    from archiver.errors import StorageError

    if (
        not name
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or name != name.strip()
        or len(name) > 200
    ):
        raise StorageError(
            f"refusing unsafe document name {name!r}",
            hint="a document name is a plain file name such as DISP-2026-0001-RM88.pdf",
        )
    return name


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One stored file of a bundle, as the store reports it."""

    relpath: str
    size: int


@runtime_checkable
class Storage(Protocol):
    """What every backend (local folder, S3/MinIO with Object Lock) provides."""

    name: str

    def publish(self, staged: Path, key: str) -> None:
        """Make the sealed folder ``staged`` visible as bundle ``key``, atomically and verified.

        On success the staged folder may be gone (moved) or left for the caller to remove.
        Raises ``StorageError`` (nothing visible) if the bundle could not be stored whole.
        """
        ...

    def exists(self, key: str) -> bool: ...

    def list_bundles(self, *, site_id: str | None = None) -> Iterator[str]:
        """Keys of every complete bundle in the store (only that site's with ``site_id``)."""
        ...

    def list_files(self, key: str) -> list[BundleFile]: ...

    def open(self, key: str, relpath: str) -> BinaryIO:
        """A readable binary stream of one file; the caller closes it."""
        ...

    def read_range(self, key: str, relpath: str, offset: int, length: int) -> bytes: ...

    def delete(self, key: str) -> None:
        """Remove a bundle for an approved disposition. Raises ``StorageError`` if refused."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to the bundle when the backend has one (lets SQLite open it)."""
        ...

    def set_retention(self, key: str, until: dt.date) -> None:
        """Ask the store to refuse deletion before ``until`` (no-op where unsupported)."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Set or clear a store-level legal hold (no-op where unsupported)."""
        ...

    def retained_until(self, key: str) -> dt.date | None:
        """The first day the store itself would allow deleting ``key`` (``None``: not locked).

        Read from the store, not the catalog: a lock extended earlier can outlast a date the
        schedule later shortened, and the store's date is what a delete runs into.
        """
        ...

    def put_document(self, source: Path, name: str, *, retain_until: dt.date | None) -> str:
        """Store a copy of the file ``source`` as ``disposal-records/<name>``; return that key.

        Verified by SHA-256 after writing; the caller's file is left in place. Where the store
        locks (S3 Object Lock) the copy is retained until ``retain_until`` (``None``: the
        backend's default lock for new objects). Storing the same bytes again is a no-op;
        different bytes under the same name become a new version (S3) or replace the copy
        (local folder). Never listed by ``list_bundles`` and never touched by ``delete``.
        """
        ...

    def put_journal(self, name: str, data: bytes) -> str:
        """Store one sealed journal segment as ``journal/<name>``, verified; return that key.

        Segments are never rewritten: storing the same bytes again is a no-op, different bytes
        under an existing name are refused. On S3 the object gets the bundles' default Object
        Lock retention (WORM), so a segment cannot be altered or deleted before it runs out.
        """
        ...

    def list_journal(self) -> list[str]:
        """Names (below ``journal/``) of every stored journal segment, sorted."""
        ...

    def read_journal(self, name: str) -> bytes:
        """The bytes of one journal segment; ``StorageError`` if it is missing."""
        ...
