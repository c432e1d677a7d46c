"""One contract, every backend: what the rest of the archiver may rely on from ``Storage``.

The S3 backend runs against a real moto server with retention 0 at publish so that ``delete``
is allowed; the locking itself is tested in ``test_s3_worm.py``.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

import pytest
from minio import Minio

from archiver.errors import StorageError
from archiver.settings.storage import S3Settings
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from archiver.storage.s3 import S3Storage
from tests.storage_kit import BundleFactory

KEY = "site-7/2026/b-0001"
OTHER = "site-7/2026/b-0002"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "local":
        local: LocalStorage = request.getfixturevalue("local_storage")
        return local
    settings: S3Settings = request.getfixturevalue("s3_settings")
    return S3Storage(replace(settings, default_retention_days=0))


def _contents(staged: Path) -> dict[str, bytes]:
    return {
        p.relative_to(staged).as_posix(): p.read_bytes()
        for p in sorted(staged.rglob("*"))
        if p.is_file()
    }


def test_is_a_storage(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_publish_round_trips_byte_for_byte(storage: Storage, make_bundle: BundleFactory) -> None:
    staged = make_bundle()
    want = _contents(staged)
    assert not storage.exists(KEY)

    storage.publish(staged, KEY)

    assert storage.exists(KEY)
    assert list(storage.list_bundles()) == [KEY]
    files = storage.list_files(KEY)
    assert {f.relpath: f.size for f in files} == {k: len(v) for k, v in want.items()}
    for rel, body in want.items():
        with storage.open(KEY, rel) as fh:
            assert fh.read() == body, rel
    warc = want["data/warc/2026-11-25-000.warc.gz"]
    for offset, length in [(0, 10), (1234, 4096), (len(warc) - 5, 100), (len(warc), 10)]:
        got = storage.read_range(KEY, "data/warc/2026-11-25-000.warc.gz", offset, length)
        assert got == warc[offset : offset + length], (offset, length)


def test_open_streams_in_chunks(storage: Storage, make_bundle: BundleFactory) -> None:
    staged = make_bundle()
    body = (staged / "data/records.sqlite").read_bytes()
    storage.publish(staged, KEY)
    out = io.BytesIO()
    with storage.open(KEY, "data/records.sqlite") as fh:
        while chunk := fh.read(1000):
            out.write(chunk)
    assert out.getvalue() == body


def test_unsealed_folder_is_refused(storage: Storage, make_bundle: BundleFactory) -> None:
    staged = make_bundle(sealed=False)
    with pytest.raises(StorageError, match="not sealed"):
        storage.publish(staged, KEY)
    assert not storage.exists(KEY)
    assert list(storage.list_bundles()) == []
    assert staged.is_dir(), "a refused publish must leave the staged folder for a retry"


def test_publish_to_existing_key_is_refused(storage: Storage, make_bundle: BundleFactory) -> None:
    first = make_bundle({"data/a.txt": b"first"})
    storage.publish(first, KEY)
    second = make_bundle({"data/a.txt": b"second"})
    with pytest.raises(StorageError, match="already exists"):
        storage.publish(second, KEY)
    with storage.open(KEY, "data/a.txt") as fh:
        assert fh.read() == b"first"


def test_delete_removes_the_bundle(storage: Storage, make_bundle: BundleFactory) -> None:
    storage.publish(make_bundle(), KEY)
    storage.publish(make_bundle(), OTHER)
    assert list(storage.list_bundles()) == [KEY, OTHER]

    storage.delete(KEY)

    assert list(storage.list_bundles()) == [OTHER]
    assert not storage.exists(KEY)
    with pytest.raises(StorageError):
        storage.list_files(KEY)
    storage.delete(KEY)  # already gone: nothing to do


def _make_partial(storage: Storage, staged: Path, key: str, request: pytest.FixtureRequest) -> None:
    """Leave what a crash mid-publish leaves: some files stored, no completion marker."""
    some = ["bagit.txt", "data/records.sqlite"]
    if isinstance(storage, LocalStorage):
        target = storage.root / key
        for rel in some:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes((staged / rel).read_bytes())
        return
    assert isinstance(storage, S3Storage)
    client: Minio = request.getfixturevalue("s3_client")
    for rel in some:
        body = (staged / rel).read_bytes()
        client.put_object(storage.bucket, f"archive/{key}/{rel}", io.BytesIO(body), len(body))


def test_partial_bundle_is_invisible_and_a_retry_publishes_it(
    storage: Storage, make_bundle: BundleFactory, request: pytest.FixtureRequest
) -> None:
    staged = make_bundle()
    want = _contents(staged)
    _make_partial(storage, staged, KEY, request)

    assert not storage.exists(KEY)
    assert list(storage.list_bundles()) == []

    storage.publish(staged, KEY)

    assert list(storage.list_bundles()) == [KEY]
    for rel, body in want.items():
        with storage.open(KEY, rel) as fh:
            assert fh.read() == body, rel


@pytest.mark.parametrize("bad", ["site/../../etc/x", "../a/b", "/abs/2026/b", "a/2026/.."])
def test_unsafe_keys_are_refused(storage: Storage, make_bundle: BundleFactory, bad: str) -> None:
    staged = make_bundle()
    with pytest.raises(StorageError, match="unsafe"):
        storage.publish(staged, bad)
    with pytest.raises(StorageError, match="unsafe"):
        storage.exists(bad)
    assert list(storage.list_bundles()) == []


def test_retention_and_hold_calls_are_accepted(
    storage: Storage, make_bundle: BundleFactory
) -> None:
    storage.publish(make_bundle({"data/a.txt": b"x"}), KEY)
    storage.set_retention(KEY, dt.date.today() + dt.timedelta(days=10))
    storage.set_legal_hold(KEY, True)
    storage.set_legal_hold(KEY, False)
    with storage.open(KEY, "data/a.txt") as fh:
        assert fh.read() == b"x"


def test_missing_file_is_a_storage_error(storage: Storage, make_bundle: BundleFactory) -> None:
    storage.publish(make_bundle({"data/a.txt": b"x"}), KEY)
    with pytest.raises(StorageError):
        storage.open(KEY, "data/nope.txt")
    with pytest.raises(StorageError):
        storage.list_files(OTHER)


def test_documents_are_stored_beside_and_never_listed_as_bundles(
    storage: Storage, make_bundle: BundleFactory, tmp_path: Path
) -> None:
    storage.publish(make_bundle({"data/a.txt": b"x"}), KEY)
    doc = tmp_path / "DISP-2026-0001-RM88.pdf"
    doc.write_bytes(b"%PDF-1.4 disposal record\n")

    key = storage.put_document(doc, doc.name, retain_until=None)

    assert key == "disposal-records/DISP-2026-0001-RM88.pdf"
    assert doc.read_bytes() == b"%PDF-1.4 disposal record\n"  # the caller's file stays
    # Same bytes again: nothing new, same key.
    assert storage.put_document(doc, doc.name, retain_until=None) == key
    assert list(storage.list_bundles()) == [KEY]
    assert not storage.exists(key)
    storage.delete(KEY)
    assert list(storage.list_bundles()) == []
    local = storage.local_path(KEY)
    if local is not None:  # the local backend keeps the copy under its root, read-only
        root = local.parents[2]
        assert (root / key).read_bytes() == doc.read_bytes()


@pytest.mark.parametrize("bad", ["", "../x.pdf", "a/b.pdf", ".hidden", "a\\b.pdf"])
def test_unsafe_document_names_are_refused(storage: Storage, tmp_path: Path, bad: str) -> None:
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(b"x")
    with pytest.raises(StorageError, match="unsafe document name"):
        storage.put_document(doc, bad, retain_until=None)
