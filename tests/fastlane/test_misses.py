"""Fast-lane misses: comments a sweep sealed first, later than the target, are counted.

Real parts: the fake Mastodon instance with its stream, the real harvester for both the fast
lane tick and the sweep, the catalog, ``archiver status --json`` and the monthly report built
from that catalog.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer
from typer.testing import CliRunner

from archiver.catalog.sql import SAReader
from archiver.cli import app as cli_app
from archiver.fastlane import latency, run_once
from archiver.harvest import Harvester
from archiver.report.build import build_report_data
from archiver.report.render import render_csv, render_html, render_text
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("masto"))
    finally:
        app.close()


def test_comments_a_sweep_captured_late_are_misses_in_status_and_report(tmp_path: Path) -> None:
    world = LiveMastodon(clock_start=T0)
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    maria = world.add_account("maria", "Maria")["id"]
    post = world.post_status(city, "Road closure on Main St.")["id"]
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("masto", "mastodon", server.url, "cityofbozeman"),
            head="[fastlane]\nenabled = true\ntarget = 120\n",
        )
        harvest(config, "masto", full=True)
        now = datetime.now(UTC)
        # The lane has followed the site for 30 minutes (what its first tick records).
        app = open_test_app(config)
        try:
            with app.catalog.begin() as conn:
                latency.mark_following(conn, "masto", now - timedelta(minutes=30))
                latency.mark_following(conn, "masto", now)  # kept once: the first wins
        finally:
            app.close()

        live = world.post_status(
            maria, "seen live", in_reply_to_id=post, created_at=now - timedelta(seconds=30)
        )["id"]
        _tick(config)  # the fast lane captures it first: a latency sample, not a miss
        # The lane then misses these (no tick); the next sweep captures them.
        late = world.post_status(
            maria, "sweep found it late", in_reply_to_id=post, created_at=now - timedelta(minutes=5)
        )["id"]
        world.post_status(
            maria,
            "sweep found it fast",
            in_reply_to_id=post,
            created_at=now - timedelta(seconds=20),
        )
        world.post_status(  # posted before the lane followed the site: not its miss
            maria, "before the lane", in_reply_to_id=post, created_at=now - timedelta(hours=2)
        )
        world.post_status(  # the City's own post: the lanes follow comments
            city, "Main St. reopened", created_at=now - timedelta(minutes=10)
        )
        harvest(config, "masto", full=True)

    texts = {r["text"] for r in catalog_rows(config, "SELECT text FROM item_versions")}
    assert {"seen live", "sweep found it late", "sweep found it fast", "before the lane"} <= texts

    app = open_test_app(config)
    try:
        with app.catalog.begin() as conn:
            missed = latency.misses(SAReader(conn), 120.0)
        assert [m.platform_id for m in missed] == [late]
        assert 300 <= missed[0].seconds < 400
        assert live not in {m.platform_id for m in missed}
        month = datetime.now(ZoneInfo(app.cfg.timezone)).strftime("%Y-%m")
        data = build_report_data(app, month)
        # a month without any fast-lane activity shows no captures and no misses
        empty = build_report_data(app, "2026-01")
    finally:
        app.close()

    out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(config)])
    structlog.reset_defaults()
    assert out.exit_code == 0, out.output
    status = json.loads(out.stdout)
    fig = status["fastlane_latency"]["masto"]
    assert fig["count"] == 1 and fig["misses"] == 1 and 30 <= fig["p95"] < 90
    assert status["fastlane_target_seconds"] == 120
    text = CliRunner().invoke(cli_app, ["status", "--config", str(config)])
    structlog.reset_defaults()
    assert "1 fast-lane miss (comments a sweep captured first" in text.output

    (site,) = data.sites
    assert site.fastlane is not None
    assert site.fastlane.captured == 1 and site.fastlane.misses == 1
    assert site.fastlane.p50 is not None and 30 <= site.fastlane.p50 < 90
    body = " ".join(render_text(data).split())  # the text part wraps at 78 columns
    assert "Fast lane:" in body and "1 fast-lane miss (comments the sweeps" in body
    assert "captured live, posting to sealed: median" in body
    assert "Fast lane</td>" in render_html(data)
    csv = render_csv(data)
    assert f"{month},masto,mastodon,cityofbozeman,Communications,fastlane_misses,1" in csv
    (quiet,) = empty.sites
    assert quiet.fastlane is not None and quiet.fastlane.captured == 0
    assert quiet.fastlane.misses == 0 and "nothing captured live this month" in " ".join(
        render_text(empty).split()
    )


def test_target_is_checked() -> None:
    import pytest

    from archiver.errors import ConfigError
    from archiver.settings.fastlane import fastlane_from

    assert fastlane_from({"target": 300}, file="a.toml").target == 300.0
    with pytest.raises(ConfigError, match=r"fastlane\.target"):
        fastlane_from({"target": "soon"}, file="a.toml")
