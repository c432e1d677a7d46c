"""Tamper-evident audit log: every consequential act on the records, hash-chained.

A records officer must be able to show, years later, who harvested, sealed, held, released,
exported or destroyed what, and that nobody quietly rewrote that history. Each entry stores
the SHA-256 of its own content plus the hash of the entry before it, so editing, deleting,
or reordering any entry breaks the chain at a point :func:`verify` names.

The chain alone cannot notice the *newest* entries being cut off (what remains is still a
valid chain) nor a wholesale rewrite of the tail by someone who recomputes every hash. For
that the head (seq + hash) is also written to an *anchor file* outside the database; keep it
where whoever can write the database cannot (another host, WORM storage, a sealed bundle).
The anchor is a lower bound: entries appended later (by a writer that was not given the
anchor path) are fine, a head that went backwards or changed is not.

Entry hash, for independent verifiers::

    sha256(json.dumps({"seq": …, "at": …, "actor": …, "action": …, "subject": …,
                       "details": <object>, "prev_hash": …},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")).hexdigest()

``at`` is an ISO-8601 UTC string with microseconds; the first entry's ``prev_hash`` is 64
zeros. The ``details`` column holds the same canonical JSON text of the details object.

Appends run on the caller's :class:`~sqlalchemy.Connection`, inside the caller's
transaction, so an action and its audit entry commit (or roll back) together. They are
serialized: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by taking the
database write lock before reading the head. The ``seq`` primary key and the unique
``prev_hash`` make a forked chain impossible even if that were bypassed: the loser fails.
On SQLite, call :func:`append` before other reads in a transaction (or after the caller's
own writes), otherwise a concurrent commit makes SQLite refuse the upgrade with "database is
locked" rather than wait. On PostgreSQL use READ COMMITTED (the default): under REPEATABLE
READ a stale snapshot would make the append fail on the primary key.

Triggers created with the table refuse UPDATE, DELETE and TRUNCATE, against accidents; the
database owner can drop them, which is why the chain and the anchor exist.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import (
    DDL,
    Column,
    Connection,
    Integer,
    String,
    Table,
    Text,
    event,
    select,
    text,
)

from archiver.catalog import marks
from archiver.catalog.marks import audit_head
from archiver.catalog.sql import SAReader
from archiver.db import metadata
from archiver.errors import CatalogError, IntegrityError
from archiver.fsutil import atomic_write
from archiver.log import get_logger

log = get_logger(__name__)

__all__ = [
    "ACTIONS",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditError",
    "AuditIntegrityError",
    "AuditProblem",
    "AuditReport",
    "append",
    "audit_log",
    "current_actor",
    "entry_hash",
    "head",
    "verify",
]

GENESIS_HASH: Final = marks.GENESIS_HASH

#: The actions the product records. Fixed so a typo cannot create an action no report counts.
ACTIONS: Final = frozenset(
    {
        "harvest",
        "seal",
        "verify",
        "hold.add",
        "hold.release",
        "disposition.propose",
        "disposition.approve",
        "disposition.execute",
        "export",
        "config.change",
        "schedule.confirm",
        "removal.record",
        "removal.review",
        "request.open",
        "request.close",
        "catalog.migrate",
        "quarantine",
        "keys.init",
        "keys.rotate",
        "timestamp",
        "compliance.ack",
        "profile.expect",
    }
)

# Any fixed 64-bit number works; deriving it from the table name avoids clashing with
# advisory locks other features take.
_PG_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"archiver.audit_log").digest()[:8], "big", signed=True
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", Text, nullable=False),
    # Unique: two entries claiming the same predecessor would be a fork.
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False, unique=True),
)

# Triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) so no code path of ours can
# alter history by accident. Whoever owns the database can drop them; that is what the
# chain and the anchor are for.
_APPEND_ONLY: Final = "audit_log is append-only"
_GUARD_DDL: Final = (
    (
        "sqlite",
        "after_create",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ),
    (
        "sqlite",
        "after_create",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ),
    (
        "postgresql",
        "after_create",
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $fn$ BEGIN "
        f"RAISE EXCEPTION '{_APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege'; "
        "END $fn$",
    ),
    (
        "postgresql",
        "after_create",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ),
    (
        "postgresql",
        "after_create",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ),
    ("postgresql", "after_drop", "DROP FUNCTION IF EXISTS audit_log_append_only()"),
)
for _dialect, _when, _sql in _GUARD_DDL:
    _ddl = DDL(_sql).execute_if(dialect=_dialect)  # type: ignore[no-untyped-call]
    event.listen(audit_log, _when, _ddl)


class AuditError(CatalogError):
    """An audit entry could not be written (bad input, or the anchor file is unusable)."""


class AuditIntegrityError(IntegrityError):
    """The audit log no longer matches its hash chain or its anchor."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


