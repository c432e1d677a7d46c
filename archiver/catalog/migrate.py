"""Which schema revision a catalog is at, and bringing it to the one this code needs.

The catalog outlives many releases, so its schema is versioned with Alembic: the revisions in
``archiver/catalog/migrations/versions/`` (baseline ``0001_baseline`` = release 0.1.0) are the
only way the schema changes. Opening a catalog (:func:`open_catalog`) creates a new one by
upgrading it to head and refuses, with one line naming the fix, a catalog at any other revision:
running code against a schema it was not written for could silently lose data. Only
``archiver migrate`` (:func:`upgrade`) moves a catalog forward, in one transaction.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from archiver.catalog import revision
from archiver.catalog.revision import VERSION_TABLE as VERSION_TABLE
from archiver.catalog.revision import at_head
from archiver.catalog.sql import SAReader
from archiver.catalog.tables import all_tables
from archiver.errors import CatalogError

if TYPE_CHECKING:  # Alembic loads only to migrate or to explain a refusal (issue 14 part 2)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BASELINE = "0001_baseline"

#: Tables in the catalog database that are not ours to version: APScheduler's job store makes
#: its own, SQLite's FTS5 index keeps shadow tables beside the virtual table.
_FOREIGN_TABLES = ("apscheduler_jobs",)
_FTS_PREFIX = "item_versions_fts"
_AUDIT_TRIGGERS = {
    "sqlite": {"audit_log_no_update", "audit_log_no_delete"},
    "postgresql": {"audit_log_append_only", "audit_log_no_truncate"},
}


# Serializes migrators on PostgreSQL (two daemons creating one new catalog, say): the second
# waits, then finds the revision already applied. Derived from a name, like the audit log's.
_PG_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"archiver.catalog.migrate").digest()[:8], "big", signed=True
)


class SchemaVersionError(CatalogError):
    """The catalog's schema revision is not the one this code was written for."""


def target_metadata() -> MetaData:
    """``archiver.db.metadata`` with every feature's tables registered on it."""
    return all_tables()


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave tables we do not own (and the FTS index made with raw DDL) out of comparisons."""
    if type_ == "table" and name is not None:
        return name not in _FOREIGN_TABLES and not name.startswith(_FTS_PREFIX)
    return not (type_ == "index" and name == "ix_item_versions_tsv")


def alembic_config(script_location: Path | None = None) -> Config:
    """The Alembic configuration, built in code: no ``alembic.ini`` is needed at run time."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or revision.MIGRATIONS_DIR))
    return cfg


@functools.cache
def _scripts(script_location: Path) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(script_location))


def head_revision(script_location: Path | None = None) -> str:
    heads = _scripts(script_location or revision.MIGRATIONS_DIR).get_heads()
    if len(heads) != 1:  # a merge mistake in the code, not something a user can fix
        raise CatalogError(
            f"the catalog migrations have {len(heads)} heads ({', '.join(sorted(heads))})",
            hint="this build of the archiver is broken; install a released version",
        )
    return heads[0]


@dataclass(frozen=True)
class Step:
    revision: str
    title: str


@dataclass(frozen=True)
class CatalogState:
    """What a catalog database holds, as far as versioning is concerned."""

    url: str
    current: str | None  # the revision in alembic_version, None if there is none
    head: str
    empty: bool  # none of our tables: a new catalog
    known: bool  # ``current`` is a revision this code has
    steps: list[Step] = field(default_factory=list)  # what upgrading would run, in order

    @property
    def unversioned(self) -> bool:
        return self.current is None and not self.empty

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def read_state(engine: Engine, script_location: Path | None = None) -> CatalogState:
    """Read the catalog's revision without writing anything (works on a read-only copy)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        current = MigrationContext.configure(conn).get_current_revision()
    ours = set(target_metadata().tables)
    head = head_revision(script_location)
    scripts = _scripts(script_location or revision.MIGRATIONS_DIR)
    known = current is None or _has_revision(scripts, current)
    steps: list[Step] = []
    if known and current != head:
        revs = list(scripts.iterate_revisions(head, current))
        steps = [Step(r.revision, _title(r.doc)) for r in reversed(revs)]
    return CatalogState(
        url=_safe_url(engine),
        current=current,
        head=head,
        empty=current is None and not (names & ours),
        known=known,
        steps=steps,
    )


def _has_revision(scripts: ScriptDirectory, revision: str) -> bool:
    return any(script.revision == revision for script in scripts.walk_revisions())


def _title(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def refusal(state: CatalogState) -> SchemaVersionError | None:
    """The one-line refusal for a catalog this code must not use, or None if it may."""
    if state.at_head:
        return None
    if state.unversioned:
        return SchemaVersionError(
            f"catalog {state.url} predates schema versioning; run `archiver migrate`",
            hint="it checks the catalog, backs it up and stamps it",
        )
    if not state.known:
        return SchemaVersionError(
            f"this catalog was written by a newer archiver (revision {state.current}); "
            "upgrade the software",
            hint=f"this archiver knows revisions up to {state.head}",
        )
    return SchemaVersionError(
        f"catalog {state.url} is at schema revision {state.current or 'none'}, this archiver "
        f"needs {state.head}; run `archiver migrate`",
        hint="it backs the catalog up first; `archiver migrate --dry-run` shows the steps",
    )


def check_revision(engine: Engine) -> None:
    """Refuse (``SchemaVersionError``) unless the catalog is at this code's head revision."""
    problem = refusal(read_state(engine))
    if problem is not None:
        raise problem


