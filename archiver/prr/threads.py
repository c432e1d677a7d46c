"""Whole conversations for a records request: each match with its root, parents and replies.

A requester who asks for "posts and comments about X" expects each matching post with every
comment and reply under it, and each matching comment with the post it answers; a search for
the words finds only the records that contain them. The query (words, dates, kinds, author)
decides which records *match*; the conversation of each match is then added whole (root post,
chain of parents, every reply at any depth, every version), so ``--since/--until`` bound the
matching, not the thread. ``--exclude-removed`` and ``--current-only`` still apply to the
added records, because they say what kind of record the requester wants.

Items are fetched by id in chunks and versions are streamed from the database, so a thread of
10,000 replies costs a set of integers, not 10,000 queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.search import RESULT_COLUMNS, SearchFilters

#: ``included_as`` of a row: the query matched it, or it belongs to a matched conversation.
MATCH: Final = "match"
CONVERSATION: Final = "conversation"
CHUNK: Final = 900


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for n in range(0, len(values), CHUNK):
        yield values[n : n + CHUNK]


def conversation_ids(conn: Connection, matched: Iterable[int]) -> set[int]:
    """Ids of every item in the conversations of ``matched`` (the matched ones included).

    Three links find a conversation: the shared ``root_id`` of its replies, the ``parent_id``
    chain up from a match (for platforms that give no root), and ``parent_id`` down from any
    member (for replies filed under another root). Repeated until nothing new is found.
    """
    i = s.items
    members: set[int] = set(matched)
    known: dict[tuple[str, str], int] = {}  # (site, platform_id) -> item id
    roots_done: set[tuple[str, str]] = set()
    parents_done: set[tuple[str, str]] = set()
    todo = sorted(members)
    while todo:
        fresh: list[tuple[int, str, str, str | None, str | None]] = []
        for chunk in _chunks(todo):
            rows = conn.execute(
                select(i.c.id, i.c.site_id, i.c.platform_id, i.c.parent_id, i.c.root_id).where(
                    i.c.id.in_(chunk)
                )
            )
            fresh.extend((int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows)
        roots: dict[str, set[str]] = {}
        ups: dict[str, set[str]] = {}
        downs: dict[str, set[str]] = {}
        for iid, site, pid, parent, root in fresh:
            known[(site, pid)] = iid
            r = str(root or pid)
            if (site, r) not in roots_done:
                roots_done.add((site, r))
                roots.setdefault(site, set()).add(r)
            if parent and (site, parent) not in known:
                ups.setdefault(site, set()).add(str(parent))
            if (site, pid) not in parents_done:
                parents_done.add((site, pid))
                downs.setdefault(site, set()).add(pid)
        found: set[int] = set()
        for site, values in roots.items():
            for chunk in _chunks(sorted(values)):
                stmt = select(i.c.id).where(
                    and_(
                        i.c.site_id == site, or_(i.c.root_id.in_(chunk), i.c.platform_id.in_(chunk))
                    )
                )
                found.update(int(r[0]) for r in conn.execute(stmt))
        for site, values in ups.items():
            for chunk in _chunks(sorted(values)):
                stmt = select(i.c.id).where(and_(i.c.site_id == site, i.c.platform_id.in_(chunk)))
                found.update(int(r[0]) for r in conn.execute(stmt))
        for site, values in downs.items():
            for chunk in _chunks(sorted(values)):
                stmt = select(i.c.id).where(and_(i.c.site_id == site, i.c.parent_id.in_(chunk)))
                found.update(int(r[0]) for r in conn.execute(stmt))
        todo = sorted(found - members)
        members |= found
    return members


def version_rows(
    catalog: Catalog, item_ids: Iterable[int], f: SearchFilters
) -> Iterator[dict[str, Any]]:
    """The version rows of ``item_ids`` in :func:`archiver.search.search`'s shape, streamed."""
    v, i = s.item_versions, s.items
    ids = sorted(set(item_ids))
    with catalog.begin() as conn:
        for chunk in _chunks(ids):
            cond: list[ColumnElement[bool]] = [i.c.id.in_(chunk)]
            if not f.all_versions:
                cond.append(v.c.version == i.c.current_version)
            if not f.include_removed:
                cond.append(i.c.disappeared_at.is_(None))
            stmt = (
                select(*RESULT_COLUMNS)
                .select_from(
                    v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id)
                )
                .where(and_(*cond))
            )
            for r in conn.execute(stmt):
                yield dict(r._mapping)


def with_conversations(
    catalog: Catalog, hits: list[dict[str, Any]], f: SearchFilters
) -> list[dict[str, Any]]:
    """``hits`` (marked ``match``) plus every version of their conversations (``conversation``)."""
    matched = {int(h["item_id"]) for h in hits}
    for h in hits:
        h["included_as"] = MATCH
    with catalog.begin() as conn:
        members = conversation_ids(conn, matched)
    have = {int(h["version_id"]) for h in hits}
    out = hits
    for row in version_rows(catalog, members - matched, f):
        if int(row["version_id"]) in have:
            continue
        row["included_as"] = CONVERSATION
        out.append(row)
    # Versions of matched items that the query itself did not match (an edit without the
    # searched words) come in through the export's every-version step, marked as matches.
    return out
