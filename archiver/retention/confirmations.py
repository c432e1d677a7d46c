"""The records manager's confirmation that an unverified schedule item may be used for disposal.

Most shipped items are marked ``verified = false`` because the published schedule could be read
only in part (see ``retention_schedules/README.md``). Mapping a class to one is allowed, but
nothing under it is destroyed until a named person confirms the item against the published
schedule: ``archiver schedules confirm ITEM --by NAME``, one audit entry, never silent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from archiver import audit
from archiver.app import App
from archiver.errors import RetentionError
from archiver.retention import tables as t
from archiver.retention.eligibility import RetentionSettings

__all__ = ["confirm", "list_confirmations"]


def confirm(
    app: App, settings: RetentionSettings, *, ref: str, by: str, note: str = ""
) -> dict[str, Any]:
    item = settings.schedules.item(ref)  # unknown ref: RetentionError with a suggestion
    if not by.strip():
        raise RetentionError("confirming an item needs --by NAME")
    if item.verified:
        raise RetentionError(
            f"{ref} is already verified in {settings.schedules_dir}; nothing to confirm"
        )
    with app.catalog.begin() as conn:
        audit.append(
            conn, actor=by, action="schedule.confirm", subject=f"item:{ref}",
            details={"title": item.title, "retention": str(item.retention),
                     "source": item.source, "note": note},
            anchor_path=app.cfg.audit_anchor,
        )  # fmt: skip
        row = conn.execute(
            select(t.schedule_confirmations).where(t.schedule_confirmations.c.ref == ref)
        ).first()
        if row is not None:
            raise RetentionError(
                f"{ref} was already confirmed by {row.confirmed_by} on {row.confirmed_at[:10]}"
            )
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.execute(
            t.schedule_confirmations.insert().values(
                ref=ref, confirmed_by=by, confirmed_at=at, note=note
            )
        )
    return {"ref": ref, "confirmed_by": by, "confirmed_at": at, "note": note}


def list_confirmations(app: App) -> dict[str, dict[str, Any]]:
    with app.catalog.begin() as conn:
        return {r.ref: dict(r._mapping) for r in conn.execute(select(t.schedule_confirmations))}
