"""Rebuild into PostgreSQL (127.0.0.1:5432, the ``pg_url`` fixture): same content, usable after."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.catalog.store import Catalog
from archiver.catalog.tables import all_tables
from archiver.db import make_engine, metadata
from archiver.prr.requests import open_request
from archiver.retention.holds import add_hold, list_holds
from archiver.retention.removal import record_removal, review
from archiver.settings.requests import RequestPolicy
from tests.dr.helpers import ITEM_REFS, RENUMBERED, cli
from tests.helpers import catalog_rows
from tests.retention_kit import ArchiveFactory, app_for


def snapshot_url(url: str) -> dict[str, list[str]]:
    """Like ``test_rebuild.snapshot`` but through SQLAlchemy, so any dialect compares."""
    all_tables()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            items = metadata.tables["items"]
            natural = {
                r.id: [r.site_id, r.record_class, r.platform_id]
                for r in conn.execute(
                    select(items.c.id, items.c.site_id, items.c.record_class, items.c.platform_id)
                )
            }
            out: dict[str, list[str]] = {}
            for table in metadata.sorted_tables:
                rows = []
                for r in conn.execute(select(table)):
                    row: dict[str, Any] = dict(r._mapping)
                    for col in RENUMBERED.get(table.name, []):
                        row.pop(col)
                    ref = ITEM_REFS.get(table.name)
                    if ref is not None:
                        row[ref] = natural.get(row[ref])
                    rows.append(json.dumps(row, sort_keys=True, default=str))
                out[table.name] = sorted(rows)
            return out
    finally:
        engine.dispose()


def test_rebuild_into_postgresql(make_archive: ArchiveFactory, tmp_path: Path, pg_url: str) -> None:
    config = make_archive(runs=2)
    app = app_for(config)
    try:
        add_hold(app, name="snow-suit", matter="Doe v. City", query="snow", by="Cara Clerk")
        open_request(
            app.catalog,
            requester="Pat Public",
            received=date(2026, 11, 20),
            description="snow",
            policy=RequestPolicy(),
        )
        pid = catalog_rows(
            config,
            "SELECT site_id || ':' || platform_id AS ref FROM items "
            "WHERE kind = 'comment' AND by_owner = 0 LIMIT 1",
        )[0]["ref"]
        record_removal(app, item=pid, category=2, by="Melissa Communications")
        review(app, item=pid, attorney="Alex Attorney", decision="reject", note="not cat. 2")
    finally:
        app.close()
    catalog = tmp_path / "archive" / "catalog.sqlite"
    original = snapshot_url(f"sqlite:///{catalog}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)

    r = cli(config, "catalog", "rebuild", "--into", pg_url)
    assert r.returncode == 0, r.stdout + r.stderr
    copy = snapshot_url(pg_url)
    for table in original:
        assert copy[table] == original[table], f"table {table} differs after rebuild"
    again = cli(config, "catalog", "rebuild", "--into", pg_url)
    assert again.returncode != 0 and "refusing to rebuild into" in again.stderr

    # The rebuilt catalog takes new rows (its sequences were moved past the restored ids).
    text = config.read_text().replace("[archive]\n", f'[archive]\ncatalog_url = "{pg_url}"\n', 1)
    config.write_text(text)
    os.environ.pop("ARCHIVER_CATALOG_URL", None)
    app = app_for(config)
    try:
        assert isinstance(app.catalog, Catalog) and app.catalog.dialect == "postgresql"
        add_hold(app, name="second", matter="Roe v. City", query="plow", by="Cara Clerk")
        assert [h["name"] for h in list_holds(app)] == ["snow-suit", "second"]
    finally:
        app.close()
