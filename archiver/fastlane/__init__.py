"""The fast lane (issue 13): follow each site's cheap live source between sweeps.

One tick runs the site's live source (``connectors.live``) through ``Harvester.harvest_site``,
so what it reveals is recorded by the same client, sealed in a small bundle, seal-checked,
cataloged and deduplicated exactly like a sweep; its cursor is a bookmark that moves only
when that bundle is sealed. A tick that reveals nothing seals no bundle: its exchanges wait
in the site's quiet spool (``archiver.quiet_spool``) for the next bundle, at most
``[fastlane] quiet_seal_every``. Failures back off (``Backoff``) instead of spinning.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.errors import ArchiverError

if TYPE_CHECKING:  # loaded when a tick runs, not by `status` reading the latency table
    from collections.abc import Iterator

    from archiver.config import SiteConfig
    from archiver.harvest import Harvester, RunResult
    from archiver.model import HarvestRecord
    from connectors.live import Delivery


def has_live_source(site: SiteConfig) -> bool:
    from connectors.live import LIVE_SOURCES

    return site.platform in LIVE_SOURCES


def run_once(harvester: Harvester, site: SiteConfig) -> RunResult:
    """One fast-lane tick for ``site``: read the live source, seal what it revealed."""
    from connectors.live import LIVE_SOURCES

    source = LIVE_SOURCES.get(site.platform)
    if source is None:
        raise ArchiverError(
            f"site {site.id}: platform {site.platform} has no live source yet",
            hint="the sweeps still capture it; see issue 13 for the platforms covered",
        )
    began = datetime.now(UTC)
    result = harvester.harvest_site(
        site,
        full=False,
        connector=source,
        quiet_seal_every=harvester.cfg.fastlane.quiet_seal_every,
    )
    _note_latency(harvester, site, result, began)
    return result


class _NothingNew:
    """A connector that fetches nothing: the run only seals what the spool holds."""

    def __init__(self, ctx: object) -> None:
        self.ctx = ctx

    def harvest(self) -> Iterator[HarvestRecord]:
        return iter(())


def seal_quiet(harvester: Harvester, site: SiteConfig) -> RunResult | None:
    """Seal the site's spooled quiet ticks now (the daemon's stop and start: a spool left by
    a crash is sealed before the first tick); None when nothing is spooled."""
    from archiver.quiet_spool import QuietSpool

    if not QuietSpool(harvester.cfg.staging_dir, site.id).holds_any():
        return None
    return harvester.harvest_site(site, full=False, connector=_NothingNew)


def _note_latency(
    harvester: Harvester, site: SiteConfig, result: RunResult | None, began: datetime
) -> None:
    """Latency samples of what the tick sealed first; the lane follows the site from
    ``began`` of its first tick on (comments posted later a sweep seals first are misses)."""
    from archiver.fastlane import latency

    with harvester.catalog.begin() as conn:
        latency.mark_following(conn, site.id, began)
        if result is not None:
            latency.record(conn, site.id, result.bundles)


@dataclass
class Backoff:
    """Delay before the next tick: ``base`` while healthy, doubling per failure to ``cap``."""

    base: float = 30.0
    cap: float = 900.0
    failures: int = 0
    last_error: str | None = None
    last_ok: datetime | None = field(default=None)

    def ok(self) -> float:
        self.failures = 0
        self.last_error = None
        self.last_ok = datetime.now(UTC)
        return self.base

    def failed(self, error: str) -> float:
        self.failures += 1
        self.last_error = error
        return float(min(self.cap, self.base * (2 ** min(self.failures, 16))))


def read_deliveries(folder: Path) -> list[Delivery]:
    """The spooled webhook deliveries of one site, oldest first."""
    from archiver.fastlane.webhooks import pending
    from connectors.live import Delivery

    out = []
    for path in pending(folder):
        env = json.loads(path.read_text("utf-8"))
        out.append(
            Delivery(
                path.name,
                datetime.fromisoformat(env["received_at"]),
                [(str(k), str(v)) for k, v in env["headers"]],
                base64.b64decode(env["body_b64"]),
            )
        )
    return out


def run_webhooks_once(harvester: Harvester, site: SiteConfig) -> RunResult | None:
    """Seal what the spooled deliveries of ``site`` reveal; remove them only once sealed."""
    from archiver.fastlane.webhooks import spool_dir
    from connectors.live import FacebookLive, InstagramLive

    began = datetime.now(UTC)
    folder = spool_dir(harvester.cfg.staging_dir, site.id)
    deliveries = read_deliveries(folder)
    if not deliveries:
        _note_latency(harvester, site, None, began)
        return None
    live = InstagramLive if site.platform == "instagram" else FacebookLive
    result = harvester.harvest_site(site, full=False, connector=lambda ctx: live(ctx, deliveries))
    _note_latency(harvester, site, result, began)
    for d in deliveries:
        (folder / d.name).unlink(missing_ok=True)
    return result
