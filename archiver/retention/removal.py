"""Removed comments: why the City removed them, and the City Attorney's review.

Bozeman's Social Media Use Policy (Administrative Order 2012-01, section "Comments") lists ten
kinds of prohibited content and says content removed under it "must be retained, including
the time, date and identity of the poster when available and only removed after the City
Attorney has reviewed the content, determined the content violates this policy, and approved
removal." So a recorded removal turns the comment into record class ``removed_comment``, and
eligibility keeps its bundle until the attorney's decision is "approve" *and* the schedule
item for removed comments allows disposal. The captured versions themselves are never touched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from archiver import audit
from archiver.catalog import schema as s
from archiver.clock import now_iso
from archiver.errors import RetentionError
from archiver.parts import ArchiveParts
from archiver.retention import tables as t

__all__ = ["CATEGORIES", "DECISIONS", "list_removals", "record_removal", "resolve_item", "review"]

#: The ten prohibited-content categories, numbered as in the City of Bozeman Social Media Use
#: Policy (Administrative Order No. 2012-01), section "Comments", items 1-10 (repeated as a-j
#: in the Acceptable Use Policy, item 5). Short names only; the policy text governs.
CATEGORIES: dict[int, str] = {
    1: "political campaign or ballot issue",
    2: "commercial promotion or solicitation",
    3: "profane, obscene, threatening or harassing language",
    4: "personal attack",
    5: "discrimination against a protected class",
    6: "sexual content or links to it",
    7: "violates someone's protected privacy",
    8: "advocates illegal activity",
    9: "violates a legal ownership interest (copyright, trademark)",
    10: "compromises public safety or security of public systems",
}

DECISIONS = ("approve", "reject")


def resolve_item(conn: Connection, ref: str) -> Any:
    """An item by catalog id (``1234``) or ``site:platform_id``; one clear error otherwise."""
    i = s.items
    if ref.isdigit():
        rows = list(conn.execute(select(i).where(i.c.id == int(ref))))
    elif ":" in ref:
        site, _, pid = ref.partition(":")
        rows = list(
            conn.execute(
                select(i).where(
                    i.c.site_id == site, i.c.platform_id == pid, i.c.kind.in_(("comment", "reply"))
                )
            )
        )
        if not rows:
            rows = list(conn.execute(select(i).where(i.c.site_id == site, i.c.platform_id == pid)))
    else:
        raise RetentionError(
            f"item {ref!r} is neither a catalog item id nor site:platform_id",
            hint="e.g. bozeman-mastodon:110234 or 1234 (see archiver search --json)",
        )
    if not rows:
        raise RetentionError(
            f"no item {ref!r} in the catalog",
            hint="find it with archiver search (the JSON output has item_id, site_id, platform_id)",
        )
    if len(rows) > 1:
        raise RetentionError(
            f"{ref!r} matches {len(rows)} items", hint="use the catalog item id instead"
        )
    return rows[0]


def record_removal(
    app: ArchiveParts, *, item: str, category: int, by: str, note: str = ""
) -> dict[str, Any]:
    if category not in CATEGORIES:
        listed = "; ".join(f"{n} {name}" for n, name in CATEGORIES.items())
        raise RetentionError(
            f"--category {category} is not one of the policy's ten prohibited-content categories",
            hint=listed,
        )
    if not by.strip():
        raise RetentionError("recording a removal needs --by NAME")
    with app.catalog.begin() as conn:
        row = resolve_item(conn, item)
    if row.by_owner:
        raise RetentionError(
            f"item {row.id} ({row.site_id}:{row.platform_id}) was posted by the City account",
            hint="removal review covers comments by the public; City posts are not removed under the comment policy",
        )
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=by, action="removal.record", subject=f"item:{row.id}",
            details={"site": row.site_id, "platform_id": row.platform_id,
                     "category": category, "category_name": CATEGORIES[category],
                     "author": row.author_handle, "posted_at": row.posted_at, "note": note},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        if conn.execute(
            select(t.comment_removals.c.item_id).where(t.comment_removals.c.item_id == row.id)
        ).first():
            raise RetentionError(
                f"a removal of item {row.id} is already recorded",
                hint="see archiver removal list; the attorney reviews it with archiver removal review",
            )
        conn.execute(
            t.comment_removals.insert().values(
                item_id=row.id,
                site_id=row.site_id,
                platform_id=row.platform_id,
                category=category,
                recorded_by=by,
                recorded_at=now_iso(),
                note=note,
                reviewed=False,
            )
        )
    return _one(app, row.id)


def review(
    app: ArchiveParts, *, item: str, attorney: str, decision: str, note: str
) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise RetentionError(f"--decision {decision!r} must be approve or reject")
    if not attorney.strip() or not note.strip():
        raise RetentionError("a review needs --attorney NAME and --note TEXT")
    with app.catalog.begin() as conn:
        row = resolve_item(conn, item)
        rem = conn.execute(
            select(t.comment_removals).where(t.comment_removals.c.item_id == row.id)
        ).first()
    if rem is None:
        raise RetentionError(
            f"no removal recorded for item {row.id}",
            hint=f"archiver removal record {row.id} --category N --by NAME",
        )
    if rem.reviewed:
        raise RetentionError(
            f"item {row.id} was already reviewed by {rem.attorney} ({rem.decision}) on "
            f"{rem.reviewed_at[:10]}"
        )
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=attorney, action="removal.review", subject=f"item:{row.id}",
            details={"decision": decision, "note": note, "category": rem.category},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        conn.execute(
            update(t.comment_removals)
            .where(t.comment_removals.c.item_id == row.id)
            .values(
                decision=decision,
                attorney=attorney,
                reviewed_at=now_iso(),
                review_note=note,
                reviewed=True,
            )
        )
    return _one(app, row.id)


def _one(app: ArchiveParts, item_id: int) -> dict[str, Any]:
    return next(r for r in list_removals(app) if r["item_id"] == item_id)


def list_removals(app: ArchiveParts) -> list[dict[str, Any]]:
    """Every recorded removal with the poster's identity and time, as the policy requires."""
    cr, i = t.comment_removals, s.items
    with app.catalog.begin() as conn:
        rows = conn.execute(
            select(
                cr,
                i.c.author_handle,
                i.c.author_name,
                i.c.posted_at,
                i.c.permalink,
                i.c.kind,
            )
            .join(i, i.c.id == cr.c.item_id)
            .order_by(cr.c.recorded_at)
        )
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["category_name"] = CATEGORIES.get(d["category"], "?")
            d["status"] = "awaiting City Attorney review" if not d["reviewed"] else d["decision"]
            out.append(d)
    return out
