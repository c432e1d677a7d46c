"""Bad ``[daemon]``, ``[smtp]`` and ``[report]`` values stop the command with one clear line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.config import load_config
from archiver.daemon.scheduler import desired_jobs
from archiver.errors import ConfigError
from archiver.report.settings import smtp_settings
from archiver.schedule import cron_trigger
from archiver.settings.daemon import DaemonSettings
from archiver.settings.report import DEFAULT_SCHEDULE
from tests.helpers import site_toml, write_config

REPO = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, head: str, interval: str = "1h") -> Path:
    site = site_toml("s1", "mastodon", "http://127.0.0.1:9", "x", extra=f'interval = "{interval}"')
    return write_config(tmp_path, site, head=head)


@pytest.mark.parametrize(
    ("head", "key"),
    [
        ("[daemon]\nmax_concurrent_harvests = 0\n", "daemon.max_concurrent_harvests"),
        ("[daemon]\nfixity_sample = -3\n", "daemon.fixity_sample"),
        ('[daemon]\nstop_grace_seconds = "soon"\n', "daemon.stop_grace_seconds"),
        ("[daemon]\njitter = 5\n", "daemon.jitter"),
        ('[daemon]\nfixity_schedule = "every night"\n', "daemon.fixity_schedule"),
        ('[report]\nschedule = "0 7 32 * *"\n', "report.schedule"),
    ],
)
def test_daemon_refuses_to_start_with_a_bad_setting(tmp_path: Path, head: str, key: str) -> None:
    path = config(tmp_path, head)
    with pytest.raises(ConfigError) as err:
        cfg = load_config(path)
        desired_jobs(cfg, cfg.daemon)
    assert f"{path}: {key}" in str(err.value)
    result = subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(path), "daemon"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 or key in result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr


def test_the_default_schedules_left_unparsed_at_start_are_valid() -> None:
    """``check_cron`` does not parse the built-in schedules when a config loads (APScheduler
    is slow to import, issue 14 part 2): they must be valid in any zone; a configured line is
    still parsed (the bad-setting cases above)."""
    d = DaemonSettings()
    for expr in (d.fixity_schedule, d.verify_schedule, d.retention_schedule, DEFAULT_SCHEDULE):
        for tz in ("America/Denver", "UTC", "Pacific/Chatham"):
            assert cron_trigger(expr, tz, file="archiver.toml", key="k") is not None


def test_defaults_and_jitter(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, "", interval="2h"))
    d = cfg.daemon
    assert (d.max_concurrent_harvests, d.fixity_sample, d.stop_grace_seconds) == (2, 20, 120.0)
    assert d.jitter_for(7200) == 300.0  # 10 % capped at 5 minutes
    assert d.jitter_for(60) == 6.0
    assert cfg.report.schedule == "0 7 1 * *"
    jobs = {j.id: j for j in desired_jobs(cfg, d)}
    assert jobs["harvest:s1"].misfire_grace_time is None
    assert str(jobs["report:monthly"].trigger.timezone) == "America/Denver"


def test_smtp_settings_merge_recipients_and_never_hold_a_password(tmp_path: Path) -> None:
    head = (
        '[smtp]\nhost = "mail.bozeman.net"\nsecurity = "starttls"\nusername = "archiver"\n'
        'password_secret = "ARCHIVER_SMTP_PASSWORD"\nsender = "archiver@bozeman.net"\n'
        'recipients = ["clerk@bozeman.net"]\n'
        '[report]\nrecipients = ["CLERK@bozeman.net", "it@bozeman.net"]\n'
    )
    s = smtp_settings(load_config(config(tmp_path, head)))
    assert (s.host, s.port, s.security) == ("mail.bozeman.net", 587, "starttls")
    assert s.recipients == ["clerk@bozeman.net", "it@bozeman.net"]
    assert s.password_secret == "ARCHIVER_SMTP_PASSWORD"


@pytest.mark.parametrize(
    ("head", "key"),
    [
        ('[smtp]\nhost = "m"\nsender = "a@b.net"\npassword = "hunter2"\n', "smtp.password"),
        ('[smtp]\nsender = "a@b.net"\nrecipients = ["c@b.net"]\n', "smtp.host"),
        (
            '[smtp]\nhost = "m"\nsender = "a@b.net"\nrecipients = ["not-an-address"]\n',
            "smtp.recipients[0]",
        ),
        ('[smtp]\nhost = "m"\nsender = "a@b.net"\n', "smtp"),
    ],
)
def test_bad_smtp_settings_name_the_key(tmp_path: Path, head: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        smtp_settings(load_config(config(tmp_path, head)))
    assert f": {key}: " in str(err.value)
    assert "hunter2" not in str(err.value)


def cron_config(tmp_path: Path, extra: str, head: str = "") -> Path:
    site = site_toml("s1", "mastodon", "http://127.0.0.1:9", "x", extra=extra)
    return write_config(tmp_path, site, head=head)


def test_a_site_can_be_harvested_on_a_cron_schedule_with_jitter(tmp_path: Path) -> None:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from archiver.daemon.scheduler import backoff_seconds, site_period_seconds

    cfg = load_config(cron_config(tmp_path, 'cron = "0 */2 * * *"'))
    [site] = cfg.sites
    assert site.cron == "0 */2 * * *"
    assert site_period_seconds(site) == 7200
    assert backoff_seconds(site, 3) == 3 * 7200  # back-off counts in the cron's periods
    job = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["harvest:s1"]
    trigger = job.trigger
    assert isinstance(trigger, CronTrigger)
    assert trigger.jitter == 300.0  # 10 % of two hours, capped at five minutes
    assert str(trigger.timezone) == "America/Denver"
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["minute"], fields["hour"]) == ("0", "*/2")
    assert job.misfire_grace_time is None

    cfg = load_config(
        cron_config(tmp_path, 'cron = "30 7 * * *"', head="[daemon]\njitter_seconds = 45\n")
    )
    trigger = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["harvest:s1"].trigger
    assert isinstance(trigger, CronTrigger) and trigger.jitter == 45.0
    # Without cron the interval trigger is unchanged.
    cfg = load_config(cron_config(tmp_path, 'interval = "2h"'))
    trigger = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["harvest:s1"].trigger
    assert isinstance(trigger, IntervalTrigger) and trigger.jitter is None
    from archiver.daemon.scheduler import site_phase

    phase = (trigger.start_date - datetime(2001, 1, 1, tzinfo=UTC)).total_seconds()
    assert 0 <= phase < 300 and phase == site_phase("s1", 300.0)  # 10 % of 2 h, capped


def test_a_caught_up_interval_job_is_next_due_in_the_future(tmp_path: Path) -> None:
    """What APScheduler 3 does after downtime, step for step: enumerate the missed slots, run
    once (coalesced), then re-time from the last missed slot. With a random trigger jitter
    the re-timed run could land in the past and the site was harvested twice at once."""
    cfg = load_config(
        cron_config(tmp_path, 'interval = "10m"', head="[daemon]\njitter_seconds = 60\n")
    )
    trigger = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["harvest:s1"].trigger
    for n in range(300):
        now = datetime.now(UTC) + timedelta(seconds=n * 7.3)
        next_run: datetime | None = now - timedelta(days=5)  # stored before the downtime
        run_times = []
        while next_run is not None and next_run <= now:
            run_times.append(next_run)
            next_run = trigger.get_next_fire_time(next_run, now)
        assert len(run_times) > 600  # five days of ten-minute slots were missed
        retimed = trigger.get_next_fire_time(run_times[-1], now)
        assert retimed is not None and retimed > now, (n, retimed, now)


def test_reconcile_keeps_an_unchanged_cron_job(tmp_path: Path) -> None:
    """The cron job's jitter is the same on every load, so a reload never re-times it."""
    from archiver.daemon.scheduler import _trigger_key

    path = cron_config(tmp_path, 'cron = "0 7 * * 1-5"')
    keys = set()
    for _ in range(2):
        cfg = load_config(path)
        job = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["harvest:s1"]
        keys.add(_trigger_key(job.trigger))
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('interval = "2h"\ncron = "0 */2 * * *"', "interval and cron are mutually exclusive"),
        ('cron = "every two hours"', "is not a crontab schedule"),
        ('cron = "0 25 * * *"', "is not a crontab schedule"),
        ("cron = 5", "must be a crontab string"),
    ],
)
def test_bad_site_cron_is_one_clear_line(tmp_path: Path, extra: str, message: str) -> None:
    path = cron_config(tmp_path, extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}: sites[0].cron" in text and message in text
    assert "e.g." in text or "keep one" in text
    result = subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(path), "daemon"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "sites[0].cron" in result.stderr and "Traceback" not in result.stderr


def test_the_weekly_verify_runs_on_sunday(tmp_path: Path) -> None:
    """APScheduler 3 numbers weekdays from Monday = 0, so the default names the day."""
    from datetime import UTC, datetime

    cfg = load_config(config(tmp_path, ""))
    trigger = {j.id: j for j in desired_jobs(cfg, cfg.daemon)}["verify:weekly"].trigger
    fire = trigger.get_next_fire_time(None, datetime(2026, 12, 2, tzinfo=UTC))
    assert fire is not None and fire.strftime("%A %H:%M") == "Sunday 03:30"


def test_loading_a_config_with_default_schedules_does_not_load_apscheduler(
    tmp_path: Path,
) -> None:
    """Every command loads the config, a harvest too (issue 14 part 5): the built-in
    schedules, held valid above, are not parsed then, so APScheduler stays unloaded."""
    path = config(tmp_path, "")
    probe = (
        "import sys\nfrom archiver.config import load_config\n"
        f"cfg = load_config({str(path)!r})\n"
        "print(cfg.report.schedule, cfg.daemon.fixity_schedule, 'apscheduler' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    d = DaemonSettings()
    assert out.stdout.split() == [*DEFAULT_SCHEDULE.split(), *d.fixity_schedule.split(), "False"]
