"""Search the catalog: full text plus the filters a records request needs.

One interface, two engines: SQLite FTS5 (the embedded default) and PostgreSQL full-text
(``to_tsvector('simple', text)`` with a GIN index). The user's words are quoted term by term,
so punctuation in a query can never become FTS syntax or an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, func, literal_column, or_, select, text

from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.errors import ArchiverError
from archiver.model import KINDS as KINDS  # defined there so the CLI lists them cheaply

_i, _v = s.items, s.item_versions
#: The columns of a search hit (one row per item version), shared with the export's
#: conversation rows so every row of a package has the same shape.
RESULT_COLUMNS: tuple[Any, ...] = (
    _i.c.id.label("item_id"),
    _i.c.site_id,
    s.sites.c.platform,
    _i.c.platform_id,
    _i.c.kind,
    _i.c.parent_id,
    _i.c.root_id,
    _i.c.author_id,
    _i.c.author_handle,
    _i.c.author_name,
    _i.c.by_owner,
    _i.c.permalink,
    _i.c.posted_at,
    _i.c.first_captured_at,
    _i.c.last_seen_at,
    _i.c.disappeared_at,
    _i.c.removal_state,
    _i.c.current_version,
    _v.c.version,
    _v.c.text,
    _v.c.edited_at,
    _v.c.captured_at,
    _v.c.content_hash,
    _v.c.bundle_id,
    _v.c.warc_file,
    _v.c.warc_offset,
    _v.c.warc_length,
    _v.c.warc_record_id,
    _v.c.warc_type,
    _v.c.id.label("version_id"),
)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    site: str | None = None
    platform: str | None = None
    kinds: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    author: str | None = None
    all_versions: bool = False
    include_removed: bool = True
    tz: str = "America/Denver"


def parse_date(value: str | None, *, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArchiverError(
            f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-03-31"
        ) from None


def fts_query(query: str) -> str:
    """Quote each word (and keep "quoted phrases") so FTS5 treats them literally, AND-ed."""
    parts = re.findall(r'"([^"]+)"|(\S+)', query)
    terms = []
    for phrase, word in parts:
        value = (phrase or word).replace('"', "")
        value = re.sub(r"[^\w\s'-]", " ", value).strip()
        if value:
            terms.append(f'"{value}"')
    return " ".join(terms)


def _bounds(f: SearchFilters) -> list[ColumnElement[bool]]:
    tz = ZoneInfo(f.tz)
    cond = []
    if f.since:
        start = datetime.combine(f.since, time.min, tz)
        cond.append(s.items.c.posted_at >= start.astimezone(ZoneInfo("UTC")).isoformat())
    if f.until:
        end = datetime.combine(f.until + timedelta(days=1), time.min, tz)
        cond.append(s.items.c.posted_at < end.astimezone(ZoneInfo("UTC")).isoformat())
    return cond


def _conditions(
    catalog: Catalog,
    query: str,
    filters: SearchFilters,
    *,
    walk: bool = False,
    known_ids: bool = False,
) -> list[ColumnElement[bool]] | None:
    """The WHERE clauses of a search; None when the query can match nothing.

    ``walk`` (SQLite): the full-text match is written ``id + 0 IN (...)`` so SQLite cannot
    drive the join from the match list and instead walks items newest posted first (index
    ``ix_items_posted_at``), testing each against the match set and stopping at the limit.
    ``known_ids`` (SQLite): the matches were already read from the FTS index and are passed
    as the JSON list ``:fts_ids``, so the index is not searched twice.
    """
    if filters.since and filters.until and filters.since > filters.until:
        raise ArchiverError(
            f"--since {filters.since} is after --until {filters.until}",
            hint="swap the two dates",
        )
    v, i = s.item_versions, s.items
    cond: list[ColumnElement[bool]] = []
    q = query.strip()
    if q:
        if catalog.dialect == "sqlite":
            match = fts_query(q)
            if not match:
                return None
            matched = (v.c.id + literal_column("0")) if walk else v.c.id
            if known_ids:
                cond.append(
                    v.c.id.in_(select(text("value")).select_from(text("json_each(:fts_ids)")))
                )
            else:
                cond.append(
                    matched.in_(
                        select(text("rowid"))
                        .select_from(text("item_versions_fts"))
                        .where(text("item_versions_fts MATCH :match"))
                    )
                )
        else:
            cond.append(
                # websearch_to_tsquery: words AND-ed and "quoted phrases" kept, as with FTS5.
                func.to_tsvector("simple", v.c.text).op("@@")(
                    func.websearch_to_tsquery("simple", q)
                )
            )
    if not filters.all_versions:
        cond.append(v.c.version == i.c.current_version)
    if not filters.include_removed:
        cond.append(i.c.disappeared_at.is_(None))
    if filters.site:
        cond.append(i.c.site_id == filters.site)
    if filters.platform:
        cond.append(s.sites.c.platform == filters.platform)
    if "message" not in filters.kinds:
        # Direct messages are private by default: only a search (and so an export) that asks
        # for ``--kind message`` holds them (issue 18 part 1).
        cond.append(i.c.kind != "message")
    if filters.kinds:
        # "media" is not an item kind: it asks for records that carry attachments.
        item_kinds = [k for k in filters.kinds if k != "media"]
        by_kind: list[ColumnElement[bool]] = [i.c.kind.in_(item_kinds)] if item_kinds else []
        if "media" in filters.kinds:
            by_kind.append(v.c.media_json != "[]")
        cond.append(or_(*by_kind))
    if filters.author:
        a = filters.author.lstrip("@")
        cond.append(
            or_(i.c.author_handle == a, i.c.author_id == a, i.c.author_handle.like(f"{a}@%"))
        )
    cond.extend(_bounds(filters))
    return cond


def _params(catalog: Catalog, query: str) -> dict[str, str]:
    q = query.strip()
    return {"match": fts_query(q)} if q and catalog.dialect == "sqlite" else {}


def count_matches(catalog: Catalog, query: str, filters: SearchFilters) -> int:
    """How many versions :func:`search` would return without a limit (for "N of M")."""
    cond = _conditions(catalog, query, filters)
    if cond is None:
        return 0
    v, i = s.item_versions, s.items
    stmt = (
        select(func.count())
        .select_from(v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id))
        .where(and_(*cond))
    )
    with catalog.begin() as conn:
        return int(conn.execute(stmt, _params(catalog, query)).scalar() or 0)


def matching_item_ids(
    catalog: Catalog, query: str, filters: SearchFilters, item_ids: Iterable[int]
) -> set[int]:
    """Which of ``item_ids`` the search matches (for "which requests and holds cover this")."""
    ids = sorted(set(item_ids))
    cond = _conditions(catalog, query, filters)
    if cond is None or not ids:
        return set()
    v, i = s.item_versions, s.items
    out: set[int] = set()
    with catalog.begin() as conn:
        for n in range(0, len(ids), 900):
            stmt = (
                select(i.c.id)
                .distinct()
                .select_from(
                    v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id)
                )
                .where(and_(*cond, i.c.id.in_(ids[n : n + 900])))
            )
            out.update(int(r[0]) for r in conn.execute(stmt, _params(catalog, query)))
    return out


#: Fewest full-text matches for which walking items newest-first beats sorting every match.
#: The walk reads about limit x items / matches rows; sorting reads every match: they cost the
#: same near sqrt(limit x items) matches (10,000 for a page of 100 in 1M items).
_MIN_WALK = 1000


def _break_even(limit: int, items: int) -> int:
    return max(_MIN_WALK, math.isqrt(max(1, limit) * items))


def _few_matches(conn: Connection, match: str, limit: int) -> list[int] | None:
    """Every match of a SQLite full-text query if there are fewer than the break-even number
    (then sorting them is cheapest, and they are passed on rather than searched again);
    None if there are more (then walking items newest-first is). FTS5 stops reading at the
    break-even number, so asking is cheap either way."""
    top = conn.execute(select(func.max(s.items.c.id))).scalar() or 0
    k = _break_even(limit, int(top))
    ids = [
        int(r[0])
        for r in conn.execute(
            text(
                "SELECT rowid FROM item_versions_fts WHERE item_versions_fts MATCH :match LIMIT :k"
            ),
            {"match": match, "k": k},
        )
    ]
    return ids if len(ids) < k else None


def search(
    catalog: Catalog, query: str, filters: SearchFilters, *, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Matching item versions (newest posted first), with where their originals are.

    With a ``limit``, two phases: the ids of the first ``limit`` matches in order (narrow rows,
    so sorting or walking never carries text), then those rows in full. On SQLite a query
    with many matches walks items newest posted first and stops at the limit instead of
    sorting every match (issue 14 part 3); PostgreSQL plans the same ids-first query itself.
    """
    v, i = s.item_versions, s.items
    joined = v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id)
    order = (i.c.posted_at.desc(), i.c.id, v.c.version)
    params = _params(catalog, query)
    with catalog.begin() as conn:
        if limit is None:
            cond = _conditions(catalog, query, filters)
            if cond is None:
                return []
            stmt = select(*RESULT_COLUMNS).select_from(joined).where(and_(*cond)).order_by(*order)
            return [dict(r._mapping) for r in conn.execute(stmt, params)]
        walk = known = False
        if "match" in params:
            few = _few_matches(conn, params["match"], limit)
            if few is not None:
                known = True
                params = {**params, "fts_ids": json.dumps(few)}
            else:
                walk = not filters.author  # an author's few records: sorting them is cheaper
        cond = _conditions(catalog, query, filters, walk=walk, known_ids=known)
        if cond is None:
            return []
        ids = [
            int(r[0])
            for r in conn.execute(
                select(v.c.id).select_from(joined).where(and_(*cond)).order_by(*order).limit(limit),
                params,
            )
        ]
        rows: dict[int, dict[str, Any]] = {}
        for n in range(0, len(ids), 900):
            chunk = ids[n : n + 900]
            stmt = select(*RESULT_COLUMNS).select_from(joined).where(v.c.id.in_(chunk))
            rows.update((int(r.version_id), dict(r._mapping)) for r in conn.execute(stmt))
    return [rows[vid] for vid in ids]
