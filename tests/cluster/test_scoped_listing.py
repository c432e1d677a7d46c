"""A cluster worker's per-harvest recovery lists one site's bundles, not the whole store
(``list_bundles(site_id=...)``), on both backends; a site id that is a prefix of another's
does not pick up the other's bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.settings.storage import S3Settings
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from archiver.storage.s3 import S3Storage
from tests.cluster.conftest import ACCESS, SECRET
from tests.storage_kit import seal_bag

KEYS = ["city/2026/city-a", "city-parks/2026/city-parks-b", "city/2025/city-c"]


def _fill(storage: Storage, tmp_path: Path) -> None:
    for n, key in enumerate(KEYS):
        folder = seal_bag(tmp_path / f"staged-{n}", {"data/x.txt": key.encode()})
        storage.publish(folder, key)


def _check(storage: Storage) -> None:
    assert sorted(storage.list_bundles()) == sorted(KEYS)
    assert sorted(storage.list_bundles(site_id="city")) == ["city/2025/city-c", "city/2026/city-a"]
    assert list(storage.list_bundles(site_id="city-parks")) == ["city-parks/2026/city-parks-b"]
    assert list(storage.list_bundles(site_id="nobody")) == []


def test_local(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "bundles")
    _fill(storage, tmp_path)
    _check(storage)


def test_s3(
    tmp_path: Path, moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ARCHIVER_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVER_S3_SECRET_KEY", SECRET)
    storage = S3Storage(
        S3Settings(
            endpoint=moto_endpoint,
            bucket=bucket,
            secure=False,
            region="us-east-1",
            prefix="archive",
            lock_mode="COMPLIANCE",
            default_retention_days=1,
            allow_unsafe_worm=True,
            staging_dir=tmp_path / "staging",
        )
    )
    _fill(storage, tmp_path)
    _check(storage)
