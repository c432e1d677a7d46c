"""Read back a standalone document (``put_document``) by name; None when it is not there.

The Storage protocol can store documents but has no reader yet; until it grows one this
reads through each backend's own layout (both keep documents under ``DOCUMENTS_PREFIX``).
"""

from __future__ import annotations

from archiver.errors import StorageError
from archiver.storage.base import DOCUMENTS_PREFIX, Storage, check_document_name


def read_document(storage: Storage, name: str) -> bytes | None:
    from archiver.storage.local import LocalStorage

    name = check_document_name(name)
    if isinstance(storage, LocalStorage):
        path = storage.root / DOCUMENTS_PREFIX / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read document {path}: {exc.strerror}") from exc
    from archiver.storage.s3 import _CLIENT_ERRORS, S3Storage

    if isinstance(storage, S3Storage):
        obj = f"{DOCUMENTS_PREFIX}/{name}"
        if storage._prefix:
            obj = f"{storage._prefix}/{obj}"
        try:
            resp = storage.client.get_object(storage.bucket, obj)
        except _CLIENT_ERRORS as exc:
            if getattr(exc, "code", None) in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise StorageError(f"cannot read document {obj}: {exc}") from exc
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()
    return None
