"""S3-only behaviour on a real moto server: locks set at publish, honoured at delete, extended
only, and a start-up self-check that refuses a store which does not enforce WORM.

moto enforces "a locked version cannot be deleted" (COMPLIANCE, un-bypassed GOVERNANCE, legal
hold) but lets COMPLIANCE retention be shortened. So where a refusal must come from *our* code
(shortening), the tests prove the store's date did not change; where the store itself refuses
(deleting a locked version), the tests also try it with the raw client.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import socket
import time
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from minio import Minio
from minio.error import S3Error
from minio.versioningconfig import SUSPENDED, VersioningConfig

from archiver.errors import ConfigError, SecretError, StorageError
from archiver.settings.storage import S3Settings, s3_settings
from archiver.storage.s3 import SHA256_META, S3Storage
from archiver.storage.s3_worm import (
    check_worm,
    self_check,
)
from tests.storage_kit import BundleFactory

KEY = "site-7/2026/b-0001"


def _versions(client: Minio, bucket: str, prefix: str = "archive/") -> list[tuple[str, str]]:
    return [
        (o.object_name, o.version_id)
        for o in client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True)
    ]


def _head(client: Minio, bucket: str, name: str, version_id: str | None = None) -> dict[str, str]:
    st = client.stat_object(bucket, name, version_id=version_id)
    return {k.lower(): v for k, v in (st.metadata or {}).items()}


def _until(headers: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"])


def test_every_object_is_locked_and_checksummed(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    digests = {
        p.relative_to(staged).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in staged.rglob("*")
        if p.is_file()
    }
    before = dt.datetime.now(dt.UTC)
    s3_storage.publish(staged, KEY)

    assert not staged.exists(), "publish removes the staged folder after a verified upload"
    names = [n for n, _ in _versions(s3_client, bucket)]
    assert sorted(names) == sorted(f"archive/{KEY}/{rel}" for rel in digests)
    for rel, sha in digests.items():
        h = _head(s3_client, bucket, f"archive/{KEY}/{rel}")
        assert h["x-amz-object-lock-mode"] == "COMPLIANCE"
        until = _until(h)
        assert before + dt.timedelta(days=30) - dt.timedelta(minutes=5) < until
        assert until < before + dt.timedelta(days=30, minutes=5)
        assert h[SHA256_META] == sha
        assert h["x-amz-sdk-checksum-algorithm"] == "CRC32"


def test_staged_copy_that_no_longer_matches_its_manifest_uploads_nothing(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    (staged / "data/records.sqlite").write_bytes(b"changed after sealing")
    with pytest.raises(StorageError, match="does not match its manifest"):
        s3_storage.publish(staged, KEY)
    assert _versions(s3_client, bucket) == [], "nothing may be locked in the bucket"
    assert staged.is_dir()


def test_a_file_missing_from_the_staged_copy_uploads_nothing(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    (staged / "data/warc/2026-11-25-000.warc.gz").unlink()
    with pytest.raises(StorageError, match="missing"):
        s3_storage.publish(staged, KEY)
    assert _versions(s3_client, bucket) == []


def test_retry_reuses_verified_objects_of_a_crashed_publish(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    """Each stray version is locked for weeks, so a retry must not send the same bytes again."""
    staged = make_bundle()
    body = (staged / "data/records.sqlite").read_bytes()
    name = f"archive/{KEY}/data/records.sqlite"
    meta = {SHA256_META: hashlib.sha256(body).hexdigest()}
    s3_client.put_object(bucket, name, io.BytesIO(body), len(body), metadata=meta)  # type: ignore[arg-type]
    assert not s3_storage.exists(KEY)

    s3_storage.publish(staged, KEY)

    assert s3_storage.exists(KEY)
    assert [n for n, _ in _versions(s3_client, bucket)].count(name) == 1


class _CrashAfter(S3Storage):
    """Dies before uploading one file, as a killed process would; the server stays real."""

    crash_at = "data/warc/2026-11-25-000.warc.gz"

    def _upload(self, key: str, path: Path, relpath: str, size: int, sha: str, crc: int) -> None:
        if relpath == self.crash_at:
            raise StorageError("simulated crash")
        super()._upload(key, path, relpath, size, sha, crc)


def test_crash_mid_publish_leaves_an_invisible_partial_that_a_retry_completes(
    s3_settings: S3Settings, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    with pytest.raises(StorageError, match="simulated crash"):
        _CrashAfter(s3_settings).publish(staged, KEY)
    stored = {n.removeprefix(f"archive/{KEY}/") for n, _ in _versions(s3_client, bucket)}
    assert stored == {"bag-info.txt", "bagit.txt", "data/empty.txt", "data/records.sqlite"}
    storage = S3Storage(s3_settings)
    assert not storage.exists(KEY)
    assert list(storage.list_bundles()) == []
    assert staged.is_dir()

    storage.publish(staged, KEY)

    assert storage.exists(KEY)
    names = [n for n, _ in _versions(s3_client, bucket)]
    assert len(names) == len(set(names)) == 7, "no file was sent twice"


class _ReadsBackWrong(S3Storage):
    """A store (or proxy) that hands back other bytes than it was given for one object."""

    def _stored_sha256(self, name: str, version_id: str | None = None) -> tuple[int, str]:
        size, sha = super()._stored_sha256(name, version_id)
        return (size, "0" * 64) if name.endswith("records.sqlite") else (size, sha)


def test_a_read_back_mismatch_leaves_the_bundle_unpublished(
    s3_settings: S3Settings, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    storage = _ReadsBackWrong(s3_settings)
    with pytest.raises(StorageError, match=r"stored copy has size .* left unpublished"):
        storage.publish(staged, KEY)
    assert not storage.exists(KEY)
    assert staged.is_dir(), "the staged copy is the only good copy: keep it"


def test_retry_replaces_a_partial_object_with_wrong_bytes(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    staged = make_bundle()
    body = (staged / "data/records.sqlite").read_bytes()
    name = f"archive/{KEY}/data/records.sqlite"
    torn = body[:100]
    meta = {SHA256_META: hashlib.sha256(body).hexdigest()}  # claims the full file's digest
    s3_client.put_object(bucket, name, io.BytesIO(torn), len(torn), metadata=meta)  # type: ignore[arg-type]

    s3_storage.publish(staged, KEY)

    assert s3_storage.read_range(KEY, "data/records.sqlite", 0, len(body) + 10) == body


def test_delete_of_a_locked_bundle_is_refused(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    s3_storage.publish(make_bundle(), KEY)
    with pytest.raises(StorageError, match=f"bundle {KEY} .* COMPLIANCE retention until"):
        s3_storage.delete(KEY)
    assert s3_storage.exists(KEY)
    assert len(_versions(s3_client, bucket)) == 7
    # And the store itself (moto too) refuses to delete a locked version.
    name, vid = _versions(s3_client, bucket)[0]
    with pytest.raises(S3Error) as err:
        s3_client.remove_object(bucket, name, version_id=vid)
    assert err.value.code == "AccessDenied"


def test_legal_hold_blocks_delete_until_released(
    s3_settings: S3Settings, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    storage = S3Storage(replace(s3_settings, default_retention_days=0))
    storage.publish(make_bundle(), KEY)
    storage.set_legal_hold(KEY, True)
    for name, vid in _versions(s3_client, bucket):
        assert _head(s3_client, bucket, name, vid)["x-amz-object-lock-legal-hold"] == "ON"

    with pytest.raises(StorageError, match="legal hold ON"):
        storage.delete(KEY)
    assert storage.exists(KEY)
    name, vid = _versions(s3_client, bucket)[0]
    with pytest.raises(S3Error):
        s3_client.remove_object(bucket, name, version_id=vid)

    storage.set_legal_hold(KEY, False)
    storage.delete(KEY)
    assert _versions(s3_client, bucket) == [], "every version and delete marker is gone"
    assert list(storage.list_bundles()) == []


def test_governance_lock_is_never_bypassed_by_the_archiver(
    s3_settings: S3Settings, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    storage = S3Storage(replace(s3_settings, lock_mode="GOVERNANCE", default_retention_days=2))
    storage.publish(make_bundle({"data/a.txt": b"a"}), KEY)
    name = f"archive/{KEY}/data/a.txt"
    assert _head(s3_client, bucket, name)["x-amz-object-lock-mode"] == "GOVERNANCE"
    with pytest.raises(StorageError, match="GOVERNANCE retention until"):
        storage.delete(KEY)
    (vid,) = [v for n, v in _versions(s3_client, bucket) if n == name]
    with pytest.raises(S3Error):  # without x-amz-bypass-governance-retention the store refuses
        s3_client.remove_object(bucket, name, version_id=vid)


def test_set_retention_extends_every_version(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    s3_storage.publish(make_bundle(), KEY)
    until = dt.date.today() + dt.timedelta(days=400)
    s3_storage.set_retention(KEY, until)
    want = dt.datetime.combine(until, dt.time.min, tzinfo=dt.UTC)
    for name, vid in _versions(s3_client, bucket):
        h = _head(s3_client, bucket, name, vid)
        assert _until(h) == want
        assert h["x-amz-object-lock-mode"] == "COMPLIANCE"


def test_set_retention_adds_a_lock_to_an_unlocked_bundle(
    s3_settings: S3Settings, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    storage = S3Storage(replace(s3_settings, default_retention_days=0))
    storage.publish(make_bundle({"data/a.txt": b"a"}), KEY)
    name = f"archive/{KEY}/data/a.txt"
    assert "x-amz-object-lock-mode" not in _head(s3_client, bucket, name)
    storage.set_retention(KEY, dt.date.today() + dt.timedelta(days=3))
    assert _head(s3_client, bucket, name)["x-amz-object-lock-mode"] == "COMPLIANCE"
    with pytest.raises(StorageError, match="COMPLIANCE retention until"):
        storage.delete(KEY)


def test_shortening_is_refused_locally_and_the_store_date_is_unchanged(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, make_bundle: BundleFactory
) -> None:
    """moto would accept the shorter date, so the refusal must be ours."""
    s3_storage.publish(make_bundle(), KEY)
    name = f"archive/{KEY}/data/records.sqlite"
    before = _until(_head(s3_client, bucket, name))
    with pytest.raises(StorageError, match="refusing to shorten retention of bundle"):
        s3_storage.set_retention(KEY, dt.date.today() + dt.timedelta(days=5))
    assert _until(_head(s3_client, bucket, name)) == before
    with pytest.raises(StorageError, match="not in the future"):
        s3_storage.set_retention(KEY, dt.date.today() - dt.timedelta(days=1))


def test_self_check_refuses_moto(s3_settings: S3Settings, s3_storage: S3Storage) -> None:
    strict = S3Storage(replace(s3_settings, allow_unsafe_worm=False), client=s3_storage.client)
    with pytest.raises(StorageError) as err:
        self_check(strict)
    msg = str(err.value)
    assert "does not enforce WORM" in msg
    assert "COMPLIANCE retention could be shortened" in msg
    assert "\n" not in msg


def test_self_check_with_allow_unsafe_warns_loudly(
    s3_storage: S3Storage, s3_client: Minio, bucket: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        result = self_check(s3_storage)
    assert result.unsafe
    assert result.versioning_enabled
    assert not result.compliance_shorten_refused  # moto's gap
    assert result.compliance_delete_refused  # what moto does enforce
    assert result.legal_hold_delete_refused
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["storage_worm_not_enforced"]
    assert errors[0]["bucket"] == bucket
    # Canaries live outside every bundle key; the released legal-hold canary is gone.
    assert list(s3_storage.list_bundles()) == []
    names = [n for n, _ in _versions(s3_client, bucket, prefix="archive/.worm-check/")]
    assert len(names) == 1 and "-compliance-" in names[0]


def test_self_check_reports_suspended_versioning(
    s3_storage: S3Storage, s3_client: Minio, bucket: str
) -> None:
    s3_client.set_bucket_versioning(bucket, VersioningConfig(SUSPENDED))  # moto allows this
    result = self_check(s3_storage)
    assert "bucket versioning is not Enabled" in result.problems
    # moto then even deletes a COMPLIANCE-locked version: the canary catches that too.
    assert "a COMPLIANCE-locked version could be deleted" in result.problems


def test_bucket_without_object_lock_is_refused(s3_settings: S3Settings, s3_client: Minio) -> None:
    s3_client.make_bucket(s3_settings.bucket + "-nolock")
    storage = S3Storage(replace(s3_settings, bucket=s3_settings.bucket + "-nolock"))
    with pytest.raises(StorageError, match="has no Object Lock") as err:
        self_check(storage)
    assert "mc mb --with-lock" in str(err.value)


def test_missing_bucket_is_one_line(s3_settings: S3Settings) -> None:
    storage = S3Storage(replace(s3_settings, bucket="no-such-bucket-here"))
    with pytest.raises(StorageError, match="bucket no-such-bucket-here does not exist") as err:
        self_check(storage)
    assert "\n" not in str(err.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_endpoint_is_one_line_and_fast(s3_settings: S3Settings) -> None:
    endpoint = f"127.0.0.1:{_closed_port()}"
    storage = S3Storage(replace(s3_settings, endpoint=endpoint))
    start = time.monotonic()
    with pytest.raises(StorageError, match=f"cannot reach S3 endpoint {endpoint}") as err:
        self_check(storage)
    assert time.monotonic() - start < 15
    assert "\n" not in str(err.value)
    assert "Connection refused" in str(err.value)
    with pytest.raises(StorageError, match="cannot reach"):
        list(storage.list_bundles())


def test_tls_against_plain_http_is_one_line(s3_settings: S3Settings) -> None:
    storage = S3Storage(replace(s3_settings, secure=True))
    with pytest.raises(StorageError, match="TLS to S3 endpoint") as err:
        storage.exists(KEY)
    assert "\n" not in str(err.value)


def test_credentials_come_from_named_secrets(
    s3_settings: S3Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ARCHIVER_S3_SECRET_KEY")
    with pytest.raises(SecretError, match="ARCHIVER_S3_SECRET_KEY"):
        S3Storage(s3_settings)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "MINIO_SECRET").write_text("archiver-test-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    storage = S3Storage(replace(s3_settings, secret_key_secret="MINIO_SECRET"))
    assert list(storage.list_bundles()) == []


def test_unsafe_relpath_is_refused(s3_storage: S3Storage, make_bundle: BundleFactory) -> None:
    s3_storage.publish(make_bundle(), KEY)
    with pytest.raises(StorageError, match="unsafe path"):
        s3_storage.open(KEY, "../b-0002/bagit.txt")
    assert s3_storage.local_path(KEY) is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(StorageError, match="host:port"):
        S3Settings(endpoint="https://minio:9000", bucket="b")
    with pytest.raises(StorageError, match="lock_mode"):
        S3Settings(endpoint="minio:9000", bucket="b", lock_mode="STRICT")  # type: ignore[arg-type]


def test_check_worm_is_usable_without_a_storage(s3_settings: S3Settings, s3_client: Minio) -> None:
    result = check_worm(s3_client, s3_settings)
    assert result.bucket == s3_settings.bucket and result.unsafe


def test_expired_canaries_are_swept_by_a_later_check(
    s3_settings: S3Settings, s3_client: Minio, bucket: str
) -> None:
    old = "archive/.worm-check/20200101T000000Z-compliance-deadbeef"
    s3_client.put_object(bucket, old, io.BytesIO(b"x"), 1)
    check_worm(s3_client, s3_settings)
    left = [n for n, _ in _versions(s3_client, bucket, prefix="archive/.worm-check/")]
    assert old not in left
    assert len(left) == 1, "today's COMPLIANCE canary stays for its day"


def test_moto_gaps_are_as_documented(s3_client: Minio, bucket: str) -> None:
    """Pins what docs/storage.md says moto does NOT enforce; if moto is fixed, update the doc."""
    from minio.commonconfig import COMPLIANCE, GOVERNANCE
    from minio.retention import Retention

    from archiver.storage.s3 import _checksum_headers

    now = dt.datetime.now(dt.UTC)
    body = b"gap"
    meta = _checksum_headers(zlib.crc32(body))

    def put(name: str, retention: Retention) -> str:
        r = s3_client.put_object(
            bucket, name, io.BytesIO(body), len(body), metadata=meta, retention=retention
        )
        assert r.version_id is not None
        return r.version_id

    # A retain-until date in the past is accepted on PUT (S3 rejects it).
    put("gap/past", Retention(COMPLIANCE, now - dt.timedelta(days=1)))
    # COMPLIANCE retention can be shortened and downgraded to GOVERNANCE (S3 refuses both).
    vid = put("gap/short", Retention(COMPLIANCE, now + dt.timedelta(days=30)))
    s3_client.set_object_retention(
        bucket, "gap/short", Retention(COMPLIANCE, now + dt.timedelta(days=1)), version_id=vid
    )
    s3_client.set_object_retention(
        bucket, "gap/short", Retention(GOVERNANCE, now + dt.timedelta(hours=1)), version_id=vid
    )
    assert _head(s3_client, bucket, "gap/short", vid)["x-amz-object-lock-mode"] == "GOVERNANCE"
    # GetObjectRetention is not implemented (it answers with the object body).
    with pytest.raises(Exception):  # noqa: B017 - any failure is the documented gap
        s3_client.get_object_retention(bucket, "gap/short", version_id=vid)
    # What it does enforce: the locked version cannot be deleted, even after both changes.
    with pytest.raises(S3Error):
        s3_client.remove_object(bucket, "gap/short", version_id=vid)
    # Versioning can be suspended on an Object Lock bucket (S3: InvalidBucketState), and then
    # the same COMPLIANCE-locked version CAN be deleted by version id.
    s3_client.set_bucket_versioning(bucket, VersioningConfig(SUSPENDED))
    assert s3_client.get_bucket_versioning(bucket).status == SUSPENDED
    s3_client.remove_object(bucket, "gap/short", version_id=vid)
    assert _versions(s3_client, bucket, prefix="gap/short") == []


def test_s3_settings_from_the_storage_table(tmp_path: Path) -> None:
    section = {
        "backend": "s3",
        "endpoint": "minio.city.local:9000",
        "bucket": "social-archive",
        "prefix": "bozeman",
        "access_key_secret": "S3_ACCESS_KEY",
        "secret_key_secret": "S3_SECRET_KEY",
        "default_retention_days": 60,
    }
    s = s3_settings(section, file="archiver.toml", staging=tmp_path)
    assert (s.endpoint, s.bucket, s.secure, s.lock_mode) == (
        "minio.city.local:9000",
        "social-archive",
        True,
        "COMPLIANCE",
    )
    assert (s.access_key_secret, s.default_retention_days, s.staging_dir) == (
        "S3_ACCESS_KEY",
        60,
        tmp_path,
    )
    assert not s.allow_unsafe_worm
    with pytest.raises(ConfigError, match=r"storage\.secret_key: unknown key"):
        s3_settings({**section, "secret_key": "oops"}, file="a.toml", staging=tmp_path)
    with pytest.raises(ConfigError, match=r"storage\.bucket: is required"):
        s3_settings({"endpoint": "m:9000"}, file="a.toml", staging=tmp_path)
    with pytest.raises(ConfigError, match=r"storage\.secure: must be a bool"):
        s3_settings({**section, "secure": "yes"}, file="a.toml", staging=tmp_path)
    with pytest.raises(ConfigError, match="lock_mode"):
        s3_settings({**section, "lock_mode": "LOCKED"}, file="a.toml", staging=tmp_path)


@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
def test_document_is_locked_until_its_date_and_verified(
    s3_settings: S3Settings, s3_client: Minio, bucket: str, tmp_path: Path, mode: str
) -> None:
    storage = S3Storage(replace(s3_settings, lock_mode=mode))  # type: ignore[arg-type]
    doc = tmp_path / "DISP-2026-0001-RM88.pdf"
    doc.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 10)
    keep = dt.date.today() + dt.timedelta(days=365 * 30)

    key = storage.put_document(doc, doc.name, retain_until=keep)

    name = f"archive/{key}"
    assert name == "archive/disposal-records/DISP-2026-0001-RM88.pdf"
    h = _head(s3_client, bucket, name)
    assert h["x-amz-object-lock-mode"] == mode
    assert _until(h).date() == keep
    assert h[SHA256_META] == hashlib.sha256(doc.read_bytes()).hexdigest()
    # Storing the same bytes again sends nothing: no second (also locked) version.
    assert storage.put_document(doc, doc.name, retain_until=keep) == key
    assert len(_versions(s3_client, bucket, prefix=name)) == 1
    (vid,) = [v for _, v in _versions(s3_client, bucket, prefix=name)]
    with pytest.raises(S3Error):
        s3_client.remove_object(bucket, name, version_id=vid)
    assert list(storage.list_bundles()) == []


def test_document_with_a_past_retain_until_is_refused(
    s3_storage: S3Storage, s3_client: Minio, bucket: str, tmp_path: Path
) -> None:
    doc = tmp_path / "d.pdf"
    doc.write_bytes(b"x")
    with pytest.raises(StorageError, match="not in the future"):
        s3_storage.put_document(doc, doc.name, retain_until=dt.date(2000, 1, 1))
    assert _versions(s3_client, bucket) == []
