"""Legal holds: a hold is a saved search, so it also covers records captured after it was placed.

Montana lets nothing be disposed of while it is under a legal or regulatory hold
(http://sos.mt.gov/Records/Local/index.asp). A hold names a matter and some of: a site, a
date range, search words, an author. A bundle is held when any item version in it matches an
active hold (``archiver.search`` with all versions and removed items), or, for a hold with
only a site and/or dates, when the bundle's records overlap that period. A held bundle also
holds every bundle its revisit records point at, since those bytes are part of its records.

Open public records requests block disposal the same way (``open_request_holds``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, inspect, select, text, update

from archiver import audit
from archiver.catalog import schema as s
from archiver.clock import now_iso
from archiver.errors import ArchiverError, HoldCheckError, RetentionError
from archiver.parts import ArchiveParts
from archiver.retention import tables as t
from archiver.retention.dates import parse_time
from archiver.search import SearchFilters, search

__all__ = [
    "Hold",
    "add_hold",
    "held_bundles",
    "list_holds",
    "open_request_holds",
    "release_hold",
    "sync_store_holds",
]


@dataclass(frozen=True)
class Hold:
    name: str
    matter: str
    site_id: str | None
    since: date | None
    until: date | None
    query: str | None
    author: str | None

    @property
    def is_query(self) -> bool:
        return bool(self.query or self.author)


def add_hold(
    app: ArchiveParts,
    *,
    name: str,
    matter: str,
    by: str,
    site: str | None = None,
    since: date | None = None,
    until: date | None = None,
    query: str | None = None,
    author: str | None = None,
) -> list[str]:
    """Place a hold; returns warnings from setting store-level holds."""
    if not name.strip() or not matter.strip() or not by.strip():
        raise RetentionError("a hold needs a name, a --matter and --by")
    known = [x.id for x in app.cfg.sites]
    if site is not None and site not in known:
        raise RetentionError(
            f"hold {name!r}: unknown site {site!r}",
            hint="known sites: " + (", ".join(known) or "none") + f" (see {app.cfg.path})",
        )
    if since and until and since > until:
        raise RetentionError(f"hold {name!r}: --since {since} is after --until {until}")
    with app.catalog.begin() as conn:
        exists = conn.execute(
            select(t.legal_holds.c.status).where(t.legal_holds.c.name == name)
        ).first()
    if exists is not None:
        raise RetentionError(
            f"a hold named {name!r} already exists ({exists.status})",
            hint="choose another name; released holds keep their name for the record",
        )
    # SQLite: the audit append takes the write lock, so it comes before any read in the
    # writing transaction; the unique name still refuses a concurrent duplicate.
    with app.catalog.begin() as conn:
        details = {
            "matter": matter,
            "site": site,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "query": query,
            "author": author,
        }
        audit.append(
            conn, actor=by, action="hold.add", subject=f"hold:{name}", details=details,
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        conn.execute(
            t.legal_holds.insert().values(
                name=name,
                matter=matter,
                site_id=site,
                since=details["since"],
                until=details["until"],
                query=query,
                author=author,
                placed_by=by,
                placed_at=now_iso(),
                status="active",
            )
        )
    return sync_store_holds(app)


def release_hold(app: ArchiveParts, *, name: str, reason: str, by: str) -> list[str]:
    if not reason.strip():
        raise RetentionError(f"releasing hold {name!r} needs a --reason")
    with app.catalog.begin() as conn:
        row = conn.execute(select(t.legal_holds).where(t.legal_holds.c.name == name)).first()
        names = [r[0] for r in conn.execute(select(t.legal_holds.c.name))]
    if row is None:
        raise RetentionError(
            f"no hold named {name!r}",
            hint="holds: " + (", ".join(names) or "none") + " (archiver hold list)",
        )
    if row.status != "active":
        raise _released(name, row)
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=by, action="hold.release", subject=f"hold:{name}",
            details={"reason": reason, "matter": row.matter}, anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        done = conn.execute(
            update(t.legal_holds)
            .where(t.legal_holds.c.name == name, t.legal_holds.c.status == "active")
            .values(status="released", released_by=by, released_at=now_iso(), release_reason=reason)
        )
        if done.rowcount != 1:  # released concurrently: roll back our audit entry too
            raise _released(name, conn.execute(
                select(t.legal_holds).where(t.legal_holds.c.name == name)
            ).one())  # fmt: skip
    return sync_store_holds(app)


def _released(name: str, row: Any) -> RetentionError:
    return RetentionError(
        f"hold {name!r} was already released on {row.released_at} by {row.released_by}"
    )


def _active(conn: Connection) -> list[Hold]:
    rows = conn.execute(
        select(t.legal_holds).where(t.legal_holds.c.status == "active").order_by(t.legal_holds.c.id)
    )
    return [
        Hold(
            name=r.name,
            matter=r.matter,
            site_id=r.site_id,
            since=date.fromisoformat(r.since) if r.since else None,
            until=date.fromisoformat(r.until) if r.until else None,
            query=r.query,
            author=r.author,
        )
        for r in rows
    ]


def _period_bundles(conn: Connection, hold: Hold, tz: ZoneInfo) -> set[str]:
    """Bundles of the hold's site (or all sites) whose records overlap its period."""
    start = datetime.combine(hold.since, time.min, tz) if hold.since else None
    end = datetime.combine(hold.until + timedelta(days=1), time.min, tz) if hold.until else None
    stmt = select(s.bundles)
    if hold.site_id:
        stmt = stmt.where(s.bundles.c.site_id == hold.site_id)
    out = set()
    for b in conn.execute(stmt):
        first = parse_time(b.first_posted_at) or parse_time(b.started_at)
        last = parse_time(b.last_posted_at) or parse_time(b.sealed_at) or first
        if first is None or last is None:
            out.add(b.id)  # no dates: cannot show it is outside the period
            continue
        if start is not None and last < start:
            continue
        if end is not None and first >= end:
            continue
        out.add(b.id)
    return out


