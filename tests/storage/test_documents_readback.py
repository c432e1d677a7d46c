"""Authenticity documents (audit checkpoints, late timestamp tokens) read back from both
backends: present, absent, and the newest checkpoint found by probing, on real moto S3."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from archiver import audit
from archiver.db import metadata
from archiver.integrity.checkpoints import latest_checkpoint, write_checkpoint
from archiver.integrity.documents import read_document
from archiver.storage.base import Storage
from archiver.storage.local import LocalStorage
from archiver.storage.s3 import S3Storage


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_documents_and_checkpoints_read_back(
    backend: str, tmp_path: Path, local_storage: LocalStorage, s3_storage: S3Storage
) -> None:
    storage: Storage = local_storage if backend == "local" else s3_storage
    assert read_document(storage, "absent.json") is None
    src = tmp_path / "doc.bin"
    src.write_bytes(b"token bytes")
    storage.put_document(src, "timestamp-x.tsr", retain_until=None)
    assert read_document(storage, "timestamp-x.tsr") == b"token bytes"

    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    metadata.create_all(engine, tables=[audit.audit_log])
    root = tmp_path / "root"
    seen = []
    for n in range(1, 6):
        with engine.begin() as conn:
            audit.append(conn, action="verify", subject=f"run {n}")
            cp = write_checkpoint(conn, storage, root=root, tsa=None)
        seen.append((cp.n, cp.seq))
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    latest = latest_checkpoint(storage)
    assert latest is not None and (latest.n, latest.seq) == (5, 5)
