"""One harvest run of one site: connector -> recorder -> bundles -> storage -> catalog.

Order matters for "nothing lost":
1. leftovers of a killed run are dealt with first (``recover``): unsealed staging is discarded,
   sealed-but-unpublished bundles are published, published-but-uncataloged ones are cataloged;
2. records stream into per-class bundles in staging;
3. all bundles are sealed, the run's bookmarks going into the *last* one, then each is
   published and cataloged. A crash anywhere before the last seal leaves the old bookmarks, so
   the next run fetches the same data again instead of skipping it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from archiver.bundle import (
    BundleLock,
    BundleWriter,
    SealedBundle,
    is_in_flight,
    remove_tree,
    stale_staging,
)
from archiver.bundle_format import open_records
from archiver.catalog.ingest import IngestResult, ingest_bundle
from archiver.catalog.store import Catalog, RunInfo
from archiver.config import Config, SiteConfig
from archiver.errors import (
    ArchiverError,
    BundleError,
    CatalogError,
    RateLimitedError,
    StorageError,
)
from archiver.integrity.admit import (
    check_folder,
    folder_reader,
    load_trust,
    quarantine,
    quarantined,
    record_seal,
)
from archiver.integrity.seal import TIMESTAMP_FILE, SealCheck, check_seal
from archiver.integrity.sealer import Sealer
from archiver.log import get_logger
from archiver.model import (
    BookmarkUpdate,
    Coverage,
    Degradation,
    Follower,
    FollowerCount,
    FollowersHead,
    HarvestRecord,
    Item,
    LiveRemoval,
    RecordClass,
    Sweep,
    TokenExpiry,
    Unparseable,
)
from archiver.quiet_spool import QuietSpool, SpooledTick
from archiver.recorder import RecordingClient, redact_url
from archiver.secrets import read_secret
from archiver.storage.base import Storage
from archiver.warc import RevisitTarget, WarcSink
from connectors.base import HarvestContext, bearer
from connectors.registry import get_connector

log = get_logger()


class HarvestAborted(ArchiverError):
    """The daemon is shutting down; the run's unsealed data was discarded safely."""


@dataclass
class RunResult:
    site_id: str
    run_id: str
    status: str
    full_sweep: bool
    bundles: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    ingest: list[IngestResult] = field(default_factory=list)
    spooled: int = 0  # a quiet tick: exchanges spooled, no bundle sealed
    carried: int = 0  # spooled quiet ticks this run's bundles carry


