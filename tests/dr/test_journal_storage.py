"""Journal segments in both storage backends, and a rebuild from an S3 bucket (moto)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakeplatforms.server import FakeServer
from minio import Minio
from minio.error import S3Error

from archiver.errors import StorageError
from archiver.retention.holds import add_hold
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from archiver.storage.s3 import S3Storage
from tests.dr.helpers import snapshot
from tests.helpers import harvest, site_toml, write_config
from tests.retention_kit import app_for, retention_head
from tests.storage_kit import ACCESS, SECRET

NAME = "00000001-" + "ab" * 32 + ".jsonl"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    fixture = "local_storage" if request.param == "local" else "s3_storage"
    store: Storage = request.getfixturevalue(fixture)
    return store


def test_segments_are_stored_listed_read_and_never_rewritten(storage: Storage) -> None:
    assert storage.list_journal() == []
    key = storage.put_journal(NAME, b'{"journal":1}\n')
    assert key == f"journal/{NAME}"
    assert storage.list_journal() == [NAME]
    assert storage.read_journal(NAME) == b'{"journal":1}\n'
    assert storage.put_journal(NAME, b'{"journal":1}\n') == key  # same bytes: no-op
    with pytest.raises(StorageError, match="refusing to overwrite"):
        storage.put_journal(NAME, b'{"journal":2}\n')
    assert storage.read_journal(NAME) == b'{"journal":1}\n'
    assert list(storage.list_bundles()) == []
    with pytest.raises(StorageError, match="journal segment"):
        storage.read_journal("00000002-" + "cd" * 32 + ".jsonl")


@pytest.mark.parametrize("bad", ["../x.jsonl", "2026/12/00000001-" + "ab" * 32 + ".jsonl", ""])
def test_unsafe_segment_names_are_refused(storage: Storage, bad: str) -> None:
    with pytest.raises(StorageError, match="unsafe journal segment name"):
        storage.put_journal(bad, b"x")


def test_local_segments_are_read_only(local_storage: LocalStorage) -> None:
    local_storage.put_journal(NAME, b"x\n")
    assert (local_storage.root / "journal" / NAME).stat().st_mode & 0o222 == 0


def test_s3_segments_are_locked_like_bundles(s3_storage: S3Storage, s3_client: Minio) -> None:
    s3_storage.put_journal(NAME, b"x\n")
    obj = f"archive/journal/{NAME}"
    st = s3_client.stat_object(s3_storage.bucket, obj)
    meta = st.metadata or {}
    assert meta.get("x-amz-object-lock-mode") == "COMPLIANCE"
    assert meta.get("x-amz-object-lock-retain-until-date")
    with pytest.raises(S3Error):
        s3_client.remove_object(s3_storage.bucket, obj, version_id=st.version_id)


def test_rebuild_from_an_s3_bucket(
    tmp_path: Path,
    server: FakeServer,
    moto_endpoint: str,
    bucket: str,
    s3_env: None,
) -> None:
    storage_section = (
        "[storage]\n"
        'backend = "s3"\n'
        f'endpoint = "{moto_endpoint}"\n'
        f'bucket = "{bucket}"\n'
        "secure = false\n"
        'region = "us-east-1"\n'
        'prefix = "archive"\n'
        "allow_unsafe_worm = true\n\n"
    )
    config = write_config(
        tmp_path,
        site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
        head=storage_section + retention_head(tmp_path),
    )
    os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
    assert harvest(config, "city").status == "succeeded"
    app = app_for(config)
    try:
        add_hold(app, name="s3-hold", matter="Doe v. City", query="snow", by="Cara Clerk")
    finally:
        app.close()
    assert harvest(config, "city").status == "succeeded"
    catalog = tmp_path / "archive" / "catalog.sqlite"
    original = snapshot(catalog)
    assert original["legal_holds"] and original["items"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ, ARCHIVER_S3_ACCESS_KEY=ACCESS, ARCHIVER_S3_SECRET_KEY=SECRET)
    env.pop("CREDENTIALS_DIRECTORY", None)
    rebuilt = tmp_path / "rebuilt.sqlite"
    args = ["--config", str(config), "catalog", "rebuild", "--into", str(rebuilt)]
    r = subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    copy = snapshot(rebuilt)
    for table in original:
        assert copy[table] == original[table], f"table {table} differs after rebuild from S3"
