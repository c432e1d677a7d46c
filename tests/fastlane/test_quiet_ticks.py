"""A fast-lane tick that finds nothing seals no bundle; its exchanges wait in the quiet spool.

Real parts: the feed and X fakes on loopback, the real recorder, harvester, bundles, storage,
seal check and catalog through ``run_once``; the daemon's fast-lane runner (``FastLane``) for
"the next start seals what a killed process spooled"; a real ``kill -9`` of a child process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fakeplatforms import FakeServer, FeedWorld
from fakeplatforms.live import LiveX
from typer.testing import CliRunner

from archiver.app import open_app
from archiver.bundle_format import open_records
from archiver.cli import app as cli_app
from archiver.fastlane import run_once
from archiver.fastlane.latency import quiet_spool_section
from archiver.fastlane.runner import FastLane
from archiver.harvest import Harvester, RunResult
from archiver.quiet_spool import QuietSpool
from archiver.settings.fastlane import FastLaneSettings
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

TOKEN = "x-quiet-test-bearer"


def _tick(config: Path, site: str) -> RunResult:
    app = open_test_app(config)
    try:
        result = run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site(site))
    finally:
        app.close()
    assert result.status == "succeeded"
    return result


def _bundles(config: Path) -> set[str]:
    return {r["id"] for r in catalog_rows(config, "SELECT id FROM bundles")}


def _records(config: Path, bundle_id: str) -> tuple[list[list[str]], list[dict[str, object]]]:
    """(bundle_info.quiet_ticks, warc_records) of a sealed bundle in storage."""
    [path] = (config.parent / "archive").rglob(f"{bundle_id}/data/records.sqlite")
    db = open_records(path)
    try:
        row = db.execute("SELECT value FROM bundle_info WHERE key = 'quiet_ticks'").fetchone()
        recs = [dict(r) for r in db.execute("SELECT * FROM warc_records")]
    finally:
        db.close()
    return (json.loads(row[0]) if row else []), recs


def _spool(config: Path, site: str) -> QuietSpool:
    return QuietSpool(config.parent / "archive" / "staging", site)


def test_quiet_feed_ticks_seal_nothing_until_a_new_entry_seals_them_all(tmp_path: Path) -> None:
    world = FeedWorld()
    world.add_entry("n1", "Leaf pickup starts", "<p>Monday.</p>")
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("news", "rss", server.url, "/news/rss.xml"))
        harvest(config, "news", full=True)
        before = _bundles(config)
        quiet = [_tick(config, "news") for _ in range(3)]
        assert [r.bundles for r in quiet] == [[], [], []]
        assert all(r.spooled == 2 for r in quiet)  # the 304 and its request, kept
        assert _bundles(config) == before
        assert len(_spool(config, "news").pending()) == 3
        # The catalog knows each check happened (status shows the runs) before any seal.
        runs = catalog_rows(
            config, "SELECT id, status, finished_at, counts_json FROM runs ORDER BY started_at"
        )
        assert [r["status"] for r in runs[-3:]] == ["succeeded"] * 3
        assert [r["id"] for r in runs[-3:]] == [r.run_id for r in quiet]

        world.add_entry("n2", "Water main break", "<p>Babcock and Willson closed.</p>")
        found = _tick(config, "news")
    assert found.carried == 3
    assert len(found.bundles) == 1
    assert _bundles(config) == before | set(found.bundles)
    assert not _spool(config, "news").holds_any()
    ticks, recs = _records(config, found.bundles[0])
    assert [t[0] for t in ticks] == [r.run_id for r in quiet]
    not_modified = [r for r in recs if r["http_status"] == 304]
    assert len(not_modified) == 3  # every quiet poll's exchange is in the sealed WARC
    dates = sorted(str(r["warc_date"]) for r in not_modified)
    assert dates[-1] <= ticks[-1][1].replace("+00:00", "Z")  # checked no later than noted
    texts = {r["text"] for r in catalog_rows(config, "SELECT text FROM item_versions")}
    assert any(t.startswith("Water main break") for t in texts)
    # The carried records read back at the offsets the bundle names, as any WARC reader does.
    from warcio.archiveiterator import ArchiveIterator

    [warc] = (config.parent / "archive").rglob(f"{found.bundles[0]}/data/warc/*.warc.gz")
    with warc.open("rb") as fh:
        read = {
            str(r.rec_headers.get_header("WARC-Record-ID")): (r.rec_type, it.get_record_offset())
            for it in [ArchiveIterator(fh)]
            for r in it
        }
    for r in recs:
        assert read[str(r["record_id"])] == (r["record_type"], r["offset"])


def test_quiet_x_ticks_then_a_new_mention_seal_the_polls_and_the_mention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = LiveX(bearer_token=TOKEN)
    city = world.add_user("cityofbozeman", "City of Bozeman")
    maria = world.add_user("maria", "Maria")
    post = world.post(city, "Water main break at Babcock and Willson.")
    world.post(maria, "@cityofbozeman brown water?", reply_to=post)
    monkeypatch.setenv("X_TOKEN", TOKEN)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path, site_toml("xc", "x", server.url, "cityofbozeman", token_env="X_TOKEN")
        )
        assert _tick(config, "xc").bundles  # the first mention is captured at once
        quiet = [_tick(config, "xc") for _ in range(4)]
        assert all(not r.bundles and r.spooled for r in quiet)
        # Identical answers of later quiet ticks are revisits of the first spooled one.
        spooled = [QuietSpool.read(p) for p in _spool(config, "xc").pending()]
        kinds = [rec.ref.record_type for t in spooled[1:] for rec, _ in t.records]
        assert "revisit" in kinds
        new = world.post(maria, "@cityofbozeman still brown", reply_to=post)
        found = _tick(config, "xc")
    assert found.carried == 4 and len(found.bundles) == 1
    ticks, recs = _records(config, found.bundles[0])
    assert [t[0] for t in ticks] == [r.run_id for r in quiet]
    ids = {str(r["record_id"]) for r in recs}
    for t in spooled:  # the spooled records, unchanged ids, all in the sealed bundle
        assert {rec.ref.record_id for rec, _ in t.records} <= ids
    # A revisit of a spooled original names the bundle that now holds the original.
    for r in recs:
        if r["record_type"] == "revisit" and str(r["refers_to_record_id"]) in ids:
            assert r["refers_to_bundle"] == found.bundles[0]
    rows = catalog_rows(config, "SELECT platform_id FROM items WHERE platform_id = ?", (new,))
    assert len(rows) == 1


def test_a_quiet_period_is_sealed_once_it_is_due(tmp_path: Path) -> None:
    world = FeedWorld()
    world.add_entry("n1", "Leaf pickup starts", "<p>Monday.</p>")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("news", "rss", server.url, "/news/rss.xml"),
            head='[fastlane]\nquiet_seal_every = "2s"\n',
        )
        harvest(config, "news", full=True)
        first = _tick(config, "news")
        assert first.spooled and not first.bundles
        time.sleep(2.1)  # the period is the behaviour under test, not a speed target
        due = _tick(config, "news")
    assert due.carried == 1 and len(due.bundles) == 1 and not due.spooled
    assert not _spool(config, "news").holds_any()


_CHILD = """
import os, signal, sys
from archiver.app import open_app
from archiver.fastlane import run_once
from archiver.harvest import Harvester
app = open_app(sys.argv[1])
h = Harvester(app.cfg, app.catalog, app.storage)
for _ in range(int(sys.argv[2])):
    assert run_once(h, app.cfg.site("news")).spooled
