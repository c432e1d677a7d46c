"""Plain ``archiver status`` shows each daemon job's next run, last result and back-off.

The job store is seeded the way the daemon fills it (a real APScheduler ``SQLAlchemyJobStore``
reconciled against the config, real ``job_runs`` and ``harvest_backoff`` rows written by the
scheduler module's own functions); the command runs as a subprocess, as a clerk would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from archiver.config import SiteConfig
from archiver.daemon import scheduler as sched
from tests.daemon.conftest import REPO, config_for, set_next_run
from tests.helpers import open_test_app

NEXT_GOOD = datetime(2031, 7, 4, 18, 30, tzinfo=UTC)  # 12:30 MDT
NEXT_BAD = datetime(2031, 1, 15, 20, 0, tzinfo=UTC)  # 13:00 MST


def status_text(config: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), "status"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def seed(config: Path) -> None:
    app = open_test_app(config)
    try:
        settings = sched.daemon_settings(app.cfg)
        scheduler = sched.build_scheduler(app.catalog.engine, settings, app.cfg.timezone)
        scheduler.start(paused=True)
        try:
            sched.reconcile(scheduler, sched.desired_jobs(app.cfg, settings))
        finally:
            scheduler.shutdown(wait=False)
        good = sched.record_start(app.catalog, "harvest:good-site")
        sched.record_finish(app.catalog, good, result="succeeded")
        site: SiteConfig = app.cfg.site("bad-site")
        for _ in range(3):
            pk = sched.record_start(app.catalog, "harvest:bad-site")
            sched.note_failure(app.catalog, site, "account @nobody-here not found")
            sched.record_finish(
                app.catalog, pk, result="failed", error="account @nobody-here not found"
            )
        sched.record_start(app.catalog, "fixity:nightly")  # still running
    finally:
        app.close()
    set_next_run(config, "harvest:good-site", NEXT_GOOD)
    set_next_run(config, "harvest:bad-site", NEXT_BAD)


def test_plain_status_shows_next_run_last_result_and_backoff(tmp_path: Path) -> None:
    config = config_for(
        tmp_path,
        "http://127.0.0.1:9",
        ("good-site", "cityofbozeman", "1h"),
        ("bad-site", "nobody-here", "1h"),
    )
    seed(config)
    result = status_text(config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    print(out)  # shown with -s; the table a clerk sees
    assert "Daemon jobs (times in America/Denver)" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ")}
    good = lines["harvest:good-site"]
    assert "2031-07-04 12:30 MDT" in good  # next run, in the archive's zone
    assert "succeeded" in good and "never run" not in good
    bad = lines["harvest:bad-site"]
    assert "2031-01-15 13:00 MST" in bad
    assert "failed" in bad
    assert "3 failure(s) in a row; skipping runs until" in bad
    assert "running since" in lines["fixity:nightly"]
    for job in ("verify:weekly", "retention:daily", "report:monthly"):
        assert "never run" in lines[job], job
        assert " MDT" in lines[job] or " MST" in lines[job], job
    assert "UTC" not in good and "UTC" not in bad
    assert "harvest:bad-site: backing off after 3 consecutive failures" in result.stderr


def test_plain_status_without_a_schedule_prints_no_jobs_table(tmp_path: Path) -> None:
    config = config_for(tmp_path, "http://127.0.0.1:9", ("good-site", "cityofbozeman", "1h"))
    result = status_text(config)
    assert result.returncode == 0, result.stderr
    assert "Daemon jobs" not in result.stdout
    assert "no job schedule yet" in result.stderr