ProblemKind = Literal[
    "edited", "deleted", "reordered", "broken_link", "truncated", "anchor", "checkpoint"
]


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    kind: ProblemKind
    reason: str


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries_checked: int
    first_bad_seq: int | None
    problems: tuple[AuditProblem, ...] = field(default_factory=tuple)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def raise_if_bad(self) -> None:
        """For callers (CLI, daemon self-check) that must stop on tampering."""
        if self.ok:
            return
        first = self.problems[0]
        raise AuditIntegrityError(
            f"audit log tampered: {len(self.problems)} problem(s), first at seq "
            f"{self.first_bad_seq}: {first.reason}",
            hint="do not append until a records officer has compared the log with its backups",
        )


def current_actor() -> str:
    """Who to record when the caller names nobody: the OS user, and the sudo caller if any.

    Clerks run the CLI as ``sudo -u archiver``, which would make every entry say "archiver";
    the invoking login is what an auditor wants. Self-reported, not authentication.
    """
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid:{os.getuid()}"
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and sudo_user != user:
        return f"{sudo_user} (as {user})"
    return user


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 an entry must carry; public so tools can re-derive it independently."""
    payload = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()


def _format_at(at: datetime | None) -> str:
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None or at.utcoffset() is None:
        raise AuditError(
            f"audit time {at.isoformat()} has no timezone; pass an aware datetime (UTC)"
        )
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _lock_for_append(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        # A no-op write makes SQLite take (or wait for) the write lock now, before we read
        # the head, so the head cannot move under us until our transaction ends.
        conn.execute(text("UPDATE audit_log SET seq = seq WHERE 0 = 1"))
    # Other dialects rely on the primary key: a racing writer fails instead of forking.


def head(conn: Connection) -> tuple[int, str]:
    """Latest (seq, entry_hash); (0, 64 zeros) for an empty log (``archiver.catalog.marks``)."""
    return audit_head(SAReader(conn))


def append(
    conn: Connection,
    *,
    actor: str | None = None,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    anchor_path: Path | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction; commits or rolls back with it.

    With ``anchor_path`` the anchor file is rewritten with the head as of commit time, just
    before the database commits (never for a transaction that rolls back).
    """
    if action not in ACTIONS:
        raise AuditError(
            f"unknown audit action {action!r}",
            hint="use one of archiver.audit.ACTIONS or add the new action there",
        )
    actor = current_actor() if actor is None else actor
    if not actor.strip():
        raise AuditError("audit actor is empty; pass a user name or omit it for the OS user")
    details_obj: dict[str, Any] = dict(details or {})
    try:
        details_text = _canonical(details_obj)
    except (TypeError, ValueError) as exc:
        raise AuditError(
            f"audit details for {action} {subject} are not plain JSON: {exc}",
            hint="convert dates, paths and decimals to strings before logging",
        ) from exc
    at_text = _format_at(at)

    _lock_for_append(conn)
    prev_seq, prev_hash = head(conn)
    seq = prev_seq + 1
    digest = entry_hash(
        seq=seq,
        at=at_text,
        actor=actor,
        action=action,
        subject=subject,
        details=json.loads(details_text),
        prev_hash=prev_hash,
    )
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=at_text,
            actor=actor,
            action=action,
            subject=subject,
            details=details_text,
            prev_hash=prev_hash,
            entry_hash=digest,
        )
    )
    if anchor_path is not None:
        _anchor_on_commit(conn, Path(anchor_path))
    return AuditEntry(
        seq=seq,
        at=at_text,
        actor=actor,
        action=action,
        subject=subject,
        details=json.loads(details_text),
        prev_hash=prev_hash,
        entry_hash=digest,
    )


# --- anchor file ---------------------------------------------------------------------------

_PENDING_KEY: Final = "archiver.audit.pending_anchors"


def _anchor_on_commit(conn: Connection, path: Path) -> None:
    pending: set[Path] = conn.info.setdefault(_PENDING_KEY, set())
    pending.add(path)
    if not event.contains(conn, "commit", _write_pending_anchors):
        event.listen(conn, "commit", _write_pending_anchors)
        event.listen(conn, "rollback", _drop_pending_anchors)


def _drop_pending_anchors(conn: Connection) -> None:
    conn.info.pop(_PENDING_KEY, None)