class _BundleSet:
    """The run's open bundles, one per record class, created on first use."""

    def __init__(self, cfg: Config, site: SiteConfig, run: RunInfo) -> None:
        self.cfg = cfg
        self.site = site
        self.run = run
        self.writers: dict[RecordClass, BundleWriter] = {}
        self.bookmarks: list[BookmarkUpdate] = []
        self.degradations: list[Degradation] = []
        self.coverage: list[Coverage] = []
        self.token_expiry: TokenExpiry | None = None
        self.live_removals: list[LiveRemoval] = []
        self.findings = 0  # records other than bookmarks: a tick with none may be quiet

    def writer(self, record_class: RecordClass) -> BundleWriter:
        w = self.writers.get(record_class)
        if w is None:
            w = BundleWriter(
                self.cfg.staging_dir,
                site_id=self.site.id,
                platform=self.site.platform,
                run_id=self.run.id,
                record_class=record_class,
                started=self.run.started_at,
                organization=self.cfg.city,
                warc_info={
                    "operator": self.cfg.city,
                    "x-site-id": self.site.id,
                    "x-platform": self.site.platform,
                    "x-account": self.site.account,
                    "x-run-id": self.run.id,
                    "isPartOf": f"{self.site.id}/{record_class}",
                },
            )
            self.writers[record_class] = w
        return w

    def sink(self, record_class: RecordClass) -> WarcSink:
        return self.writer(record_class).sink

    def add(self, record: HarvestRecord) -> None:
        if not isinstance(record, BookmarkUpdate):
            self.findings += 1
        if isinstance(record, Item):
            self.writer(record.record_class).add_item(record)
        elif isinstance(record, Follower):
            self.writer("followers").add_follower(record)
        elif isinstance(record, FollowerCount):
            self.writer("followers").add_follower_count(record)
        elif isinstance(record, FollowersHead):
            self.writer("followers").mark_followers_head()
        elif isinstance(record, Sweep):
            self.writer(record.record_class).add_sweep(record)
        elif isinstance(record, Unparseable):
            self.writer(record.record_class).add_unparseable(record)
        elif isinstance(record, LiveRemoval):
            # Kept for the bundle sealed (and so cataloged) last, like bookmarks: a removal
            # must apply after every capture of this run, whatever class the item is in.
            self.live_removals.append(record)
            self.writer(record.record_class)
        elif isinstance(record, BookmarkUpdate):
            self.bookmarks.append(record)
        elif isinstance(record, Degradation):
            self.degradations.append(record)
        elif isinstance(record, Coverage):
            self.coverage.append(record)
        elif isinstance(record, TokenExpiry):
            self.token_expiry = record

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for w in self.writers.values():
            for k, v in w.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    def seal_all(self, sign: Sealer | None) -> list[SealedBundle]:
        order = sorted(self.writers.values(), key=lambda w: w.record_class == "posts")
        if order:
            order[-1].add_bookmarks(self.bookmarks)
            order[-1].add_degradations(self.degradations)
            for removal in self.live_removals:
                order[-1].add_live_removal(removal)
            order[-1].add_coverage(self.coverage)
        return [w.seal(self.cfg.staging_dir, sign=sign) for w in order]

    def discard(self) -> None:
        for w in self.writers.values():
            w.discard()

    def quiet(self, bookmarks: Mapping[str, str]) -> bool:
        """Nothing found: no record but bookmarks, and none of them moves."""
        return not self.findings and all(
            b.value == bookmarks.get(b.key, "") for b in self.bookmarks
        )

    def spool(self, spool: QuietSpool, run_id: str) -> int:
        """A quiet tick: its exchanges go to the site's spool instead of a bundle."""
        checked = datetime.now(UTC)
        n = 0
        for w in self.writers.values():
            records = w.exchange_records()
            if records:
                spool.append(
                    run_id=run_id,
                    checked_at=checked,
                    record_class=w.record_class,
                    bundle_id=w.bundle_id,
                    records=records,
                )
                n += len(records)
        self.discard()
        return n

    def carry(self, spool: QuietSpool) -> int:
        """Put every spooled quiet tick into this run's bundles (claimed, deleted from the
        spool once those bundles are cataloged). Returns the number of ticks carried."""
        ticks = [spool.read(p) for p in spool.pending()]
        if not ticks:
            return 0
        by_class: dict[str, list[SpooledTick]] = {}
        for t in ticks:
            by_class.setdefault(t.record_class, []).append(t)
        renamed = {
            t.bundle_id: self.writer(cast(RecordClass, t.record_class)).bundle_id for t in ticks
        }
        for record_class, group in by_class.items():
            w = self.writer(cast(RecordClass, record_class))
            w.adopt(
                [r for t in group for r in t.records], [(t.run_id, t.checked_at) for t in group]
            )
        for w in self.writers.values():  # the run's own revisits of spooled originals too
            w.rename_refers(renamed)
        for record_class, group in by_class.items():
            spool.claim(group, self.writer(cast(RecordClass, record_class)).bundle_id)
        return len({t.run_id for t in ticks})

    def release(self, bundle_id: str) -> None:
        for w in self.writers.values():
            if w.bundle_id == bundle_id:
                w.lock.release()


AfterSite = Callable[[Catalog, Config, SiteConfig, Any], None]
"""``(catalog, cfg, site, log)`` after a site's run is cataloged; it must not raise for a
problem of its own (it logs it): the sealed, cataloged harvest has already succeeded."""


