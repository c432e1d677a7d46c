"""Wire config, catalog and storage together once per command or daemon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.catalog.store import Catalog
from archiver.config import Config, load_config
from archiver.errors import ConfigError, StorageError
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from connectors.registry import platforms

if TYPE_CHECKING:
    from archiver.storage.s3 import WormCheckResult


@dataclass
class App:
    cfg: Config
    catalog: Catalog
    storage: Storage
    # The start-up WORM self-check of an S3 store (None for the local backend); also kept in
    # the catalog (archiver.storage.worm_state) for status and the monthly report.
    worm_check: WormCheckResult | None = None

    def close(self) -> None:
        self.catalog.close()


def make_storage(cfg: Config) -> Storage:
    """The configured backend, not yet checked (``open_app`` runs the WORM self-check)."""
    section = cfg.section("storage")
    backend = section.get("backend", "local")
    if backend == "local":
        root = Path(str(section.get("path", cfg.bundles_dir)))
        return LocalStorage(root)
    if backend == "s3":
        from archiver.storage.s3 import S3Storage, settings_from_config

        return S3Storage(settings_from_config(section, file=str(cfg.path), staging=cfg.staging_dir))
    raise ConfigError(
        f"unknown storage backend {backend!r}",
        file=str(cfg.path),
        key="storage.backend",
        hint='use "local" (default) or "s3"',
    )


def open_app(config_path: str | None = None, *, record_config: bool = True) -> App:
    """``record_config=False`` for checks that must not write before they have checked
    (``audit verify``: a config.change entry appended to a wiped log would hide the wipe)."""
    cfg = load_config(config_path, platforms=platforms())
    try:
        cfg.root.mkdir(parents=True, exist_ok=True)
        cfg.staging_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the archive root {cfg.root}: {exc.strerror}",
            hint=f"fix [archive] root in {cfg.path} or the folder's permissions",
        ) from exc
    storage = make_storage(cfg)
    catalog = Catalog(cfg.catalog_url)
    try:
        worm = self_check(storage, catalog)
        if record_config:
            record_config_change(catalog, cfg)
    except BaseException:
        catalog.close()
        raise
    return App(cfg, catalog, storage, worm)


def self_check(storage: Storage, catalog: Catalog) -> WormCheckResult | None:
    """Run the S3 store's WORM self-check and keep the result, a refusal included."""
    from archiver.storage.s3 import S3Storage, WormRefusedError
    from archiver.storage.worm_state import record_check

    if not isinstance(storage, S3Storage):
        return None
    try:
        result = storage.self_check()
    except WormRefusedError as exc:
        record_check(catalog, exc.result, refused=True)
        raise
    record_check(catalog, result)
    return result


def record_config_change(catalog: Catalog, cfg: Config) -> None:
    """Log a ``config.change`` audit entry the first time a changed config file is used."""
    import hashlib
    import json

    from sqlalchemy import select

    from archiver import audit

    digest = hashlib.sha256(cfg.path.read_bytes()).hexdigest()
    with catalog.begin() as conn:
        last = conn.execute(
            select(audit.audit_log.c.details)
            .where(audit.audit_log.c.action == "config.change")
            .order_by(audit.audit_log.c.seq.desc())
            .limit(1)
        ).scalar()
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