def _write_pending_anchors(conn: Connection) -> None:
    """Runs just before COMMIT, still holding the append lock, so anchors follow chain order.

    Reads the head through the raw DBAPI cursor (SQLAlchemy must not start new work inside
    its own commit hook) so savepoint rollbacks are reflected. A failed anchor write is
    logged, not raised: the anchor is a lower bound and the next append catches it up.
    """
    pending: set[Path] = conn.info.pop(_PENDING_KEY, set())
    if not pending:
        return
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is None:  # pragma: no cover - a committing connection is never detached
        return
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
        finally:
            cur.close()
    except Exception as exc:
        log.error("audit.anchor_head_unreadable", error=str(exc))
        return
    if row is None:
        return
    for path in pending:
        try:
            _keep_contradicted_anchor(dbapi_conn, path)
            write_anchor(path, int(row[0]), str(row[1]))
        except OSError as exc:
            log.error("audit.anchor_write_failed", anchor=str(path), error=str(exc))


def superseded_anchors(path: Path) -> list[Path]:
    """Anchors the log contradicted when they were about to be overwritten (evidence)."""
    return sorted(path.parent.glob(f"{path.stem}.contradicted-*.json"))


def _keep_contradicted_anchor(dbapi_conn: Any, path: Path) -> None:
    """Before the anchor moves forward, make sure the log still holds what it recorded.

    Otherwise deleting the newest entries and then appending one would overwrite the only
    evidence (the anchor) with a consistent new head. A contradicted anchor is kept beside
    it under a new name, never overwritten, and ``verify`` reports it.
    """
    try:
        anchor = read_anchor(path)
    except AuditError:
        return
    if anchor is None or anchor[0] == 0:
        return
    cur = dbapi_conn.cursor()
    try:
        cur.execute(
            "SELECT entry_hash FROM audit_log WHERE seq = ?"
            if _paramstyle(dbapi_conn) == "qmark"
            else "SELECT entry_hash FROM audit_log WHERE seq = %s",
            (anchor[0],),
        )
        row = cur.fetchone()
    finally:
        cur.close()
    if row is not None and str(row[0]) == anchor[1]:
        return
    keep = path.with_name(f"{path.stem}.contradicted-{anchor[0]}-{anchor[1][:16]}.json")
    if not keep.exists():
        os.link(path, keep)
    log.error("audit.anchor_contradicted", anchor=str(path), seq=anchor[0], kept=str(keep))


def _paramstyle(dbapi_conn: Any) -> str:
    module = type(dbapi_conn).__module__
    return "qmark" if module.startswith("sqlite3") else "format"


