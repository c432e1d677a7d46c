"""Search the catalog: full text plus the filters a records request needs.

One interface, two engines: SQLite FTS5 (the embedded default) and PostgreSQL full-text
(``to_tsvector('simple', text)`` with a GIN index). The user's words are quoted term by term,
so punctuation in a query can never become FTS syntax or an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, text

from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.errors import ArchiverError

KINDS = ("post", "comment", "reply", "media", "profile")


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


def search(
    catalog: Catalog, query: str, filters: SearchFilters, *, limit: int | None = 100
) -> list[dict[str, Any]]:
    """Matching item versions (newest posted first), with where their originals are."""
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
                return []
            cond.append(
                v.c.id.in_(
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
    stmt = (
        select(
            i.c.id.label("item_id"),
            i.c.site_id,
            s.sites.c.platform,
            i.c.platform_id,
            i.c.kind,
            i.c.parent_id,
            i.c.root_id,
            i.c.author_id,
            i.c.author_handle,
            i.c.author_name,
            i.c.by_owner,
            i.c.permalink,
            i.c.posted_at,
            i.c.first_captured_at,
            i.c.last_seen_at,
            i.c.disappeared_at,
            i.c.removal_state,
            i.c.current_version,
            v.c.version,
            v.c.text,
            v.c.edited_at,
            v.c.captured_at,
            v.c.content_hash,
            v.c.bundle_id,
            v.c.warc_file,
            v.c.warc_offset,
            v.c.warc_length,
            v.c.warc_record_id,
            v.c.warc_type,
            v.c.id.label("version_id"),
        )
        .select_from(v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id))
        .where(and_(*cond))
        .order_by(i.c.posted_at.desc(), i.c.id, v.c.version)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    params = {"match": fts_query(q)} if q and catalog.dialect == "sqlite" else {}
    with catalog.begin() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt, params)]
