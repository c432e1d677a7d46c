"""Catalog reads written once as SQL text, run by SQLAlchemy or by the stdlib ``sqlite3`` driver.

Why: ``archiver status`` must start fast (issue 14 part 2) and importing SQLAlchemy alone
costs more than the whole start-up budget allows. So the reads ``status`` makes are SQL text
that SQLite and PostgreSQL both accept, with ``:name`` parameters (the named style both
``sqlite3`` and SQLAlchemy's ``text()`` understand). A :class:`Reader` runs them:
:class:`SqliteReader` over a plain ``sqlite3`` connection on the embedded catalog,
:class:`SAReader` over a SQLAlchemy connection (every other command, inside its own
transaction), :class:`CatalogReader` over a ``Catalog`` (``status`` through SQLAlchemy).
Each query has one definition, in the module that owns it, used through either reader; the
tests hold both readers' answers equal on SQLite and PostgreSQL.

Rows come back as plain dicts (column name to value), as the drivers give them: text() does
no type conversion, so a Boolean column is ``0``/``1`` on SQLite and ``bool`` on PostgreSQL
(callers convert with ``bool()``). This module imports nothing from SQLAlchemy at load time.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archiver.errors import CatalogError
from archiver.resources import catalog_error

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from archiver.catalog.store import Catalog

Row = dict[str, Any]


class Reader(Protocol):
    """Read-only access to the catalog by SQL text (see the module docstring)."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def has_table(self, name: str) -> bool: ...


class SqliteReader:
    """A :class:`Reader` over a stdlib ``sqlite3`` connection (``query_only``: it cannot write).

    A database failure (locked past the busy timeout, an unreadable file) is a ``CatalogError``,
    as ``Catalog.begin`` makes it, so ``status`` shows one section as unavailable and goes on.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> SqliteReader:
        """Open an existing catalog file for reading, with the engine's busy timeout.

        Opened like the catalog engine opens it (WAL readers need the ``-shm`` index, which a
        ``mode=ro`` open may not create), then ``PRAGMA query_only`` makes any write fail.
        """
        if not path.is_file():
            raise FileNotFoundError(path)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only=ON")
            # One read transaction: every query of a command sees the same state of the catalog.
            conn.execute("BEGIN")
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()  # closing drops the read transaction (nothing was written)

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, dict(params or {}))
        except sqlite3.OperationalError as exc:
            raise _read_error(exc, self.path) from exc

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cur = self._run(sql, params)
        names = [d[0] for d in cur.description or ()]
        try:
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except sqlite3.OperationalError as exc:
            raise _read_error(exc, self.path) from exc

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cur = self._run(sql, params)
        try:
            got = cur.fetchone()
        except sqlite3.OperationalError as exc:
            raise _read_error(exc, self.path) from exc
        return None if got is None else got[0]

    def has_table(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"
        return self.scalar(sql, {"name": name}) is not None


def _read_error(exc: sqlite3.OperationalError, path: Path | None) -> CatalogError:
    """The one line ``Catalog.begin`` gives for the same failure through SQLAlchemy."""
    mapped = catalog_error(exc, path, doing="cannot read the catalog")
    if mapped is not None:
        return mapped
    return CatalogError(
        f"catalog database error: {str(exc).splitlines()[0]}",
        hint="check the disk and the database server; the operation was rolled back",
    )


class SAReader:
    """A :class:`Reader` over a SQLAlchemy connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        from sqlalchemy import text

        return [dict(r._mapping) for r in self.conn.execute(text(sql), dict(params or {}))]

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        from sqlalchemy import text

        return self.conn.execute(text(sql), dict(params or {})).scalar()

    def has_table(self, name: str) -> bool:
        from sqlalchemy import inspect

        return bool(inspect(self.conn).has_table(name))


class CatalogReader:
    """A :class:`Reader` over a ``Catalog`` (SQLAlchemy): each query in its own short
    transaction, so a database failure is ``Catalog.begin``'s one-line ``CatalogError`` and
    leaves no aborted transaction behind (PostgreSQL refuses every later query in one):
    ``status`` shows that section as unavailable and reads the others."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        with self.catalog.begin() as conn:
            return SAReader(conn).rows(sql, params)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.catalog.begin() as conn:
            return SAReader(conn).scalar(sql, params)

    def has_table(self, name: str) -> bool:
        with self.catalog.begin() as conn:
            return SAReader(conn).has_table(name)


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:p_0, :p_1, ...)`` and its parameters, for ``col IN <that>``; ``values`` must not be
    empty (``IN ()`` is not valid SQL on PostgreSQL)."""
    if not values:
        raise ValueError("in_list needs at least one value")
    params = {f"{prefix}_{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(f":{k}" for k in params) + ")", params


_PLAIN_SQLITE = re.compile(r"^sqlite(\+pysqlite)?:///(?P<path>[^?%]+)$")


def plain_sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` catalog URL, else ``None`` (a server database, a
    URL with options or escapes, memory): only such a file is read without SQLAlchemy; any
    other URL takes the SQLAlchemy path, which parses it fully."""
    m = _PLAIN_SQLITE.match(url)
    if m is None or m["path"] == ":memory:" or m["path"].startswith("file:"):
        return None
    return Path(m["path"])


def protect_sqlite_files(path: Path) -> None:
    """Owner and group only on the catalog file and its WAL companions (``Catalog.protect_files``
    says why); set explicitly, as SQLite creates them with the process umask."""
    for suffix in ("", "-wal", "-shm"):
        f = path.with_name(path.name + suffix)
        try:
            if f.exists() and f.stat().st_mode & 0o027:
                f.chmod(0o640)
        except OSError:  # not ours to change (another owner): the umask still applies
            continue