def write_anchor(path: Path, seq: int, digest: str) -> None:
    """Atomically replace the anchor: temp file, fsync, rename, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = _canonical({"seq": seq, "entry_hash": digest, "written_at": _format_at(None)}) + "\n"
    atomic_write(path, body.encode("utf-8"), mode=0o600)


def read_anchor(path: Path) -> tuple[int, str] | None:
    """(seq, entry_hash) recorded in the anchor, or None if there is no anchor file yet."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot read audit anchor {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw)
        seq, digest = int(data["seq"]), str(data["entry_hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            f"audit anchor {path} is not valid JSON with seq and entry_hash",
            hint="restore it from backup; never hand-edit it",
        ) from exc
    return seq, digest


# --- verification --------------------------------------------------------------------------


@dataclass
class _Row:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details_text: str
    prev_hash: str
    entry_hash: str

    def digest_as(self, seq: int) -> str | None:
        try:
            details = json.loads(self.details_text)
        except ValueError:
            return None
        if not isinstance(details, dict):
            return None
        return entry_hash(
            seq=seq,
            at=self.at,
            actor=self.actor,
            action=self.action,
            subject=self.subject,
            details=details,
            prev_hash=self.prev_hash,
        )

    def details_canonical(self) -> bool:
        try:
            return _canonical(json.loads(self.details_text)) == self.details_text
        except ValueError:
            return False


def _rows(conn: Connection) -> Iterable[_Row]:
    result = conn.execute(select(audit_log).order_by(audit_log.c.seq))
    for r in result:
        yield _Row(
            seq=int(r.seq),
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            details_text=r.details,
            prev_hash=r.prev_hash,
            entry_hash=r.entry_hash,
        )


def verify(conn: Connection, *, anchor_path: Path | None = None) -> AuditReport:
    """Re-derive every hash and link; compare the head with the anchor if one is given.

    Reports every problem, not just the first, each with the seq it concerns and why, so
    the records officer knows which entries to compare against backups.
    """
    problems: list[AuditProblem] = []
    seq_by_hash: dict[str, int] = {}
    suspect: dict[str, _Row] = {}  # stored entry_hash -> row whose content does not match it
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last: _Row | None = None
    prev_suspect = False

    for row in _rows(conn):
        checked += 1
        seq_by_hash[row.entry_hash] = row.seq
        gap = row.seq != expected_seq
        if gap:
            missing = (
                f"seq {expected_seq}"
                if row.seq == expected_seq + 1
                else f"seq {expected_seq}..{row.seq - 1}"
            )
            problems.append(
                AuditProblem(
                    expected_seq, "deleted", f"entries missing before seq {row.seq}: {missing}"
                )
            )
        is_suspect = row.digest_as(row.seq) != row.entry_hash or not row.details_canonical()
        if is_suspect:
            suspect[row.entry_hash] = row
        elif not gap and not prev_suspect and row.prev_hash != prev_hash:
            # A suspect neighbour already explains a bad link; only report unexplained ones.
            problems.append(
                AuditProblem(
                    row.seq,
                    "broken_link",
                    f"entry seq {row.seq} does not point at entry seq {row.seq - 1}: "
                    "one of them was rewritten with a recomputed hash",
                )
            )
        expected_seq = row.seq + 1
        prev_hash = row.entry_hash
        prev_suspect = is_suspect
        last = row

    for row in suspect.values():
        original = _original_seq(row, seq_by_hash, suspect)
        if (
            original is not None
            and original != row.seq
            and row.digest_as(original) == row.entry_hash
        ):
            problems.append(
                AuditProblem(
                    row.seq,
                    "reordered",
                    f"entry at seq {row.seq} was written as seq {original}: entries were "
                    "reordered or renumbered",
                )
            )
        else:
            problems.append(
                AuditProblem(
                    row.seq,
                    "edited",
                    f"entry seq {row.seq} ({row.action} {row.subject}) no longer matches its "
                    "hash: its content was edited",
                )
            )

    head_seq, head_hash = (last.seq, last.entry_hash) if last else (0, GENESIS_HASH)
    if anchor_path is not None:
        problems.extend(_check_anchor(Path(anchor_path), head_seq, conn))

    problems.sort(key=lambda p: p.seq)
    return AuditReport(
        ok=not problems,
        entries_checked=checked,
        first_bad_seq=problems[0].seq if problems else None,
        problems=tuple(problems),
        head_seq=head_seq,
        head_hash=head_hash,
    )


def _original_seq(
    row: _Row, seq_by_hash: Mapping[str, int], suspect: Mapping[str, _Row]
) -> int | None:
    """The seq the entry was written with, found by following prev_hash back to a sound entry.

    A sound entry's seq is proven by its own hash, so it anchors the count; suspect entries
    on the way (e.g. the partner of a swap) add one each.
    """
    steps = 0
    current = row
    seen: set[str] = set()
    while True:
        steps += 1
        prev = current.prev_hash
        if prev == GENESIS_HASH:
            return steps
        if prev in seen or prev not in seq_by_hash:
            return None
        seen.add(prev)
        if prev not in suspect:
            return seq_by_hash[prev] + steps
        current = suspect[prev]


def _check_anchor(path: Path, head_seq: int, conn: Connection) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    for kept in superseded_anchors(path):
        try:
            old = read_anchor(kept)
        except AuditError:
            old = None
        if old is None:
            continue
        stored = conn.execute(
            select(audit_log.c.entry_hash).where(audit_log.c.seq == old[0])
        ).scalar_one_or_none()
        if stored != old[1]:
            problems.append(
                AuditProblem(
                    old[0],
                    "truncated",
                    f"an earlier anchor ({kept.name}) recorded entry seq {old[0]} as "
                    f"{old[1][:16]}…, which the log no longer holds: newest entries were "
                    "deleted and the log appended to again",
                )
            )
    return problems + _check_current_anchor(path, head_seq, conn)


def _check_current_anchor(path: Path, head_seq: int, conn: Connection) -> list[AuditProblem]:
    try:
        anchor = read_anchor(path)
    except AuditError as exc:
        return [AuditProblem(head_seq + 1, "anchor", str(exc))]
    if anchor is None:
        if head_seq == 0:
            return []
        return [
            AuditProblem(
                1,
                "anchor",
                f"anchor file {path} is missing although the log has {head_seq} entries; "
                "truncation cannot be ruled out",
            )
        ]
    a_seq, a_hash = anchor
    if a_seq > head_seq:
        return [
            AuditProblem(
                head_seq + 1,
                "truncated",
                f"anchor records entry seq {a_seq} but the log ends at seq {head_seq}: the "
                "newest entries were deleted (or a commit failed right after the anchor write)",
            )
        ]
    if a_seq == 0:
        return []
    stored = conn.execute(
        select(audit_log.c.entry_hash).where(audit_log.c.seq == a_seq)
    ).scalar_one_or_none()
    if stored != a_hash:
        return [
            AuditProblem(
                a_seq,
                "anchor",
                f"entry seq {a_seq} differs from the hash the anchor recorded for it: the log "
                "from there on was rewritten",
            )
        ]
    return []
