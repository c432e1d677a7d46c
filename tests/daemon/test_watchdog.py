"""Watchdog pings only while the daemon is live: a hung job or a dead scheduler stops them.

The decision is a pure function (unit-tested here); the daemon test runs the real process
against a real notify socket and a platform that turns slow enough to exceed the limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fakeplatforms import FakeServer

from archiver.config import load_config
from archiver.daemon.scheduler import daemon_settings
from archiver.daemon.service import liveness_problem
from archiver.errors import ConfigError
from tests.daemon.conftest import (
    DaemonProcess,
    NotifySocket,
    SlowApp,
    config_for,
    runs,
    wait_for,
)
from tests.helpers import site_toml, write_config

SITE = "bozeman-mastodon"
HOUR = 3600.0
NOW = 1_900_000_000.0


def test_live_when_the_scheduler_runs_and_no_job_is_over_the_limit() -> None:
    assert (
        liveness_problem(scheduler_alive=True, running_since={}, now=NOW, max_job_runtime=HOUR)
        is None
    )
    assert (
        liveness_problem(
            scheduler_alive=True,
            running_since={"harvest:a": NOW - HOUR + 1, "fixity:nightly": NOW - 5},
            now=NOW,
            max_job_runtime=HOUR,
        )
        is None
    )


def test_a_job_over_the_limit_stops_the_pings_with_a_stable_reason() -> None:
    running = {"harvest:a": NOW - 7 * HOUR, "harvest:b": NOW - 10, "verify:weekly": NOW - 9 * HOUR}
    first = liveness_problem(
        scheduler_alive=True, running_since=running, now=NOW, max_job_runtime=6 * HOUR
    )
    assert first is not None
    assert first.startswith("verify:weekly has been running since ")  # the oldest first
    assert "longer than max_job_runtime (6h)" in first and "(and 1 more)" in first
    assert "harvest:b" not in first
    later = liveness_problem(
        scheduler_alive=True, running_since=running, now=NOW + 60, max_job_runtime=6 * HOUR
    )
    assert later == first  # STATUS= is not re-sent every second


def test_a_dead_scheduler_thread_stops_the_pings() -> None:
    problem = liveness_problem(
        scheduler_alive=False, running_since={}, now=NOW, max_job_runtime=HOUR
    )
    assert problem is not None and "scheduler thread has stopped" in problem


def test_max_job_runtime_setting(tmp_path: Path) -> None:
    site = site_toml("s1", "mastodon", "http://127.0.0.1:9", "x")
    assert daemon_settings(load_config(write_config(tmp_path, site))).max_job_runtime == 6 * HOUR
    cfg = load_config(write_config(tmp_path, site, head='[daemon]\nmax_job_runtime = "90m"\n'))
    assert daemon_settings(cfg).max_job_runtime == 5400.0
    path = write_config(tmp_path, site, head='[daemon]\nmax_job_runtime = "forever"\n')
    with pytest.raises(ConfigError) as err:
        daemon_settings(load_config(path))
    assert f"{path}: daemon.max_job_runtime" in str(err.value)


def test_a_hung_harvest_stops_watchdog_pings_until_it_finishes(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Callable[[Path], DaemonProcess],
) -> None:
    server, app = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "1h"))
    config.write_text(config.read_text().replace("[daemon]\n", "[daemon]\nmax_job_runtime = 1\n"))
    app.delay = 0.5  # every request takes half a second: the harvest outlives the 1 s limit
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    prefix = f"STATUS=UNHEALTHY, watchdog pings stopped: harvest:{SITE} has been running since "

    def unhealthy_at() -> int | None:
        lines = notify.lines()
        return next((i for i, x in enumerate(lines) if x.startswith(prefix)), None)

    wait_for("the unhealthy STATUS= line", lambda: unhealthy_at() is not None)
    # Proving an absence needs a wait: longer than the 2 s watchdog period (WATCHDOG_USEC).
    time.sleep(3.0)
    start = unhealthy_at()
    assert start is not None
    assert "WATCHDOG=1" not in notify.lines()[start:], "pinged while a job was hung"
    assert runs(config, SITE, "running"), "the harvest should still be in flight"

    app.delay = 0.0  # the platform recovers; the harvest finishes and pings resume
    wait_for("the harvest to finish", lambda: runs(config, SITE, "succeeded"))
    wait_for("watchdog pings to resume", lambda: "WATCHDOG=1" in notify.lines()[start:])
    after = notify.lines()[start:]
    assert any(x.startswith("STATUS=idle") for x in after)
    assert daemon.stop() == 0
    events = [json.loads(x) for x in daemon.log().splitlines() if x.startswith("{")]
    withheld = [e for e in events if e["event"] == "watchdog_withheld"]
    assert len(withheld) == 1 and "max_job_runtime (1s)" in withheld[0]["reason"]
    assert [e for e in events if e["event"] == "watchdog_resumed"]
