"""The public-records request log (``records_requests``) and export custody (``exports``).

A request gets an id ``PRR-YYYY-NNNN`` (sequence per year of receipt) so clerks, requesters
and the audit log can all name it the same way. Target dates are computed once, at opening,
by :mod:`archiver.prr.deadlines` and stored, so a later change of the City's targets does not
silently move the dates promised on an open request. Every open/close is an audit entry in
the same transaction as the row it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from archiver import audit
from archiver.catalog.store import Catalog, now_iso
from archiver.errors import ExportError
from archiver.prr import deadlines
from archiver.prr.tables import exports as exports
from archiver.prr.tables import records_requests as records_requests
from archiver.settings.requests import RequestPolicy

STATUS_OPEN: Final = "open"
STATUS_CLOSED: Final = "closed"


class RequestError(ExportError):
    """A records request could not be opened, found or closed."""


@dataclass(frozen=True, slots=True)
class RecordsRequest:
    id: str
    requester: str
    received: date
    description: str
    status: str
    acknowledge_by: date
    respond_by: date
    estimated_minutes: int | None
    fee_estimate: str | None
    opened_at: str
    opened_by: str
    closed_at: str | None
    closed_by: str | None
    outcome: str | None

    def overdue(self, today: date) -> bool:
        return self.status == STATUS_OPEN and deadlines.is_overdue(self.respond_by, today)

    def as_dict(self, today: date | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "requester": self.requester,
            "received": self.received.isoformat(),
            "description": self.description,
            "status": self.status,
            "acknowledge_by": self.acknowledge_by.isoformat(),
            "respond_by": self.respond_by.isoformat(),
            "estimated_minutes": self.estimated_minutes,
            "fee_estimate": self.fee_estimate,
            "opened_at": self.opened_at,
            "opened_by": self.opened_by,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
            "outcome": self.outcome,
            "targets_basis": deadlines.LEGAL_BASIS,
        }
        if today is not None:
            d["overdue"] = self.overdue(today)
        return d


def parse_received(value: str) -> date:
    """A YYYY-MM-DD date; anything else is one clear line."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise RequestError(
            f"--received {value!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-03-31"
        ) from None


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def _row_to_request(r: Any) -> RecordsRequest:
    return RecordsRequest(
        id=r.id,
        requester=r.requester,
        received=date.fromisoformat(r.received),
        description=r.description,
        status=r.status,
        acknowledge_by=date.fromisoformat(r.acknowledge_by),
        respond_by=date.fromisoformat(r.respond_by),
        estimated_minutes=r.estimated_minutes,
        fee_estimate=r.fee_estimate,
        opened_at=r.opened_at,
        opened_by=r.opened_by,
        closed_at=r.closed_at,
        closed_by=r.closed_by,
        outcome=r.outcome,
    )


def open_request(
    catalog: Catalog,
    *,
    requester: str,
    received: date,
    description: str,
    policy: RequestPolicy,
    estimated_minutes: int | None = None,
    today: date | None = None,
    anchor_path: Path | None = None,
) -> RecordsRequest:
    """Create the request row and its ``request.open`` audit entry atomically."""
    if not requester.strip():
        raise RequestError("--requester is empty", hint="name the person or organization asking")
    if not description.strip():
        raise RequestError("--description is empty", hint="describe what was asked for")
    if today is not None and received > today:
        raise RequestError(
            f"--received {received.isoformat()} is in the future",
            hint="use the date the request reached the City",
        )
    if estimated_minutes is not None and estimated_minutes < 0:
        raise RequestError("--estimate-minutes must be >= 0", hint="e.g. --estimate-minutes 90")
    t = deadlines.targets(received, policy)
    fee = (
        str(deadlines.fee_estimate(estimated_minutes, policy))
        if estimated_minutes is not None
        else None
    )
    actor = audit.current_actor()
    for _attempt in range(3):
        try:
            with catalog.begin() as conn:
                # Audit first: on SQLite it takes the write lock, serializing id allocation.
                seq = _next_seq(conn, received.year, lock_first=True)
                rid = f"PRR-{received.year:04d}-{seq:04d}"
                opened_at = now_iso()
                conn.execute(
                    records_requests.insert().values(
                        id=rid,
                        year=received.year,
                        seq=seq,
                        requester=requester.strip(),
                        received=received.isoformat(),
                        description=description.strip(),
                        status=STATUS_OPEN,
                        acknowledge_by=t.acknowledge_by.isoformat(),
                        respond_by=t.respond_by.isoformat(),
                        estimated_minutes=estimated_minutes,
                        fee_estimate=fee,
                        opened_at=opened_at,
                        opened_by=actor,
                    )
                )
                audit.append(
                    conn,
                    actor=actor,
                    action="request.open",
                    subject=rid,
                    details={
                        "requester": requester.strip(),
                        "received": received.isoformat(),
                        "description": description.strip(),
                        "acknowledge_by": t.acknowledge_by.isoformat(),
                        "respond_by": t.respond_by.isoformat(),
                        "fee_estimate": fee,
                    },
                    anchor_path=anchor_path,
                )
            return get_request(catalog, rid)
        except SAIntegrityError:
            continue  # another clerk took the same number; take the next one
    raise RequestError(
        "could not allocate a request id after 3 attempts", hint="try again in a moment"
    )


