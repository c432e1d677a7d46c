"""The checks that a config can run as a cluster at all (PostgreSQL catalog, S3 storage).

The ``[cluster]`` section itself is :mod:`archiver.settings.cluster`, checked at load."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from archiver.config import Config
from archiver.errors import ConfigError
from archiver.settings.cluster import ClusterSettings

__all__ = ["ClusterSettings", "cluster_settings", "require_cluster"]


def cluster_settings(cfg: Config) -> ClusterSettings:
    """``[cluster]`` as checked at load; the defaults when the config has no such section."""
    return cfg.cluster or ClusterSettings()


def require_cluster(cfg: Config) -> None:
    """A worker shares its catalog and its store with the others: PostgreSQL and S3 only."""
    url = make_url(cfg.catalog_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"a worker needs a PostgreSQL catalog, not {url.get_backend_name()}",
            file=str(cfg.path),
            key="archive.catalog_url",
            hint='e.g. catalog_url = "postgresql+psycopg://archiver@db.example/archiver"; '
            "a one-server archive runs `archiver daemon` instead",
        )
    backend = cfg.storage.backend
    if backend != "s3":
        raise ConfigError(
            f'a worker needs [storage] backend = "s3", not {backend!r}',
            file=str(cfg.path),
            key="storage.backend",
            hint="every worker publishes to the same bucket; a local folder is one server's",
        )


def procrastinate_dsn(catalog_url: str) -> str:
    """The libpq connection string for Procrastinate, from the catalog's SQLAlchemy URL."""
    url = make_url(catalog_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
