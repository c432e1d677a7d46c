"""Recreate a complete catalog from the archive's storage alone: sealed bundles plus the journal.

The catalog is two things: an index of the sealed bundles (rebuilt by ``ingest_bundle``) and
the decisions people made about them (holds, requests, reviews, confirmations, dispositions,
the audit log), which ``archiver.journal`` copies into storage as hash-chained segments. A
rebuild checks the whole journal chain first (a missing or altered segment stops it before
anything is written), catalogs every stored bundle in the order the original catalog did
(the journaled ``bundles.cataloged_at``; item versions are numbered in that order), then
replays the journal, which restores the workflow tables and the catalog-only columns of
``bundles`` and ``sites``, and finally re-verifies the audit log's hash chain.

The target must be new or empty: a rebuild never merges into a catalog that has rows.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Integer, inspect
from sqlalchemy.exc import SQLAlchemyError

from archiver import audit, journal
from archiver.catalog.ingest import ingest_bundle
from archiver.catalog.store import Catalog
from archiver.config import Config
from archiver.db import make_engine
from archiver.errors import CatalogError
from archiver.log import get_logger
from archiver.storage.base import Storage

log = get_logger(__name__)

__all__ = ["RebuildReport", "rebuild", "target_url"]


@dataclass
class RebuildReport:
    target: str
    bundles_in_storage: int = 0
    bundles_cataloged: int = 0
    bundles_skipped_disposed: list[str] = field(default_factory=list)
    segments: int = 0
    entries: int = 0
    audit_entries: int = 0
    audit_problems: list[str] = field(default_factory=list)

    @property
    def audit_ok(self) -> bool:
        return not self.audit_problems


def target_url(into: str) -> str:
    """A catalog URL as given, or a path made into an absolute ``sqlite:///`` URL."""
    if "://" in into:
        return into
    path = Path(into).expanduser().resolve()
    if not path.parent.is_dir():
        raise CatalogError(
            f"cannot create the new catalog {path}: folder {path.parent} does not exist",
            hint="create the folder first or choose another path for --into",
        )
    return f"sqlite:///{path}"


def _refuse_non_empty(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists() and path.stat().st_size > 0:
            raise CatalogError(
                f"refusing to rebuild into {path}: the file exists and is not empty",
                hint="give --into a new path; a rebuild never merges into an existing catalog",
            )
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for name in inspect(conn).get_table_names():
                quoted = conn.dialect.identifier_preparer.quote(name)
                n = conn.exec_driver_sql(f"SELECT count(*) FROM {quoted}").scalar()
                if n and name != "alembic_version":
                    safe = engine.url.render_as_string(hide_password=True)
                    raise CatalogError(
                        f"refusing to rebuild into {safe}: table {name} has {n} row(s)",
                        hint="give --into a new, empty database",
                    )
    except SQLAlchemyError as exc:
        raise CatalogError(
            f"cannot open the target catalog: {str(exc).splitlines()[0]}",
            hint="check the --into URL and that the database server is running",
        ) from exc
    finally:
        engine.dispose()


@contextlib.contextmanager
def _materialize(storage: Storage, key: str, scratch: Path) -> Iterator[Path]:
    """The bundle as a local folder: in place for the local backend, else a downloaded copy."""
    local = storage.local_path(key)
    if local is not None and local.exists():
        yield local
        return
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rebuild-", dir=scratch))
    try:
        for f in storage.list_files(key):
            dest = tmp / f.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(key, f.relpath) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _journaled_bundles(segments: list[journal.Segment]) -> dict[str, dict[str, object]]:
    """The last journaled row of every bundle, by bundle id."""
    rows: dict[str, dict[str, object]] = {}
    for seg in segments:
        for e in seg.entries:
            if e.table != "bundles":
                continue
            if e.op == "put" and e.row is not None:
                rows[str(e.key[0])] = e.row
            elif e.op == "delete":
                rows.pop(str(e.key[0]), None)
    return rows


def _advance_sequences(conn: Connection) -> None:
    """PostgreSQL: move each serial column's sequence past the ids the journal restored.

    The journal restores workflow rows with their original ids (a hold keeps its number); on
    PostgreSQL explicit ids do not advance the sequence, so the next new row would collide.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in journal.journaled_tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or pk[0].autoincrement is False or not isinstance(pk[0].type, Integer):
            continue
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
            f"coalesce((SELECT max({pk[0].name}) FROM {table.name}), 0) + 1, false)"
        )


def rebuild(cfg: Config, storage: Storage, into: str) -> RebuildReport:
    """Build a new catalog at ``into`` from ``storage``; refuses a non-empty target."""
    url = target_url(into)
    _refuse_non_empty(url)
    # The whole chain is checked before the new catalog is created.
    head = journal.read_head(journal.journal_dir(cfg.root))
    segments = journal.read_chain(storage, head=head)
    journaled = _journaled_bundles(segments)

    catalog = Catalog(url)
    report = RebuildReport(target=catalog.safe_url, segments=len(segments))
    try:
        keys = list(storage.list_bundles())
        report.bundles_in_storage = len(keys)

        def order(key: str) -> tuple[str, str]:
            row = journaled.get(key.rsplit("/", 1)[-1])
            # Bundles the journal does not know yet (cataloged after its last flush) go last.
            return (str(row["cataloged_at"]) if row else "\uffff", key)

        for key in sorted(keys, key=order):
            bundle_id = key.rsplit("/", 1)[-1]
            row = journaled.get(bundle_id)
            if row is not None and row.get("status") == "disposed":
                # A disposition that deleted the catalog's copy but not yet every stored file.
                report.bundles_skipped_disposed.append(key)
                continue
            with (
                _materialize(storage, key, cfg.staging_dir) as folder,
                catalog.begin() as conn,
            ):
                result = ingest_bundle(conn, folder, key=key, storage=storage.name)
            if not result.skipped:
                report.bundles_cataloged += 1
        with catalog.begin() as conn:
            report.entries = journal.replay(conn, segments)
            _advance_sequences(conn)
        with catalog.begin() as conn:
            checked = audit.verify(conn)
        report.audit_entries = checked.entries_checked
        report.audit_problems = [f"seq {p.seq}: {p.reason}" for p in checked.problems]
        log.info(
            "catalog_rebuilt",
            audit_entries=checked.entries_checked,
            bundles=report.bundles_cataloged,
        )
    finally:
        catalog.close()
    return report
