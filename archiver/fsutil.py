"""Durable file writes: one place for fsync and atomic replace.

A rename survives power loss only when the file was fsynced before it and the directory
after it; a reader never sees a half-written file when it is replaced by a rename. Every
writer of small state files (the audit anchor, the journal head, keys, reports) and every
folder that must reach the disk whole (sealed bundles, export packages) uses these.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir", "fsync_file", "fsync_tree"]


def fsync_file(path: Path) -> None:
    """Flush one file (or directory) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries, so a file created or renamed in it survives power loss."""
    fsync_file(path)


def fsync_tree(top: Path) -> None:
    """Flush every file and directory below ``top``, then ``top`` itself."""
    for p in [*top.rglob("*"), top]:
        fsync_file(p)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o640) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, fsync dir.

    ``mode`` is set on the temp file before any byte is written, so a private file (a key,
    a report naming requesters) is never readable by others, not even for a moment. On any
    failure the temp file is removed and ``path`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
