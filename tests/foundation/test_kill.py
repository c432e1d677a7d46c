"""A harvest killed with SIGKILL at a random moment leaves nothing that looks complete."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer

from tests.helpers import catalog_rows, site_toml, write_config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="CRITICAL"),
    )


def test_sigkill_mid_harvest_then_verify_and_resume(tmp_path: Path) -> None:
    world, _city = build_demo_world(statuses=300, followers=3000, seed=11)
    world.rate_limit = 1_000_000
    rng = random.Random()
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
        kills = rounds = 0
        upper = 2.0
        # At least three rounds, and more (up to eight) until one was killed mid-run: a harvest
        # that outran its random kill moment (a quiet machine, a faster harvest) makes the next
        # moment earlier instead of leaving the test without a kill.
        while rounds < 3 or (kills == 0 and rounds < 8):
            rounds += 1
            proc = subprocess.Popen(
                [sys.executable, "-m", "archiver", "--config", str(config), "harvest", "--full"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.2, upper))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            else:
                upper = max(0.4, upper / 2)
            proc.wait()
            # Whatever is visible must be complete and verify.
            verify = _cli(config, "verify", "--all")
            published = list((config.parent / "archive" / "bundles").glob("*/*/*"))
            if not published:  # killed before anything was visible: nothing to call OK
                assert verify.returncode == 2 and "nothing to verify" in verify.stderr
                continue
            assert verify.returncode == 0, verify.stdout + verify.stderr
        assert kills >= 1, "the harvest finished before any kill; make the world larger"
        done = _cli(config, "harvest", "--full")
        assert done.returncode == 0, done.stderr
    runs = catalog_rows(config, "SELECT status FROM runs ORDER BY started_at")
    assert runs[-1]["status"] == "succeeded"
    assert {r["status"] for r in runs[:-1]} <= {"abandoned", "succeeded"}
    assert catalog_rows(config, "SELECT count(*) AS n FROM items WHERE kind='post'")[0]["n"] == 300
    staging = config.parent / "archive" / "staging"
    assert not list(staging.glob("*.partial"))
    final = _cli(config, "verify", "--all")
    assert final.returncode == 0, final.stdout + final.stderr
