"""Capture before removal: re-read one item from its platform and seal it, then report.

``archiver removal record`` calls this first, so the text a moderator is about to delete on
the platform is in a sealed bundle (fresh WARC record) before the removal is recorded; a
later platform-side deletion cannot lose an edit made a second earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as s
from archiver.compliance.run import after_harvest
from archiver.errors import ArchiverError
from archiver.harvest import Harvester
from archiver.parts import ArchiveParts
from archiver.retention.removal import resolve_item
from connectors.base import HarvestContext
from connectors.live import ItemRecapture


@dataclass(frozen=True)
class Recaptured:
    """What the re-capture got: ``captured`` only when a sealed bundle now holds the item."""

    item_id: int
    captured: bool
    text: str | None
    version: int | None
    changed: bool
    bundles: tuple[str, ...] = ()
    reason: str | None = None


def _latest(app: ArchiveParts, item_id: int) -> Any:
    with app.catalog.begin() as conn:
        return conn.execute(
            select(s.item_versions)
            .where(s.item_versions.c.item_id == item_id)
            .order_by(s.item_versions.c.version.desc())
            .limit(1)
        ).first()


def recapture_item(app: ArchiveParts, ref: str) -> Recaptured:
    with app.catalog.begin() as conn:
        row = resolve_item(conn, ref)
    before = _latest(app, row.id)
    site = app.cfg.site(row.site_id)

    def source(ctx: HarvestContext) -> ItemRecapture:
        return ItemRecapture(
            ctx,
            platform_id=row.platform_id,
            root_id=row.root_id,
            is_comment=row.record_class == "comments",
        )

    try:
        result = Harvester(
            app.cfg, app.catalog, app.storage, after_site=after_harvest
        ).harvest_site(site, full=False, connector=source)
    except ArchiverError as exc:
        return Recaptured(
            row.id, False, before.text if before else None, before.version if before else None,
            False, reason=str(exc),
        )  # fmt: skip
    after = _latest(app, row.id)
    changed = before is None or after.version != before.version
    return Recaptured(row.id, True, after.text, after.version, changed, tuple(result.bundles))
