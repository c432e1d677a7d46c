"""The S3 store's WORM self-check: prove at start-up that Object Lock is really enforced.

Some S3 look-alikes (moto, some appliances) accept Object Lock headers and then do not
enforce them. Before the first publish, ``check_worm`` writes canaries under ``.worm-check/``
(outside every bundle key) and checks that the store refuses to shorten a COMPLIANCE
retention, to delete a locked version and to delete a version under legal hold. A store that
does not is refused (``WormRefusedError``) unless ``allow_unsafe_worm`` is set, and the
result is kept in the catalog (``archiver.catalog.worm_state``) for status and the report.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from archiver.errors import StorageError
from archiver.log import get_logger
from archiver.settings.storage import S3Settings
from archiver.storage.s3 import (
    _CLIENT_ERRORS,
    _LOCK_ERRORS,
    CANARY_DIR,
    Clock,
    S3Storage,
    _checksum_headers,
    _lock_state,
    _utcnow,
    storage_error,
)

__all__ = ["WormCheckResult", "WormRefusedError", "check_worm", "self_check", "worm_refusal"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WormCheckResult:
    """What the start-up probe found; reports show it so nobody mistakes a test store for WORM.

    ``legal_hold_inconclusive``: the bucket has a default retention, so the legal-hold canary
    was locked by that default too and its refused delete proves nothing about holds. That is
    safe (every version is locked anyway) but reported. ``overridden``: the store is unsafe
    and ``allow_unsafe_worm`` let the archiver run anyway.
    """

    endpoint: str
    bucket: str
    versioning_enabled: bool
    default_retention: str | None
    compliance_shorten_refused: bool
    compliance_delete_refused: bool
    legal_hold_delete_refused: bool
    problems: tuple[str, ...]
    checked_at: dt.datetime
    legal_hold_inconclusive: bool = False
    canaries_left: tuple[str, ...] = ()
    overridden: bool = False

    @property
    def unsafe(self) -> bool:
        return bool(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "versioning_enabled": self.versioning_enabled,
            "default_retention": self.default_retention,
            "compliance_shorten_refused": self.compliance_shorten_refused,
            "compliance_delete_refused": self.compliance_delete_refused,
            "legal_hold_delete_refused": self.legal_hold_delete_refused,
            "legal_hold_inconclusive": self.legal_hold_inconclusive,
            "problems": list(self.problems),
            "canaries_left": list(self.canaries_left),
            "overridden": self.overridden,
            "checked_at": self.checked_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WormCheckResult:
        return cls(
            endpoint=str(d["endpoint"]),
            bucket=str(d["bucket"]),
            versioning_enabled=bool(d["versioning_enabled"]),
            default_retention=d.get("default_retention"),
            compliance_shorten_refused=bool(d["compliance_shorten_refused"]),
            compliance_delete_refused=bool(d["compliance_delete_refused"]),
            legal_hold_delete_refused=bool(d["legal_hold_delete_refused"]),
            legal_hold_inconclusive=bool(d.get("legal_hold_inconclusive", False)),
            problems=tuple(d.get("problems", ())),
            canaries_left=tuple(d.get("canaries_left", ())),
            overridden=bool(d.get("overridden", False)),
            checked_at=dt.datetime.fromisoformat(str(d["checked_at"])),
        )


class WormRefusedError(StorageError):
    """The store does not enforce WORM and no override is set; carries what the probe found."""

    def __init__(self, message: str, *, hint: str, result: WormCheckResult) -> None:
        super().__init__(message, hint=hint)
        self.result = result


def worm_refusal(settings: S3Settings, result: WormCheckResult) -> WormRefusedError:
    """The refusal for a store whose check found it unsafe (also re-raised from the recorded
    result of an earlier check, ``archiver.app.self_check``)."""
    return WormRefusedError(
        f"S3 bucket {settings.bucket} at {settings.endpoint} does not enforce WORM "
        f"({'; '.join(result.problems)}); refusing to run",
        hint="point [storage] at MinIO or S3 with Object Lock in COMPLIANCE mode "
        "(mc mb --with-lock, see docs/storage.md); allow_unsafe_worm = true is for "
        "tests only",
        result=result,
    )


def _canary_name(settings: S3Settings, now: dt.datetime, kind: str) -> str:
    prefix = settings.prefix.strip("/")
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    name = f"{CANARY_DIR}/{stamp}-{kind}-{uuid.uuid4().hex[:8]}"
    return f"{prefix}/{name}" if prefix else name


def _put_canary(
    client: Minio, settings: S3Settings, name: str, retention: Retention | None, hold: bool
) -> str | None:
    body = b"archiver WORM self-check canary\n"
    result = client.put_object(
        settings.bucket,
        name,
        io.BytesIO(body),
        len(body),
        metadata=_checksum_headers(zlib.crc32(body)),
        retention=retention,
        legal_hold=hold,
    )
    version: str | None = result.version_id
    return version


def _sweep_canaries(client: Minio, settings: S3Settings, now: dt.datetime) -> int:
    """Remove canaries of earlier start-ups once their day of retention is over.

    Best effort: a canary the store still refuses to delete is simply tried again next time.
    """
    prefix = settings.prefix.strip("/")
    root = f"{prefix}/{CANARY_DIR}/" if prefix else f"{CANARY_DIR}/"
    removed = 0
    for obj in client.list_objects(
        settings.bucket, prefix=root, recursive=True, include_version=True
    ):
        stamp = obj.object_name[len(root) :].split("-", 1)[0]
        try:
            made = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        if now - made < dt.timedelta(days=2):
            continue
        try:
            client.remove_object(settings.bucket, obj.object_name, version_id=obj.version_id)
            removed += 1
        except S3Error:
            continue
    return removed


def _refused(action: Callable[[], object]) -> bool:
    try:
        action()
    except S3Error as exc:
        if exc.code in _LOCK_ERRORS:
            return True
        raise
    return False


def _check_bucket(client: Minio, settings: S3Settings) -> tuple[bool, str | None]:
    """(versioning enabled, the bucket's default retention such as "COMPLIANCE 30 DAYS")."""
    doing = "checking the bucket"
    try:
        if not client.bucket_exists(settings.bucket):
            raise StorageError(
                f"bucket {settings.bucket} does not exist at {settings.endpoint}",
                hint=f"create it with object lock: mc mb --with-lock ALIAS/{settings.bucket}",
            )
        try:
            cfg = client.get_object_lock_config(settings.bucket)
        except S3Error as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                raise StorageError(
                    f"bucket {settings.bucket} at {settings.endpoint} has no Object Lock",
                    hint="Object Lock can only be enabled at creation: make a new bucket with "
                    "mc mb --with-lock and copy the bundles over",
                ) from exc
            raise
        versioning = client.get_bucket_versioning(settings.bucket).status
    except _CLIENT_ERRORS as exc:
        raise storage_error(exc, settings, doing) from exc
    default = f"{cfg.mode} {cfg.duration} {cfg.duration_unit}" if cfg.mode else None
    return versioning == "Enabled", default


def check_worm(client: Minio, settings: S3Settings, *, clock: Clock = _utcnow) -> WormCheckResult:
    """Prove the store enforces WORM instead of trusting that it accepted the headers.

    A COMPLIANCE canary (1 day) must refuse both a shorter retain-until date and deletion of
    its version; a legal-hold canary must refuse deletion and is removed after release. The
    COMPLIANCE canary stays for a day under ``.worm-check/`` (outside every bundle key) and
    a later check removes it.

    A bucket with a default retention (``mc retention set --default``) locks the legal-hold
    canary as well: its refused delete then proves nothing about holds (reported as
    inconclusive, which is safe: every version is locked anyway), and after the release it
    still cannot be deleted, so it is left for a later sweep instead of failing start-up.
    """
    versioning, default = _check_bucket(client, settings)
    now = clock()
    problems: list[str] = []
    try:
        _sweep_canaries(client, settings, now)
    except _CLIENT_ERRORS as exc:
        raise storage_error(exc, settings, "removing old WORM canaries") from exc
    if not versioning:
        problems.append("bucket versioning is not Enabled")
    left: list[str] = []
    try:
        name = _canary_name(settings, now, "compliance")
        until = now + dt.timedelta(days=1)
        vid = _put_canary(client, settings, name, Retention(COMPLIANCE, until), hold=False)
        shorter = Retention(COMPLIANCE, now + dt.timedelta(hours=1))
        shorten_refused = _refused(
            lambda: client.set_object_retention(settings.bucket, name, shorter, version_id=vid)
        )
        delete_refused = _refused(
            lambda: client.remove_object(settings.bucket, name, version_id=vid)
        )
        hold_name = _canary_name(settings, now, "legalhold")
        # A plain PUT first (it gets the bucket default retention, if any, as a real
        # PUT of a bundle file would), then the hold: the same order on every store.
        hold_vid = _put_canary(client, settings, hold_name, None, hold=False)
        client.enable_object_legal_hold(settings.bucket, hold_name, hold_vid)
        hold_state = _lock_state(
            client.stat_object(settings.bucket, hold_name, version_id=hold_vid).metadata or {}
        )
        # Locked by the default retention too: a refused delete proves nothing about holds.
        inconclusive = default is not None or (
            hold_state.until is not None and hold_state.until > now
        )
        hold_refused = _refused(
            lambda: client.remove_object(settings.bucket, hold_name, version_id=hold_vid)
        )
        if hold_refused:
            client.disable_object_legal_hold(settings.bucket, hold_name, hold_vid)
            if _refused(
                lambda: client.remove_object(settings.bucket, hold_name, version_id=hold_vid)
            ):
                left.append(hold_name)
                log.info(
                    "storage_worm_canary_left",
                    bucket=settings.bucket,
                    canary=hold_name,
                    reason="locked by the bucket default retention; a later check removes it",
                )
    except StorageError:
        raise
    except _CLIENT_ERRORS as exc:
        raise storage_error(exc, settings, "running the WORM self-check") from exc
    if not shorten_refused:
        problems.append("COMPLIANCE retention could be shortened")
    if not delete_refused:
        problems.append("a COMPLIANCE-locked version could be deleted")
    if not hold_refused:
        problems.append("a version under legal hold could be deleted")
    elif inconclusive:
        log.info(
            "storage_worm_hold_inconclusive",
            bucket=settings.bucket,
            default_retention=default,
            reason="the legal-hold canary was also under the default retention; safe, since "
            "every version is locked anyway",
        )
    result = WormCheckResult(
        endpoint=settings.endpoint,
        bucket=settings.bucket,
        versioning_enabled=versioning,
        default_retention=default,
        compliance_shorten_refused=shorten_refused,
        compliance_delete_refused=delete_refused,
        legal_hold_delete_refused=hold_refused,
        problems=tuple(problems),
        checked_at=now,
        legal_hold_inconclusive=hold_refused and inconclusive,
        canaries_left=tuple(left),
        overridden=bool(problems) and settings.allow_unsafe_worm,
    )
    if result.unsafe:
        if not settings.allow_unsafe_worm:
            raise worm_refusal(settings, result)
        log.error(
            "storage_worm_not_enforced",
            bucket=settings.bucket,
            endpoint=settings.endpoint,
            problems=list(problems),
            message="THIS STORE IS NOT WORM: records can be altered or destroyed early; "
            "allow_unsafe_worm is set, continuing",
        )
    else:
        log.info("storage_worm_ok", bucket=settings.bucket, endpoint=settings.endpoint)
    return result


def self_check(storage: S3Storage) -> WormCheckResult:
    """Run at start-up, before the first publish: refuses a store that does not lock."""
    return check_worm(storage.client, storage.settings, clock=storage.clock)
