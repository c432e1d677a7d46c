"""Interrupted work is visible and heals itself.

* A harvest whose process is gone shows as "interrupted" in ``status`` (not "running"), and
  ``recover`` closes the run; a live one still shows "running".
* A ``disposition execute`` killed at the delete step: ``verify`` reports "disposal in
  progress" for that bundle instead of failing on a missing bundle, and ``recover`` finishes
  the disposal (tombstone, status, the half-deleted folder gone).

The kills are real: a subprocess runs the real code and dies by ``os._exit`` (or SIGKILL)
at the chosen step; only the function at which it dies is replaced inside that subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from archiver.retention import disposition as d
from archiver.retention.eligibility import load_settings
from tests.helpers import catalog_rows, site_toml, write_config
from tests.resources.conftest import no_traceback, run_cli
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for, kill_disposition_mid_delete

HANG_IN_CATALOG = textwrap.dedent(
    """
    import sys, time
    import archiver.harvest as harvest

    def hang(*_args, **_kwargs):
        print("sealed", flush=True)
        time.sleep(600)

    harvest.ingest_bundle = hang
    from archiver.cli import main
    sys.argv = ["archiver", "--config", sys.argv[1], "harvest", "--full"]
    main()
    """
)


@pytest.fixture(scope="module")
def mastodon() -> Iterator[FakeServer]:
    w: MastodonWorld
    w, _city = build_demo_world(statuses=15, followers=10, seed=4)
    w.rate_limit = 1_000_000
    with FakeServer(w) as srv:
        yield srv


def _last_run(config: Path) -> dict[str, object]:
    result = run_cli(config, "status", "--json")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    last: dict[str, object] = json.loads(result.stdout)["sites"][0]["last_run"]
    return last


def test_killed_harvest_shows_interrupted(tmp_path: Path, mastodon: FakeServer) -> None:
    config = write_config(tmp_path, site_toml("city", "mastodon", mastodon.url, "cityofbozeman"))
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG_IN_CATALOG, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="CRITICAL"),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "sealed"  # the run is live, mid-catalog
        live = _last_run(config)
        assert live["status"] == "running" and live["pid"] == proc.pid
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    dead = _last_run(config)
    assert dead["status"] == "interrupted", dead
    assert f"pid {proc.pid}" in str(dead["error"]) and "recover" in str(dead["error"])
    text = run_cli(config, "status")
    assert "interrupted" in text.stdout and "last run interrupted" in text.stderr, text.stderr

    healed = run_cli(config, "recover", "--json")
    assert healed.returncode == 0, healed.stderr
    report = json.loads(healed.stdout)
    assert report["runs_interrupted"] == 1 and report["cataloged"] >= 1
    assert catalog_rows(config, "SELECT status FROM runs")[0]["status"] == "abandoned"
    assert run_cli(config, "verify", "--all").returncode == 0


def test_killed_disposition_is_in_progress_then_healed_by_recover(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive()
    bid, victim, _key = kill_disposition_mid_delete(config)
    bundles = config.parent / "archive" / "bundles"

    # Until recover: verify names it as a disposal in progress and does not fail.
    checked = run_cli(config, "verify", "--all", "--json")
    no_traceback(checked)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["disposal_in_progress"] == {victim: bid}
    assert report["problems"] == [] and report["uncataloged"] == []
    text = run_cli(config, "verify", "--all")
    assert text.returncode == 0, text.stdout + text.stderr
    assert f"disposal in progress: bundle {victim} (batch {bid})" in text.stderr
    assert "missing" not in text.stdout + text.stderr
    assert "1 bundle(s) in an unfinished disposal not checked" in text.stdout

    healed = run_cli(config, "recover", "--json")
    assert healed.returncode == 0, healed.stderr
    assert victim in json.loads(healed.stdout)["disposals_finished"]
    state = catalog_rows(config, "SELECT state FROM batch_bundles WHERE bundle_id = ?", (victim,))[
        0
    ]["state"]
    assert state == "disposed"
    assert (
        catalog_rows(config, "SELECT status FROM bundles WHERE id = ?", (victim,))[0]["status"]
        == "disposed"
    )
    assert catalog_rows(config, "SELECT key FROM tombstones WHERE bundle_id = ?", (victim,))
    assert not list(bundles.rglob("*.deleting"))
    after = run_cli(config, "verify", "--all", "--json")
    assert after.returncode == 0, after.stdout
    assert json.loads(after.stdout)["disposal_in_progress"] == {}
    # The batch itself can still be finished by a person (the rest is re-checked then).
    app = app_for(config)
    try:
        done = d.execute(
            app, load_settings(app.cfg), batch_id=bid, by="Ed Executor", today=FAR_FUTURE
        )
    finally:
        app.close()
    assert done.status == "executed"
    assert run_cli(config, "verify", "--all").returncode == 0
