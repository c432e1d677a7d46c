"""The daemon as systemd runs it: notify, watchdog, schedules that persist, signals, back-off."""

from __future__ import annotations

import itertools
import json
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakeplatforms import FakeServer

from tests.daemon.conftest import (
    REPO,
    DaemonProcess,
    NotifySocket,
    SlowApp,
    config_for,
    rows,
    runs,
    set_next_run,
    wait_for,
)
from tests.helpers import harvest, site_toml, write_config

SITE = "bozeman-mastodon"
Start = Callable[[Path], DaemonProcess]


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
    text_lines = [x for x in daemon.log().splitlines() if x.strip()]
    assert all(x.startswith("{") for x in text_lines), "every log line must be JSON"
    lines = [json.loads(x) for x in text_lines]
    harvest_lines = [x for x in lines if x["event"] in ("harvest_started", "bundle_published")]
    assert harvest_lines and all(x.get("site") == SITE and x.get("run") for x in harvest_lines)
    assert all(x.get("bundle") for x in harvest_lines if x["event"] == "bundle_published")
    # At the unit's level, each harvest and each seal is one INFO line with ids and counts.
    finished = [x for x in lines if x["event"] == "harvest_finished"]
    assert len(finished) >= 2, daemon.log()
    for x in finished:
        assert x["level"] == "info" and x["site"] == SITE and x["run"].startswith("run-")
        assert x["counts"]["post"] > 0 and x["timestamp"].endswith("Z")
    sealed = [x for x in lines if x["event"] == "bundle_sealed"]
    assert sealed and all(x["level"] == "info" and x["bundle"] and x["run"] for x in sealed)
    assert {x["record_class"] for x in sealed} >= {"posts"}
    assert all(isinstance(x["counts"], dict) for x in sealed)
    assert any(sum(x["counts"].values()) > 0 for x in sealed), sealed

    verify = cli(config, "verify", "--all")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_restart_keeps_the_schedule_and_a_long_missed_harvest_runs_once(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "10m"), grace=60)
    first = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("the first harvest of a new site", lambda: runs(config, SITE, "succeeded"))
    jobs = stored_jobs(config)
    assert f"harvest:{SITE}" in jobs
    assert {"fixity:nightly", "verify:weekly", "retention:daily", "report:monthly"} <= set(jobs)
    assert first.stop() == 0
    assert len(runs(config, SITE)) == 1  # the 10-minute interval has not come round yet

    # Down for five days: 720 runs missed. coalesce must turn them into exactly one.
    set_next_run(config, f"harvest:{SITE}", datetime.now(UTC) - timedelta(days=5))
    second = start_daemon(config)
    notify.wait_line("READY=1", at_least=2)
    wait_for("the catch-up harvest", lambda: len(runs(config, SITE, "succeeded")) >= 2)

    def rescheduled() -> bool:
        r = rows(
            config, "SELECT next_run_time FROM apscheduler_jobs WHERE id = ?", (f"harvest:{SITE}",)
        )
        return bool(r) and r[0]["next_run_time"] > datetime.now(UTC).timestamp() + 60

    wait_for("the next run to be in the future", rescheduled)
    notify.wait_line("WATCHDOG=1", at_least=notify.count("WATCHDOG=1") + 2)
    assert len(runs(config, SITE)) == 2
    harvest_jobs = rows(
        config, "SELECT result FROM job_runs WHERE job_id = ?", (f"harvest:{SITE}",)
    )
    assert [r["result"] for r in harvest_jobs] == ["succeeded", "succeeded"]
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
    # Every 2 s the good site's next harvest may already be in flight when status looks.
    assert jobs[f"harvest:{SITE}"]["last_run"]["result"] in ("succeeded", "running")
    finished = rows(
        config,
        "SELECT DISTINCT result FROM job_runs WHERE job_id = ? AND result != 'running'",
        (f"harvest:{SITE}",),
    )
    assert [r["result"] for r in finished] == ["succeeded"]
    assert jobs[f"harvest:{SITE}"]["backoff"] is None
    assert jobs[f"harvest:{SITE}"]["next_run"]
    assert any("harvest:ghost-account: backing off" in n for n in data["notes"])
    assert daemon.stop() == 0


def test_status_reads_the_schedule_when_the_daemon_is_not_running(tmp_path: Path) -> None:
    config = config_for(tmp_path, "http://127.0.0.1:9", (SITE, "cityofbozeman", "1h"))
    data = json.loads(cli(config, "status", "--json").stdout)
    assert data["jobs"] == []
    assert any("no job schedule yet" in n for n in data["notes"])