if sys.argv[3] == "in-seal":  # die after the spool is claimed, while the bundle is sealed
    import archiver.bundle as bundle
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    bundle.BundleWriter.seal = die
    from archiver.fastlane import seal_quiet
    seal_quiet(h, app.cfg.site("news"))
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_child(config: Path, ticks: int, where: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(config), str(ticks), where],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("where", ["between-ticks", "in-seal"])
def test_a_kill_9_loses_no_spooled_poll_and_the_next_start_seals_them(
    tmp_path: Path, where: str
) -> None:
    world = FeedWorld()
    world.add_entry("n1", "Leaf pickup starts", "<p>Monday.</p>")
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("news", "rss", server.url, "/news/rss.xml"))
        harvest(config, "news", full=True)
        before = _bundles(config)
        _killed_child(config, 3, where)
        spool = _spool(config, "news")
        assert spool.holds_any()
        if where == "in-seal":  # killed with the ticks claimed by a bundle never sealed
            assert not spool.pending() and any(spool.claims.iterdir())
            assert list((config.parent / "archive" / "staging").glob("*.partial"))
        assert _bundles(config) == before  # nothing half-sealed was cataloged
        quiet_runs = [
            r["id"]
            for r in catalog_rows(config, "SELECT id, counts_json FROM runs ORDER BY started_at")
            if "spooled_exchanges" in str(r["counts_json"])
        ]
        assert len(quiet_runs) == 3

        app = open_app(str(config))
        lane = FastLane(app, FastLaneSettings(enabled=True, interval=3600))
        lane.start()  # each site's thread seals its spool before its first tick
        deadline = time.monotonic() + 60
        while _bundles(config) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _bundles(config) != before, "the spool left by the kill was not sealed"
        lane.stop()  # seals what the lane's own (quiet) tick spooled
        app.close()
    assert not spool.holds_any()
    carried = []
    for bundle_id in _bundles(config) - before:
        ticks, _ = _records(config, bundle_id)
        carried += [t[0] for t in ticks]
    assert len(carried) == len(set(carried))  # no tick sealed twice
    assert set(quiet_runs) <= set(carried)  # none lost
    assert not list((config.parent / "archive" / "staging").glob("*.partial"))


def test_status_shows_quiet_polls_waiting_unsealed_and_when_they_are_overdue(
    tmp_path: Path,
) -> None:
    """Quiet polls are fsynced but not sealed, signed or on WORM storage until the site's
    next bundle: status says how many wait since when, and says "overdue" once nothing has
    sealed them for longer than the daemon would have."""
    world = FeedWorld()
    world.add_entry("n1", "Leaf pickup starts", "<p>Monday.</p>")
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("news", "rss", server.url, "/news/rss.xml"))
        harvest(config, "news", full=True)
        out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(config)])
        assert json.loads(out.stdout)["quiet_spool"] == {}
        _tick(config, "news")
        _tick(config, "news")
    out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(config)])
    data = json.loads(out.stdout)
    oldest = _spool(config, "news").oldest()
    assert oldest is not None
    assert data["quiet_spool"]["news"]["ticks"] == 2
    assert data["quiet_spool"]["news"]["oldest"].endswith(("-07:00", "-06:00"))  # Denver
    [note] = [n for n in data["notes"] if "quiet poll" in n]
    assert note.startswith("fast lane news: 2 quiet poll(s) since ")
    assert "not yet sealed" in note and "overdue" not in note
    app = open_test_app(config)
    try:
        late = quiet_spool_section(app.cfg, oldest + timedelta(days=1))
        on_time = quiet_spool_section(app.cfg, oldest + timedelta(minutes=5))
    finally:
        app.close()
    assert "overdue" in late["notes"][0] and "archiver harvest news" in late["notes"][0]
    assert "overdue" not in on_time["notes"][0]
