"""The daemon as systemd runs it: notify, watchdog, schedules that persist, signals, back-off."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.testing import FakeServer
from tests.daemon.conftest import (
    REPO,
    DaemonProcess,
    NotifySocket,
    SlowApp,
    rows,
    runs,
    wait_for,
)
from tests.helpers import site_toml, write_config

SITE = "bozeman-mastodon"
Start = Callable[[Path], DaemonProcess]


def config_for(tmp_path: Path, url: str, *sites: tuple[str, str, str], daemon: str = "") -> Path:
    """``sites`` are (id, account, interval); a fast daemon section for tests."""
    head = "[daemon]\nstop_grace_seconds = 1\n" + daemon
    return write_config(
        tmp_path,
        *(
            site_toml(i, "mastodon", url, acct, extra=f'interval = "{every}"')
            for i, acct, every in sites
        ),
        head=head,
    )


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_jobs(config: Path) -> list[str]:
    return [r["id"] for r in rows(config, "SELECT id FROM apscheduler_jobs ORDER BY id")]


def test_ready_watchdog_harvests_and_sigterm_mid_harvest_leaves_nothing_half_sealed(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, app = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "2s"))
    daemon = start_daemon(config)

    notify.wait_line("READY=1")
    notify.wait_line("WATCHDOG=1", at_least=3)
    wait_for("two succeeded harvests", lambda: len(runs(config, SITE, "succeeded")) >= 2)
    assert any(
        line.startswith("STATUS=idle, next: bozeman-mastodon at ") for line in notify.lines()
    )

    # The platform turns slow; stop the daemon while a harvest is in flight. The grace period
    # (1 s) is shorter than the harvest, so the daemon must abandon it safely.
    app.delay = 0.4
    before = {r["id"] for r in runs(config, SITE)}
    wait_for(
        "a harvest in flight",
        lambda: [r for r in runs(config, SITE, "running") if r["id"] not in before],
    )
    wait_for("STATUS=harvesting", lambda: "STATUS=harvesting bozeman-mastodon" in notify.lines())
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    app.delay = 0.0

    assert "STOPPING=1" in notify.lines()
    interrupted = [r for r in runs(config, SITE) if r["id"] not in before]
    assert [r["status"] for r in interrupted] == ["abandoned"], daemon.log()
    abandoned_run = interrupted[0]["id"]
    assert rows(config, "SELECT id FROM bundles WHERE run_id = ?", (abandoned_run,)) == []
    staging = tmp_path / "archive" / "staging"
    assert not [p for p in staging.rglob("*.partial")], "unsealed staging left behind"
    assert not [p for p in staging.rglob("*.sealed")]
    assert abandoned_run not in "".join(
        str(p) for p in (tmp_path / "archive" / "bundles").rglob("*")
    )
    job = rows(
        config,
        "SELECT result FROM job_runs WHERE job_id = ? ORDER BY id DESC LIMIT 1",
        (f"harvest:{SITE}",),
    )
    assert job[0]["result"] == "abandoned"
    lines = [json.loads(x) for x in daemon.log().splitlines() if x.startswith("{")]
    harvest_lines = [x for x in lines if x["event"] in ("harvest_started", "bundle_published")]
    assert harvest_lines and all(x.get("site") == SITE and x.get("run") for x in harvest_lines)
    assert all(x.get("bundle") for x in harvest_lines if x["event"] == "bundle_published")

    verify = cli(config, "verify", "--all")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _set_next_run(config: Path, job_id: str, when: datetime) -> None:
    """What a long outage looks like in the job store: a next run time far in the past."""
    import sqlite3

    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite", timeout=30)
    try:
        (blob,) = db.execute(
            "SELECT job_state FROM apscheduler_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        state: dict[str, Any] = pickle.loads(blob)
        state["next_run_time"] = when
        db.execute(
            "UPDATE apscheduler_jobs SET job_state = ?, next_run_time = ? WHERE id = ?",
            (pickle.dumps(state, pickle.HIGHEST_PROTOCOL), when.timestamp(), job_id),
        )
        db.commit()
    finally:
        db.close()


def test_restart_keeps_the_schedule_and_a_long_missed_harvest_runs_once(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "10m"))
    first = start_daemon(config)
    notify.wait_line("READY=1")
    jobs = stored_jobs(config)
    assert f"harvest:{SITE}" in jobs
    assert {"fixity:nightly", "verify:weekly", "retention:daily", "report:monthly"} <= set(jobs)
    assert first.stop() == 0
    assert runs(config, SITE) == []  # a 10-minute interval has not come round yet

    # Down for five days: 720 runs missed. coalesce must turn them into exactly one.
    _set_next_run(config, f"harvest:{SITE}", datetime.now(UTC) - timedelta(days=5))
    second = start_daemon(config)
    notify.wait_line("READY=1", at_least=2)
    wait_for("the catch-up harvest", lambda: runs(config, SITE, "succeeded"))

    def rescheduled() -> bool:
        r = rows(
            config, "SELECT next_run_time FROM apscheduler_jobs WHERE id = ?", (f"harvest:{SITE}",)
        )
        return bool(r) and r[0]["next_run_time"] > datetime.now(UTC).timestamp() + 60

    wait_for("the next run to be in the future", rescheduled)
    notify.wait_line("WATCHDOG=1", at_least=notify.count("WATCHDOG=1") + 2)
    assert len(runs(config, SITE)) == 1
    harvest_jobs = rows(
        config, "SELECT result FROM job_runs WHERE job_id = ?", (f"harvest:{SITE}",)
    )
    assert [r["result"] for r in harvest_jobs] == ["succeeded"]
    assert stored_jobs(config) == jobs  # same ids, no duplicates, nothing re-added
    assert second.stop() == 0


def test_sighup_adds_and_removes_sites_without_a_restart(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "2s"))
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("a harvest of the first site", lambda: runs(config, SITE, "succeeded"))
    assert "harvest:bozeman-parks" not in stored_jobs(config)

    config_for(
        tmp_path,
        server.url,
        (SITE, "cityofbozeman", "2s"),
        ("bozeman-parks", "bozemanparks", "2s"),
    )
    daemon.send(signal.SIGHUP)
    notify.wait_line("RELOADING=1")
    notify.wait_line("READY=1", at_least=2)
    assert "harvest:bozeman-parks" in stored_jobs(config)
    wait_for("a harvest of the added site", lambda: runs(config, "bozeman-parks", "succeeded"))

    config_for(tmp_path, server.url, ("bozeman-parks", "bozemanparks", "2s"))
    daemon.send(signal.SIGHUP)
    notify.wait_line("READY=1", at_least=3)
    assert f"harvest:{SITE}" not in stored_jobs(config)
    assert "harvest:bozeman-parks" in stored_jobs(config)
    assert daemon.proc.poll() is None, "a reload must not restart the process"
    assert daemon.stop() == 0


def test_a_failing_site_backs_off_and_never_stops_the_others(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(
        tmp_path,
        server.url,
        (SITE, "cityofbozeman", "2s"),
        ("ghost-account", "nobody-here", "2s"),
    )
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for(
        "two failures of the bad site", lambda: len(runs(config, "ghost-account", "failed")) >= 2
    )
    wait_for(
        "a back-off skip of the bad site",
        lambda: rows(
            config,
            "SELECT 1 FROM job_runs WHERE job_id = 'harvest:ghost-account' AND result = 'skipped'",
        ),
    )
    ok_before = len(runs(config, SITE, "succeeded"))
    wait_for(
        "the good site to keep harvesting", lambda: len(runs(config, SITE, "succeeded")) > ok_before
    )

    status = cli(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    jobs = {j["id"]: j for j in data["jobs"]}
    bad = jobs["harvest:ghost-account"]
    assert bad["backoff"]["consecutive_failures"] >= 2
    assert bad["backoff"]["skip_until"]
    assert "nobody-here" in bad["backoff"]["last_error"]
    assert bad["last_run"]["result"] == "failed"
    assert jobs[f"harvest:{SITE}"]["last_run"]["result"] == "succeeded"
    assert jobs[f"harvest:{SITE}"]["backoff"] is None
    assert jobs[f"harvest:{SITE}"]["next_run"]
    assert any("harvest:ghost-account: backing off" in n for n in data["notes"])
    assert daemon.stop() == 0


def test_status_reads_the_schedule_when_the_daemon_is_not_running(tmp_path: Path) -> None:
    config = config_for(tmp_path, "http://127.0.0.1:9", (SITE, "cityofbozeman", "1h"))
    data = json.loads(cli(config, "status", "--json").stdout)
    assert data["jobs"] == []
    assert any("no job schedule yet" in n for n in data["notes"])
