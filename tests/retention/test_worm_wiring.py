"""Eligibility dates and holds reach the store: retain-until and legal hold, read back by HEAD.

Harvests run through the real harvester into moto's S3 server (tests/storage_kit.py);
what we assert is what a HEAD request shows on every object of the bundle. moto is not
evidence of WORM (docs/storage.md); these tests show that our code *asks* for the locks.
LocalStorage has no locks, so there the same calls must be harmless no-ops.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeplatforms.server import FakeServer
from minio import Minio
from sqlalchemy import select, text

from archiver.app import App, open_app
from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.config import load_config
from archiver.errors import StorageError
from archiver.harvest import Harvester
from archiver.retention import disposition as d
from archiver.retention.eligibility import compute_eligibility, load_settings
from archiver.retention.holds import add_hold, held_bundles, release_hold
from archiver.settings.storage import S3Settings
from archiver.storage.s3 import S3Storage
from connectors.registry import platforms
from tests.helpers import catalog_rows, harvest, site_toml, write_config
from tests.retention_kit import FAR_FUTURE, retention_head


@pytest.fixture
def s3_app(tmp_path: Path, server: FakeServer, s3_storage: S3Storage) -> Iterator[App]:
    """The app a daemon would have with [storage] backend = "s3", after one real harvest."""
    config = write_config(
        tmp_path,
        site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
        head=retention_head(tmp_path),
    )
    os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
    cfg = load_config(str(config), platforms=platforms())
    cfg.staging_dir.mkdir(parents=True, exist_ok=True)
    app = App(cfg, Catalog(cfg.catalog_url), s3_storage)
    result = Harvester(app.cfg, app.catalog, app.storage).harvest_site(app.cfg.site("city"))
    assert result.status == "succeeded"
    try:
        yield app
    finally:
        app.close()


def _heads(client: Minio, settings: S3Settings, key: str) -> list[dict[str, str]]:
    prefix = f"{settings.prefix}/{key}/"
    out = []
    for obj in client.list_objects(settings.bucket, prefix=prefix, recursive=True):
        st = client.stat_object(settings.bucket, obj.object_name)
        out.append({k.lower(): v for k, v in (st.metadata or {}).items()})
    assert out, f"no objects under {prefix}"
    return out


def _until(h: dict[str, str]) -> dt.date:
    return dt.datetime.fromisoformat(
        h["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00")
    ).date()


def test_s3_retain_until_follows_eligibility(
    s3_app: App, s3_client: Minio, s3_settings: S3Settings
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    results, warnings = compute_eligibility(s3_app, load_settings(s3_app.cfg))
    assert warnings == []
    later = [
        r
        for r in results.values()
        if r.eligible_on and r.eligible_on > today + dt.timedelta(days=31)
    ]
    assert later, "the demo world should have records eligible well after the 30-day default lock"
    for r in later:
        for h in _heads(s3_client, s3_settings, r.key):
            assert _until(h) == r.eligible_on
            assert h["x-amz-object-lock-mode"] == "COMPLIANCE"
    # Recomputing never shortens and does not call the store again for the same date.
    results2, warnings2 = compute_eligibility(s3_app, load_settings(s3_app.cfg))
    assert warnings2 == []
    assert {k: v.eligible_on for k, v in results2.items()} == {
        k: v.eligible_on for k, v in results.items()
    }


def test_s3_legal_hold_set_and_cleared(
    s3_app: App, s3_client: Minio, s3_settings: S3Settings
) -> None:
    assert add_hold(s3_app, name="all", matter="Audit", site="city", by="Clerk") == []
    held = held_bundles(s3_app)
    keys = {r.key for r in _bundle_rows(s3_app) if r.id in held}
    assert keys
    for key in keys:
        assert all(
            h.get("x-amz-object-lock-legal-hold") == "ON"
            for h in _heads(s3_client, s3_settings, key)
        )
    assert release_hold(s3_app, name="all", reason="closed", by="Clerk") == []
    for key in keys:
        assert all(
            h.get("x-amz-object-lock-legal-hold") == "OFF"
            for h in _heads(s3_client, s3_settings, key)
        )


def _bundle_rows(app: App) -> list[Any]:
    with app.catalog.begin() as conn:
        return list(conn.execute(select(s.bundles)))


def test_s3_unreachable_during_execute_marks_nothing(s3_app: App, s3_settings: S3Settings) -> None:
    settings = load_settings(s3_app.cfg)
    batch = d.propose(s3_app, settings, by="Rita Records", as_of=FAR_FUTURE)
    d.approve(s3_app, batch_id=batch["id"], by="Mia Mayor", title="City Manager")
    with socket.socket() as sock:  # a port nobody listens on: the store is down
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    down = App(
        s3_app.cfg,
        s3_app.catalog,
        S3Storage(dataclasses.replace(s3_settings, endpoint=dead)),
    )
    with pytest.raises(StorageError) as err:
        d.execute(down, settings, batch_id=batch["id"], by="Ed", today=FAR_FUTURE)
    assert "nothing was marked disposed" in str(err.value) and "\n" not in str(err.value)
    with s3_app.catalog.begin() as conn:
        statuses = {r[0] for r in conn.execute(text("SELECT status FROM bundles"))}
        tombs = conn.execute(text("SELECT count(*) FROM tombstones")).scalar_one()
        executes = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'disposition.execute'")
        ).scalar_one()
    assert statuses == {"sealed"} and tombs == 0 and executes == 0


def test_local_storage_calls_are_no_ops(tmp_path: Path, server: FakeServer) -> None:
    config = write_config(
        tmp_path,
        site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
        head=retention_head(tmp_path),
    )
    os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
    harvest(config, "city")
    app = open_app(str(config))
    try:
        before = sorted(app.storage.list_bundles())
        _, warnings = compute_eligibility(app, load_settings(app.cfg))
        assert warnings == []
        assert add_hold(app, name="all", matter="m", by="Clerk") == []
        assert release_hold(app, name="all", reason="r", by="Clerk") == []
        assert sorted(app.storage.list_bundles()) == before
    finally:
        app.close()
    rows = catalog_rows(config, "SELECT worm_until, eligible_on FROM bundle_eligibility")
    assert any(r["worm_until"] for r in rows)  # recorded as asked, even though local cannot lock