class Harvester:
    """Runs harvests against one archive (config + catalog + storage)."""

    scoped_recovery = False
    """Before a run, look in storage only for the harvested site's uncataloged bundles.

    Set by the cluster worker (``archiver.cluster``): other workers publish bundles of other
    sites at the same moment, and only the worker holding a site's lock may catalog its
    leftovers. The embedded daemon looks at the whole store, as it is the only writer.
    """

    def __init__(
        self,
        cfg: Config,
        catalog: Catalog,
        storage: Storage,
        *,
        after_site: AfterSite | None = None,
    ) -> None:
        self.cfg = cfg
        self.catalog = catalog
        self.storage = storage
        self.after_site = after_site
        """Run after each site's harvest is sealed and cataloged (the policy compliance check,
        passed in by the CLI and the daemon: the harvest knows nothing of what reads it)."""

    # -- recovery -----------------------------------------------------------------------------
    def recover(self, *, site_id: str | None = None, scan_storage: bool = True) -> dict[str, int]:
        """Finish what a killed process left: never lose a sealed bundle, never show a partial.

        ``site_id`` limits the look for published-but-uncataloged bundles to that site's keys;
        ``scan_storage=False`` skips that look (only this machine's staging is dealt with).
        """
        report = {"discarded": 0, "published": 0, "cataloged": 0}
        staging = self.cfg.staging_dir
        for state, path in stale_staging(staging):
            if state == "partial":
                remove_tree(path)
                report["discarded"] += 1
                log.warning("discarded_unsealed_bundle", path=str(path))
                continue
            key = _key_of(path)
            if not self.storage.exists(key):
                self.storage.publish(path, key)
                report["published"] += 1
            if self._ingest(key, path if path.exists() else None):
                report["cataloged"] += 1
            remove_tree(path)
        if not scan_storage:
            return report
        known = self.catalog.bundle_ids()
        held = {q["key"] for q in quarantined(self.catalog)}
        for key in self.storage.list_bundles(site_id=site_id):
            bundle_id = key.rsplit("/", 1)[-1]
            if bundle_id in known or key in held or is_in_flight(staging, bundle_id):
                continue
            if self._ingest(key, None):
                report["cataloged"] += 1
        return report

    def _ingest(self, key: str, staged: Path | None) -> bool:
        """Catalog a bundle found after a crash, but only if its seal and content check out.

        A bundle nobody saw being sealed is exactly what a forger would leave, so recovery
        checks the signature (or the legacy inventory) and every payload digest first; a
        failure is quarantined, never cataloged. A recovered bundle gets its ``seal`` audit
        entry here, since the run that sealed it died before writing one.
        """
        trust = load_trust(self.cfg.root)
        tsa = self.cfg.integrity.tsa
        with self._materialize(key, staged) as folder:
            check = check_folder(folder, key, trust, tsa.ca_file if tsa else None)
            with self.catalog.begin() as conn:
                if not check.admissible:
                    if quarantine(
                        conn, check, key=key, found_by="recover", anchor_path=self.cfg.audit_anchor
                    ):
                        log.error("bundle_quarantined", key=key, reason=check.reason)
                    return False
                result = ingest_bundle(conn, folder, key=key, storage=self.storage.name)
                if result.skipped:
                    return False
                record_seal(conn, check, timestamp_state=_stamp_state(folder, check, self.cfg))
        self._audit(
            "seal",
            result.bundle_id,
            {
                "key": key,
                "storage": self.storage.name,
                "counts": result.counts,
                "recovered": True,
                "seal": check.reason,
            },
        )
        return True

    @contextlib.contextmanager
    def _materialize(self, key: str, staged: Path | None) -> Iterator[Path]:
        local = self.storage.local_path(key)
        if local is not None and local.exists():
            yield local
            return
        if staged is not None and staged.exists():
            yield staged
            return
        tmp = Path(tempfile.mkdtemp(prefix="bundle-", dir=self.cfg.staging_dir))
        try:
            for f in self.storage.list_files(key):
                dest = tmp / f.relpath
                dest.parent.mkdir(parents=True, exist_ok=True)
                with self.storage.open(key, f.relpath) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- one run ------------------------------------------------------------------------------
    def needs_full_sweep(self, site: SiteConfig) -> bool:
        last = self.catalog.last_full_sweep(site.id)
        return last is None or datetime.now(UTC) - last >= timedelta(
            seconds=site.full_sweep_seconds
        )

    def thread_due(
        self,
        site: SiteConfig,
        root_id: str,
        replies: int | None,
        now: datetime | None = None,
        *,
        touched: datetime | None = None,
    ) -> bool:
        """Adaptive re-polling for an incremental run: read a thread again when it is new, its
        reply count changed, its post was edited since (``touched``), or its decayed interval
        passed: every run while it had activity
        in the last day, daily while in the last week, then weekly (capped by the site's
        ``thread_poll_ceiling``; 0 reads every thread every run). Full sweeps never ask."""
        ceiling = site.thread_poll_ceiling_seconds
        if ceiling <= 0:
            return True
        polled_at, activity_at, direct = self.catalog.thread_poll(site.id, root_id)
        if polled_at is None:
            return True
        if replies is not None and replies != direct:
            return True
        last_activity = datetime.fromisoformat(activity_at) if activity_at else None
        if touched is not None and (last_activity is None or touched > last_activity):
            return True  # the post itself was edited (or is newer) since: activity
        now = now or datetime.now(UTC)
        idle = now - last_activity if last_activity else timedelta(days=3650)
        if idle < timedelta(days=1):
            return True
        interval = timedelta(days=1) if idle < timedelta(days=7) else timedelta(days=7)
        interval = min(interval, timedelta(seconds=ceiling))
        return now - datetime.fromisoformat(polled_at) >= interval

    def followers_due(self, site: SiteConfig, now: datetime | None = None) -> bool:
        """Whether an incremental run reads the follower list (``followers_every``)."""
        if site.followers_seconds <= 0:
            return True
        last = self.catalog.last_follower_read(site.id)
        now = now or datetime.now(UTC)
        return last is None or now - last >= timedelta(seconds=site.followers_seconds)

    def follower_walk_due(self, site: SiteConfig, now: datetime | None = None) -> bool:
        """Whether a run that reads followers reads the *whole* list (``follower_walk_every``).

        Only a complete read can show who left, so one is due when the site has none yet, when
        the last one is ``follower_walk_every`` old, or when a checkpoint is due (a checkpoint is
        a complete list). In between, a platform listing followers newest first reads only
        its head: new followers are caught every run, unfollows at the next complete read.
        """
        if site.follower_walk_seconds <= 0:
            return True
        last = self.catalog.last_complete_follower_list(site.id)
        if last is None:
            return True
        now = now or datetime.now(UTC)
        taken, checkpoint_taken = last
        if now - taken >= timedelta(seconds=site.follower_walk_seconds):
            return True
        return checkpoint_taken is None or now - checkpoint_taken >= timedelta(
            seconds=site.follower_checkpoint_seconds
        )

    def _lean(self, site: SiteConfig, bundles: _BundleSet, rlog: Any) -> None:
        """Change-proportional storage (bundle format 3), decided just before sealing.

        Items the catalog already holds in exactly this version keep only a ``seen`` row;
        a complete follower list between checkpoints keeps only who followed and who left.
        """
        for record_class, w in bundles.writers.items():
            pairs = list(w.item_hashes())
            unchanged: dict[str, str] = {}
            for start in range(0, len(pairs), 500):
                chunk = pairs[start : start + 500]
                current = self.catalog.current_hashes(
                    site.id, record_class, [pid for pid, _ in chunk]
                )
                # An item read with its edit history: unchanged when its current version is
                # the catalog's and every earlier one is archived already.
                history = self.catalog.version_hashes(
                    site.id, record_class, [pid for pid, h in chunk if len(set(h)) > 1]
                )
                unchanged.update(
                    (pid, now)
                    for pid, hashes in chunk
                    if (now := current.get(pid)) in hashes
                    and all(h == now or h in history.get(pid, ()) for h in hashes)
                )
            if unchanged:
                w.move_to_seen(unchanged)
        fw = bundles.writers.get("followers")
        if fw is None:
            return
        head = fw.followers_head() and not fw.followers_complete()
        if not fw.counts.get("follower") and not fw.followers_complete() and not head:
            return  # no list read (a count only, or no followers at all on this platform)
        last = self.catalog.last_follower_list(site.id)
        checkpoint = last["checkpoint_bundle_id"] if last else None
        if not fw.followers_complete():
            if checkpoint is None or last is None:
                return  # no chain yet: the part read is kept whole, as before format 3
            active = self.catalog.active_followers(site.id)
            listed = {r[0] for batch in fw.follower_ids() for r in batch}
            fw.replace_followers_with_diffs(listed - set(active), [])
            fw.set_follower_form("partial", checkpoint=checkpoint, previous=last["bundle_id"])
            return
        taken = last["checkpoint_taken_at"] if last else None
        due = (
            checkpoint is None
            or taken is None
            or bundles.run.started_at - datetime.fromisoformat(taken)
            >= timedelta(seconds=site.follower_checkpoint_seconds)
        )
        if due:
            fw.set_follower_form("checkpoint")
            return
        assert last is not None
        active = self.catalog.active_followers(site.id)
        listed = {r[0] for batch in fw.follower_ids() for r in batch}
        left = [(pid, *who) for pid, who in sorted(active.items()) if pid not in listed]
        fw.replace_followers_with_diffs(listed - set(active), left)
        fw.set_follower_form("diff", checkpoint=checkpoint, previous=last["bundle_id"])
        rlog.info("followers_diff", checkpoint=checkpoint, followed=len(listed - set(active)))

    def harvest_site(
        self,
        site: SiteConfig,
        *,
        full: bool | None = None,
        stop: threading.Event | None = None,
        connector: Callable[[HarvestContext], Any] | None = None,
        whole_followers: bool = False,
        quiet_seal_every: float | None = None,
    ) -> RunResult:
        """Run one harvest; raises ``ArchiverError`` after marking the run failed.

        ``connector`` replaces the site's registered connector (the fast lane passes its live
        source here, so its small bundles go through the same seal/check/ingest path).
        ``whole_followers`` reads the whole follower list whatever ``follower_walk_every``
        says (``archiver harvest --full``); a scheduled full sweep reads it on that cadence.
        ``quiet_seal_every`` (seconds; the fast lane's ``[fastlane] quiet_seal_every``): a
        run that finds nothing spools its exchanges (``archiver.quiet_spool``) instead of
        sealing a bundle, until the oldest spooled tick is that old. Whatever the value, every
        bundle a run seals carries what is spooled.
        """
        self.cfg.staging_dir.mkdir(parents=True, exist_ok=True)
        site_lock = BundleLock(self.cfg.staging_dir, f"site-{site.id}")
        if not site_lock.acquire(wait=False):
            raise ArchiverError(
                f"site {site.id} is already being harvested by another process or thread",
                hint="wait for that harvest to finish (see `archiver status`)",
            )
        try:
            return self._harvest_locked(
                site,
                full=full,
                stop=stop,
                connector=connector,
                whole_followers=whole_followers,
                quiet_seal_every=quiet_seal_every,
            )
        finally:
            site_lock.release()

    def _harvest_locked(
        self,
        site: SiteConfig,
        *,
        full: bool | None,
        stop: threading.Event | None,
        connector: Callable[[HarvestContext], Any] | None = None,
        whole_followers: bool = False,
        quiet_seal_every: float | None = None,
    ) -> RunResult:
        if self.scoped_recovery:
            self.recover(site_id=site.id)
        else:
            self.recover()
        spool = QuietSpool(self.cfg.staging_dir, site.id)
        spool.settle(self.catalog.bundle_ids)  # after recover: what was sealed is cataloged
        # Load the key before fetching anything: a missing key must stop the run, not
        # produce bundles that would all be quarantined.
        sealer = Sealer.from_config(self.cfg)
        self.catalog.sync_site(site)
        self.catalog.abandon_stale_runs(site.id)
        full_sweep = self.needs_full_sweep(site) if full is None else full
        run = self.catalog.start_run(site.id, full_sweep=full_sweep)
        rlog = log.bind(site=site.id, run=run.id)
        rlog.info("harvest_started", full_sweep=full_sweep, platform=site.platform)
        bundles = _BundleSet(self.cfg, site, run)
        client: RecordingClient | None = None
        held = contextlib.ExitStack()
        result = RunResult(site.id, run.id, "running", full_sweep)
        try:
            lookups = held.enter_context(self.catalog.run_lookups(site.id))
            token = (
                read_secret(site.token_env, purpose=f"access token for site {site.id}")
                if site.token_env
                else None
            )
            connector_cls = connector or get_connector(site.platform)

            def dedup(uri: str, digest: str) -> RevisitTarget | None:
                for w in bundles.writers.values():
                    hit = w.find_original(uri, digest)
                    if hit is not None:
                        return RevisitTarget(
                            hit.record_id, hit.target_uri, hit.warc_date, w.bundle_id
                        )
                return spool.find_original(uri, digest) or lookups.find_original(uri, digest)

            client = RecordingClient(
                site_id=site.id,
                settings=self.cfg.http,
                sinks=bundles.sink,
                dedup=dedup,
                auth_header=bearer(token),
                auth_host=urlsplit(site.base_url).netloc,
                secrets=[token] if token else [],
                timezone=self.cfg.timezone,
            )
            ctx = HarvestContext(
                site=site,
                http=client,
                bookmarks=self.catalog.bookmarks(site.id),
                full_sweep=full_sweep,
                media_max_bytes=self.cfg.http.media_max_bytes,
                token=token,
                seen_uri=lambda uri: lookups.uri_seen(redact_url(uri)),
                recent_owner_posts=lambda since: self.catalog.owner_post_texts(
                    since, exclude_site=site.id
                ),
                thread_due=lambda root, replies, touched: self.thread_due(
                    site, root, replies, touched=touched
                ),
                followers_due=full_sweep or whole_followers or self.followers_due(site),
                followers_walk=(
                    "full" if whole_followers or self.follower_walk_due(site) else "head"
                ),
                log=rlog,
            )
            for record in connector_cls(ctx).harvest():
                bundles.add(record)
                if stop is not None and stop.is_set():
                    raise HarvestAborted(
                        f"site {site.id}: harvest stopped by shutdown; nothing from this run "
                        "was sealed and the next run starts again from the last bookmark"
                    )
            result.counts = bundles.counts()
            self._lean(site, bundles, rlog)
            sealed: list[SealedBundle] = []
            quiet = quiet_seal_every is not None and bundles.quiet(ctx.bookmarks)
            if quiet and quiet_seal_every is not None:
                oldest = spool.oldest()
                quiet = oldest is None or datetime.now(UTC) - oldest < timedelta(
                    seconds=quiet_seal_every
                )
            if quiet:
                # Nothing found: the exchanges wait in the spool for the next bundle.
                result.spooled = bundles.spool(spool, run.id)
                result.counts = {"spooled_exchanges": result.spooled}
            else:
                result.carried = bundles.carry(spool)
                sealed = bundles.seal_all(sealer)
            if bundles.token_expiry is not None:
                self.catalog.set_token_expiry(site.id, bundles.token_expiry.expires_at)
        except BaseException as caught:
            # A platform that asks for a wait longer than the run may spend ends it like any
            # other unfinished run (nothing of it sealed, no bookmark moved, so the next run
            # fetches the same data again) but as "rate_limited", not a failure: the caller
            # schedules the next run after ``exc.until``.
            bundles.discard()
            # A full disk, a quota or a permission while writing staging: one line naming the
            # folder and the fix, not a traceback (archiver.resources).
            exc = resource_error(caught, self.cfg.staging_dir)
            if isinstance(exc, HarvestAborted | KeyboardInterrupt):
                status = "abandoned"
            elif isinstance(exc, RateLimitedError):
                status = "rate_limited"
            else:
                status = "failed"
            message = str(exc) if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(CatalogError):  # a full disk: the cause is what matters
                self.catalog.finish_run(
                    run.id,
                    status=status,
                    counts=bundles.counts(),
                    requests=client.requests_made if client else 0,
                    error=message,
                    error_kind=type(exc).__name__,
                )
            if isinstance(exc, RateLimitedError):
                rlog.warning("harvest_rate_limited", until=exc.until.isoformat(), error=message)
            else:
                rlog.error("harvest_failed", status=status, error=message)
            details: dict[str, object] = {"run": run.id, "status": status, "error": message}
            if isinstance(exc, RateLimitedError):
                details["until"] = exc.until.isoformat()
            with contextlib.suppress(ArchiverError):
                self._audit("harvest", site.id, details)
            if exc is not caught:
                raise exc from caught
            raise
        finally:
            if client is not None:
                client.close()
            held.close()
        try:
            for b in sealed:
                self.storage.publish(b.path, b.key)
                blog = rlog.bind(bundle=b.bundle_id)
                blog.info("bundle_published", key=b.key, storage=self.storage.name)
                with self._materialize(b.key, b.path) as folder:
                    check = check_seal(folder_reader(folder), b.key, load_trust(self.cfg.root))
                    if not check.admissible:
                        with self.catalog.begin() as conn:
                            quarantine(
                                conn,
                                check,
                                key=b.key,
                                found_by="harvest",
                                anchor_path=self.cfg.audit_anchor,
                            )
                        raise BundleError(
                            f"bundle {b.bundle_id} failed its own seal check: {check.reason}",
                            hint="check the signing key and trusted-keys file (archiver keys list)",
                        )
                    with self.catalog.begin() as conn:
                        result.ingest.append(
                            ingest_bundle(conn, folder, key=b.key, storage=self.storage.name)
                        )
                        record_seal(
                            conn, check, timestamp_state=_stamp_state(folder, check, self.cfg)
                        )
                remove_tree(b.path)
                bundles.release(b.bundle_id)
                spool.release(b.bundle_id)
                result.bundles.append(b.bundle_id)
                self._audit(
                    "seal",
                    b.bundle_id,
                    {
                        "key": b.key,
                        "site": site.id,
                        "run": run.id,
                        "record_class": b.record_class,
                        "storage": self.storage.name,
                        "counts": result.ingest[-1].counts,
                    },
                )
                blog.info(
                    "bundle_sealed",
                    key=b.key,
                    record_class=b.record_class,
                    counts=result.ingest[-1].counts,
                )
        except (StorageError, BundleError, CatalogError) as exc:
            # Sealed bundles stay in staging; the next run's recovery publishes them. A full
            # disk may refuse this update too: the run then shows as interrupted.
            with contextlib.suppress(CatalogError):
                self.catalog.finish_run(
                    run.id,
                    status="failed",
                    counts=result.counts,
                    requests=client.requests_made if client else 0,
                    error=str(exc),
                    error_kind=type(exc).__name__,
                )
            rlog.error("publish_failed", error=str(exc))
            raise
        finally:
            for w in bundles.writers.values():
                w.lock.release()
        self.catalog.finish_run(
            run.id,
            status="succeeded",
            counts=result.counts,
            requests=client.requests_made if client else 0,
        )
        result.status = "succeeded"
        self._audit(
            "harvest",
            site.id,
            {
                "run": run.id,
                "status": "succeeded",
                "full_sweep": full_sweep,
                "bundles": result.bundles,
                "counts": result.counts,
            },
        )
        rlog.info("harvest_finished", bundles=len(result.bundles), counts=result.counts)
        if self.after_site is not None:
            self.after_site(self.catalog, self.cfg, site, rlog)
        return result

    def _audit(self, action: str, subject: str, details: dict[str, object]) -> None:
        """Each in its own short transaction, so a busy catalog cannot undo a sealed run."""
        from archiver import audit

        with self.catalog.begin() as conn:
            audit.append(
                conn,
                action=action,
                subject=subject,
                details=details,
                anchor_path=self.cfg.audit_anchor,
            )


