"""What a domain function works on: the config, the catalog and the storage, nothing else.

The composition root (:class:`archiver.app.App`, built by the CLI and the daemon) satisfies
this Protocol; domain code types its parameter with it instead of importing ``App``, so it
cannot reach the WORM self-check, the read-only notes or ``close()``, and no domain module
depends on how the archive was opened (import-linter contract "composition root").
"""

from __future__ import annotations

from typing import Protocol

from archiver.catalog.store import Catalog
from archiver.config import Config
from archiver.storage.base import Storage

__all__ = ["ArchiveParts"]


class ArchiveParts(Protocol):
    """The archive's three collaborators, read-only."""

    @property
    def cfg(self) -> Config: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def storage(self) -> Storage: ...
