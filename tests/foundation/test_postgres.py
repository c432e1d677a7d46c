"""The catalog's scale-out path: the same harvest, search and verify on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from sqlalchemy import text

from archiver.search import SearchFilters, search
from archiver.verify import verify_archive
from tests.helpers import harvest, open_test_app, site_toml, write_config


@pytest.mark.postgres
def test_harvest_search_verify_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    world, city = build_demo_world(statuses=20, followers=40, seed=9)
    world.rate_limit = 1_000_000
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, "cityofbozeman"),
            catalog_url=pg_url,
        )
        assert harvest(config, "city").status == "succeeded"
        sid = world.status_ids(city)[0]
        world.edit_status(sid, "Snowplow priority routes updated for the Bridger storm")
        assert harvest(config, "city", full=True).status == "succeeded"
        history = httpx.get(f"{server.url}/api/v1/statuses/{sid}/history").json()
    app = open_test_app(config)
    try:
        assert app.catalog.dialect == "postgresql"
        with app.catalog.begin() as conn:
            n_posts = conn.execute(text("SELECT count(*) FROM items WHERE kind = 'post'")).scalar()
            versions = conn.execute(
                text(
                    "SELECT count(*) FROM item_versions v JOIN items i ON i.id = v.item_id "
                    "WHERE i.platform_id = :sid"
                ),
                {"sid": sid},
            ).scalar()
            followers = conn.execute(text("SELECT count(*) FROM followers")).scalar()
        # Every version the platform's edit history lists (the demo data has corrections).
        assert n_posts == 20 and versions == len(history) >= 2 and followers == 40
        hits = search(app.catalog, "snowplow bridger", SearchFilters(site="city"))
        assert [h["platform_id"] for h in hits] == [sid]
        assert hits[0]["version"] == len(history)
        old = search(app.catalog, "snowplow bridger", SearchFilters(all_versions=True))
        assert len(old) == 1  # only the new text has these words
        report = verify_archive(app.catalog, app.storage)
        assert report.ok and report.bundles_checked >= 6
    finally:
        app.close()