def test_sigterm_lets_an_in_flight_harvest_finish_within_the_grace_period(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, app = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "2s"), grace=90)
    app.delay = 0.1
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("a harvest in flight", lambda: runs(config, SITE, "running"))
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    assert [r["status"] for r in runs(config, SITE)] == ["succeeded"], daemon.log()
    assert cli(config, "verify", "--all").returncode == 0


def test_nightly_fixity_and_monthly_report_run_from_the_daemon(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    from tests.report.helpers import Inbox, smtp_server, smtp_toml

    server, _ = platform
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "1h"))
        config.write_text(config.read_text() + "\n" + smtp_toml(port))
        first = start_daemon(config)
        notify.wait_line("READY=1")
        assert first.stop() == 0
        harvest(config, SITE)
        # Both were due while the daemon was down (e.g. the server was off over the 1st).
        past = datetime.now(UTC) - timedelta(hours=2)
        set_next_run(config, "fixity:nightly", past)
        set_next_run(config, "report:monthly", past)
        set_next_run(config, "retention:daily", past)
        second = start_daemon(config)
        notify.wait_line("READY=1", at_least=2)

        def finished(job_id: str) -> list[Any]:
            return rows(
                config,
                "SELECT result, detail_json FROM job_runs WHERE job_id = ? AND finished_at "
                "IS NOT NULL",
                (job_id,),
            )

        [fixity] = wait_for("the fixity job", lambda: finished("fixity:nightly"))
        [report] = wait_for("the report job", lambda: finished("report:monthly"))
        [retention] = wait_for("the retention job", lambda: finished("retention:daily"))
        assert second.stop() == 0
    assert fixity["result"] == "succeeded"
    detail = json.loads(fixity["detail_json"])
    assert detail["problems"] == 0 and detail["bundles_checked"] >= 1
    verified = rows(config, "SELECT 1 FROM bundles WHERE last_verify_ok = 1")
    assert len(verified) == detail["bundles_checked"]
    [audited] = rows(config, "SELECT subject, details FROM audit_log WHERE action = 'verify'")
    assert audited["subject"] == "sample"
    assert json.loads(audited["details"])["bundles_checked"] == detail["bundles_checked"]
    assert report["result"] == "succeeded", report["detail_json"]
    # The retention refresh ran (the colleague's eligibility module) and disposed of nothing.
    assert retention["result"] == "succeeded", retention["detail_json"]
    assert json.loads(retention["detail_json"])["outcome"]["bundles"] >= 1
    assert rows(config, "SELECT 1 FROM bundles WHERE status != 'sealed'") == []
    month = json.loads(report["detail_json"])["month"]
    assert len(inbox.envelopes) == 1
    assert (tmp_path / "archive" / "reports" / month / f"report-{month}.txt").exists()
    status = json.loads(cli(config, "status", "--json").stdout)
    jobs = {j["id"]: j for j in status["jobs"]}
    assert jobs["report:monthly"]["last_run"]["result"] == "succeeded"
    assert jobs["report:monthly"]["next_run"] > datetime.now(UTC).isoformat()
    assert status["report_deliveries"][0]["ok"] is True


def test_a_broken_config_on_sighup_keeps_the_old_one_running(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "2s"))
    good = config.read_text()
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    config.write_text(good + "\n[daemon]\nmax_concurrent_harvests = 0\n")
    daemon.send(signal.SIGHUP)
    notify.wait_line("READY=1", at_least=2)
    assert any(x.startswith("STATUS=config reload failed") for x in notify.lines())
    before = len(runs(config, SITE, "succeeded"))
    wait_for("harvests to continue", lambda: len(runs(config, SITE, "succeeded")) > before)
    assert f"harvest:{SITE}" in stored_jobs(config)
    config.write_text(good)
    assert daemon.stop() == 0
    human = cli(config, "status")
    assert human.returncode == 0
    assert "next harvest bozeman-mastodon at" in human.stderr


def test_daemon_on_a_postgresql_catalog(
    tmp_path: Path,
    pg_url: str,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    from sqlalchemy import create_engine, text

    server, _ = platform
    config = write_config(
        tmp_path,
        site_toml(SITE, "mastodon", server.url, "cityofbozeman", extra='interval = "2s"'),
        catalog_url=pg_url,
    )
    engine = create_engine(pg_url)

    def pg(sql: str) -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())

    try:
        daemon = start_daemon(config)
        notify.wait_line("READY=1")
        wait_for(
            "a harvest into PostgreSQL",
            lambda: pg(f"SELECT 1 FROM runs WHERE site_id = '{SITE}' AND status = 'succeeded'"),
        )
        assert daemon.stop() == 0
        jobs = [r[0] for r in pg("SELECT id FROM apscheduler_jobs ORDER BY id")]
        assert f"harvest:{SITE}" in jobs
        again = start_daemon(config)
        notify.wait_line("READY=1", at_least=2)
        assert [r[0] for r in pg("SELECT id FROM apscheduler_jobs ORDER BY id")] == jobs
        assert again.stop() == 0
        status = json.loads(cli(config, "status", "--json").stdout)
        job = {j["id"]: j for j in status["jobs"]}[f"harvest:{SITE}"]
        assert job["last_run"]["result"] == "succeeded" and job["next_run"]
    finally:
        engine.dispose()