def _stamp_state(folder: Path, check: SealCheck, cfg: Config) -> str:
    """stamped (token in the bundle) | pending (TSA configured, no token yet) | none."""
    if (folder / TIMESTAMP_FILE).is_file():
        return "stamped"
    if check.state == "signed" and cfg.integrity.tsa is not None:
        return "pending"
    return "none"


def resource_error(exc: BaseException, staging: Path) -> BaseException:
    """``exc`` as a one-line ``StorageError`` if it is a resource failure, else ``exc``."""
    import sqlite3

    from archiver.resources import RESOURCE_ERRNOS, describe, hint_for, sqlite_condition

    if isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
        code: int | None = exc.errno
    elif isinstance(exc, sqlite3.OperationalError):
        code = sqlite_condition(exc, staging)
    else:
        return exc
    if code is None:
        return exc
    where = exc.filename if isinstance(exc, OSError) and isinstance(exc.filename, str) else staging
    return StorageError(
        f"cannot write the harvest's bundles in {where}: {describe(code)}; this run's unsealed "
        "data was discarded and its bookmarks were not moved",
        hint=hint_for(code, staging),
    )


def _key_of(sealed: Path) -> str:
    from archiver.bundle import RECORDS_DB, bundle_key

    db = open_records(sealed / RECORDS_DB, bundle=sealed.name)
    try:
        info = {r[0]: r[1] for r in db.execute("SELECT key, value FROM bundle_info")}
    finally:
        db.close()
    started = datetime.fromisoformat(info["started_at"])
    return bundle_key(info["site_id"], info["bundle_id"], started)
