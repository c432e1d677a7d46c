"""Disposal records (RM88/RM60, kept 30 years) also go to the configured storage.

With the S3 backend the local files under ``<archive root>/disposal-records/`` are not enough
(a single disk); each file is put under ``disposal-records/`` in the bucket with Object Lock
until the record's keep-until date, verified by hash, and ``disposal_record_copies`` says
where. moto is not evidence of WORM (docs/storage.md); we check what our code asks for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.server import FakeServer
from minio import Minio

from archiver.app import App, open_app
from archiver.catalog.store import Catalog
from archiver.config import load_config
from archiver.harvest import Harvester
from archiver.retention import disposition as d
from archiver.retention.eligibility import load_settings
from archiver.settings.storage import S3Settings
from archiver.storage.s3 import S3Storage
from connectors.registry import platforms
from tests.helpers import catalog_rows, harvest, site_toml, write_config
from tests.retention_kit import CLASSES, FAR_FUTURE, retention_head

# Everything is due at once, so no eligibility date puts a store lock on a bundle and moto
# lets the executed batch really delete it.
ZERO_YEARS = """
[[items]]
number = 9
title = "ZERO YEARS"
retention = { years = 0 }
trigger = "creation"
disposal = "RM88"
source = "test"
verified = true
"""


def _config(tmp_path: Path, server: FakeServer) -> Path:
    os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
    head = retention_head(tmp_path, {c: "TEST.2026-9" for c in CLASSES})
    schedule = tmp_path / "schedules" / "test.toml"
    schedule.write_text(schedule.read_text() + ZERO_YEARS)
    return write_config(
        tmp_path,
        site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
        head=head,
    )


@pytest.fixture
def s3_app(tmp_path: Path, server: FakeServer, s3_settings: S3Settings) -> Iterator[App]:
    """One harvest into moto; no lock at publish, so an executed batch can really delete."""
    cfg = load_config(str(_config(tmp_path, server)), platforms=platforms())
    cfg.staging_dir.mkdir(parents=True, exist_ok=True)
    storage = S3Storage(dataclasses.replace(s3_settings, default_retention_days=0))
    app = App(cfg, Catalog(cfg.catalog_url), storage)
    assert Harvester(cfg, app.catalog, storage).harvest_site(cfg.site("city")).status == "succeeded"
    try:
        yield app
    finally:
        app.close()


def _run_batch(app: App) -> tuple[str, d.ExecuteResult]:
    settings = load_settings(app.cfg)
    batch = d.propose(app, settings, by="Rita Records", as_of=FAR_FUTURE)
    d.approve(app, batch_id=batch["id"], by="Mia Mayor", title="City Manager")
    return batch["id"], d.execute(app, settings, batch_id=batch["id"], by="Ed", today=FAR_FUTURE)


def _rows(app: App, sql: str) -> list[dict[str, object]]:
    from sqlalchemy import text

    with app.catalog.begin() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def test_executed_batch_stores_the_rm88_in_the_bucket_locked_until_keep_until(
    s3_app: App, s3_client: Minio, s3_settings: S3Settings
) -> None:
    bid, result = _run_batch(s3_app)
    assert result.status == "executed" and result.disposed and result.warnings == []
    assert list(s3_app.storage.list_bundles()) == []  # every bundle went, the record did not

    (rec,) = _rows(s3_app, "SELECT * FROM disposal_records WHERE form = 'RM88'")
    keep = dt.date.fromisoformat(str(rec["keep_until"]))
    assert keep.year >= dt.date.today().year + 30
    name = f"{s3_settings.prefix}/disposal-records/{bid}-RM88.pdf"
    st = s3_client.stat_object(s3_settings.bucket, name)
    meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
    assert meta["x-amz-object-lock-mode"] == "COMPLIANCE"
    until = dt.datetime.fromisoformat(meta["x-amz-object-lock-retain-until-date"])
    assert until.date() == keep
    body = s3_client.get_object(s3_settings.bucket, name)
    try:
        assert hashlib.sha256(body.read()).hexdigest() == rec["pdf_sha256"]
    finally:
        body.close()
        body.release_conn()
    html = s3_client.stat_object(
        s3_settings.bucket, f"{s3_settings.prefix}/disposal-records/{bid}-RM88.html"
    )
    assert (html.metadata or {}).get("x-amz-meta-archiver-sha256") == rec["html_sha256"]

    copies = _rows(s3_app, "SELECT * FROM disposal_record_copies ORDER BY kind")
    assert [(c["form"], c["kind"], c["storage"]) for c in copies] == [
        ("RM88", "html", "s3"),
        ("RM88", "pdf", "s3"),
    ]
    assert copies[1]["storage_key"] == f"disposal-records/{bid}-RM88.pdf"
    assert copies[1]["sha256"] == rec["pdf_sha256"] and copies[1]["retain_until"] == str(keep)
    stored = d.batch_detail(s3_app, bid)["records"][0]["stored"]
    assert stored["pdf"] == f"s3:disposal-records/{bid}-RM88.pdf"


def test_store_down_after_the_deletes_is_a_warning_and_the_next_run_stores_the_record(
    s3_app: App, s3_client: Minio, s3_settings: S3Settings
) -> None:
    real = s3_app.storage
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    assert isinstance(real, S3Storage)
    down = S3Storage(dataclasses.replace(real.settings, endpoint=dead))

    def put_document_down(source: Path, name: str, *, retain_until: dt.date | None) -> str:
        return down.put_document(source, name, retain_until=retain_until)

    real.put_document = put_document_down  # type: ignore[method-assign]
    bid, result = _run_batch(s3_app)
    assert result.status == "executed" and result.disposed
    assert any("not stored in s3 storage" in w and "execute" in w for w in result.warnings)
    assert _rows(s3_app, "SELECT * FROM disposal_record_copies") == []

    del real.put_document  # the store is back
    again = d.execute(s3_app, load_settings(s3_app.cfg), batch_id=bid, by="Ed")
    assert again.already_done and again.warnings == []
    (rec,) = _rows(s3_app, "SELECT * FROM disposal_records WHERE form = 'RM88'")
    st = s3_client.stat_object(
        s3_settings.bucket, f"{s3_settings.prefix}/disposal-records/{bid}-RM88.pdf"
    )
    assert (st.metadata or {}).get("x-amz-meta-archiver-sha256") == rec["pdf_sha256"]
    assert len(_rows(s3_app, "SELECT * FROM disposal_record_copies")) == 2


def test_local_backend_copies_the_record_under_the_bundle_root(
    tmp_path: Path, server: FakeServer
) -> None:
    config = _config(tmp_path, server)
    assert harvest(config, "city").status == "succeeded"
    app = open_app(str(config))
    try:
        bid, result = _run_batch(app)
        assert result.status == "executed" and result.warnings == []
        root = Path(str(app.storage.local_path("x/y/z"))).parents[2]
        assert list(app.storage.list_bundles()) == []
    finally:
        app.close()
    (rec,) = catalog_rows(config, "SELECT * FROM disposal_records WHERE form = 'RM88'")
    copy = root / "disposal-records" / f"{bid}-RM88.pdf"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == rec["pdf_sha256"]
    assert Path(rec["pdf_path"]).is_file()  # the archive-root file is kept as before
    copies = catalog_rows(config, "SELECT storage, storage_key FROM disposal_record_copies")
    assert {(c["storage"], c["storage_key"]) for c in copies} == {
        ("local", f"disposal-records/{bid}-RM88.html"),
        ("local", f"disposal-records/{bid}-RM88.pdf"),
    }
