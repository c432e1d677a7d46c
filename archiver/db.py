"""The catalog database: one SQLAlchemy ``MetaData`` every feature registers its tables on.

SQLite (a file under the archive root) is the embedded default; a ``postgresql+psycopg://``
URL is the scale-out path. Feature modules define their tables on ``metadata``; the schema
itself is made and changed only by the migrations (``archiver.catalog.migrate``), which the
tests hold equal to ``metadata``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event

metadata = MetaData()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine with the settings the catalog relies on."""
    # A ping before every checkout guards against a database server that dropped the
    # connection; an embedded SQLite file cannot, and the ping would cost every transaction.
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
