"""The last WORM self-check, kept in the catalog so status and the monthly report can show it.

``open_app`` runs the check at start-up (``archiver.storage.s3_worm.check_worm``) and records the
result here, including a refusal. Readers look only at the store the configuration names now,
so an old row for a bucket no longer used is never shown. Reads are SQL text run by an
``archiver.catalog.sql`` reader (``status`` reads without SQLAlchemy); writes load SQLAlchemy.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from archiver.catalog.sql import Reader
from archiver.config import Config

if TYPE_CHECKING:  # the S3 code (and its client library) loads only for an S3 store
    from archiver.catalog.store import Catalog
    from archiver.storage.s3_worm import WormCheckResult

__all__ = ["last_check", "record_check", "warning_lines"]


def record_check(catalog: Catalog, result: WormCheckResult, *, refused: bool = False) -> None:
    """Replace the stored result for this endpoint and bucket.

    Several cluster workers (docs/scale-out.md) start at once and check the same bucket: when
    another one's row lands between our delete and our insert, the insert is tried once more
    (its delete now sees that row), so the newest result stays and no start-up fails.
    """
    from sqlalchemy.exc import IntegrityError

    try:
        _replace(catalog, result, refused)
    except IntegrityError:
        _replace(catalog, result, refused)


def _replace(catalog: Catalog, result: WormCheckResult, refused: bool) -> None:
    from archiver.retention.tables import worm_checks

    where = (worm_checks.c.endpoint == result.endpoint, worm_checks.c.bucket == result.bucket)
    with catalog.begin() as conn:
        conn.execute(worm_checks.delete().where(*where))
        conn.execute(
            worm_checks.insert().values(
                endpoint=result.endpoint,
                bucket=result.bucket,
                checked_at=result.checked_at.isoformat(),
                unsafe=result.unsafe,
                overridden=result.overridden,
                refused=refused,
                result_json=json.dumps(result.to_dict(), sort_keys=True),
            )
        )


LAST_CHECK = (
    "SELECT result_json, refused FROM worm_checks WHERE endpoint = :endpoint AND bucket = :bucket"
)


def last_check(db: Reader, endpoint: str, bucket: str) -> tuple[WormCheckResult, bool] | None:
    """(result, refused) of the last check of that store, or None if it was never checked."""
    rows = db.rows(LAST_CHECK, {"endpoint": endpoint, "bucket": bucket})
    if not rows:
        return None
    from archiver.storage.s3_worm import WormCheckResult

    row = rows[0]
    return WormCheckResult.from_dict(json.loads(row["result_json"])), bool(row["refused"])


def warning_lines(cfg: Config, db: Reader) -> list[str]:
    """Loud one-line warnings for status and the report; empty when the store checked out."""
    store = cfg.storage.store
    if store is None:
        return []
    found = last_check(db, *store)
    if found is None:
        return []
    result, refused = found
    if not result.unsafe:
        return []
    where = f"S3 bucket {result.bucket} at {result.endpoint}"
    problems = "; ".join(result.problems)
    when = result.checked_at.isoformat(timespec="seconds")
    if refused:
        return [
            f"WARNING: STORAGE IS NOT WORM: {where} failed the WORM self-check on {when} "
            f"({problems}); the archiver refuses to run against it. Use MinIO or S3 with "
            "Object Lock in COMPLIANCE mode (docs/storage.md)."
        ]
    return [
        f"WARNING: STORAGE IS NOT WORM: {where} failed the WORM self-check on {when} "
        f"({problems}) and allow_unsafe_worm overrides it: archived records can be altered "
        "or destroyed before their retention ends. Move to MinIO or S3 with Object Lock in "
        "COMPLIANCE mode and remove allow_unsafe_worm (docs/storage.md)."
    ]
