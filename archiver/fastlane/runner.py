"""The daemon's fast lane: one thread per site following its live source, plus the webhooks.

Enabled by ``[fastlane] enabled = true`` (``interval`` seconds between ticks, default 60,
which also bounds how long a webhook delivery waits before it is sealed; ``target`` seconds,
default 120, is the creation-to-sealed delay beyond which a comment first captured by a sweep
counts as a fast-lane miss; ``quiet_seal_every``, default 1h, how long the exchanges of
ticks that found nothing wait in the spool; each site's thread seals them at start and stop
too). A tick that fails
backs off (doubling to 15 minutes) so a source that drops every few seconds never spins; a
sweep holding the site's lock just makes the tick wait for the next interval. The cursor is
in the catalog's bookmarks, so a restarted daemon resumes after the last sealed event.
"""

from __future__ import annotations

import threading
from typing import Any

from archiver.compliance.run import after_harvest
from archiver.config import SiteConfig
from archiver.errors import ArchiverError
from archiver.fastlane import (
    Backoff,
    has_live_source,
    run_once,
    run_webhooks_once,
    seal_quiet,
)
from archiver.fastlane.stream import StreamReader, run_stream_once
from archiver.fastlane.webhooks import WebhookServer, reroute_unrouted
from archiver.harvest import Harvester
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.secrets import read_secret
from archiver.settings.fastlane import FastLaneSettings

log = get_logger()

WEBHOOK_PLATFORMS = ("facebook", "instagram")


class FastLane:
    """Runs beside the scheduler; ``stop()`` waits for the current ticks to finish."""

    def __init__(self, app: ArchiveParts, settings: FastLaneSettings) -> None:
        self.app = app
        self.settings = settings
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.webhooks: WebhookServer | None = None
        self.backoffs: dict[str, Backoff] = {}
        self.readers: dict[str, StreamReader] = {}

    def start(self) -> None:
        hooks = self.app.cfg.webhooks
        sites = [s for s in self.app.cfg.sites if s.enabled]
        if hooks is not None:
            pages = {s.account: s.id for s in sites if s.platform in WEBHOOK_PLATFORMS}
            reroute_unrouted(self.app.cfg.staging_dir, pages)
            self.webhooks = WebhookServer(hooks, self.app.cfg.staging_dir, pages).start()
            log.info("webhooks_listening", url=self.webhooks.url, pages=len(pages))
        for site in sites:
            pushed = hooks is not None and site.platform in WEBHOOK_PLATFORMS
            if site.platform == "mastodon":
                self.readers[site.id] = self._reader(site).start()
            if has_live_source(site) or pushed:
                t = threading.Thread(
                    target=self._follow, args=(site, pushed), name=f"fastlane-{site.id}"
                )
                t.daemon = True
                t.start()
                self.threads.append(t)

    def _reader(self, site: SiteConfig) -> StreamReader:
        """Mastodon's user stream, held open across ticks (``archiver.fastlane.stream``)."""
        token = (
            read_secret(site.token_env, purpose=f"access token for site {site.id}")
            if site.token_env
            else None
        )
        last = self.app.catalog.bookmarks(site.id).get("live_stream_event", "")
        return StreamReader(self.app.cfg, site, token=token, last_event_id=last)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.webhooks is not None:
            self.webhooks.stop()
        for reader in self.readers.values():
            reader.stopping.set()
        for t in self.threads:
            t.join(timeout)
        for reader in self.readers.values():
            reader.stop()

    def _follow(self, site: SiteConfig, pushed: bool) -> None:
        backoff = self.backoffs.setdefault(site.id, Backoff(base=self.settings.interval))
        harvester = Harvester(
            self.app.cfg, self.app.catalog, self.app.storage, after_site=after_harvest
        )
        flog = log.bind(site=site.id, lane="fast")
        self._seal_quiet(harvester, site, flog)  # a spool a crash left is sealed first
        while not self.stopping.is_set():
            try:
                reader = self.readers.get(site.id)
                if pushed:
                    run_webhooks_once(harvester, site)
                elif reader is not None:
                    run_stream_once(harvester, site, reader)
                else:
                    run_once(harvester, site)
                wait = backoff.ok()
            except ArchiverError as exc:
                if "already being harvested" in str(exc):
                    wait = backoff.base  # a sweep has the site: not a failure
                else:
                    wait = backoff.failed(str(exc))
                    flog.warning("fastlane_backoff", error=str(exc), wait_seconds=wait)
            self.stopping.wait(wait)
        self._seal_quiet(harvester, site, flog)

    @staticmethod
    def _seal_quiet(harvester: Harvester, site: SiteConfig, flog: Any) -> None:
        """Seal the quiet ticks spooled for ``site`` (at start and stop). A failure leaves
        them spooled, durably: the next bundle sealed for the site carries them."""
        try:
            result = seal_quiet(harvester, site)
        except ArchiverError as exc:
            flog.warning("fastlane_quiet_unsealed", error=str(exc))
            return
        if result is not None:
            flog.info("fastlane_quiet_sealed", ticks=result.carried, bundles=result.bundles)