def _next_seq(conn: Connection, year: int, *, lock_first: bool) -> int:
    if lock_first and conn.dialect.name == "sqlite":
        conn.execute(update(records_requests).where(records_requests.c.seq < 0).values(seq=0))
    current = conn.execute(
        select(func.max(records_requests.c.seq)).where(records_requests.c.year == year)
    ).scalar()
    return int(current or 0) + 1


def get_request(catalog: Catalog, request_id: str) -> RecordsRequest:
    rid = request_id.strip().upper()
    with catalog.begin() as conn:
        row = conn.execute(select(records_requests).where(records_requests.c.id == rid)).first()
    if row is None:
        raise RequestError(
            f"no records request {request_id!r}",
            hint="see `archiver request list` for the ids (PRR-YYYY-NNNN)",
        )
    return _row_to_request(row)


def list_requests(
    catalog: Catalog, *, today: date, include_closed: bool = True
) -> list[RecordsRequest]:
    """Open first, overdue first among them, then by response target; closed newest first."""
    with catalog.begin() as conn:
        q = select(records_requests)
        if not include_closed:
            q = q.where(records_requests.c.status == STATUS_OPEN)
        rows = [_row_to_request(r) for r in conn.execute(q)]

    def key(r: RecordsRequest) -> tuple[int, int, str, str]:
        if r.status == STATUS_OPEN:
            return (0, 0 if r.overdue(today) else 1, r.respond_by.isoformat(), r.id)
        return (1, 0, "", _invert(r.closed_at or ""))

    return sorted(rows, key=key)


def _invert(s: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in s)


def close_request(
    catalog: Catalog, request_id: str, *, outcome: str, anchor_path: Path | None = None
) -> RecordsRequest:
    if not outcome.strip():
        raise RequestError("--outcome is empty", hint='say what was provided, e.g. "records sent"')
    req = get_request(catalog, request_id)
    if req.status != STATUS_OPEN:
        raise RequestError(
            f"records request {req.id} is already closed ({req.closed_at})",
            hint="open a new request for follow-up questions",
        )
    actor = audit.current_actor()
    with catalog.begin() as conn:
        audit.append(
            conn,
            actor=actor,
            action="request.close",
            subject=req.id,
            details={"outcome": outcome.strip()},
            anchor_path=anchor_path,
        )
        conn.execute(
            update(records_requests)
            .where(records_requests.c.id == req.id)
            .values(
                status=STATUS_CLOSED,
                closed_at=now_iso(),
                closed_by=actor,
                outcome=outcome.strip(),
            )
        )
    return get_request(catalog, req.id)


def exports_for(catalog: Catalog, request_id: str) -> list[dict[str, Any]]:
    with catalog.begin() as conn:
        rows = conn.execute(
            select(exports).where(exports.c.request_id == request_id).order_by(exports.c.id)
        )
        return [dict(r._mapping) for r in rows]
