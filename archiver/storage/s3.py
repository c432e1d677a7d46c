"""S3-compatible storage (MinIO in production) with Object Lock: WORM copies of sealed bundles.

An object store has no atomic rename, so visibility rests on a completion marker: every file of
the bundle is uploaded and verified first, and ``tagmanifest-sha256.txt`` goes up LAST. A bundle
exists only when its marker exists, so a crash mid-upload leaves an invisible partial that a
later ``publish`` of the same key completes (files already stored and verified are not sent
again, which matters because every stray version is locked and cannot be removed early).

Every object is written with Object Lock retention (``lock_mode`` until now plus
``default_retention_days``) so nothing is deletable before the catalog sets the real
eligibility date with ``set_retention``. The bucket must be created with Object Lock; it cannot
be added later. ``archiver.storage.s3_worm.check_worm`` proves at start-up that the store refuses to shorten retention
and to delete a locked version, because some S3 look-alikes (moto, some appliances) accept the
headers and then do not enforce them.

Standalone documents (the RM88/RM60 disposal records, ``put_document``) go under
``<prefix>/disposal-records/<name>`` with their own retain-until date (30 years for an RM88),
read back and hash-compared like bundle files.

Files are sent with one PUT each (minio-py reads a single-part body into memory), so one file
may be at most 5 GiB and needs that much free memory; bundles roll over well below that.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import shutil
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException, S3Error
from minio.helpers import MAX_PART_SIZE, DictType
from minio.retention import Retention

from archiver.errors import StorageError
from archiver.log import get_logger
from archiver.secrets import read_secret
from archiver.settings.storage import LockMode as LockMode
from archiver.settings.storage import S3Settings
from archiver.storage.base import (
    DOCUMENTS_PREFIX,
    JOURNAL_PREFIX,
    JOURNAL_SUFFIXES,
    BundleFile,
    check_document_name,
    check_journal_name,
)

log = get_logger(__name__)

SEAL_MARKER = "tagmanifest-sha256.txt"
PAYLOAD_MANIFEST = "manifest-sha256.txt"
SHA256_META = "x-amz-meta-archiver-sha256"
CANARY_DIR = ".worm-check"
_CHUNK = 1024 * 1024
_LOCK_ERRORS = {"AccessDenied", "InvalidRequest", "ObjectLocked", "MethodNotAllowed"}

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _LockState:
    mode: str | None
    until: dt.datetime | None
    legal_hold: bool

    def locked(self, now: dt.datetime) -> bool:
        return self.legal_hold or (self.until is not None and self.until > now)

    def describe(self) -> str:
        parts = []
        if self.until is not None:
            parts.append(f"{self.mode} retention until {self.until.isoformat()}")
        if self.legal_hold:
            parts.append("legal hold ON")
        return " and ".join(parts) or "no lock"


@dataclass(frozen=True, slots=True)
class _Version:
    name: str
    version_id: str | None
    is_delete_marker: bool


def _lock_state(headers: Any) -> _LockState:
    """Read lock state from HEAD headers: moto has no GetObjectRetention, HEAD works everywhere."""
    until_raw = headers.get("x-amz-object-lock-retain-until-date")
    until = dt.datetime.fromisoformat(until_raw) if until_raw else None
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    hold = str(headers.get("x-amz-object-lock-legal-hold", "")).upper() == "ON"
    return _LockState(headers.get("x-amz-object-lock-mode"), until, hold)


def _checksum_headers(crc: int) -> DictType:
    """Locked PUTs need a checksum; minio-py sends Content-MD5 only over https, so send CRC32."""
    b64 = base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")
    return {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": b64}


def _digest_file(path: Path) -> tuple[int, str, int]:
    size, crc, sha = 0, 0, hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
            sha.update(chunk)
    return size, sha.hexdigest(), crc


def _read_manifest(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, _, rel = line.strip().partition(" ")
        out[rel.strip().replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")] = (
            digest.lower()
        )
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise StorageError(
            f"refusing unsafe bundle key {key!r}",
            hint="keys look like <site_id>/<yyyy>/<bundle_id> with no '..' or empty parts",
        )
    return key


def _check_relpath(key: str, relpath: str) -> str:
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"refusing unsafe path {relpath!r} in bundle {key}")
    return relpath


def make_client(settings: S3Settings) -> Minio:
    """A client with short connect timeouts and few retries, so a dead endpoint fails fast."""
    access = read_secret(settings.access_key_secret, purpose="S3 access key")
    secret = read_secret(settings.secret_key_secret, purpose="S3 secret key")
    ca = str(settings.ca_file) if settings.ca_file else os.environ.get("SSL_CERT_FILE")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5.0, read=120.0),
        maxsize=10,
        cert_reqs="CERT_REQUIRED" if settings.secure else "CERT_NONE",
        ca_certs=ca,
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        settings.endpoint,
        access_key=access,
        secret_key=secret,
        secure=settings.secure,
        region=settings.region,
        http_client=http,
    )


def storage_error(exc: BaseException, settings: S3Settings, doing: str) -> StorageError:
    """Turn a client or network failure into one line that names the bucket and the fix."""
    where = f"S3 endpoint {settings.endpoint} bucket {settings.bucket}"
    if isinstance(exc, S3Error):
        code = exc.code or "error"
        if code == "NoSuchBucket":
            return StorageError(
                f"bucket {settings.bucket} does not exist at {settings.endpoint} ({doing})",
                hint=f"create it with object lock: mc mb --with-lock ALIAS/{settings.bucket}",
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"):
            return StorageError(
                f"{where}: credentials refused ({code}) while {doing}",
                hint=f"check the secrets {settings.access_key_secret} and "
                f"{settings.secret_key_secret} (systemd LoadCredential or environment)",
            )
        if code == "AccessDenied":
            return StorageError(
                f"{where}: access denied while {doing} ({_one_line(exc.message or code)})",
                hint=f"check the credentials {settings.access_key_secret}/"
                f"{settings.secret_key_secret} and the user's policy (an Object Lock refusal "
                "looks the same)",
            )
        return StorageError(f"{where}: {code} while {doing}: {_one_line(exc.message or '')}")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.SSLError):
        return StorageError(
            f"TLS to S3 endpoint {settings.endpoint} failed while {doing}: "
            f"{_one_line(str(exc))[:200]}",
            hint="secure = true needs https on that port; set ca_file for a private CA, "
            "or secure = false for plain http",
        )
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionError):
        reason = _one_line(str(exc)).split("connection: ")[-1][:200]
        return StorageError(
            f"cannot reach S3 endpoint {settings.endpoint} ({reason}) while {doing}",
            hint="check [storage] endpoint and that MinIO is running and reachable",
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | MinioException):
        return StorageError(
            f"{where}: {type(exc).__name__} while {doing}: {_one_line(str(exc))[:200]}",
            hint="check [storage] endpoint, secure and that the server speaks S3",
        )
    return StorageError(f"{where}: {type(exc).__name__} while {doing}: {_one_line(str(exc))}")


_CLIENT_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError)


class _ObjectStream(io.RawIOBase):
    """A GET body as a file object whose close also returns the connection to the pool."""

    def __init__(self, response: Any) -> None:
        self._resp = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._resp.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
            self._resp.release_conn()
        super().close()


class S3Storage:
    """Bundles as objects under ``<prefix>/<key>/`` in one Object Lock bucket."""

    name = "s3"

    def __init__(
        self, settings: S3Settings, client: Minio | None = None, *, clock: Clock = _utcnow
    ) -> None:
        self.settings = settings
        self.client = client if client is not None else make_client(settings)
        self.bucket = settings.bucket
        self._prefix = settings.prefix.strip("/")
        self._clock = clock

    # -- naming -------------------------------------------------------------------------------

    def _base(self, key: str) -> str:
        _check_key(key)
        return f"{self._prefix}/{key}/" if self._prefix else f"{key}/"

    def _obj(self, key: str, relpath: str) -> str:
        return self._base(key) + _check_relpath(key, relpath)

    def _err(self, exc: BaseException, doing: str) -> StorageError:
        return storage_error(exc, self.settings, doing)

    # -- reading ------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        name = self._obj(key, SEAL_MARKER)
        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "MethodNotAllowed"):
                return False
            raise self._err(exc, f"checking bundle {key}") from exc
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"checking bundle {key}") from exc
        return True

    def list_bundles(self, *, site_id: str | None = None) -> Iterator[str]:
        root = f"{self._prefix}/" if self._prefix else ""
        suffix = "/" + SEAL_MARKER
        keys = []
        # One site's bundles are one prefix: a cluster worker's per-harvest recovery lists
        # only those, not the whole bucket.
        prefix = root + (f"{site_id}/" if site_id is not None else "")
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
                name: str = obj.object_name
                parts = name[len(root) :].split("/")
                # Same shape as the local backend: <site>/<yyyy>/<bundle>/tagmanifest-sha256.txt.
                if name.endswith(suffix) and len(parts) == 4:
                    keys.append("/".join(parts[:3]))
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, "listing bundles") from exc
        yield from sorted(keys)

    def list_files(self, key: str) -> list[BundleFile]:
        base = self._base(key)
        try:
            out = [
                BundleFile(obj.object_name[len(base) :], int(obj.size or 0))
                for obj in self.client.list_objects(self.bucket, prefix=base, recursive=True)
            ]
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"listing files of bundle {key}") from exc
        if not out:
            raise StorageError(f"bundle {key} is missing from bucket {self.bucket}")
        return sorted(out, key=lambda f: f.relpath)

    def open(self, key: str, relpath: str) -> BinaryIO:
        name = self._obj(key, relpath)
        try:
            resp = self.client.get_object(self.bucket, name)
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading {relpath} of bundle {key}") from exc
        return io.BufferedReader(_ObjectStream(resp), buffer_size=_CHUNK)

    def read_range(self, key: str, relpath: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if offset < 0:
            raise StorageError(f"negative offset {offset} reading {relpath} of bundle {key}")
        name = self._obj(key, relpath)
        try:
            resp = self.client.get_object(self.bucket, name, offset=offset, length=length)
        except S3Error as exc:
            if exc.code == "InvalidRange":  # offset at or past the end, like a local read
                return b""
            raise self._err(exc, f"reading {relpath} of bundle {key}") from exc
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading {relpath} of bundle {key}") from exc
        try:
            data: bytes = resp.read()
        finally:
            resp.close()
            resp.release_conn()
        return data

    def local_path(self, key: str) -> Path | None:
        return None

    # -- publishing ---------------------------------------------------------------------------

    def _retention(self) -> Retention | None:
        days = self.settings.default_retention_days
        if days == 0:
            return None
        return Retention(self.settings.lock_mode, self._clock() + dt.timedelta(days=days))

    def _stored_sha256(self, name: str, version_id: str | None = None) -> tuple[int, str]:
        """Read an object back in full: the only proof that the store holds our bytes."""
        sha, size = hashlib.sha256(), 0
        resp = self.client.get_object(self.bucket, name, version_id=version_id)
        try:
            for chunk in resp.stream(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
        finally:
            resp.close()
            resp.release_conn()
        return size, sha.hexdigest()

    def _already_stored(self, name: str, size: int, sha: str) -> bool:
        """True when a crashed earlier publish left this exact file, verified by re-reading."""
        try:
            st = self.client.stat_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "MethodNotAllowed"):
                return False
            raise
        if st.size != size or (st.metadata or {}).get(SHA256_META) != sha:
            return False
        return self._stored_sha256(name, st.version_id) == (size, sha)

    def _put_and_read_back(
        self, name: str, path: Path, *, size: int, sha: str, crc: int, retention: Retention | None
    ) -> tuple[int, str]:
        """Send one file with its checksums (and lock); return (size, sha256) of what the store
        now holds, re-read from the version just written, for the caller to compare."""
        with path.open("rb") as fh:
            result = self.client.put_object(
                self.bucket,
                name,
                fh,
                length=size,
                part_size=MAX_PART_SIZE,
                metadata={**_checksum_headers(crc), SHA256_META: sha},
                retention=retention,
            )
        return self._stored_sha256(name, result.version_id)

    def _upload(self, key: str, path: Path, relpath: str, size: int, sha: str, crc: int) -> None:
        name = self._obj(key, relpath)
        doing = f"uploading {relpath} of bundle {key}"
        try:
            if self._already_stored(name, size, sha):
                log.info("storage_s3_reused_partial", key=key, relpath=relpath)
                return
            stored = self._put_and_read_back(
                name, path, size=size, sha=sha, crc=crc, retention=self._retention()
            )
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, doing) from exc
        if stored != (size, sha):
            raise StorageError(
                f"bucket {self.bucket} key {name}: stored copy has size {stored[0]} sha256 "
                f"{stored[1]}, expected {size} {sha}; bundle {key} left unpublished",
                hint="check the store's health, then publish again (the marker is not written)",
            )

    def _plan(self, staged: Path, key: str) -> list[tuple[Path, str, int, str, int]]:
        """Hash every file and check it against the bag's manifests before sending anything,
        because each object sent is locked and a bad bundle could not be cleaned up."""
        if not (staged / SEAL_MARKER).is_file():
            raise StorageError(f"{staged} is not sealed (no {SEAL_MARKER}); refusing to publish")
        expected = _read_manifest(staged / PAYLOAD_MANIFEST)
        expected.update(_read_manifest(staged / SEAL_MARKER))
        files: list[tuple[Path, str, int, str, int]] = []
        for path in sorted(staged.rglob("*")):
            rel = path.relative_to(staged).as_posix()
            if path.is_symlink():
                raise StorageError(f"{staged}: {rel} is a symlink; refusing to publish {key}")
            if not path.is_file():
                continue
            size, sha, crc = _digest_file(path)
            want = expected.pop(rel, None)
            if want is None and rel.startswith("data/"):
                raise StorageError(
                    f"{staged}: {rel} is not in {PAYLOAD_MANIFEST}; refusing to publish {key}",
                    hint="re-seal the bundle so every payload file is in the manifest",
                )
            if want is not None and want != sha:
                raise StorageError(
                    f"{staged}: {rel} does not match its manifest sha256; not publishing {key}",
                    hint="the staged copy changed after sealing; re-harvest or re-seal it",
                )
            if size > MAX_PART_SIZE:
                raise StorageError(
                    f"{staged}: {rel} is {size} bytes, over the 5 GiB single-object limit",
                    hint="roll WARC files over at a smaller size before sealing",
                )
            files.append((path, rel, size, sha, crc))
        if expected:
            missing = sorted(expected)[0]
            raise StorageError(
                f"{staged}: {missing} is listed in the manifest but missing "
                f"({len(expected)} file(s) missing); refusing to publish {key}",
            )
        # The marker goes last: its presence is what makes the bundle visible.
        files.sort(key=lambda f: (f[1] == SEAL_MARKER, f[1]))
        return files

    def publish(self, staged: Path, key: str) -> None:
        """Upload, verify, write the marker, then remove ``staged`` (it is not needed any more).

        The staged folder is removed only after every object, marker included, was read back
        and matched; on any error it is left in place for a retry.
        """
        self._base(key)
        if self.exists(key):
            raise StorageError(
                f"bundle {key} already exists in bucket {self.bucket}; refusing to overwrite"
            )
        for path, rel, size, sha, crc in self._plan(staged, key):
            self._upload(key, path, rel, size, sha, crc)
        log.info("storage_s3_published", key=key, bucket=self.bucket)
        _remove_tree(staged)

    # -- standalone documents ------------------------------------------------------------------

    def put_document(self, source: Path, name: str, *, retain_until: dt.date | None) -> str:
        """Upload ``source`` as ``disposal-records/<name>``, locked until ``retain_until``.

        The lock uses the configured ``lock_mode``; ``None`` falls back to the publish-time
        default lock. The stored copy is read back and its SHA-256 compared before returning.
        Already stored with the same hash: nothing is sent (a new version would be locked too).
        """
        key = f"{DOCUMENTS_PREFIX}/{check_document_name(name)}"
        obj = f"{self._prefix}/{key}" if self._prefix else key
        doing = f"storing document {key}"
        try:
            size, sha, crc = _digest_file(source)
        except OSError as exc:
            raise StorageError(f"cannot read {source} to store it: {exc.strerror}") from exc
        if retain_until is not None:
            until = dt.datetime.combine(retain_until, dt.time.min, tzinfo=dt.UTC)
            if until <= self._clock():
                raise StorageError(
                    f"retain-until {retain_until} for document {key} is not in the future",
                    hint="S3 rejects past retention dates",
                )
            retention: Retention | None = Retention(self.settings.lock_mode, until)
        else:
            retention = self._retention()
        try:
            if self._already_stored(obj, size, sha):
                # Same bytes from an earlier run: only make sure the lock reaches the date.
                st = self.client.stat_object(self.bucket, obj)
                have = _lock_state(st.metadata or {})
                if retention is not None and (
                    have.until is None or have.until < retention.retain_until_date
                ):
                    mode = COMPLIANCE if have.mode == COMPLIANCE else self.settings.lock_mode
                    self.client.set_object_retention(
                        self.bucket, obj, Retention(mode, retention.retain_until_date),
                        version_id=st.version_id,
                    )  # fmt: skip
                return key
            stored = self._put_and_read_back(
                obj, source, size=size, sha=sha, crc=crc, retention=retention
            )
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, doing) from exc
        if stored != (size, sha):
            raise StorageError(
                f"bucket {self.bucket} key {obj}: stored copy has size {stored[0]} sha256 "
                f"{stored[1]}, expected {size} {sha}",
                hint="check the store's health, then run the command again",
            )
        log.info(
            "storage_s3_document_stored",
            key=key,
            bucket=self.bucket,
            retain_until=str(retain_until),
        )
        return key

    # -- journal segments ----------------------------------------------------------------------

    def _journal_obj(self, name: str) -> str:
        key = f"{JOURNAL_PREFIX}/{check_journal_name(name)}"
        return f"{self._prefix}/{key}" if self._prefix else key

    def put_journal(self, name: str, data: bytes) -> str:
        """Upload a sealed segment with the default Object Lock retention, then read it back."""
        obj = self._journal_obj(name)
        key = f"{JOURNAL_PREFIX}/{name}"
        sha = hashlib.sha256(data).hexdigest()
        try:
            try:
                st = self.client.stat_object(self.bucket, obj)
            except S3Error as exc:
                if exc.code not in ("NoSuchKey", "NoSuchVersion", "MethodNotAllowed"):
                    raise
                st = None
            if st is not None:
                if self._stored_sha256(obj, st.version_id) == (len(data), sha):
                    return key
                raise StorageError(
                    f"journal segment {key} already exists in bucket {self.bucket} with other "
                    "content; refusing to overwrite",
                    hint="a segment is never rewritten; compare the journal with its backups",
                )
            result = self.client.put_object(
                self.bucket,
                obj,
                io.BytesIO(data),
                length=len(data),
                metadata={**_checksum_headers(zlib.crc32(data)), SHA256_META: sha},
                retention=self._retention(),
            )
            stored = self._stored_sha256(obj, result.version_id)
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"storing journal segment {key}") from exc
        if stored != (len(data), sha):
            raise StorageError(
                f"bucket {self.bucket} key {obj}: stored journal segment has size {stored[0]} "
                f"sha256 {stored[1]}, expected {len(data)} {sha}",
                hint="check the store's health, then run the command again",
            )
        return key

    def list_journal(self) -> list[str]:
        root = f"{self._prefix}/{JOURNAL_PREFIX}/" if self._prefix else f"{JOURNAL_PREFIX}/"
        try:
            names = [
                str(obj.object_name)[len(root) :]
                for obj in self.client.list_objects(self.bucket, prefix=root, recursive=True)
            ]
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, "listing journal segments") from exc
        return sorted(n for n in names if n.endswith(JOURNAL_SUFFIXES))

    def read_journal(self, name: str) -> bytes:
        obj = self._journal_obj(name)
        try:
            resp = self.client.get_object(self.bucket, obj)
            try:
                data: bytes = resp.read()
            finally:
                resp.close()
                resp.release_conn()
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading journal segment {JOURNAL_PREFIX}/{name}") from exc
        return data

    # -- retention and disposition -------------------------------------------------------------

    def _versions(self, key: str) -> list[_Version]:
        base = self._base(key)
        try:
            objs = self.client.list_objects(
                self.bucket, prefix=base, recursive=True, include_version=True
            )
            out = [_Version(o.object_name, o.version_id, bool(o.is_delete_marker)) for o in objs]
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"listing versions of bundle {key}") from exc
        marker = base + SEAL_MARKER
        # Marker data first, then its delete markers (removing those first could resurrect an
        # older marker), then everything else: a half-deleted bundle is never visible.
        out.sort(key=lambda v: (v.name != marker, v.is_delete_marker, v.name))
        return out

    def _lock_of(self, v: _Version) -> _LockState:
        st = self.client.stat_object(self.bucket, v.name, version_id=v.version_id)
        return _lock_state(st.metadata or {})

    def delete(self, key: str) -> None:
        """Remove every version of every object; refuse up front if any version is locked."""
        versions = self._versions(key)
        base = self._base(key)
        now = self._clock()
        try:
            locked = [(v, s) for v in versions if not v.is_delete_marker
                      for s in [self._lock_of(v)] if s.locked(now)]  # fmt: skip
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading locks of bundle {key}") from exc
        if locked:
            v, s = locked[0]
            raise StorageError(
                f"bundle {key} in bucket {self.bucket} is locked: {v.name[len(base) :]} is under "
                f"{s.describe()} ({len(locked)} locked version(s)); refusing to delete",
                hint="wait for the retain-until date or release the legal hold first",
            )
        for v in versions:
            try:
                self.client.remove_object(self.bucket, v.name, version_id=v.version_id)
            except _CLIENT_ERRORS as exc:
                raise self._err(
                    exc, f"deleting {v.name} version {v.version_id} of bundle {key}"
                ) from exc
        log.info("storage_s3_deleted", key=key, bucket=self.bucket, versions=len(versions))

    def set_retention(self, key: str, until: dt.date) -> None:
        """Extend retention on every stored version to ``until`` 00:00 UTC; never shorten."""
        target = dt.datetime.combine(until, dt.time.min, tzinfo=dt.UTC)
        if target <= self._clock():
            raise StorageError(
                f"retain-until {until} for bundle {key} is not in the future",
                hint="S3 rejects past retention dates; a bundle already eligible needs none",
            )
        versions = [v for v in self._versions(key) if not v.is_delete_marker]
        if not versions:
            raise StorageError(f"bundle {key} is missing from bucket {self.bucket}")
        base = self._base(key)
        try:
            states = [(v, self._lock_of(v)) for v in versions]
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading retention of bundle {key}") from exc
        for v, s in states:
            if s.until is not None and s.until > target:
                raise StorageError(
                    f"refusing to shorten retention of bundle {key}: {v.name[len(base) :]} is "
                    f"under {s.mode} retention until {s.until.date()}, asked for {until}",
                    hint="retention can only be extended; COMPLIANCE dates cannot be shortened",
                )
        for v, s in states:
            mode = COMPLIANCE if s.mode == COMPLIANCE else self.settings.lock_mode
            if s.until == target and s.mode == mode:
                continue
            try:
                self.client.set_object_retention(
                    self.bucket, v.name, Retention(mode, target), version_id=v.version_id
                )
            except _CLIENT_ERRORS as exc:
                raise self._err(exc, f"setting retention on {v.name} of bundle {key}") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Hold or release every stored version, so no old version escapes a hold."""
        versions = [v for v in self._versions(key) if not v.is_delete_marker]
        if not versions:
            raise StorageError(f"bundle {key} is missing from bucket {self.bucket}")
        for v in versions:
            try:
                if on:
                    self.client.enable_object_legal_hold(self.bucket, v.name, v.version_id)
                else:
                    self.client.disable_object_legal_hold(self.bucket, v.name, v.version_id)
            except _CLIENT_ERRORS as exc:
                raise self._err(exc, f"setting legal hold on {v.name} of bundle {key}") from exc

    def retained_until(self, key: str) -> dt.date | None:
        """The first day on which no stored version of ``key`` is under retention any more.

        Read from the store (HEAD of every version), because the store's date is what decides
        whether a delete succeeds; ``None`` when nothing is retained past now. A legal hold is
        not counted here: holds are tracked by ``store_holds`` and cleared on release.
        """
        now = self._clock()
        latest: dt.datetime | None = None
        try:
            for v in self._versions(key):
                if v.is_delete_marker:
                    continue
                until = self._lock_of(v).until
                if until is not None and until > now and (latest is None or until > latest):
                    latest = until
        except _CLIENT_ERRORS as exc:
            raise self._err(exc, f"reading retention of bundle {key}") from exc
        if latest is None:
            return None
        latest = latest.astimezone(dt.UTC)
        day = latest.date()
        # Locked until 14:32 on day D: deletable only from D+1 when counted in whole days.
        return day if latest.time() == dt.time.min else day + dt.timedelta(days=1)

    @property
    def clock(self) -> Clock:
        """The clock retention dates are computed from (the WORM self-check uses it too)."""
        return self._clock


def _remove_tree(path: Path) -> None:
    """Sealed staging files are read-only; make them writable only to remove them."""
    try:
        for p in [path, *path.rglob("*")]:
            if not p.is_symlink():
                os.chmod(p, p.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(path)
    except OSError as exc:
        # The bundle is stored and verified; a leftover staging folder is only disk space.
        log.warning("storage_staging_not_removed", path=str(path), error=exc.strerror)