def test_max_concurrent_harvests_is_respected(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, app = platform
    app.delay = 0.05  # long enough that unlimited harvests would overlap
    sites = [(f"site-{n}", acct, "2s") for n, acct in enumerate(["cityofbozeman"] * 3)]
    config = config_for(tmp_path, server.url, *sites)
    config.write_text(
        config.read_text().replace("[daemon]\n", "[daemon]\nmax_concurrent_harvests = 1\n")
    )
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for(
        "a harvest of every site",
        lambda: all(runs(config, s, "succeeded") for s, _, _ in sites),
    )
    assert daemon.stop() == 0
    spans = sorted(
        (r["started_at"], r["finished_at"])
        for r in rows(config, "SELECT started_at, finished_at FROM runs")
    )
    assert len(spans) >= 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two harvests overlapped: {spans}"


def _finished_runs(config: Path, job_id: str) -> list[Any]:
    return rows(
        config,
        "SELECT result, error, detail_json FROM job_runs WHERE job_id = ? "
        "AND finished_at IS NOT NULL ORDER BY id",
        (job_id,),
    )


def _flip_one_byte(path: Path) -> None:
    path.chmod(path.stat().st_mode | 0o200)  # sealed files are stored read-only
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))


def test_weekly_full_verify_runs_from_the_daemon_and_catches_a_flipped_byte(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "1h"))
    first = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("the first harvest", lambda: runs(config, SITE, "succeeded"))
    assert first.stop() == 0
    assert _finished_runs(config, "verify:weekly") == []  # Sunday 03:30 has not come round
    bundles = rows(config, "SELECT id FROM bundles WHERE status = 'sealed'")
    assert bundles

    # A clean archive: the weekly job checks every bundle and records success.
    set_next_run(config, "verify:weekly", datetime.now(UTC) - timedelta(hours=2))
    second = start_daemon(config)
    notify.wait_line("READY=1", at_least=2)
    [clean] = wait_for("the weekly verify", lambda: _finished_runs(config, "verify:weekly"))
    assert second.stop() == 0
    assert clean["result"] == "succeeded", clean["error"]
    detail = json.loads(clean["detail_json"])
    assert detail["bundles_checked"] == len(bundles)
    assert detail["problems"] == 0 and detail["files_checked"] >= len(bundles)
    [audit_ok] = rows(config, "SELECT subject, details FROM audit_log WHERE action = 'verify'")
    assert audit_ok["subject"] == "archive"
    assert json.loads(audit_ok["details"])["ok"] is True

    # One flipped bit in a sealed WARC: the next weekly run must fail and name the file.
    warcs = sorted((tmp_path / "archive" / "bundles").rglob("*.warc.gz"))
    assert warcs, "the harvest stored no WARC"
    damaged = warcs[0]
    _flip_one_byte(damaged)
    set_next_run(config, "verify:weekly", datetime.now(UTC) - timedelta(hours=2))
    third = start_daemon(config)
    notify.wait_line("READY=1", at_least=3)

    def two_runs() -> list[Any] | None:
        found = _finished_runs(config, "verify:weekly")
        return found if len(found) >= 2 else None

    done = wait_for("the second weekly verify", two_runs)
    assert third.stop() == 0
    assert len(done) == 2, "the catch-up must run once"
    bad = done[1]
    assert bad["result"] == "failed", bad["detail_json"]
    assert damaged.name in bad["error"], bad["error"]
    assert json.loads(bad["detail_json"])["problems"] >= 1
    audits = rows(
        config,
        "SELECT subject, details FROM audit_log WHERE action = 'verify' ORDER BY rowid",
    )
    assert len(audits) == 2
    assert audits[1]["subject"] == "archive"
    failed = json.loads(audits[1]["details"])
    assert failed["ok"] is False
    assert any(damaged.name in p for p in failed["first_problems"]), failed
    status = json.loads(cli(config, "status", "--json").stdout)
    weekly = {j["id"]: j for j in status["jobs"]}["verify:weekly"]
    assert weekly["last_run"]["result"] == "failed"


