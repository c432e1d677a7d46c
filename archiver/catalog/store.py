"""Catalog access for harvest runs, bundles, bookmarks and status.

The catalog is derived data: every item row can be rebuilt from the sealed bundles
(``ingest_bundle``), so losing the catalog never loses a record. Workflow state that is not in
bundles (runs, holds, approvals, the audit log) lives here too.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from archiver.catalog import migrate
from archiver.catalog import schema as s
from archiver.catalog.sql import protect_sqlite_files
from archiver.clock import now_iso as now_iso
from archiver.config import SiteConfig
from archiver.db import make_engine
from archiver.errors import CatalogError
from archiver.resources import catalog_error, fs_read_only

if TYPE_CHECKING:
    # warcio (under archiver.warc) is for harvests; commands that only read the catalog
    # (status, search) do not load it (issue 14 part 2).
    from archiver.warc import RevisitTarget


def uri_hash(uri: str) -> str:
    return hashlib.sha1(uri.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    site_id: str
    started_at: datetime
    full_sweep: bool


class Catalog:
    """One engine, created once per process; connections are short-lived.

    ``read_only=True`` opens the catalog without any DDL, migration or write (see
    ``open_read_only``): what ``verify``, ``audit verify``, ``status`` and ``search`` need on a
    read-only mount or a full disk. Writing through such a catalog fails in the database.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self.unrecorded: list[str] = []
        self.path: Path | None = sqlite_path(url)
        if read_only:
            self.engine: Engine = open_read_only(url, self.path)
            return
        try:
            self.engine = make_engine(url)
            # A new catalog is created at the newest schema revision; any other revision is
            # refused with the command that fixes it (`archiver migrate`).
            migrate.open_catalog(self.engine)
            self.protect_files()
            # SQLite creates -wal and -shm on a connection's first use, with the umask.
            event.listen(self.engine, "connect", lambda *_a: self.protect_files())
        except (OperationalError, SQLAlchemyError) as exc:
            mapped = catalog_error(exc, self.path, doing="cannot open the catalog")
            if mapped is not None:
                raise mapped from exc
            raise CatalogError(
                f"cannot open the catalog database {self.safe_url}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}",
                hint="check [archive] catalog_url and that the database server is running",
            ) from exc

    def protect_files(self) -> None:
        """The catalog holds requester names and removal reviews: owner and group only.

        Set explicitly (not left to the umask) on the database and its WAL companions, which
        SQLite creates with the process umask.
        """
        if self.path is not None:
            protect_sqlite_files(self.path)

    @property
    def safe_url(self) -> str:
        return (
            self.engine.url.render_as_string(hide_password=True)
            if hasattr(self, "engine")
            else self.url.split("@")[-1]
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            mapped = self._clerk_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def _clerk_error(self, exc: Exception) -> Exception:
        """What a failed catalog statement is reported as (``exc`` itself for a bug, which
        the caller re-raises as it is)."""
        operational = isinstance(exc, OperationalError | sqlite3.OperationalError)
        if not operational and self.read_only:
            # PostgreSQL refuses a write in a read-only transaction with its own class.
            return CatalogError(
                f"the catalog {self.safe_url} was opened read-only: {str(exc).splitlines()[0]}",
                hint="run this command where the archive is writable",
            )
        if not operational:
            return exc
        mapped = catalog_error(exc, self.path, doing="cannot write the catalog")
        if mapped is not None:
            return mapped
        return CatalogError(
            f"catalog database error: {str(exc).splitlines()[0]}",
            hint="check the disk and the database server; the operation was rolled back",
        )

    @contextmanager
    def run_lookups(self, site_id: str) -> Iterator[RunLookups]:
        """The per-response questions of one harvest, over one connection held for the run."""
        try:
            with self.engine.connect() as conn:
                yield RunLookups(conn, site_id, self._clerk_error)
        except SQLAlchemyError as exc:
            mapped = self._clerk_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- sites and runs ---------------------------------------------------------------------
    def sync_site(self, site: SiteConfig) -> None:
        """Bring the site's row in line with the config at the start of a run.

        ``token_expires`` is written only when the config states one: a site without it keeps
        the expiry its platform last reported (``set_token_expiry``), so a run that fails
        (an expired token, a network error) or reports nothing cannot erase the date exactly
        when it matters most.
        """
        with self.begin() as conn:
            row = conn.execute(select(s.sites.c.id).where(s.sites.c.id == site.id)).first()
            values: dict[str, str] = {
                "platform": site.platform,
                "account": site.account,
                "department": site.department,
                "base_url": site.base_url,
            }
            if site.token_expires:
                values["token_expires"] = site.token_expires
            if row is None:
                conn.execute(s.sites.insert().values(id=site.id, created_at=now_iso(), **values))
            else:
                conn.execute(update(s.sites).where(s.sites.c.id == site.id).values(**values))

    def set_token_expiry(self, site_id: str, expires_at: datetime | None) -> None:
        """Record what the platform reported; ``None`` means it does not expire."""
        value = expires_at.astimezone(UTC).isoformat() if expires_at else "never"
        with self.begin() as conn:
            conn.execute(update(s.sites).where(s.sites.c.id == site_id).values(token_expires=value))

    def start_run(self, site_id: str, *, full_sweep: bool) -> RunInfo:
        started = datetime.now(UTC)
        run_id = f"run-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with self.begin() as conn:
            conn.execute(
                s.runs.insert().values(
                    id=run_id,
                    site_id=site_id,
                    started_at=started.isoformat(timespec="microseconds"),
                    status="running",
                    full_sweep=full_sweep,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            )
        return RunInfo(run_id, site_id, started, full_sweep)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        counts: Mapping[str, int],
        requests: int,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        with self.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=now_iso(),
                    counts_json=json.dumps(dict(counts), sort_keys=True),
                    requests=requests,
                    error=error,
                    error_kind=error_kind,
                )
            )

    def abandon_stale_runs(self, site_id: str) -> int:
        """Runs left 'running' by a killed process: their staging was discarded."""
        with self.begin() as conn:
            result = conn.execute(
                update(s.runs)
                .where(s.runs.c.site_id == site_id, s.runs.c.status == "running")
                .values(
                    status="abandoned",
                    finished_at=now_iso(),
                    error="the process stopped before the run finished; nothing was sealed from it",
                )
            )
            return int(result.rowcount or 0)

    def last_full_sweep(self, site_id: str) -> datetime | None:
        with self.begin() as conn:
            value = conn.execute(
                select(func.max(s.runs.c.started_at)).where(
                    s.runs.c.site_id == site_id,
                    s.runs.c.status == "succeeded",
                    s.runs.c.full_sweep.is_(True),
                )
            ).scalar()
        return datetime.fromisoformat(value) if value else None

    # -- bookmarks and dedup ----------------------------------------------------------------
    def bookmarks(self, site_id: str) -> dict[str, str]:
        with self.begin() as conn:
            rows = conn.execute(
                select(s.bookmarks.c.key, s.bookmarks.c.value).where(
                    s.bookmarks.c.site_id == site_id
                )
            )
            return {k: v for k, v in rows}

    def find_original(self, site_id: str, uri: str, digest: str) -> RevisitTarget | None:
        """The archived response ``uri`` had with this payload digest, if any (a harvest asks
        through :meth:`run_lookups` instead)."""
        with self.run_lookups(site_id) as lookups:
            return lookups.find_original(uri, digest)

    def owner_post_texts(
        self, since: datetime, *, exclude_site: str, limit: int = 2000
    ) -> list[str]:
        """Text and HTML of the City's own posts (every site but ``exclude_site``) whose
        version was captured since ``since``, newest first: where the website crawl finds the
        pages City posts link to (issue 18 part 5)."""
        v, i = s.item_versions, s.items
        q = (
            select(v.c.text, v.c.html, i.c.permalink)
            .join(i, i.c.id == v.c.item_id)
            .where(
                i.c.by_owner.is_(True),
                i.c.site_id != exclude_site,
                v.c.captured_at >= since.astimezone(UTC).isoformat(timespec="microseconds"),
            )
            .order_by(v.c.captured_at.desc())
            .limit(limit)
        )
        with self.begin() as conn:
            return ["\n".join(str(x) for x in row if x) for row in conn.execute(q)]

    def uri_seen(self, site_id: str, uri: str) -> bool:
        """Whether any response for ``uri`` is already archived (media is fetched once)."""
        with self.run_lookups(site_id) as lookups:
            return lookups.uri_seen(uri)

    # -- change-proportional storage (issue 14) --------------------------------------------
    def current_hashes(self, site_id: str, record_class: str, ids: list[str]) -> dict[str, str]:
        """Content hash of the current version of each of ``ids`` still present upstream."""
        out: dict[str, str] = {}
        with self.begin() as conn:
            for start in range(0, len(ids), 500):
                for pid, digest in conn.execute(
                    select(s.items.c.platform_id, s.items.c.current_hash).where(
                        s.items.c.site_id == site_id,
                        s.items.c.record_class == record_class,
                        s.items.c.platform_id.in_(ids[start : start + 500]),
                        s.items.c.disappeared_at.is_(None),
                    )
                ):
                    out[pid] = digest
        return out

    def version_hashes(
        self, site_id: str, record_class: str, ids: list[str]
    ) -> dict[str, set[str]]:
        """Every archived version's content hash of each of ``ids``."""
        out: dict[str, set[str]] = {}
        i, v = s.items, s.item_versions
        with self.begin() as conn:
            for start in range(0, len(ids), 500):
                for pid, digest in conn.execute(
                    select(i.c.platform_id, v.c.content_hash)
                    .join(v, v.c.item_id == i.c.id)
                    .where(
                        i.c.site_id == site_id,
                        i.c.record_class == record_class,
                        i.c.platform_id.in_(ids[start : start + 500]),
                    )
                ):
                    out.setdefault(pid, set()).add(digest)
        return out

    def last_follower_list(self, site_id: str) -> dict[str, Any] | None:
        """The newest follower list of the site kept in a format 3 form, with the time of the
        checkpoint it extends (``checkpoint_taken_at``)."""
        fl = s.follower_lists
        with self.begin() as conn:
            row = conn.execute(
                select(fl).where(fl.c.site_id == site_id).order_by(fl.c.taken_at.desc()).limit(1)
            ).first()
            if row is None:
                return None
            out = dict(row._mapping)
            out["checkpoint_taken_at"] = conn.execute(
                select(fl.c.taken_at).where(fl.c.bundle_id == row.checkpoint_bundle_id)
            ).scalar()
        return out

    def last_complete_follower_list(self, site_id: str) -> tuple[datetime, datetime | None] | None:
        """(when, when its checkpoint was taken) of the site's newest follower list read to
        the end (a checkpoint or a diff; a partial or head read does not count)."""
        fl = s.follower_lists
        with self.begin() as conn:
            row = conn.execute(
                select(fl.c.taken_at, fl.c.checkpoint_bundle_id)
                .where(fl.c.site_id == site_id, fl.c.form.in_(("checkpoint", "diff")))
                .order_by(fl.c.taken_at.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            checkpoint = conn.execute(
                select(fl.c.taken_at).where(fl.c.bundle_id == row.checkpoint_bundle_id)
            ).scalar()
        return (
            datetime.fromisoformat(row.taken_at),
            None if checkpoint is None else datetime.fromisoformat(checkpoint),
        )

    def last_follower_read(self, site_id: str) -> datetime | None:
        """When the site's follower list (or count) was last read."""
        snaps = s.follower_snapshots
        with self.begin() as conn:
            value = conn.execute(
                select(func.max(snaps.c.taken_at)).where(snaps.c.site_id == site_id)
            ).scalar()
        return None if value is None else datetime.fromisoformat(value)

    def active_followers(
        self, site_id: str
    ) -> dict[str, tuple[str | None, str | None, str | None]]:
        """Who follows now, as far as the archive knows: id -> (handle, display name, url)."""
        f = s.followers
        with self.begin() as conn:
            return {
                r.platform_id: (r.handle, r.display_name, r.url)
                for r in conn.execute(
                    select(f.c.platform_id, f.c.handle, f.c.display_name, f.c.url).where(
                        f.c.site_id == site_id, f.c.unfollowed_at.is_(None)
                    )
                )
            }

    def thread_poll(self, site_id: str, root_id: str) -> tuple[str | None, str | None, int]:
        """(last polled, last activity, direct replies present) of a thread."""
        tp, i = s.thread_polls, s.items
        with self.begin() as conn:
            row = conn.execute(
                select(tp.c.polled_at, tp.c.activity_at).where(
                    tp.c.site_id == site_id, tp.c.root_id == root_id
                )
            ).first()
            direct = conn.execute(
                select(func.count()).where(
                    i.c.site_id == site_id,
                    i.c.root_id == root_id,
                    i.c.parent_id == root_id,
                    i.c.record_class == "comments",
                    i.c.disappeared_at.is_(None),
                )
            ).scalar()
        if row is None:
            return None, None, int(direct or 0)
        return row.polled_at, row.activity_at, int(direct or 0)

    # -- bundles ----------------------------------------------------------------------------
    def bundle_ids(self) -> set[str]:
        with self.begin() as conn:
            return {r[0] for r in conn.execute(select(s.bundles.c.id))}

    def bundles(
        self, *, site_id: str | None = None, status: str = "sealed"
    ) -> list[dict[str, Any]]:
        q = select(s.bundles).where(s.bundles.c.status == status).order_by(s.bundles.c.sealed_at)
        if site_id:
            q = q.where(s.bundles.c.site_id == site_id)
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def bundle_files(self, bundle_id: str) -> dict[str, tuple[str, int]]:
        with self.begin() as conn:
            rows = conn.execute(
                select(
                    s.bundle_files.c.relpath, s.bundle_files.c.sha256, s.bundle_files.c.size
                ).where(s.bundle_files.c.bundle_id == bundle_id)
            )
            return {r[0]: (r[1], r[2]) for r in rows}

    def bundle_files_many(self, bundle_ids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """:meth:`bundle_files` of many bundles in a few queries (``verify`` of an archive
        of many small bundles paid one query per bundle; issue 14 part 4)."""
        out: dict[str, dict[str, tuple[str, int]]] = {bid: {} for bid in bundle_ids}
        f = s.bundle_files.c
        with self.begin() as conn:
            for start in range(0, len(bundle_ids), 500):
                chunk = bundle_ids[start : start + 500]
                rows = conn.execute(
                    select(f.bundle_id, f.relpath, f.sha256, f.size).where(f.bundle_id.in_(chunk))
                )
                for bid, rel, digest, size in rows:
                    out[bid][rel] = (digest, size)
        return out

    def mark_verified(self, bundle_id: str, ok: bool) -> None:
        """Note when a bundle was last verified (a note a check may skip: ``note``)."""
        self.mark_verified_many([(bundle_id, ok)])

    def mark_verified_many(self, results: list[tuple[str, bool]]) -> None:
        """:meth:`mark_verified` for many bundles in one transaction (one commit, so one
        fsync, instead of one per bundle)."""
        if not results:
            return
        at = now_iso()
        stmt = (
            update(s.bundles)
            .where(s.bundles.c.id == bindparam("bid"))
            .values(last_verified_at=at, last_verify_ok=bindparam("ok"))
        )
        self.note(lambda conn: conn.execute(stmt, [{"bid": b, "ok": ok} for b, ok in results]))

    def note(self, write: Callable[[Connection], object]) -> bool:
        """Run a bookkeeping ``write`` that a check must survive without; True if it was made.

        Fixity and seal checks go on when the catalog cannot take their notes (read-only
        mount, full disk): the first refusal is kept in ``unrecorded`` for the command to
        report in one line, and no further note is attempted.
        """
        if self.read_only or self.unrecorded:
            return False
        try:
            with self.begin() as conn:
                write(conn)
        except CatalogError as exc:
            self.unrecorded.append(str(exc))
            return False
        return True

    # -- status -----------------------------------------------------------------------------
    def site_status(self) -> list[dict[str, Any]]:
        """Per site: last run, last success, counts of items, followers, bundles
        (``archiver.catalog.site_status``, shared with the SQLAlchemy-free status path)."""
        from archiver.catalog.site_status import site_status
        from archiver.catalog.sql import SAReader

        with self.begin() as conn:
            return site_status(SAReader(conn))


class RunLookups:
    """``find_original`` and ``uri_seen`` for one harvest, asked for every response it records.

    One connection is held for the run instead of a pooled checkout and a transaction per
    question, and on SQLite the two statements, compiled once, go straight to the driver:
    SQLAlchemy's per-execution work was most of the cost of recording a response beyond
    what a bare fetch does (issue 14 part 5). No snapshot is held between questions: pysqlite
    runs a lone SELECT outside any transaction (a checkpoint is not held back), and on
    PostgreSQL each answer ends its read transaction (``rollback``: nothing was written), so
    the session is never left idle in a transaction.
    """

    def __init__(
        self, conn: Connection, site_id: str, clerk_error: Callable[[Exception], Exception]
    ) -> None:
        self._conn = conn
        self._site = site_id
        self._clerk_error = clerk_error
        self._raw: Any = None
        self._sql: dict[Any, tuple[str, list[str], Mapping[str, Any]]] = {}
        if conn.dialect.name == "sqlite":
            self._raw = conn.connection.dbapi_connection
            for statement in (_FIND_ORIGINAL, _URI_SEEN):
                compiled = statement.compile(dialect=conn.dialect)
                # Only text and integer parameters, none with a bind processor to apply.
                assert not compiled._bind_processors and compiled.positiontup is not None
                fixed = compiled.construct_params(_check=False)
                self._sql[statement] = (compiled.string, compiled.positiontup, fixed)

    def _first(self, statement: Any, params: dict[str, str]) -> Any:
        if self._raw is not None:
            sql, order, fixed = self._sql[statement]
            try:
                return self._raw.execute(
                    sql, [params[k] if k in params else fixed[k] for k in order]
                ).fetchone()
            except sqlite3.Error as exc:
                mapped = self._clerk_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
        try:
            row = self._conn.execute(statement, params).first()
            self._conn.rollback()
        except SQLAlchemyError as exc:
            mapped = self._clerk_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return row

    def find_original(self, uri: str, digest: str) -> RevisitTarget | None:
        row = self._first(
            _FIND_ORIGINAL, {"site": self._site, "uri_hash": uri_hash(uri), "digest": digest}
        )
        if row is None:
            return None
        from archiver.warc import RevisitTarget

        return RevisitTarget(
            record_id=row[0], target_uri=row[1], warc_date=row[2], bundle_id=row[3]
        )

    def uri_seen(self, uri: str) -> bool:
        return self._first(_URI_SEEN, {"site": self._site, "uri_hash": uri_hash(uri)}) is not None


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite catalog URL (``None`` for a server database or memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def open_read_only(url: str, path: Path | None) -> Engine:
    """An engine that cannot write: no DDL, no migration, no journal-mode change.

    SQLite is opened with ``mode=ro``; when the filesystem itself is read-only (or full, so
    SQLite cannot create the WAL index ``-shm``) also ``immutable=1``, which reads the file
    without any locking — safe there because no process can be writing it. PostgreSQL gets
    read-only transactions.
    """
    if path is None:
        if make_url(url).get_backend_name() == "sqlite":
            raise CatalogError(
                f"cannot open {url} read-only", hint="use a file path in [archive] catalog_url"
            )
        return create_engine(
            url,
            future=True,
            pool_pre_ping=True,
            connect_args={"options": "-c default_transaction_read_only=on"},
        )
    if not path.is_file():
        raise CatalogError(
            f"cannot open the catalog read-only: {path} does not exist",
            hint="check [archive] root / catalog_url; a read-only archive must have a catalog",
        )
    engine = _sqlite_ro_engine(path, immutable=fs_read_only(path))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except OperationalError:
        # No room (or no right) to create the WAL index: read the file as it stands.
        engine.dispose()
        engine = _sqlite_ro_engine(path, immutable=True)
    return engine


def _sqlite_ro_engine(path: Path, *, immutable: bool) -> Engine:
    uri = f"file:{path.resolve().as_posix()}?mode=ro" + ("&immutable=1" if immutable else "")
    engine = create_engine("sqlite+pysqlite:///" + uri + "&uri=true", future=True)

    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    event.listen(engine, "connect", _pragmas)
    return engine


# Built once: the harvest asks these for every response it records.
_FIND_ORIGINAL = (
    select(
        s.payload_index.c.record_id,
        s.payload_index.c.target_uri,
        s.payload_index.c.warc_date,
        s.payload_index.c.bundle_id,
    )
    .join(s.bundles, s.bundles.c.id == s.payload_index.c.bundle_id)
    .where(
        s.payload_index.c.site_id == bindparam("site"),
        s.payload_index.c.uri_hash == bindparam("uri_hash"),
        s.payload_index.c.payload_digest == bindparam("digest"),
        s.bundles.c.status == "sealed",
    )
    .limit(1)
)
_URI_SEEN = (
    select(s.payload_index.c.record_id)
    .where(
        s.payload_index.c.site_id == bindparam("site"),
        s.payload_index.c.uri_hash == bindparam("uri_hash"),
    )
    .limit(1)
)