def _at_head_quickly(engine: Engine) -> bool:
    """True when the catalog's recorded revision is this code's head, checked with one query
    and without importing Alembic (every command opens the catalog); False means "ask
    Alembic" (new catalog, behind, ahead, unversioned), never "refuse"."""
    try:
        with engine.connect() as conn:
            return at_head(SAReader(conn))
    except SQLAlchemyError:
        return False


def open_catalog(engine: Engine) -> None:
    """Create a new, empty catalog at head; otherwise insist it is at head already."""
    if _at_head_quickly(engine):
        return
    state = read_state(engine)
    if state.empty:
        try:
            upgrade(engine)
        except SQLAlchemyError:
            # Another process may have created it at the same moment; if so, it is at head.
            if refusal(read_state(engine)) is not None:
                raise
        return
    problem = refusal(state)
    if problem is not None:
        raise problem


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One real transaction for the whole upgrade, DDL included, on SQLite too, one at a time.

    pysqlite runs DDL outside any transaction unless told otherwise, so a failed step would
    leave half a migration behind; here the driver's own transaction handling is switched off
    and ``BEGIN IMMEDIATE`` issued by hand. Foreign keys are off while tables are rebuilt (as
    SQLite's documented ALTER procedure requires) and back on afterwards.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        dbapi: Any = conn.connection.dbapi_connection
        saved = dbapi.isolation_level if sqlite else None
        if sqlite:
            dbapi.isolation_level = None
            dbapi.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if sqlite:
                    dbapi.execute("BEGIN IMMEDIATE")  # one migrator at a time
                elif conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
        finally:
            if sqlite:
                if dbapi.in_transaction:  # the driver's rollback above had nothing to undo
                    dbapi.rollback()
                dbapi.isolation_level = saved
                dbapi.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, target: str = "head", *, script_location: Path | None = None) -> None:
    """Run every revision from the catalog's current one to ``target`` in one transaction."""
    from alembic import command

    cfg = alembic_config(script_location)
    with _transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def baseline_differences(engine: Engine) -> list[str]:
    """How a pre-versioning catalog differs from the baseline; empty if it may be stamped.

    Tables the baseline has and the catalog lacks are not differences: the release that made
    the catalog would have created them on its next start, and the baseline upgrade creates
    them now. Column names, nullability, primary keys and indexes must match.
    """
    reference = create_engine("sqlite://")
    try:
        upgrade(reference, BASELINE)
        expected = _shape(reference)
    finally:
        reference.dispose()
    actual = _shape(engine)
    problems: list[str] = []
    for table, want in sorted(expected.items()):
        have = actual.get(table)
        if have is None:
            continue
        for part in ("columns", "primary key", "indexes", "unique"):
            if have[part] != want[part]:
                problems.append(
                    f"table {table}: {part} {_words(have[part])} (baseline: {_words(want[part])})"
                )
    if engine.dialect.name == "sqlite" and "item_versions" in actual:
        with engine.connect() as conn:
            if not inspect(conn).has_table(_FTS_PREFIX):
                problems.append(
                    f"table item_versions: its full-text index {_FTS_PREFIX} is missing"
                )
    if "audit_log" in actual:
        missing = _AUDIT_TRIGGERS.get(engine.dialect.name, set()) - _triggers(engine)
        if missing:
            problems.append(f"table audit_log: append-only triggers missing: {_words(missing)}")
    return problems


def _words(values: Any) -> str:
    """A shape part as plain words (no brackets, which the console would take for markup)."""

    def one(v: Any) -> str:
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], bool):
            return f"{v[0]}{'' if v[1] else ' not null'}"
        if isinstance(v, tuple) and len(v) == 2:
            return f"{v[0]} on {' + '.join(v[1])}"
        return str(v)

    return ", ".join(one(v) for v in sorted(values)) or "none"


def _shape(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        insp = inspect(conn)
        out: dict[str, dict[str, Any]] = {}
        for table in insp.get_table_names():
            if table == VERSION_TABLE or not include_object(None, table, "table", True, None):
                continue
            out[table] = {
                "columns": sorted(
                    (c["name"], bool(c["nullable"])) for c in insp.get_columns(table)
                ),
                "primary key": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
                # PostgreSQL also lists the index behind each unique constraint; SQLite not.
                "indexes": sorted(
                    (str(i["name"]), tuple(str(c) for c in i["column_names"]))
                    for i in insp.get_indexes(table)
                    if i["name"] != "ix_item_versions_tsv" and "duplicates_constraint" not in i
                ),
                "unique": sorted(
                    ("unique", tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
                ),
            }
    return out


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        elif engine.dialect.name == "postgresql":
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        else:
            return set()
        return {str(r[0]) for r in rows}


def sqlite_path(engine: Engine) -> Path | None:
    """The catalog's file, for an SQLite catalog kept in a file."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def backup_sqlite(engine: Engine, target: str, *, now: datetime | None = None) -> Path | None:
    """Copy an SQLite catalog aside with the online backup API before migrating it.

    The copy is ``<catalog>.pre-<target revision>-<UTC time>.bak``, created 0640 whatever the
    umask (it holds requester names); a consistent snapshot even while another process reads.
    Returns None when there is no file to copy (PostgreSQL: use ``pg_dump``).
    """
    path = sqlite_path(engine)
    if path is None or not path.exists():
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    dest = path.with_name(f"{path.name}.pre-{target}-{stamp}.bak")
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
        os.chmod(dest, 0o640)
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(dest)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        with dest.open("rb") as fh:
            os.fsync(fh.fileno())
    except (OSError, sqlite3.Error) as exc:
        raise CatalogError(
            f"cannot back up the catalog to {dest}: {exc}",
            hint=f"free space or fix permissions in {path.parent}; nothing was migrated",
        ) from exc
    return dest
