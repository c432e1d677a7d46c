"""Out of room, read-only, not allowed: one clear line naming the path and the fix.

A full disk, an exhausted quota, a read-only mount or a permission the service user lacks is
not a bug in the archiver, it is the server telling an administrator to act. These helpers
turn the ``OSError`` (or SQLite's "database or disk is full" / "attempt to write a readonly
database", which SQLAlchemy wraps) into a ``StorageError`` or ``CatalogError`` whose message
says which path and what to do, so the CLI prints one line instead of a traceback.

Nothing is lost by such a failure by construction of the callers (a bundle is visible only
once sealed and published; bookmarks move only with the last sealed bundle), so the hints can
truthfully say "re-run when fixed".
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.errors import ArchiverError, CatalogError, StorageError

# errno values that mean "the server must change", not "the archiver is broken".
RESOURCE_ERRNOS: frozenset[int] = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
)

# What SQLite says (through sqlite3 or SQLAlchemy) for the same conditions.
_SQLITE_FULL = "database or disk is full"
_SQLITE_READONLY = ("attempt to write a readonly database", "readonly database")
_SQLITE_IO = ("disk i/o error", "unable to open database file")


def is_resource_error(exc: BaseException) -> bool:
    """An ``OSError`` the administrator must fix (space, quota, read-only, permission)."""
    return isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS


def sqlite_condition(exc: BaseException, path: Path | None = None) -> int | None:
    """The errno equivalent of a SQLite failure, or ``None`` if it is something else.

    SQLite reports a full disk during WAL index setup as a plain "disk I/O error"; with a
    ``path`` the filesystem is asked, so that case is named as the full disk it is.
    """
    text = str(exc).lower()
    if _SQLITE_FULL in text:
        return errno.ENOSPC
    if any(m in text for m in _SQLITE_READONLY):
        return errno.EROFS if path is not None and fs_read_only(path) else errno.EACCES
    if any(m in text for m in _SQLITE_IO) and path is not None:
        if fs_read_only(path):
            return errno.EROFS
        if free_bytes(path) == 0:
            return errno.ENOSPC
        if not os.access(_existing(path), os.W_OK):
            return errno.EACCES
    return None


def _existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def fs_read_only(path: Path) -> bool:
    """Whether the filesystem holding ``path`` is mounted read-only."""
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(_existing(path))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def hint_for(code: int | None, path: Path | str) -> str:
    """What to do about ``code`` at ``path``; always says that nothing was lost."""
    where = str(path)
    if code == errno.ENOSPC:
        return (
            f"free space on the filesystem holding {where} (see `df -h {where}`) and run the "
            "command again; nothing sealed was lost"
        )
    if code == errno.EDQUOT:
        return (
            f"the disk quota for {where} is used up: raise it or free space, then run the "
            "command again; nothing sealed was lost"
        )
    if code == errno.EROFS:
        return (
            f"{where} is on a read-only filesystem: remount it read-write to change the "
            "archive (verify, audit verify, status and search work read-only)"
        )
    return (
        f"give the archiver's service user write access to {where} (chown/chmod), or run "
        "the command as that user"
    )


def describe(code: int | None) -> str:
    """The system's own words (``No space left on device``), which admins search for."""
    return os.strerror(code) if code else "cannot write"


def storage_error(exc: OSError, path: Path | str, *, doing: str) -> StorageError:
    """``StorageError`` for ``exc`` while ``doing`` something at ``path``."""
    where = exc.filename if isinstance(exc.filename, str) else str(path)
    return StorageError(
        f"{doing}: {where}: {describe(exc.errno)}", hint=hint_for(exc.errno, Path(where))
    )


def catalog_error(exc: BaseException, path: Path | None, *, doing: str) -> CatalogError | None:
    """``CatalogError`` for a SQLite full/read-only/permission failure, else ``None``."""
    code = sqlite_condition(exc, path)
    if code is None:
        return None
    where = str(path) if path is not None else "the catalog database"
    return CatalogError(
        f"{doing}: {where}: {describe(code)}",
        hint=hint_for(code, path if path is not None else where),
    )


@contextmanager
def guard(path: Path | str, *, doing: str) -> Iterator[None]:
    """Re-raise resource failures inside the block as one-line ``StorageError``s.

    Covers ``OSError`` (ENOSPC, EDQUOT, EROFS, EACCES, EPERM) and SQLite's own "disk is
    full" / "readonly database" from files we write with ``sqlite3`` (a bundle's
    ``records.sqlite``). Anything else passes through unchanged: it is a bug to be seen.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in RESOURCE_ERRNOS:
            raise
        raise storage_error(exc, path, doing=doing) from exc
    except sqlite3.OperationalError as exc:
        code = sqlite_condition(exc, Path(path))
        if code is None:
            raise
        raise StorageError(f"{doing}: {path}: {describe(code)}", hint=hint_for(code, path)) from exc


def as_archiver_error(exc: BaseException) -> ArchiverError | None:
    """Last line of defence for the CLI: a resource failure no caller wrapped yet."""
    if isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
        where = exc.filename if isinstance(exc.filename, str) else "the archive"
        return storage_error(exc, where, doing="cannot write")
    if isinstance(exc, sqlite3.OperationalError) or type(exc).__name__ == "OperationalError":
        code = sqlite_condition(exc)
        if code is not None:
            return CatalogError(
                f"the catalog database: {describe(code)}", hint=hint_for(code, "the catalog")
            )
    return None


# -- who may read what we write ------------------------------------------------------------
# Catalog, bundles, staging, exports, reports and backups hold requester names, removed
# comments and removal reviews: owner read/write, group read, nobody else, whatever the
# umask of whoever started the process.
PRIVATE_UMASK = 0o027
FILE_MODE = 0o640
DIR_MODE = 0o750


def restrict_umask() -> int:
    """Tighten (never loosen) the process umask to at least 027; returns the old one.

    Called at the CLI and daemon entry so every file the process creates is private; the
    modules that write sensitive files also set modes explicitly, for library callers.
    """
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)
    return old


def make_private(path: Path) -> None:
    """Remove every permission for "other" from ``path`` (and below, for a folder).

    Keeps the owner's and group's bits as they are (a sealed file stays read-only).
    """
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        mode = p.lstat().st_mode
        if p.is_symlink() or not mode & 0o007:
            continue
        os.chmod(p, mode & 0o7770)


def mkdir_private(path: Path) -> None:
    """``mkdir -p`` whose new folders are 0750 regardless of the umask."""
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)
