"""The records manager's confirmation that an unverified schedule item may be used for disposal.

Most shipped items are marked ``verified = false`` because the published schedule could be read
only in part (see ``retention_schedules/README.md``). Mapping a class to one is allowed, but
nothing under it is destroyed until a named person confirms the item against the published
schedule: ``archiver schedules confirm ITEM --by NAME``, one audit entry, never silent.

A confirmation covers the item *as it was confirmed*: it stores a SHA-256 digest of the item's
content (number, title, retention, trigger, disposal, source) and that content. If the TOML is
edited afterwards, the digest no longer matches and the confirmation counts as absent until
someone confirms the item again; ``schedules check`` names what changed and who had confirmed
it. Confirmations made before digests were kept (table ``schedule_confirmations``) have nothing
to compare with, so they count as absent too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from archiver import audit
from archiver.errors import RetentionError
from archiver.parts import ArchiveParts
from archiver.retention import tables as t
from archiver.retention.schedules import ScheduleItem, ScheduleSet

if TYPE_CHECKING:
    from archiver.retention.eligibility import RetentionSettings

__all__ = [
    "Confirmation",
    "confirm",
    "confirmations",
    "current_refs",
    "item_content",
    "item_digest",
    "list_confirmations",
]

#: The fields a confirmation vouches for; editing any of them voids it.
DIGEST_FIELDS = ("number", "title", "retention", "trigger", "disposal", "source")


def item_content(item: ScheduleItem) -> dict[str, Any]:
    """The confirmed part of an item as plain JSON values (retention in its parts)."""
    r = item.retention
    return {
        "number": item.number,
        "title": item.title,
        "retention": {"years": r.years, "permanent": r.permanent, "event": r.event},
        "trigger": item.trigger.value if item.trigger else None,
        "disposal": item.disposal.value,
        "source": item.source,
    }


def item_digest(item: ScheduleItem) -> str:
    """SHA-256 of the item's content in canonical JSON: stable across TOML formatting."""
    body = json.dumps(item_content(item), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Confirmation:
    """The newest confirmation of one ref, and whether it still covers the item."""

    ref: str
    confirmed_by: str
    confirmed_at: str
    note: str
    current: bool
    #: Why it does not count any more ("" when current): what changed since it was made.
    stale_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at,
            "note": self.note,
            "current": self.current,
            "stale_reason": self.stale_reason,
        }


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("permanent"):
            return "permanent"
        parts = [f"{value['years']} years"] if value.get("years") is not None else []
        if value.get("event"):
            parts.append(str(value["event"]))
        return " after ".join(parts) if len(parts) == 2 else (parts[0] if parts else "none")
    return repr(value)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        f"{k} was {_describe(old.get(k))}, now {_describe(new.get(k))}"
        for k in DIGEST_FIELDS
        if old.get(k) != new.get(k)
    ]


def confirmations(conn: Connection, schedules: ScheduleSet) -> dict[str, Confirmation]:
    """The newest confirmation per ref, each checked against the item as loaded now."""
    out: dict[str, Confirmation] = {}
    for r in conn.execute(select(t.schedule_confirmations)):
        out[r.ref] = Confirmation(
            r.ref, r.confirmed_by, r.confirmed_at, r.note or "", current=False,
            stale_reason="confirmed before item contents were recorded with confirmations; "
            "confirm it again",
        )  # fmt: skip
    c = t.schedule_item_confirmations
    for r in conn.execute(select(c).order_by(c.c.id)):  # newest last, so it wins
        if r.ref not in schedules:
            reason = "the item is no longer in the schedule files"
            current = False
        else:
            item = schedules.item(r.ref)
            current = r.digest == item_digest(item)
            reason = ""
            if not current:
                changes = _changes(json.loads(r.content_json), item_content(item))
                reason = "item changed since it was confirmed: " + (
                    "; ".join(changes) or "content differs"
                )
        out[r.ref] = Confirmation(
            r.ref, r.confirmed_by, r.confirmed_at, r.note or "", current, reason
        )
    return out


def current_refs(conn: Connection, schedules: ScheduleSet) -> set[str]:
    """Refs whose newest confirmation still matches the item's content."""
    return {ref for ref, c in confirmations(conn, schedules).items() if c.current}


def confirm(
    app: ArchiveParts, settings: RetentionSettings, *, ref: str, by: str, note: str = ""
) -> dict[str, Any]:
    item = settings.schedules.item(ref)  # unknown ref: RetentionError with a suggestion
    if not by.strip():
        raise RetentionError("confirming an item needs --by NAME")
    if item.verified:
        raise RetentionError(
            f"{ref} is already verified in {settings.schedules_dir}; nothing to confirm"
        )
    digest = item_digest(item)
    content = item_content(item)
    with app.catalog.begin() as conn:
        previous = confirmations(conn, settings.schedules).get(ref)
        audit.append(
            conn, actor=by, action="schedule.confirm", subject=f"item:{ref}",
            details={"title": item.title, "retention": str(item.retention),
                     "source": item.source, "note": note, "digest": digest,
                     "replaces": previous.as_dict() if previous else None},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        if previous is not None and previous.current:
            raise RetentionError(
                f"{ref} was already confirmed by {previous.confirmed_by} on "
                f"{previous.confirmed_at[:10]}"
            )
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(
            t.schedule_item_confirmations.insert().values(
                ref=ref,
                digest=digest,
                content_json=json.dumps(content, sort_keys=True),
                confirmed_by=by,
                confirmed_at=at,
                note=note,
            )
        )
    return {"ref": ref, "confirmed_by": by, "confirmed_at": at, "note": note, "digest": digest}


def list_confirmations(app: ArchiveParts, schedules: ScheduleSet) -> dict[str, Confirmation]:
    with app.catalog.begin() as conn:
        return confirmations(conn, schedules)
