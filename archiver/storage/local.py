"""Local folder storage: the embedded default.

Bundles live under ``<root>/<key>``. Publishing is a single ``rename`` of a sealed folder that
sits on the same filesystem (the staging area is inside the archive root), so a bundle is
either entirely visible or not at all. Files are made read-only when sealed.

Standalone documents (``put_document``) are copied to ``<root>/disposal-records/<name>``,
read-only, next to the bundles (so a backup of the bundle folder has them too). A folder
cannot lock anything, so ``retain_until`` is not enforced here; the catalog records it.
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from archiver.bundle import sha256_file
from archiver.errors import StorageError
from archiver.fsutil import fsync_dir
from archiver.resources import mkdir_private
from archiver.storage.base import (
    DOCUMENTS_PREFIX,
    JOURNAL_PREFIX,
    JOURNAL_SUFFIXES,
    BundleFile,
    check_document_name,
    check_journal_name,
)

SEAL_MARKER = "tagmanifest-sha256.txt"


class LocalStorage:
    """Bundles as folders below one root directory."""

    name = "local"

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        """``read_only`` for commands that only read (a read-only mount): no folder is made
        and write access is not required; a write then fails in the filesystem."""
        self.root = root
        if read_only:
            return
        try:
            mkdir_private(root)
        except OSError as exc:
            raise StorageError(
                f"cannot create the bundle folder {root}: {exc.strerror}",
                hint="check [archive] root in the config and the folder's owner and permissions",
            ) from exc
        if not os.access(root, os.W_OK | os.X_OK):
            from archiver.resources import fs_read_only, hint_for

            if fs_read_only(root):
                raise StorageError(
                    f"the bundle folder {root} is on a read-only filesystem",
                    hint=hint_for(errno.EROFS, root),
                )
            raise StorageError(
                f"the bundle folder {root} is not writable by this user: permission denied",
                hint="give the archiver's user write access, or set [archive] root to another folder",
            )

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise StorageError(f"refusing unsafe bundle key {key!r}")
        return self.root / key

    def publish(self, staged: Path, key: str) -> None:
        target = self._path(key)
        if (target / SEAL_MARKER).exists():
            raise StorageError(f"bundle {key} already exists in {self.root}; refusing to overwrite")
        if target.exists():
            # A folder without the seal marker is an invisible leftover (e.g. a copy interrupted
            # by a crash); it never counted as stored, so it is replaced.
            from archiver.bundle import remove_tree

            remove_tree(target)
        if not (staged / SEAL_MARKER).exists():
            raise StorageError(f"{staged} is not sealed (no {SEAL_MARKER}); refusing to publish")
        try:
            mkdir_private(target.parent)
            os.rename(staged, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(
                f"cannot publish bundle {key} into {self.root}: {exc.strerror}",
                hint="the staging folder must be on the same filesystem as the archive root",
            ) from exc

    def exists(self, key: str) -> bool:
        return (self._path(key) / SEAL_MARKER).is_file()

    def list_bundles(self, *, site_id: str | None = None) -> Iterator[str]:
        if not self.root.exists():
            return
        site = "*" if site_id is None else glob.escape(site_id)
        for marker in sorted(self.root.glob(f"{site}/*/*/{SEAL_MARKER}")):
            if marker.parent.name.endswith(".deleting"):
                continue  # a disposal interrupted mid-delete (see ``delete``): never a bundle
            yield marker.parent.relative_to(self.root).as_posix()

    def list_files(self, key: str) -> list[BundleFile]:
        base = self._path(key)
        if not base.is_dir():
            raise StorageError(f"bundle {key} is missing from {self.root}")
        # os.scandir, not Path.rglob: verify lists every bundle, and rglob's Path objects
        # were most of the cost of checking a small one (issue 14 part 4). Same result:
        # regular files (a link to one counts), links to folders not followed, path order.
        out: list[tuple[tuple[str, ...], BundleFile]] = []

        def scan(folder: str, prefix: str) -> None:
            with os.scandir(folder) as entries:
                for entry in entries:
                    rel = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        scan(entry.path, rel + "/")
                    elif entry.is_file():
                        out.append((tuple(rel.split("/")), BundleFile(rel, entry.stat().st_size)))

        scan(str(base), "")
        return [f for _parts, f in sorted(out, key=lambda x: x[0])]

    def open(self, key: str, relpath: str) -> BinaryIO:
        path = self._path(key) / relpath
        try:
            return path.open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {relpath} of bundle {key}: {exc.strerror}") from exc

    def read_range(self, key: str, relpath: str, offset: int, length: int) -> bytes:
        with self.open(key, relpath) as fh:
            fh.seek(offset)
            return fh.read(length)

    def delete(self, key: str) -> None:
        """Idempotent, also after a crash mid-delete: the bundle is renamed out of sight first
        (so it never looks complete again), and a leftover ``.deleting`` folder is finished."""
        path = self._path(key)
        trash = path.with_name(path.name + ".deleting")
        try:
            for victim in (path, trash):
                if not victim.exists():
                    continue
                # Sealed files and folders are read-only; make them writable only to remove them.
                for p in [victim, *victim.rglob("*")]:
                    os.chmod(p, p.stat().st_mode | stat.S_IWUSR)
            if path.exists():
                if trash.exists():
                    shutil.rmtree(trash)
                os.rename(path, trash)
            if trash.exists():
                shutil.rmtree(trash)
        except OSError as exc:
            raise StorageError(f"cannot delete bundle {key}: {exc.strerror}") from exc

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def set_retention(self, key: str, until: dt.date) -> None:
        """A plain folder cannot enforce retention; the catalog's disposition rules do."""

    def set_legal_hold(self, key: str, on: bool) -> None:
        """A plain folder cannot enforce holds; the catalog's hold checks do."""

    def retained_until(self, key: str) -> dt.date | None:
        """A plain folder retains nothing itself, so nothing is locked past today."""
        return None

    def put_document(self, source: Path, name: str, *, retain_until: dt.date | None) -> str:
        """Copy ``source`` to ``<root>/disposal-records/<name>`` (read-only), verified by hash.

        The copy is written beside the target and renamed over it, so a crash never leaves a
        half-written document under the final name.
        """
        key = f"{DOCUMENTS_PREFIX}/{check_document_name(name)}"
        target = self.root / key
        try:
            want = sha256_file(source)
            if target.is_file() and sha256_file(target) == want:
                return key
            mkdir_private(target.parent)
            tmp = target.with_name(f".{name}.partial")
            if tmp.exists():
                os.chmod(tmp, stat.S_IWUSR | stat.S_IRUSR)
                tmp.unlink()
            shutil.copyfile(source, tmp)
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            if sha256_file(tmp) != want:
                tmp.unlink()
                raise StorageError(
                    f"copy of {source} to {target} does not match its sha256",
                    hint="check the disk, then run the command again",
                )
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP)
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(
                f"cannot store document {name} in {self.root}: {exc.strerror}",
                hint="check the bundle folder's free space and permissions",
            ) from exc
        return key

    # -- journal segments ---------------------------------------------------------------------

    def put_journal(self, name: str, data: bytes) -> str:
        """Write ``<root>/journal/<name>`` read-only via a temporary file and a rename."""
        key = f"{JOURNAL_PREFIX}/{check_journal_name(name)}"
        target = self.root / key
        try:
            if target.is_file():
                if target.read_bytes() == data:
                    return key
                raise StorageError(
                    f"journal segment {key} already exists in {self.root} with other content; "
                    "refusing to overwrite",
                    hint="a segment is never rewritten; compare the journal with its backups",
                )
            mkdir_private(target.parent)
            tmp = target.with_name(f".{target.name}.partial")
            if tmp.exists():
                os.chmod(tmp, stat.S_IWUSR | stat.S_IRUSR)
                tmp.unlink()
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if tmp.read_bytes() != data:
                tmp.unlink()
                raise StorageError(
                    f"journal segment {key} read back differently from what was written",
                    hint="check the disk, then run the command again",
                )
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP)
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(
                f"cannot store journal segment {key} in {self.root}: {exc.strerror}",
                hint="check the bundle folder's free space and permissions",
            ) from exc
        return key

    def list_journal(self) -> list[str]:
        base = self.root / JOURNAL_PREFIX
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(base).as_posix()
            for p in base.glob("*.jsonl*")
            if p.is_file() and not p.name.startswith(".") and p.name.endswith(JOURNAL_SUFFIXES)
        )

    def read_journal(self, name: str) -> bytes:
        key = f"{JOURNAL_PREFIX}/{check_journal_name(name)}"
        try:
            return (self.root / key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read journal segment {key}: {exc.strerror}") from exc
