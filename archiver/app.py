"""Wire config, catalog and storage together once per command or daemon."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archiver.catalog.store import Catalog, sqlite_path
from archiver.config import Config, load_config
from archiver.errors import CatalogError, StorageError
from archiver.resources import free_bytes, fs_read_only, mkdir_private
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from connectors.registry import platforms

if TYPE_CHECKING:
    from sqlalchemy import Connection

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


def unwritable_reason(cfg: Config) -> str | None:
    """Why nothing can be written under the archive root, or None if it looks writable."""
    import os

    root = cfg.root
    if not root.exists():
        return None
    if fs_read_only(root):
        return f"{root} is on a read-only filesystem"
    if free_bytes(root) == 0:
        return f"the disk holding {root} is full"
    catalog = sqlite_path(cfg.catalog_url)
    for p in (root, catalog):
        if p is not None and p.exists() and not os.access(p, os.W_OK):
            return f"no write permission on {p}"
    return None


def _open_read_only(cfg: Config, reason: str) -> App:
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
    from archiver.catalog.worm_state import last_check, record_check
    from archiver.storage.s3 import S3Storage
    from archiver.storage.s3_worm import WormRefusedError, worm_refusal
    from archiver.storage.s3_worm import self_check as worm_self_check

    if not isinstance(storage, S3Storage):
        return None
    if not force:
        allow = storage.settings.allow_unsafe_worm
        with catalog.begin() as conn:
            found = last_check(conn, storage.settings.endpoint, storage.settings.bucket)
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


def _last_config_change(conn: Connection) -> str | None:
    from sqlalchemy import select

    from archiver import audit

    value = conn.execute(
        select(audit.audit_log.c.details)
        .where(audit.audit_log.c.action == "config.change")
        .order_by(audit.audit_log.c.seq.desc())
        .limit(1)
    ).scalar()
    return None if value is None else str(value)


def _config_digest(cfg: Config) -> str:
    import hashlib

    return hashlib.sha256(cfg.path.read_bytes()).hexdigest()


def config_change_pending(catalog: Catalog, cfg: Config) -> bool:
    """Whether this config file differs from the last one the audit log recorded."""
    import json

    with catalog.begin() as conn:
        last = _last_config_change(conn)
    return last is None or json.loads(last).get("sha256") != _config_digest(cfg)


def record_config_change(catalog: Catalog, cfg: Config) -> None:
    """Log a ``config.change`` audit entry the first time a changed config file is used."""
    import json

    from archiver import audit

    digest = _config_digest(cfg)
    with catalog.begin() as conn:
        last = _last_config_change(conn)
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
