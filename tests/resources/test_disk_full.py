"""A disk that fills up during a harvest: one line naming the path and the fix, nothing lost.

The archive lives on a real 16 MB tmpfs; a filler file leaves a chosen number of bytes free,
so the harvest runs out of room at a different step each time (opening the catalog, writing
WARCs, sealing the bundle's records.sqlite, cataloging). Afterwards every visible bundle still
verifies, the bookmarks did not move, and once space is freed the next harvest completes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from tests.helpers import site_toml, write_config
from tests.resources.conftest import Tmpfs, no_traceback, one_error_line, run_cli


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeServer, MastodonWorld]]:
    world, _city = build_demo_world(statuses=200, followers=50, seed=5)
    world.rate_limit = 1_000_000
    with FakeServer(world) as srv:
        yield srv, world


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("leave", [0, 16_384, 65_536, 196_608, 393_216, 786_432])
def test_disk_full_during_harvest(
    tmpfs: Tmpfs, server: tuple[FakeServer, MastodonWorld], leave: int
) -> None:
    srv, _world = server
    config = write_config(tmpfs.path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    catalog = tmpfs.path / "archive" / "catalog.sqlite"
    first = run_cli(config, "harvest")
    assert first.returncode == 0, first.stderr
    marks = _rows(catalog, "SELECT site_id, key, value FROM bookmarks ORDER BY 1, 2")
    tmpfs.fill(leave)

    full = run_cli(config, "harvest", "--full")
    no_traceback(full)
    if full.returncode != 0:
        line = one_error_line(full)
        assert str(tmpfs.path / "archive") in line, line
        assert "No space left on device" in line and "free space" in line, line
    staging = tmpfs.path / "archive" / "staging"
    assert not list(staging.glob("*.partial")), "a half-written bundle was left"

    # Read-only work goes on while the disk is full; nothing visible is broken.
    checked = run_cli(config, "verify", "--all", "--json")
    no_traceback(checked)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["ok"] is True
    status = run_cli(config, "status")
    no_traceback(status)
    assert status.returncode == 0, status.stderr
    if full.returncode != 0:
        # A harvest that failed never moves a bookmark.
        assert _rows(catalog, "SELECT site_id, key, value FROM bookmarks ORDER BY 1, 2") == marks

    tmpfs.unfill()
    healed = run_cli(config, "harvest", "--full")
    assert healed.returncode == 0, healed.stderr
    final = run_cli(config, "verify", "--all", "--json")
    assert final.returncode == 0 and json.loads(final.stdout)["ok"] is True, final.stdout
    on_disk = {p.name for p in (tmpfs.path / "archive" / "bundles").glob("city/*/*")}
    cataloged = {str(r[0]) for r in _rows(catalog, "SELECT id FROM bundles")}
    assert on_disk == cataloged  # every sealed bundle kept and cataloged exactly once


FILL_AT = textwrap.dedent(
    """
    import os, sys
    import archiver.bundle as bundle
    import archiver.harvest as harvest

    point, config, mnt = sys.argv[1:4]

    def fill():
        st = os.statvfs(mnt)
        with open(os.path.join(mnt, "filler.bin"), "ab") as fh:
            try:
                fh.write(b"\\0" * (st.f_bavail * st.f_frsize))
                fh.flush()
            except OSError:
                pass

    def before(fn):
        def wrapped(*args, **kwargs):
            fill()
            return fn(*args, **kwargs)
        return wrapped

    if point == "seal":
        bundle.BundleWriter.seal = before(bundle.BundleWriter.seal)
    elif point == "catalog":
        harvest.ingest_bundle = before(harvest.ingest_bundle)
    from archiver.cli import main
    sys.argv = ["archiver", "--config", config, "harvest", "--full"]
    main()
    """
)


@pytest.mark.parametrize("point", ["seal", "catalog"])
def test_disk_fills_at_a_chosen_step(
    tmpfs: Tmpfs, server: tuple[FakeServer, MastodonWorld], point: str
) -> None:
    """The disk fills exactly when sealing starts / when cataloging starts (the filler is
    written by the harvest process itself at that moment, on the real tmpfs)."""
    srv, _world = server
    config = write_config(tmpfs.path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    catalog = tmpfs.path / "archive" / "catalog.sqlite"
    assert run_cli(config, "harvest").returncode == 0
    marks = _rows(catalog, "SELECT site_id, key, value FROM bookmarks ORDER BY 1, 2")
    full = subprocess.run(
        [sys.executable, "-c", FILL_AT, point, str(config), str(tmpfs.path)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="400", ARCHIVER_LOG_LEVEL="CRITICAL"),
    )
    assert full.returncode != 0
    line = one_error_line(full)
    assert str(tmpfs.path / "archive") in line and "No space left on device" in line, line
    assert tmpfs.filler.stat().st_size > 0  # the disk was filled by the harvest process
    staging = tmpfs.path / "archive" / "staging"
    assert not list(staging.glob("*.partial"))
    checked = run_cli(config, "verify", "--all", "--json")
    no_traceback(checked)
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True, checked.stdout
    if point == "seal":
        assert _rows(catalog, "SELECT site_id, key, value FROM bookmarks ORDER BY 1, 2") == marks

    tmpfs.unfill()
    healed = run_cli(config, "recover")
    assert healed.returncode == 0, healed.stderr
    again = run_cli(config, "harvest")
    assert again.returncode == 0, again.stderr
    final = run_cli(config, "verify", "--all", "--json")
    report = json.loads(final.stdout)
    assert final.returncode == 0 and report["ok"] and report["uncataloged"] == [], final.stdout
    on_disk = {p.name for p in (tmpfs.path / "archive" / "bundles").glob("city/*/*")}
    cataloged = {str(r[0]) for r in _rows(catalog, "SELECT id FROM bundles")}
    assert on_disk == cataloged
    assert not list(staging.glob("*.sealed")) and not list(staging.glob("*.partial"))
