"""``archiver status``: holds, open disposition batches, removals awaiting review.

Its own module, apart from ``archiver.retention.views``, so that ``status`` reads it through an
``archiver.catalog.sql`` reader without importing SQLAlchemy (issue 14 part 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archiver.catalog.sql import Reader, in_list

if TYPE_CHECKING:
    from archiver.config import Config

ACTIVE_BATCH = ("proposed", "approved", "executing")

_ACTIVE_IN, _ACTIVE_PARAMS = in_list("active", ACTIVE_BATCH)
ACTIVE_HOLDS = "SELECT count(*) FROM legal_holds WHERE status = 'active'"
OPEN_BATCHES = (
    f"SELECT id, status FROM disposition_batches WHERE status IN {_ACTIVE_IN} ORDER BY id"
)
# A bound False, not a literal: SQLite stores booleans as 0/1, PostgreSQL as boolean.
AWAITING_REVIEW = "SELECT count(*) FROM comment_removals WHERE reviewed = :no"
WITH_DISPOSAL_DATE = (
    "SELECT count(*) FROM bundles WHERE status = 'sealed' AND eligible_on IS NOT NULL"
)


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    """``archiver status``: holds, open batches and removals awaiting the City Attorney.

    Reads stored state only (no recomputation), so status stays fast on a large archive.
    A store that failed the WORM self-check (overridden with allow_unsafe_worm) comes first.
    """
    from archiver.catalog.worm_state import warning_lines

    worm_warnings = warning_lines(cfg, db)
    holds = int(db.scalar(ACTIVE_HOLDS) or 0)
    batches = [(r["id"], r["status"]) for r in db.rows(OPEN_BATCHES, _ACTIVE_PARAMS)]
    awaiting = int(db.scalar(AWAITING_REVIEW, {"no": False}) or 0)
    eligible = int(db.scalar(WITH_DISPOSAL_DATE) or 0)
    notes = worm_warnings + [
        f"disposition batch {bid} is {status}: "
        + (
            f"archiver disposition execute {bid}"
            if status != "proposed"
            else f"archiver disposition approve {bid} --by NAME --title TITLE"
        )
        for bid, status in batches
    ]
    if awaiting:
        notes.append(
            f"{awaiting} removed comment(s) await City Attorney review (archiver removal list)"
        )
    return {
        "retention": {
            "active_holds": holds,
            "open_batches": [b for b, _ in batches],
            "removals_awaiting_review": awaiting,
            "bundles_with_disposal_date": eligible,
        },
        "storage_worm_warnings": worm_warnings,
        "notes": notes,
    }
