"""``[storage]``: where sealed bundles go, a local folder or an S3 bucket with Object Lock.

The S3 settings name their secrets (``access_key_secret``), never hold them. A bundle with no
disposal date is kept locked ``rolling_lock_days`` ahead in a WORM store (the daily retention
refresh renews it), so it never falls back to the short lock it got at publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from archiver.config_sections import S3_STORAGE_KEYS, STORAGE_BACKENDS
from archiver.errors import ConfigError, StorageError

LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
Backend = Literal["local", "s3"]

#: How far ahead a bundle with no disposal date (permanent or event items, unmapped classes)
#: is kept locked in a WORM store; the daily refresh renews it when half has run out.
DEFAULT_ROLLING_LOCK_DAYS = 365


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where the bucket is and how hard it locks; secrets are named here, never stored."""

    endpoint: str
    bucket: str
    secure: bool = True
    region: str | None = None
    prefix: str = ""
    access_key_secret: str = "ARCHIVER_S3_ACCESS_KEY"
    secret_key_secret: str = "ARCHIVER_S3_SECRET_KEY"
    lock_mode: LockMode = "COMPLIANCE"
    # Until the catalog knows the eligibility date, a freshly published bundle must still be
    # undeletable; 0 sends no retention at publish (tests and demos only).
    default_retention_days: int = 30
    allow_unsafe_worm: bool = False
    # Bundles are sealed here before upload; it must be on local disk with room for one bundle.
    staging_dir: Path = field(default_factory=lambda: Path("staging"))
    # A private CA bundle (PEM) for a MinIO with an internal certificate.
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise StorageError(
                f"unknown S3 lock_mode {self.lock_mode!r} for bucket {self.bucket}",
                hint='set [storage] lock_mode = "COMPLIANCE" (or "GOVERNANCE")',
            )
        if self.default_retention_days < 0:
            raise StorageError(
                f"default_retention_days must not be negative for bucket {self.bucket}",
                hint="set [storage] default_retention_days to 1 or more (30 is a safe default)",
            )
        if "://" in self.endpoint or "/" in self.endpoint:
            raise StorageError(
                f"S3 endpoint {self.endpoint!r} must be host:port without scheme or path",
                hint="e.g. endpoint = minio.city.local:9000 and secure = true for https",
            )


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """``[storage]``: the backend, the local folder or the S3 bucket, the rolling lock."""

    backend: Backend = "local"
    path: Path = Path("bundles")
    """The local backend's folder (default ``<root>/bundles``); unused for S3."""
    rolling_lock_days: int = DEFAULT_ROLLING_LOCK_DAYS
    s3: S3Settings | None = None
    """Set exactly when ``backend = "s3"``."""

    @property
    def store(self) -> tuple[str, str] | None:
        """(endpoint, bucket) of the S3 store, or None for the local backend."""
        return None if self.s3 is None else (self.s3.endpoint, self.s3.bucket)


def rolling_lock_days(raw: Mapping[str, Any], *, file: str) -> int:
    """``[storage] rolling_lock_days``: the rolling retain-until for undated bundles."""
    value = raw.get("rolling_lock_days", DEFAULT_ROLLING_LOCK_DAYS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise ConfigError(
            f"must be a whole number of days, 2 or more (got {value!r})",
            file=file,
            key="storage.rolling_lock_days",
            hint=f"e.g. rolling_lock_days = {DEFAULT_ROLLING_LOCK_DAYS}",
        )
    return value


def s3_settings(raw: Mapping[str, Any], *, file: str, staging: Path) -> S3Settings:
    """The S3 store from ``[storage]``; secrets are named there, never written."""
    for k, v in raw.items():
        want = S3_STORAGE_KEYS.get(k)
        if want is None:
            raise ConfigError(
                "unknown key",
                file=file,
                key=f"storage.{k}",
                hint="allowed keys: " + ", ".join(sorted(S3_STORAGE_KEYS)),
            )
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise ConfigError(f"must be a {want.__name__}", file=file, key=f"storage.{k}")
    for k in ("endpoint", "bucket"):
        if not str(raw.get(k, "")).strip():
            raise ConfigError(
                'is required for backend = "s3"',
                file=file,
                key=f"storage.{k}",
                hint='e.g. endpoint = "minio.city.local:9000", bucket = "social-archive"',
            )
    ca = raw.get("ca_file")
    try:
        return S3Settings(
            endpoint=raw["endpoint"].strip(),
            bucket=raw["bucket"].strip(),
            secure=raw.get("secure", True),
            region=raw.get("region"),
            prefix=raw.get("prefix", ""),
            access_key_secret=raw.get("access_key_secret", "ARCHIVER_S3_ACCESS_KEY"),
            secret_key_secret=raw.get("secret_key_secret", "ARCHIVER_S3_SECRET_KEY"),
            lock_mode=raw.get("lock_mode", "COMPLIANCE"),
            default_retention_days=raw.get("default_retention_days", 30),
            allow_unsafe_worm=raw.get("allow_unsafe_worm", False),
            staging_dir=staging,
            ca_file=Path(ca) if ca else None,
        )
    except StorageError as exc:
        raise ConfigError(exc.message, file=file, key="storage", hint=exc.hint) from exc


def storage_from(raw: Mapping[str, Any], *, file: str, root: Path) -> StorageSettings:
    """Validate ``[storage]`` against the backend it names."""
    backend = raw.get("backend", "local")
    if backend not in STORAGE_BACKENDS:
        raise ConfigError(
            f"{backend!r} is not one of: {', '.join(STORAGE_BACKENDS)}",
            file=file,
            key="storage.backend",
            hint='use "local" (default) or "s3"',
        )
    days = rolling_lock_days(raw, file=file)
    if backend == "s3":
        s3 = s3_settings(raw, file=file, staging=root / "staging")
        return StorageSettings(backend="s3", path=root / "bundles", rolling_lock_days=days, s3=s3)
    path = raw.get("path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise ConfigError("must be a folder path string", file=file, key="storage.path")
    folder = Path(path) if path else root / "bundles"
    return StorageSettings(backend="local", path=folder, rolling_lock_days=days)
