"""One record's full story, for ``archiver show``: what it said, when, where the proof is.

A clerk asked "what did this comment say, and was it up on March 3?" needs, in one place:
every captured version with its text, the four times (posted, first captured, last seen,
disappeared), where each original lies (bundle, WARC file, offset), the City's removal
record and the City Attorney's review, and the holds and records requests that cover it.
With a date, :func:`visibility_at` says what the archive can prove about that moment, and
says so plainly where it cannot (before the first capture, between last seen and gone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from archiver.catalog import schema as s
from archiver.errors import ArchiverError
from archiver.parts import ArchiveParts
from archiver.search import SearchFilters, matching_item_ids
from archiver.timefmt import iso_local, local_time


class NotInArchiveError(ArchiverError):
    """``archiver show`` was given something that names no record in the catalog."""


def resolve_item(app: ArchiveParts, ref: str) -> int:
    """Catalog id, ``site:platform_id`` or the platform URL of a post or comment -> item id."""
    ref = ref.strip()
    i = s.items
    with app.catalog.begin() as conn:
        if ref.isdigit():
            row = conn.execute(select(i.c.id).where(i.c.id == int(ref))).first()
            if row is not None:
                return int(row[0])
        if re.match(r"^https?://", ref):
            bare = ref.rstrip("/")
            rows = conn.execute(
                select(i.c.id).where(or_(i.c.permalink == ref, i.c.permalink == bare))
            ).all()
        elif ":" in ref:
            site, _, pid = ref.partition(":")
            rows = conn.execute(
                select(i.c.id).where(and_(i.c.site_id == site, i.c.platform_id == pid))
            ).all()
        else:
            rows = conn.execute(select(i.c.id).where(i.c.platform_id == ref)).all()
    if len(rows) == 1:
        return int(rows[0][0])
    if len(rows) > 1:
        raise NotInArchiveError(
            f"{ref!r} names {len(rows)} records (one per site or record class)",
            hint="give the catalog id or site:platform_id (see `archiver search`)",
        )
    raise NotInArchiveError(
        f"no record {ref!r} in the archive",
        hint="give a catalog id, site:platform_id or the post's URL; `archiver search` finds them",
    )


@dataclass(frozen=True, slots=True)
class Moment:
    """The instant ``--at`` names: the end of a day (City time), or an exact time."""

    at: datetime
    label: str


def parse_at(value: str, tz: str) -> Moment:
    zone = ZoneInfo(tz)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            end = datetime.combine(day + timedelta(days=1), time.min, zone) - timedelta(
                microseconds=1
            )
            return Moment(end, f"end of {day.isoformat()} ({tz})")
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ArchiverError(
            f"--at {value!r} is not a date",
            hint="write YYYY-MM-DD (end of that day, City time) or YYYY-MM-DDTHH:MM",
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=zone)
    return Moment(when, local_time(when, tz))


def _t(value: str | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def visibility_at(
    item: dict[str, Any], versions: list[dict[str, Any]], m: Moment
) -> dict[str, Any]:
    """Was the record visible at ``m``, which version, and how sure is the archive?"""
    at = m.at
    posted = _t(item["posted_at"])
    first = _t(item["first_captured_at"])
    last = _t(item["last_seen_at"])
    gone = _t(item["disappeared_at"])
    seen = [v for v in versions if (_t(v["captured_at"]) or at) <= at]
    out: dict[str, Any] = {"at": m.at.isoformat(), "label": m.label, "version": None}
    if posted is not None and at < posted:
        out |= {"state": "not yet posted", "proven": True}
    elif gone is not None and at >= gone:
        out |= {"state": f"gone: {str(item['removal_state'] or 'removed').replace('_', ' ')}",
                "proven": True}  # fmt: skip
    elif first is not None and at < first:
        out |= {
            "state": "posted, but not yet captured: its text at that moment is not in the archive",
            "proven": False,
            "version": versions[0]["version"] if versions else None,
        }
    else:
        cur = seen[-1] if seen else None
        hidden = bool(cur and cur["hidden"])
        out["version"] = cur["version"] if cur else None
        if last is not None and at > last and gone is None:
            out |= {
                "state": "last seen before this moment; not checked since",
                "proven": False,
            }
        elif hidden:
            out |= {"state": "hidden upstream (kept as a hidden version)", "proven": True}
        else:
            out |= {"state": "visible", "proven": True}
    return out


def item_story(app: ArchiveParts, item_id: int, *, at: Moment | None = None) -> dict[str, Any]:
    """Everything the catalog knows about one record, JSON-ready (times ISO with offset)."""
    from archiver.retention import holds as holds_mod
    from archiver.retention import tables as rt

    tz = app.cfg.timezone
    i, v = s.items, s.item_versions
    with app.catalog.begin() as conn:
        item = dict(conn.execute(select(i).where(i.c.id == item_id)).one()._mapping)
        platform = conn.execute(
            select(s.sites.c.platform).where(s.sites.c.id == item["site_id"])
        ).scalar()
        versions = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    v.c.version,
                    v.c.text,
                    v.c.edited_at,
                    v.c.captured_at,
                    v.c.hidden,
                    v.c.content_hash,
                    v.c.bundle_id,
                    v.c.warc_file,
                    v.c.warc_offset,
                    v.c.warc_length,
                    v.c.warc_record_id,
                    v.c.warc_type,
                    v.c.media_json,
                )
                .where(v.c.item_id == item_id)
                .order_by(v.c.version)
            )
        ]
        events = [
            dict(r._mapping)
            for r in conn.execute(
                select(s.item_events.c.event, s.item_events.c.at, s.item_events.c.detail)
                .where(s.item_events.c.item_id == item_id)
                .order_by(s.item_events.c.at)
            )
        ]
        removal = conn.execute(
            select(rt.comment_removals).where(rt.comment_removals.c.item_id == item_id)
        ).first()
        thread_ids = {item_id}
        root = item["root_id"] or item["platform_id"]
        for r in conn.execute(
            select(i.c.id).where(
                i.c.site_id == item["site_id"],
                or_(i.c.root_id == root, i.c.platform_id == root),
            )
        ):
            thread_ids.add(int(r[0]))
        exports = _exports(conn)
        findings = _findings(conn, item)
    bundles = {str(x["bundle_id"]) for x in versions}
    held = holds_mod.held_bundles(app)
    hold_names = sorted({n for b in bundles for n in held.get(b, [])})
    requests = []
    for e in exports:
        q = e["query"]
        ids = {item_id} if q.get("matches_only") else thread_ids
        filters = SearchFilters(
            site=q.get("site"),
            platform=q.get("platform"),
            kinds=tuple(q.get("kinds") or ()),
            since=_day(q.get("since")),
            until=_day(q.get("until")),
            author=q.get("author"),
            all_versions=bool(q.get("all_versions", True)),
            include_removed=bool(q.get("include_removed", True)),
            tz=str(q.get("timezone") or tz),
        )
        if matching_item_ids(app.catalog, str(q.get("query") or ""), filters, ids):
            requests.append(
                {"request_id": e["request_id"], "exported_at": iso_local(e["at"], tz),
                 "out_path": e["out_path"]}
            )  # fmt: skip
    story: dict[str, Any] = {
        "item_id": item_id,
        "site_id": item["site_id"],
        "platform": platform,
        "platform_id": item["platform_id"],
        "record_class": item["record_class"],
        "kind": item["kind"],
        "parent_id": item["parent_id"],
        "root_id": item["root_id"],
        "author_handle": item["author_handle"],
        "author_name": item["author_name"],
        "permalink": item["permalink"],
        "times": {
            "posted": iso_local(item["posted_at"], tz),
            "first_captured": iso_local(item["first_captured_at"], tz),
            "last_seen": iso_local(item["last_seen_at"], tz),
            "disappeared": iso_local(item["disappeared_at"], tz),
        },
        "removal_state": item["removal_state"],
        "current_version": item["current_version"],
        "versions": [
            {
                "version": x["version"],
                "current": x["version"] == item["current_version"],
                "text": x["text"],
                "hidden": bool(x["hidden"]),
                "edited_at": iso_local(x["edited_at"], tz),
                "captured_at": iso_local(x["captured_at"], tz),
                "content_hash": x["content_hash"],
                "media": json.loads(x["media_json"] or "[]"),
                "original": {
                    "bundle_id": x["bundle_id"],
                    "warc_file": x["warc_file"],
                    "offset": x["warc_offset"],
                    "length": x["warc_length"],
                    "record_id": x["warc_record_id"],
                    "record_type": x["warc_type"],
                },
            }
            for x in versions
        ],
        "events": [
            {"event": e["event"], "at": iso_local(e["at"], tz), "detail": e["detail"]}
            for e in events
        ],
        "city_removal": None,
        "holds": hold_names,
        "requests": requests,
        "compliance": [
            f
            | {
                "first_seen": iso_local(f["first_seen"], tz),
                "last_seen": iso_local(f["last_seen"], tz),
                "acked_at": iso_local(f["acked_at"], tz),
            }
            for f in findings
        ],
        "timezone": tz,
    }
    if removal is not None:
        from archiver.retention.removal import CATEGORIES

        rm = removal._mapping
        story["city_removal"] = {
            "category": rm["category"],
            "category_name": CATEGORIES.get(int(rm["category"]), "unknown category"),
            "recorded_by": rm["recorded_by"],
            "recorded_at": iso_local(rm["recorded_at"], tz),
            "note": rm["note"],
            "attorney_review": None
            if not rm["decision"]
            else {
                "decision": rm["decision"],
                "attorney": rm["attorney"],
                "reviewed_at": iso_local(rm["reviewed_at"], tz),
                "note": rm["review_note"],
            },
        }
    if at is not None:
        story["at"] = visibility_at(item, versions, at)
    return story


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _findings(conn: Any, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Policy-compliance findings about this record: a post's own (subject = its platform
    id) and, for a profile, those about each of its versions (``profile:<id>:v<n>``)."""
    from archiver.compliance.tables import compliance_findings as t

    rows = conn.execute(
        select(t)
        .where(
            t.c.site_id == item["site_id"],
            or_(
                t.c.subject == item["platform_id"],
                t.c.subject.like(f"profile:{item['id']}:v%"),
            ),
        )
        .order_by(t.c.first_seen, t.c.id)
    )
    return [
        {
            "id": r.id,
            "rule": r.rule,
            "subject": r.subject,
            "status": r.status,
            "message": r.message,
            "first_seen": r.first_seen,
            "last_seen": r.last_seen,
            "acked_by": r.acked_by,
            "acked_at": r.acked_at,
            "ack_note": r.ack_note,
        }
        for r in rows
    ]


def _exports(conn: Any) -> list[dict[str, Any]]:
    from archiver.prr.requests import exports

    out = []
    for r in conn.execute(select(exports).order_by(exports.c.id)):
        try:
            q = json.loads(r.query_json or "{}")
        except ValueError:
            q = {}
        out.append(
            {"request_id": r.request_id, "at": r.at, "out_path": r.out_path,
             "query": q if isinstance(q, dict) else {}}
        )  # fmt: skip
    return out