def _hold_matches(app: ArchiveParts, conn: Connection, hold: Hold) -> set[str]:
    if not hold.is_query:
        return _period_bundles(conn, hold, ZoneInfo(app.cfg.timezone))
    filters = SearchFilters(
        site=hold.site_id,
        since=hold.since,
        until=hold.until,
        author=hold.author,
        all_versions=True,
        include_removed=True,
        tz=app.cfg.timezone,
    )
    rows = search(app.catalog, hold.query or "", filters, limit=None)
    return {str(r["bundle_id"]) for r in rows}


def _with_originals(conn: Connection, held: dict[str, list[str]]) -> dict[str, list[str]]:
    """A held bundle's revisit records need their originals' bytes: hold those too."""
    refs: dict[str, set[str]] = {}
    for r in conn.execute(select(s.revisit_refs)):
        refs.setdefault(r.bundle_id, set()).add(r.refers_to_bundle_id)
    pending = list(held)
    while pending:
        bid = pending.pop()
        for original in refs.get(bid, ()):
            names = held.setdefault(original, [])
            added = False
            for n in held[bid]:
                if n not in names:
                    names.append(n)
                    added = True
            if added:
                pending.append(original)
    return held


def held_bundles(app: ArchiveParts) -> dict[str, list[str]]:
    """Bundle id -> names of the active holds (and open requests) that cover it."""
    out: dict[str, list[str]] = {}
    with app.catalog.begin() as conn:
        holds = _active(conn) + open_request_holds(conn, app.cfg.timezone)
    for hold in holds:
        with app.catalog.begin() as conn:
            for bid in _hold_matches(app, conn, hold):
                out.setdefault(bid, []).append(hold.name)
    with app.catalog.begin() as conn:
        return _with_originals(conn, out)


