"""Bad ``[daemon]``, ``[smtp]`` and ``[report]`` values stop the command with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archiver.config import load_config
from archiver.daemon.scheduler import daemon_settings, desired_jobs
from archiver.errors import ConfigError
from archiver.report.settings import report_settings, smtp_settings
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
        desired_jobs(cfg, daemon_settings(cfg))
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


def test_defaults_and_jitter(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, "", interval="2h"))
    d = daemon_settings(cfg)
    assert (d.max_concurrent_harvests, d.fixity_sample, d.stop_grace_seconds) == (2, 20, 120.0)
    assert d.jitter_for(7200) == 300.0  # 10 % capped at 5 minutes
    assert d.jitter_for(60) == 6.0
    assert report_settings(cfg).schedule == "0 7 1 * *"
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
