"""Wire config, catalog and storage together once per command or daemon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archiver.catalog.store import Catalog
from archiver.config import Config, load_config
from archiver.errors import ConfigError, StorageError
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from connectors.registry import platforms


@dataclass
class App:
    cfg: Config
    catalog: Catalog
    storage: Storage

    def close(self) -> None:
        self.catalog.close()


def make_storage(cfg: Config) -> Storage:
    section = cfg.section("storage")
    backend = section.get("backend", "local")
    if backend == "local":
        root = Path(str(section.get("path", cfg.bundles_dir)))
        return LocalStorage(root)
    if backend == "s3":
        from archiver.storage.s3 import S3Storage, settings_from_config

        storage = S3Storage(
            settings_from_config(section, file=str(cfg.path), staging=cfg.staging_dir)
        )
        storage.self_check()
        return storage
    raise ConfigError(
        f"unknown storage backend {backend!r}",
        file=str(cfg.path),
        key="storage.backend",
        hint='use "local" (default) or "s3"',
    )


def open_app(config_path: str | None = None) -> App:
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
    return App(cfg, catalog, storage)
