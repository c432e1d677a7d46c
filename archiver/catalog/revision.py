"""Is the catalog at this code's schema revision? One query, without Alembic or SQLAlchemy.

Every command opens the catalog, so the common answer ("yes, at head") must be cheap:
the head is read from the revision files' ``revision``/``down_revision`` lines and compared
with ``alembic_version`` through an ``archiver.catalog.sql`` reader. Anything else (a new
catalog, one behind or ahead, an unversioned one) is "ask Alembic"
(``archiver.catalog.migrate``), which creates, refuses or explains; never a refusal here.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from archiver.catalog.sql import Reader

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
CURRENT_REVISION = f"SELECT version_num FROM {VERSION_TABLE}"

_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:\"([^\"]*)\"|'([^']*)'|None)\s*$", re.M
)


def quick_head() -> str | None:
    """The head revision read from the revision files' ``revision``/``down_revision`` lines,
    without Alembic; None if they do not form one simple chain (then Alembic decides)."""
    return quick_head_of(MIGRATIONS_DIR / "versions")


@functools.cache
def quick_head_of(versions: Path) -> str | None:
    revs: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        found = dict(
            (m.group(1), m.group(2) or m.group(3) or None)
            for m in _REVISION_LINE.finditer(path.read_text("utf-8"))
        )
        if "revision" not in found:
            continue
        if "down_revision" not in found or found["revision"] is None:
            return None
        revs[str(found["revision"])] = found["down_revision"]
    parents = {d for d in revs.values() if d is not None}
    heads = [r for r in revs if r not in parents]
    return heads[0] if len(heads) == 1 else None


def at_head(db: Reader) -> bool:
    """True when the catalog's recorded revision is this code's head; False means "ask
    Alembic". A missing version table raises the reader's error (``CatalogError`` from
    ``SqliteReader``, ``SQLAlchemyError`` from ``SAReader``): callers treat it as False."""
    head = quick_head()
    if head is None:
        return False
    return [r["version_num"] for r in db.rows(CURRENT_REVISION)] == [head]
