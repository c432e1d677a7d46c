"""Store locks that follow schedule changes, on moto's real S3 server (read back by HEAD).

* A bundle with no disposal date (permanent item, event trigger, no mapping) keeps a rolling
  lock, today + ``[storage] rolling_lock_days``, renewed when less than half is left, instead
  of the short lock it got at publish.
* A mapping change that lengthens retention moves the retain-until date later.
* A lock that outlasts a later, shorter schedule makes the bundle not due, and ``execute``
  skips it with a note instead of aborting the batch on the store's refusal.

moto cannot prove WORM (docs/storage.md); these tests show what our code asks the store for.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakeplatforms.server import FakeServer
from minio import Minio

from archiver.app import App
from archiver.catalog import schema
from archiver.catalog.store import Catalog
from archiver.config import load_config
from archiver.errors import ConfigError, RetentionError
from archiver.harvest import Harvester
from archiver.retention import disposition as d
from archiver.retention.eligibility import compute_eligibility, load_settings, refresh
from archiver.settings.storage import S3Settings
from archiver.storage.s3 import S3Storage
from connectors.registry import platforms
from tests.helpers import catalog_rows, site_toml, write_config
from tests.retention_kit import CLASSES, retention_head

FIVE_YEARS = """
[[items]]
number = 5
title = "FIVE YEARS"
retention = { years = 5 }
trigger = "creation"
disposal = "RM88"
source = "test"
verified = true
"""


class Archive:
    """One harvested site in moto's S3; ``remap`` rewrites the config as a records manager
    would and reopens the app on the same catalog and bucket."""

    def __init__(self, tmp_path: Path, server: FakeServer, storage: S3Storage) -> None:
        self.tmp_path, self.server, self.storage = tmp_path, server, storage
        self.app: App | None = None
        os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"

    def remap(self, item: str, *, rolling_lock_days: int | None = None) -> App:
        head = retention_head(self.tmp_path, {c: item for c in CLASSES})
        schedule = self.tmp_path / "schedules" / "test.toml"
        schedule.write_text(schedule.read_text() + FIVE_YEARS)
        if rolling_lock_days is not None:
            head = f"[storage]\nrolling_lock_days = {rolling_lock_days}\n\n" + head
        config = write_config(
            self.tmp_path,
            site_toml(
                "city", "mastodon", self.server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"
            ),
            head=head,
        )
        cfg = load_config(str(config), platforms=platforms())
        cfg.staging_dir.mkdir(parents=True, exist_ok=True)
        if self.app is None:
            self.app = App(cfg, Catalog(cfg.catalog_url), self.storage)
            result = Harvester(cfg, self.app.catalog, self.storage).harvest_site(cfg.site("city"))
            assert result.status == "succeeded"
        else:
            self.app = App(cfg, self.app.catalog, self.storage)
        return self.app

    @property
    def config(self) -> Path:
        return self.tmp_path / "archiver.toml"

    def today(self) -> dt.date:
        assert self.app is not None
        return dt.datetime.now(ZoneInfo(self.app.cfg.timezone)).date()


@pytest.fixture
def archive(tmp_path: Path, server: FakeServer, s3_storage: S3Storage) -> Iterator[Archive]:
    a = Archive(tmp_path, server, s3_storage)
    try:
        yield a
    finally:
        if a.app is not None:
            a.app.close()


def _store_until(client: Minio, settings: S3Settings, key: str) -> dt.date:
    """The one retain-until date every object of the bundle carries, read by HEAD/stat."""
    prefix = f"{settings.prefix}/{key}/"
    dates = set()
    for obj in client.list_objects(settings.bucket, prefix=prefix, recursive=True):
        meta = client.stat_object(settings.bucket, obj.object_name).metadata or {}
        raw = meta["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00")
        dates.add(dt.datetime.fromisoformat(raw).date())
        assert meta["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert len(dates) == 1, dates
    return dates.pop()


def _keys(app: App) -> dict[str, str]:
    with app.catalog.begin() as conn:
        return {r.id: r.key for r in conn.execute(schema.bundles.select())}


def test_permanent_bundle_gets_a_rolling_lock_on_refresh(
    archive: Archive, s3_client: Minio, s3_settings: S3Settings
) -> None:
    app = archive.remap("TEST.2026-2", rolling_lock_days=90)  # everything permanent
    keys = _keys(app)
    today = archive.today()
    published = {bid: _store_until(s3_client, s3_settings, k) for bid, k in keys.items()}
    assert all(u <= today + dt.timedelta(days=31) for u in published.values())  # 30-day lock

    summary = refresh(app)
    assert summary["eligible"] == 0 and summary["warnings"] == []
    want = today + dt.timedelta(days=90)
    for key in keys.values():
        assert _store_until(s3_client, s3_settings, key) == want
    rows = catalog_rows(archive.config, "SELECT worm_until FROM bundle_eligibility")
    assert {r["worm_until"] for r in rows} == {want.isoformat()}

    # More than half left: nothing changes. Less than half left: renewed from that day.
    settings = load_settings(app.cfg)
    _, warnings = compute_eligibility(app, settings, today=today + dt.timedelta(days=40))
    assert warnings == []
    assert all(_store_until(s3_client, s3_settings, k) == want for k in keys.values())
    later = today + dt.timedelta(days=50)
    compute_eligibility(app, settings, today=later)
    for key in keys.values():
        assert _store_until(s3_client, s3_settings, key) == later + dt.timedelta(days=90)


def test_rolling_lock_days_is_validated(archive: Archive) -> None:
    """Refused when the config is loaded, not at the first nightly refresh."""
    with pytest.raises(ConfigError, match=r"storage\.rolling_lock_days"):
        archive.remap("TEST.2026-2", rolling_lock_days=0)


def test_mapping_changes_move_the_store_lock(
    archive: Archive, s3_client: Minio, s3_settings: S3Settings
) -> None:
    app = archive.remap("TEST.2026-1")  # one year
    results, warnings = compute_eligibility(app, load_settings(app.cfg))
    assert warnings == []
    dated = {bid: r for bid, r in results.items() if r.eligible_on is not None}
    assert dated
    today = archive.today()
    one_year = {}
    for bid, r in dated.items():
        until = _store_until(s3_client, s3_settings, r.key)
        assert r.eligible_on is not None
        assert until == max(r.eligible_on, until)  # never shorter than the date
        if r.eligible_on > today + dt.timedelta(days=31):
            assert until == r.eligible_on
        one_year[bid] = until

    # 1 year -> 5 years: the retain-until on every object moves later, to the new date.
    app = archive.remap("TEST.2026-5")
    results, warnings = compute_eligibility(app, load_settings(app.cfg))
    assert warnings == []
    for bid in dated:
        r = results[bid]
        assert r.eligible_on is not None
        until = _store_until(s3_client, s3_settings, r.key)
        assert until == r.eligible_on
        assert until > one_year[bid] + dt.timedelta(days=3 * 365)

    # 5 years -> permanent: no date any more, so the rolling lock takes over (here 4000
    # days, longer than the 5-year lock, so it is extended again).
    app = archive.remap("TEST.2026-2", rolling_lock_days=4000)
    results, warnings = compute_eligibility(app, load_settings(app.cfg))
    assert warnings == []
    want = archive.today() + dt.timedelta(days=4000)
    for bid in dated:
        assert results[bid].eligible_on is None
        assert _store_until(s3_client, s3_settings, results[bid].key) == want


def _batch_states(app: App, batch_id: str) -> dict[str, tuple[str, str | None]]:
    detail = d.batch_detail(app, batch_id)
    return {b["bundle_id"]: (b["state"], b["note"]) for b in detail["bundles"]}


def test_a_store_lock_that_outlasts_a_shorter_schedule_is_skipped_not_fatal(
    archive: Archive, s3_client: Minio, s3_settings: S3Settings
) -> None:
    app = archive.remap("TEST.2026-1")
    settings = load_settings(app.cfg)
    results, _ = compute_eligibility(app, settings)
    dated = [r.eligible_on for r in results.values() if r.eligible_on is not None]
    as_of = max(dated) + dt.timedelta(days=1)  # everything dated is due under one year
    batch = d.propose(app, settings, by="Rita Records", as_of=as_of)
    proposed = {b["bundle_id"] for b in batch["bundles"]}
    assert proposed

    # The schedule is extended (5 years: the store lock goes out), then shortened again.
    app = archive.remap("TEST.2026-5")
    compute_eligibility(app, load_settings(app.cfg))
    locks = {bid: _store_until(s3_client, s3_settings, _keys(app)[bid]) for bid in proposed}
    assert all(lock > as_of for lock in locks.values())
    app = archive.remap("TEST.2026-1")
    settings = load_settings(app.cfg)

    # Execute skips each with a note instead of stopping the batch at the first delete.
    d.approve(app, batch_id=batch["id"], by="Mia Mayor", title="City Manager")
    result = d.execute(app, settings, batch_id=batch["id"], by="Ed", today=as_of)
    assert result.disposed == [] and set(result.skipped) == proposed
    assert result.status == "executed"
    for bid, (state, note) in _batch_states(app, batch["id"]).items():
        assert state == "skipped"
        assert note == f"locked in storage until {locks[bid].isoformat()}"
    assert all(app.storage.exists(_keys(app)[bid]) for bid in proposed)
    again = d.execute(app, settings, batch_id=batch["id"], by="Ed", today=as_of)
    assert again.already_done and again.disposed == []

    # Not due either (no longer in an open batch): the catalog's date has passed by as_of,
    # the store's has not, and the store's date is kept in worm_until.
    due, blocked, _ = d.due(app, settings, as_of=as_of)
    assert not {r["bundle_id"] for r in due} & proposed
    by_id = {r["bundle_id"]: r for r in blocked}
    for bid in proposed:
        assert f"locked in storage until {locks[bid].isoformat()}" in by_id[bid]["blocked"]
        assert by_id[bid]["locked_until"] == locks[bid].isoformat()
    worm = {
        r["bundle_id"]: r["worm_until"]
        for r in catalog_rows(
            archive.config, "SELECT bundle_id, worm_until FROM bundle_eligibility"
        )
    }
    assert all(worm[bid] == locks[bid].isoformat() for bid in proposed)
    with pytest.raises(RetentionError, match="nothing is due"):
        d.propose(app, settings, by="Rita Records", as_of=as_of)