def _stored_job_state(config: Path, job_id: str) -> dict[str, Any]:
    found = rows(config, "SELECT job_state FROM apscheduler_jobs WHERE id = ?", (job_id,))
    assert len(found) == 1, f"expected one stored {job_id}, found {len(found)}"
    state: dict[str, Any] = pickle.loads(found[0]["job_state"])
    return state


def test_sighup_retimes_a_site_whose_interval_and_base_url_changed(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    from tests.daemon.conftest import small_world

    server, _ = platform
    job_id = f"harvest:{SITE}"
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "1h"))
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("the first harvest", lambda: runs(config, SITE, "succeeded"))
    wait_for(
        "the job to be re-timed after its first run",
        lambda: (
            _stored_job_state(config, job_id)["next_run_time"]
            > datetime.now(UTC) + timedelta(minutes=50)
        ),
    )
    before = _stored_job_state(config, job_id)
    assert before["trigger"].interval == timedelta(hours=1)
    jobs_before = stored_jobs(config)

    world, _ = small_world()
    with FakeServer(SlowApp(world)) as moved:
        config_for(tmp_path, moved.url, (SITE, "cityofbozeman", "2s"))
        reloaded_at = datetime.now(UTC)
        daemon.send(signal.SIGHUP)
        notify.wait_line("RELOADING=1")
        notify.wait_line("READY=1", at_least=2)

        after = _stored_job_state(config, job_id)
        assert after["trigger"].interval == timedelta(seconds=2)
        assert after["next_run_time"] < reloaded_at + timedelta(seconds=30), after
        # With the old 1 h interval no second harvest could happen within the deadline.
        wait_for("a harvest on the new interval", lambda: len(runs(config, SITE, "succeeded")) >= 3)
        assert moved.requests, "the harvest after the reload must use the new base_url"
        assert daemon.proc.poll() is None, "a reload must not restart the process"

        status = cli(config, "status", "--json")
        assert status.returncode == 0, status.stderr
        listed = [j for j in json.loads(status.stdout)["jobs"] if j["id"] == job_id]
        assert len(listed) == 1
        next_run = datetime.fromisoformat(listed[0]["next_run"])
        assert next_run < datetime.now(UTC) + timedelta(minutes=1), listed[0]
        assert daemon.stop() == 0

    assert stored_jobs(config) == jobs_before, "same jobs, none duplicated or added"
    lines = [json.loads(x) for x in daemon.log().splitlines() if x.startswith("{")]
    [reloaded] = [x for x in lines if x["event"] == "daemon_reloaded"]
    assert reloaded["changed"] == [job_id], reloaded
    assert reloaded["added"] == [] and reloaded["removed"] == []
    spans = sorted(
        (r["started_at"], r["finished_at"])
        for r in rows(config, "SELECT started_at, finished_at FROM runs WHERE site_id = ?", (SITE,))
    )
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two harvests of one site overlapped: {spans}"


def test_weekly_verify_is_deep_and_seals_an_audit_checkpoint(
    tmp_path: Path,
    platform: tuple[FakeServer, SlowApp],
    notify: NotifySocket,
    start_daemon: Start,
) -> None:
    """Issue 12: the weekly job recomputes the catalog from the sealed records (a text edited
    by SQL fails it, named) and seals the audit head as a checkpoint document."""
    import sqlite3

    server, _ = platform
    config = config_for(tmp_path, server.url, (SITE, "cityofbozeman", "1h"))
    first = start_daemon(config)
    notify.wait_line("READY=1")
    wait_for("the first harvest", lambda: runs(config, SITE, "succeeded"))
    assert first.stop() == 0
    db = sqlite3.connect(tmp_path / "archive" / "catalog.sqlite", isolation_level=None)
    db.execute(
        "UPDATE item_versions SET text='FORGED' WHERE id=(SELECT min(id) FROM item_versions)"
    )
    db.close()
    set_next_run(config, "verify:weekly", datetime.now(UTC) - timedelta(hours=2))
    second = start_daemon(config)
    notify.wait_line("READY=1", at_least=2)
    [done] = wait_for("the weekly verify", lambda: _finished_runs(config, "verify:weekly"))
    assert second.stop() == 0
    assert done["result"] == "failed"
    assert "catalog_text" in done["error"] and "'FORGED'" in done["error"], done["error"]
    assert json.loads(done["detail_json"])["audit_checkpoint"] == 1
    docs = tmp_path / "archive" / "bundles" / "disposal-records"
    assert (docs / "audit-checkpoint-000001.json").is_file()
