"""Wire config, catalog and storage together once per command or daemon.

SQLAlchemy (``archiver.catalog.store``) is imported when a catalog is opened, not with this
module: :func:`read_catalog` lets ``status`` read a quiet embedded catalog without it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archiver.catalog.marks import journal_idle, last_config_change
from archiver.catalog.revision import at_head
from archiver.catalog.sql import (
    CatalogReader,
    Reader,
    SAReader,
    SqliteReader,
    plain_sqlite_file,
    protect_sqlite_files,
)
from archiver.config import Config, load_config
from archiver.errors import CatalogError, StorageError
from archiver.resources import free_bytes, fs_read_only, mkdir_private
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from connectors.registry import platforms

if TYPE_CHECKING:
    from pathlib import Path

    from archiver.catalog.store import Catalog
    from archiver.storage.s3_worm import WormCheckResult


@dataclass
class App:
    cfg: Config
    catalog: Catalog
    storage: Storage
    # The start-up WORM self-check of an S3 store (None for the local backend); also kept in
    # the catalog (archiver.catalog.worm_state) for status and the monthly report.
    worm_check: WormCheckResult | None = None
    # Why the archive was opened read-only (read-only mount, full disk, no permission), or
    # None when it is writable. Commands that would record something say it was not.
    read_only_reason: str | None = None
    # One-line notes the CLI prints on stderr when the command ends (e.g. "not recorded").
    notes: list[str] = field(default_factory=list)

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def not_recorded(self, what: str) -> None:
        """Say (never silently skip) that ``what`` could not be written to the archive."""
        self.notes.append(
            f"note: {what} was not recorded: the archive is read-only ({self.read_only_reason})"
        )

    def close(self) -> None:
        """Journal what this command changed (``archiver.journal``), then close the catalog."""
        from archiver import journal

        journal.flush_quietly(self.cfg.root, self.catalog.engine, self.storage)
        self.catalog.close()


def make_storage(cfg: Config, *, read_only: bool = False) -> Storage:
    """The configured backend, not yet checked (``open_app`` runs the WORM self-check)."""
    if cfg.storage.s3 is None:
        return LocalStorage(cfg.storage.path, read_only=read_only)
    from archiver.storage.s3 import S3Storage

    return S3Storage(cfg.storage.s3)


def open_app(
    config_path: str | None = None,
    *,
    read_only: bool = False,
    read_only_ok: bool = False,
    check_storage: bool = False,
) -> App:
    """Open the archive for a command.

    ``check_storage=True`` (the daemon, ``status --check-storage``) runs the S3 store's WORM
    self-check now; otherwise the last recorded result is used and the check runs only if the
    store was never checked or the override setting changed since (see :func:`self_check`).

    ``read_only=True`` never writes (no folders, no WORM self-check, no config-change audit
    entry): ``audit verify`` uses it so that it checks before anything is appended.
    ``read_only_ok=True`` is for commands that only read (verify, status, search): on a
    read-only mount, a full disk or without write permission they open read-only instead of
    failing, and ``App.read_only_reason`` says why.
    """
    cfg = load_config(config_path, platforms=platforms())
    return _open(cfg, read_only=read_only, read_only_ok=read_only_ok, check_storage=check_storage)


def _open(
    cfg: Config, *, read_only: bool = False, read_only_ok: bool = False, check_storage: bool = False
) -> App:
    if read_only:
        return _open_read_only(cfg, "this command never writes")
    if read_only_ok:
        reason = unwritable_reason(cfg)
        if reason is not None:
            return _open_read_only(cfg, reason)
        try:
            return _open_writable(cfg, check_storage=check_storage)
        except (StorageError, CatalogError) as exc:
            reason = unwritable_reason(cfg)
            if reason is None:
                raise
            try:
                return _open_read_only(cfg, reason)
            except (StorageError, CatalogError):
                raise exc from None
    return _open_writable(cfg, check_storage=check_storage)


@dataclass
class CatalogRead:
    """What a command that only reads the catalog (``status``) works from."""

    cfg: Config
    db: Reader
    # One-line notes to print when the command ends (as ``App.notes``).
    notes: list[str] = field(default_factory=list)


@contextmanager
def read_catalog(
    config_path: str | None = None, *, check_storage: bool = False
) -> Iterator[CatalogRead]:
    """The archive opened for reading, as ``open_app(read_only_ok=True)`` opens it.

    When opening would change nothing (:func:`_quiet_embedded_catalog`), the embedded catalog
    is read with the stdlib ``sqlite3`` driver and SQLAlchemy is never imported: it costs more
    than ``status`` may take to start (issue 14 part 2). The queries are the same SQL text
    either way (``archiver.catalog.sql``). Otherwise (PostgreSQL, S3, a new, old or read-only
    catalog, a config change to record, journal entries to write) the archive is opened as
    every command opens it and read through SQLAlchemy.
    """
    cfg = load_config(config_path, platforms=platforms())
    quiet = _quiet_embedded_catalog(cfg)
    if quiet is not None:
        try:
            yield CatalogRead(cfg, quiet)
        finally:
            quiet.close()
        return
    app = _open(cfg, read_only_ok=True, check_storage=check_storage)
    try:
        yield CatalogRead(app.cfg, CatalogReader(app.catalog), app.notes)
    finally:
        app.close()


def _quiet_embedded_catalog(cfg: Config) -> SqliteReader | None:
    """A ``sqlite3`` reader of the catalog when opening the archive through ``open_app`` would
    write nothing and check nothing more, else None.

    That is: local storage (the S3 WORM self-check needs the S3 code anyway) whose folders
    exist and are writable; a plain SQLite catalog file at this code's schema revision; the
    config file's digest already in the audit log; nothing for the journal to capture or seal
    when the command closes. The answer is read in the same transaction the command then reads
    from. Anything else, or any doubt, is None: the full path decides and does the work.
    """
    if cfg.storage.s3 is not None:
        return None
    path = plain_sqlite_file(cfg.catalog_url)
    folders = (cfg.root, cfg.staging_dir, cfg.storage.path)
    if path is None or not path.is_file() or not all(_writable_dir(d) for d in folders):
        return None
    if unwritable_reason(cfg) is not None:
        return None
    try:
        db = SqliteReader.open(path)
    except (OSError, sqlite3.Error):
        return None
    try:
        quiet = (
            at_head(db)
            and not config_changed(last_config_change(db), cfg)
            and journal_idle(cfg.root, db)
        )
    except (CatalogError, sqlite3.Error):
        quiet = False
    except BaseException:
        db.close()
        raise
    if not quiet:
        db.close()
        return None
    protect_sqlite_files(path)  # as opening the catalog engine does
    return db


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def unwritable_reason(cfg: Config) -> str | None:
    """Why nothing can be written under the archive root, or None if it looks writable."""
    root = cfg.root
    if not root.exists():
        return None
    if fs_read_only(root):
        return f"{root} is on a read-only filesystem"
    if free_bytes(root) == 0:
        return f"the disk holding {root} is full"
    catalog = plain_sqlite_file(cfg.catalog_url) or _sqlite_path(cfg.catalog_url)
    for p in (root, catalog):
        if p is not None and p.exists() and not os.access(p, os.W_OK):
            return f"no write permission on {p}"
    return None


def _sqlite_path(url: str) -> Path | None:
    from archiver.catalog.store import sqlite_path

    return sqlite_path(url)


def _open_read_only(cfg: Config, reason: str) -> App:
    from archiver.catalog.store import Catalog

    storage = make_storage(cfg, read_only=True)
    catalog = Catalog(cfg.catalog_url, read_only=True)
    app = App(cfg, catalog, storage, None, read_only_reason=reason)
    try:
        if config_change_pending(catalog, cfg):
            app.not_recorded(f"the changed config file {cfg.path} (audit entry config.change)")
    except CatalogError:
        catalog.close()
        raise
    return app


def _open_writable(cfg: Config, *, check_storage: bool = False) -> App:
    try:
        mkdir_private(cfg.root)
        mkdir_private(cfg.staging_dir)
    except OSError as exc:
        raise StorageError(
            f"cannot create the archive root {cfg.root}: {exc.strerror}",
            hint=f"fix [archive] root in {cfg.path} or the folder's permissions",
        ) from exc
    from archiver.catalog.store import Catalog

    storage = make_storage(cfg)
    catalog = Catalog(cfg.catalog_url)
    try:
        worm = self_check(storage, catalog, force=check_storage)
        record_config_change(catalog, cfg)
    except BaseException:
        catalog.close()
        raise
    return App(cfg, catalog, storage, worm)


def self_check(storage: Storage, catalog: Catalog, *, force: bool = True) -> WormCheckResult | None:
    """The S3 store's WORM self-check, kept in the catalog, a refusal included.

    Only an S3 store is checked (a local folder imports nothing of the S3 code). With
    ``force=False`` the last recorded result of this store stands in for a new probe (a
    probe writes canary objects and takes a quarter of a second): a recorded refusal refuses
    again; a store never checked, or checked under a different ``allow_unsafe_worm``, is
    probed now. The daemon probes at every start; ``status --check-storage`` on demand.
    """
    if getattr(storage, "name", None) != "s3":
        return None
    from archiver.catalog.sql import SAReader
    from archiver.catalog.worm_state import last_check, record_check
    from archiver.storage.s3 import S3Storage
    from archiver.storage.s3_worm import WormRefusedError, worm_refusal
    from archiver.storage.s3_worm import self_check as worm_self_check

    if not isinstance(storage, S3Storage):
        return None
    if not force:
        allow = storage.settings.allow_unsafe_worm
        with catalog.begin() as conn:
            found = last_check(SAReader(conn), storage.settings.endpoint, storage.settings.bucket)
        if found is not None:
            result, refused = found
            if refused and not allow:
                raise worm_refusal(storage.settings, result)
            if not result.unsafe or (allow and result.overridden and not refused):
                return result
    try:
        result = worm_self_check(storage)
    except WormRefusedError as exc:
        record_check(catalog, exc.result, refused=True)
        raise
    record_check(catalog, result)
    return result


def _config_digest(cfg: Config) -> str:
    import hashlib

    return hashlib.sha256(cfg.path.read_bytes()).hexdigest()


def config_change_pending(catalog: Catalog, cfg: Config) -> bool:
    """Whether this config file differs from the last one the audit log recorded."""
    with catalog.begin() as conn:
        last = last_config_change(SAReader(conn))
    return config_changed(last, cfg)


def config_changed(last: str | None, cfg: Config) -> bool:
    """Whether this config file differs from ``last``, the details of the newest
    ``config.change`` audit entry (``archiver.catalog.marks.last_config_change``)."""
    import json

    return last is None or json.loads(last).get("sha256") != _config_digest(cfg)


def record_config_change(catalog: Catalog, cfg: Config) -> None:
    """Log a ``config.change`` audit entry the first time a changed config file is used."""
    import json

    from archiver import audit

    digest = _config_digest(cfg)
    with catalog.begin() as conn:
        last = last_config_change(SAReader(conn))
        if last is not None and json.loads(last).get("sha256") == digest:
            return
        audit.append(
            conn,
            action="config.change",
            subject=str(cfg.path.resolve()),
            details={
                "sha256": digest,
                "sites": [s.id for s in cfg.sites],
                "first": last is None,
            },
            anchor_path=cfg.audit_anchor,
        )
