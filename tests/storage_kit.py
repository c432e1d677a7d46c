"""Storage fixtures: one real moto S3 server per session on 127.0.0.1, a fresh bucket per test.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``): the storage,
retention and disaster-recovery tests all publish to S3. Helpers (``seal_bag``,
``BundleFactory``, the credentials) are imported from here.

moto is a functional S3 double. It enforces "a locked version cannot be deleted" but not the
immutability of retention itself (see docs/storage.md), so tests here check that our code sets
and honours locks, never that a store is WORM.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from archiver.settings.storage import S3Settings
from archiver.storage.local import LocalStorage
from archiver.storage.s3 import S3Storage

ACCESS, SECRET = "archiver-test-access", "archiver-test-secret"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def s3_client(moto_endpoint: str) -> Minio:
    return Minio(moto_endpoint, ACCESS, SECRET, secure=False, region="us-east-1")


@pytest.fixture
def bucket(s3_client: Minio) -> str:
    """A fresh Object Lock bucket (versioning Enabled) per test."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.make_bucket(name, object_lock=True)
    return name


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials the way production gets them: named secrets, here from the environment."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ARCHIVER_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVER_S3_SECRET_KEY", SECRET)


@pytest.fixture
def s3_settings(moto_endpoint: str, bucket: str, tmp_path: Path, s3_env: None) -> S3Settings:
    return S3Settings(
        endpoint=moto_endpoint,
        bucket=bucket,
        secure=False,
        region="us-east-1",
        prefix="archive",
        lock_mode="COMPLIANCE",
        default_retention_days=30,
        allow_unsafe_worm=True,
        staging_dir=tmp_path / "staging",
    )


@pytest.fixture
def s3_storage(s3_settings: S3Settings) -> S3Storage:
    """Locked at publish (30 days COMPLIANCE), client built from the named secrets."""
    return S3Storage(s3_settings)


def seal_bag(folder: Path, files: dict[str, bytes]) -> Path:
    """A minimal BagIt bag: payload under data/, sha256 manifest, tag manifest last."""
    for rel, body in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    (folder / "bagit.txt").write_text("BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n")
    oxum = f"{sum(len(b) for b in files.values())}.{len(files)}"
    (folder / "bag-info.txt").write_text(f"Payload-Oxum: {oxum}\nSource-Organization: Test\n")
    manifest = "".join(
        f"{hashlib.sha256(body).hexdigest()}  {rel}\n" for rel, body in sorted(files.items())
    )
    (folder / "manifest-sha256.txt").write_text(manifest)
    tags = "".join(
        f"{hashlib.sha256((folder / t).read_bytes()).hexdigest()}  {t}\n"
        for t in ("bag-info.txt", "bagit.txt", "manifest-sha256.txt")
    )
    (folder / "tagmanifest-sha256.txt").write_text(tags)
    return folder


BundleFactory = Callable[..., Path]


@pytest.fixture
def make_bundle(tmp_path: Path) -> BundleFactory:
    """Sealed staging folders with a SQLite-sized file, a WARC-like blob and an empty file."""
    counter = iter(range(1_000_000))

    def make(files: dict[str, bytes] | None = None, *, sealed: bool = True) -> Path:
        folder = tmp_path / "archive-root" / ".staging" / f"bundle-{next(counter)}"
        folder.mkdir(parents=True)
        if files is None:
            files = {
                "data/records.sqlite": b"SQLite format 3\x00" + bytes(range(256)) * 64,
                "data/warc/2026-11-25-000.warc.gz": uuid.uuid4().bytes * 5000,
                "data/empty.txt": b"",
            }
        seal_bag(folder, files)
        if not sealed:
            (folder / "tagmanifest-sha256.txt").unlink()
        return folder

    return make


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "archive-root" / "bundles")