def open_request_holds(conn: Connection, tz: str) -> list[Hold]:
    """OPEN public records requests as holds, from the filters of their exports.

    ``archiver.prr`` stores a request's description as text; the only machine-readable
    filters are the ``query_json`` of exports made for it (keys ``query``, ``site``,
    ``since``, ``until``, ``author``, any may be missing). An open request with no export
    yet has nothing to narrow it, so it holds every record that existed when it was received
    (posted up to its received date, or today in the City's zone ``tz`` when that date is
    unreadable): a request can concern any of those, and records subject to a pending
    request must not be destroyed. Exporting narrows it; closing releases it.

    Fails closed: when the request tables cannot be read this raises
    :class:`~archiver.errors.HoldCheckError` rather than answering "no holds".
    """
    insp = inspect(conn)
    missing = [n for n in ("records_requests", "exports") if not insp.has_table(n)]
    if missing:
        raise HoldCheckError(
            "the legal-hold check cannot run: catalog table "
            + ", ".join(repr(n) for n in missing)
            + " is missing, so open public records requests cannot be read",
            hint="nothing is disposed of until it can; run `archiver migrate` to repair "
            "the catalog",
        )
    today = datetime.now(ZoneInfo(tz)).date()
    out: list[Hold] = []
    unexported = conn.execute(
        text(
            "SELECT r.id, r.description, r.received FROM records_requests r "
            "WHERE r.status = 'open' AND NOT EXISTS "
            "(SELECT 1 FROM exports e WHERE e.request_id = r.id)"
        )
    )
    for rid, description, received in unexported:
        name = f"open request {rid} (not exported yet: all records up to {received})"
        out.append(_all_records(name, description, until=_date_or_none(received) or today))
    rows = conn.execute(
        text(
            "SELECT r.id, r.description, e.query_json FROM records_requests r "
            "JOIN exports e ON e.request_id = r.id WHERE r.status = 'open'"
        )
    )
    for rid, description, query_json in rows:
        try:
            q = json.loads(query_json or "{}")
        except ValueError:
            q = None
        if not isinstance(q, dict):  # unreadable filters: hold everything (fail closed)
            name = f"open request {rid} (export filters unreadable: all records)"
            out.append(_all_records(name, description, until=None))
            continue
        out.append(
            Hold(
                name=f"open request {rid}",
                matter=str(description),
                site_id=_str_or_none(q.get("site")),
                since=_date_or_none(q.get("since")),
                until=_date_or_none(q.get("until")),
                query=_str_or_none(q.get("query")),
                author=_str_or_none(q.get("author")),
            )
        )
    return out


def _all_records(name: str, matter: object, *, until: date | None) -> Hold:
    """A hold on every record of every site (posted up to ``until`` when given)."""
    return Hold(name, str(matter), site_id=None, since=None, until=until, query=None, author=None)


def _str_or_none(v: object) -> str | None:
    return str(v) if v else None


def _date_or_none(v: object) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def list_holds(app: ArchiveParts) -> list[dict[str, Any]]:
    """Every hold (active first) with how many bundles an active one covers now."""
    held = held_bundles(app)
    counts: dict[str, int] = {}
    for names in held.values():
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    with app.catalog.begin() as conn:
        rows = conn.execute(
            select(t.legal_holds).order_by(t.legal_holds.c.status, t.legal_holds.c.id)
        )
        out = []
        for r in rows:
            d = dict(r._mapping)
            d.pop("id", None)
            d["bundles"] = counts.get(r.name, 0) if r.status == "active" else 0
            out.append(d)
    return out


def sync_store_holds(app: ArchiveParts, held: dict[str, list[str]] | None = None) -> list[str]:
    """Set the store-level legal hold on every held bundle; clear it where none covers any more.

    Returns warnings for store calls that failed; the catalog check still blocks disposal.
    """
    held = held_bundles(app) if held is None else held
    warnings: list[str] = []
    with app.catalog.begin() as conn:
        keys = {
            r.id: r.key
            for r in conn.execute(
                select(s.bundles.c.id, s.bundles.c.key).where(s.bundles.c.status == "sealed")
            )
        }
        flagged = {r.bundle_id: r.key for r in conn.execute(select(t.store_holds))}
    for bid in sorted(set(held) - set(flagged)):
        if bid not in keys:
            continue
        try:
            app.storage.set_legal_hold(keys[bid], True)
        except ArchiverError as exc:
            warnings.append(f"store legal hold not set on {keys[bid]}: {exc}")
            continue
        with app.catalog.begin() as conn:
            conn.execute(
                t.store_holds.insert().values(bundle_id=bid, key=keys[bid], set_at=now_iso())
            )
    for bid in sorted(set(flagged) - set(held)):
        try:
            if bid in keys:
                app.storage.set_legal_hold(flagged[bid], False)
        except ArchiverError as exc:
            warnings.append(f"store legal hold not cleared on {flagged[bid]}: {exc}")
            continue
        with app.catalog.begin() as conn:
            conn.execute(t.store_holds.delete().where(t.store_holds.c.bundle_id == bid))
    return warnings
