"""Strict config: every bad value a clerk or IT administrator could type is one clear line.

Each case goes through the real ``archiver`` command (typer's runner, in-process), and is
checked twice: ``config check`` names file, key and fix; an ordinary command refuses to start
with the same one line and no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from archiver.cli import app as cli_app

SITE = """
[[sites]]
id = "city-mastodon"
platform = "mastodon"
base_url = "http://127.0.0.1:9"
account = "cityofbozeman"
department = "Communications"
administrators = [{ name = "Ivan Tech", role = "IT" }]
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    env = {"COLUMNS": "80", "ARCHIVER_LOG_LEVEL": "CRITICAL", **(env or {})}
    return CliRunner().invoke(cli_app, list(args), env=env)


def one_line(text: str, prefix: str = "error:") -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert len(lines) == 1, text
    assert lines[0].startswith(prefix), text
    return lines[0]


def write(tmp_path: Path, body: str, *, root: Path | None = None) -> Path:
    path = tmp_path / "archiver.toml"
    path.write_text(f'[archive]\nroot = "{root or tmp_path / "archive"}"\n{body}\n{SITE}')
    return path


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHIVER_CONFIG", raising=False)


@pytest.mark.parametrize(
    ("body", "key", "fix"),
    [
        ('[storage]\nbackend = "s4"', "storage.backend", "local, s3"),
        ('[storage]\nbackend = "s3"\nlock_mode = "compliance"', "storage.lock_mode", "COMPLIANCE"),
        ("[storage]\nbakend = 'local'", "storage.bakend", "did you mean 'backend'?"),
        ("[daemon]\nmax_concurent_harvests = 2", "daemon.max_concurent_harvests", "did you mean"),
        ("[retention]\nallow_self_aproval = true", "retention.allow_self_aproval", "did you mean"),
        ('[smtp]\nhost = "m"\nsender = "a@b.net"\nport_number = 25', "smtp.port_number", "port"),
        ('[smtp]\nhost = "m"\nsender = "a@b.net"\nsecurity = "ssl"', "smtp.security", "starttls"),
        ('[report]\nrecipient = ["a@b.net"]', "report.recipient", "did you mean 'recipients'?"),
        ("[requests]\nfee_per_hr = 25", "requests.fee_per_hr", "did you mean 'fee_per_hour'?"),
        ('[archive2]\nroot = "x"', "archive2", "did you mean 'archive'?"),
        ("[http]\ntimout = 5", "http.timout", "did you mean 'timeout'?"),
        ('[integrity]\ntsa_uri = "https://t"', "integrity.tsa_uri", "did you mean 'tsa_url'?"),
        ("[fastlane]\nintervl = 30", "fastlane.intervl", "did you mean 'interval'?"),
        (
            '[webhooks]\nlisten_on = "127.0.0.1:8089"',
            "webhooks.listen_on",
            "did you mean 'listen'?",
        ),
    ],
)
def test_bad_key_or_value_is_one_line_naming_file_key_and_fix(
    tmp_path: Path, body: str, key: str, fix: str
) -> None:
    config = write(tmp_path, body)
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 2
    line = one_line(check.stderr)
    assert f"{config}: {key}: " in line and fix in line
    status = run("--config", str(config), "status")
    assert status.exit_code == 2
    assert f"{config}: {key}: " in one_line(status.stderr)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[daemon]\nmax_concurrent_harvests = 0", "daemon.max_concurrent_harvests"),
        ("[report]\nschedule = 'soon'", "report.schedule"),
        ("[requests]\nfee_per_hour = -1", "requests.fee_per_hour"),
        ("[fastlane]\ninterval = 1", "fastlane.interval"),
        ('[fastlane]\nquiet_seal_every = "2d"', "fastlane.quiet_seal_every"),
        ('[fastlane]\nquiet_seal_every = "soon"', "fastlane.quiet_seal_every"),
        ('[webhooks]\nlisten = "8089"', "webhooks.listen"),
        ("[cluster]\nheartbeat_seconds = 10\nstalled_seconds = 15", "cluster.stalled_seconds"),
        ('[integrity]\ntsa_url = "ftp://tsa"', "integrity.tsa_url"),
        ("[storage]\nrolling_lock_days = 1", "storage.rolling_lock_days"),
        ('[storage]\nbackend = "s3"\nbucket = "b"', "storage.endpoint"),
        ('[retention]\naudit_received = { 2025 = "soon" }', "retention.audit_received.2025"),
        ("[compliance]\nburst_posts = 0", "compliance.sites.city-mastodon.burst_posts"),
        ('[smtp]\nsender = "a@b.net"\nrecipients = ["c@b.net"]', "smtp.host"),
    ],
)
def test_every_section_value_is_checked_when_any_command_loads(
    tmp_path: Path, body: str, key: str
) -> None:
    """Each section is typed and checked at load: an ordinary command refuses a bad value,
    not only ``config check`` (or the nightly job that would have read it weeks later)."""
    config = write(tmp_path, body)
    status = run("--config", str(config), "status")
    assert status.exit_code == 2
    assert f"{config}: {key}: " in one_line(status.stderr)
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 2
    assert f"{config}: {key}: " in one_line(check.stderr)


def test_sections_are_typed_attributes_that_compare_by_value(tmp_path: Path) -> None:
    from archiver.config import load_config

    config = write(tmp_path, "[storage]\nrolling_lock_days = 30\n[daemon]\nfixity_sample = 5")
    first, again = load_config(config), load_config(config)
    assert first.storage == again.storage and first.daemon == again.daemon
    assert (first.storage.backend, first.storage.rolling_lock_days) == ("local", 30)
    assert first.storage.path == first.root / "bundles" and first.storage.s3 is None
    assert first.daemon.fixity_sample == 5 and first.report.schedule == "0 7 1 * *"
    assert (first.smtp, first.webhooks, first.cluster, first.integrity.tsa) == (None,) * 4
    assert first.retention.classes is None and not first.retention.allow_self_approval
    assert not hasattr(first, "section"), "features read typed sections, never raw tables"
    config.write_text(
        config.read_text().replace("rolling_lock_days = 30", "rolling_lock_days = 40")
    )
    assert load_config(config).storage != first.storage


def test_a_misspelled_compliance_key_is_named_by_config_check(tmp_path: Path) -> None:
    config = write(tmp_path, '[compliance]\ndomians = ["bozeman.net"]')
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 2
    line = one_line(check.stderr)
    assert f"{config}: compliance.domians: unknown key" in line and "domains" in line


def test_section_values_are_checked_by_config_check(tmp_path: Path) -> None:
    """Values the daemon or the report would refuse later are refused by config check now."""
    config = write(tmp_path, "[daemon]\nmax_concurrent_harvests = 0\n[report]\nschedule = 'soon'")
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 2 and "Traceback" not in check.stderr
    errors = check.stderr.splitlines()
    assert len(errors) == 2, check.stderr
    assert any(f"{config}: daemon.max_concurrent_harvests" in e for e in errors)
    assert any(f"{config}: report.schedule" in e for e in errors)


def test_archive_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "archive-file"
    blocker.write_text("I am a file")
    config = write(tmp_path, "", root=blocker)
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 2
    line = one_line(check.stderr)
    assert f"{config}: archive.root: " in line and str(blocker) in line and "is a file" in line
    assert blocker.read_text() == "I am a file"
    harvest = run("--config", str(config), "harvest")
    assert str(blocker) in one_line(harvest.stderr)


def test_archive_root_below_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    config = write(tmp_path, "", root=blocker / "archive")
    line = one_line(run("config", "check", "--config", str(config)).stderr)
    assert "archive.root" in line and "cannot be created" in line and str(blocker) in line


def test_missing_archive_root_that_can_be_created_is_fine(tmp_path: Path) -> None:
    config = write(tmp_path, "", root=tmp_path / "new" / "archive")
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 0, check.stderr
    assert "OK (1 site(s)" in check.stdout
    assert not (tmp_path / "new").exists(), "config check must not create anything"


def test_unset_token_variable_is_a_warning_naming_the_site(tmp_path: Path) -> None:
    config = write(tmp_path, "")
    config.write_text(config.read_text() + 'token_env = "CLERK_TEST_UNSET_TOKEN"\n')
    check = run("config", "check", "--config", str(config), env={"CREDENTIALS_DIRECTORY": ""})
    assert check.exit_code == 0, check.stderr
    line = one_line(check.stderr, prefix="warning:")
    assert "city-mastodon" in line and "CLERK_TEST_UNSET_TOKEN" in line and "not set" in line
    set_here = run(
        "config", "check", "--config", str(config), env={"CLERK_TEST_UNSET_TOKEN": "t0ken"}
    )
    assert set_here.exit_code == 0 and set_here.stderr == ""
    assert "t0ken" not in set_here.stdout
    harvest = run("--config", str(config), "harvest", "--site", "city-mastodon")
    assert harvest.exit_code == 1
    line = one_line(harvest.stderr)
    assert "city-mastodon" in line and "CLERK_TEST_UNSET_TOKEN" in line


def test_windows_1252_apostrophe_names_the_byte_offset(tmp_path: Path) -> None:
    config = tmp_path / "archiver.toml"
    body = f'[archive]\nroot = "{tmp_path / "a"}"\n# the City\x92s archive\n'.encode("latin-1")
    config.write_bytes(body)
    offset = body.index(b"\x92")
    for args in (("config", "check", "--config", str(config)), ("--config", str(config), "status")):
        result = run(*args)
        assert result.exit_code == 2
        line = one_line(result.stderr)
        assert str(config) in line and "not UTF-8" in line and "0x92" in line
        assert f"byte offset {offset}" in line and "line 3" in line


def test_utf8_with_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    config = write(tmp_path, "# the City’s archive — “quoted”")
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    check = run("config", "check", "--config", str(config))
    assert check.exit_code == 0, check.stderr


def test_bracketed_text_in_an_error_is_printed_not_eaten(tmp_path: Path) -> None:
    """Rich markup must not swallow "[retention]" (or crash on "[/x]") in a message."""
    config = write(tmp_path, "[retention]\nallow_self_approval = 'yes'")
    line = one_line(run("config", "check", "--config", str(config)).stderr)
    assert "retention.allow_self_approval" in line and "'yes'" in line


@pytest.mark.parametrize(
    ("key", "can_be_off"),
    [
        ("interval", False),
        ("full_sweep_every", False),
        ("follower_checkpoint_every", False),
        ("thread_poll_ceiling", True),
        ("followers_every", True),
        ("follower_walk_every", True),
    ],
)
def test_a_sites_durations_are_checked_and_zero_turns_off_only_what_can_be_off(
    tmp_path: Path, key: str, can_be_off: bool
) -> None:
    """Every per-site duration goes through one reader: a word is one line naming the key; 0
    turns off the follower cadences and the re-polling ceiling, and is an error elsewhere."""
    bad = write(tmp_path, "", root=tmp_path / "archive")
    bad.write_text(bad.read_text() + f'{key} = "soon"\n')
    line = one_line(run("--config", str(bad), "config", "check").output)
    assert f"sites[0].{key}: 'soon' is not a duration" in line
    zero = tmp_path / "zero.toml"
    zero.write_text(bad.read_text().replace(f'{key} = "soon"', f"{key} = 0"))
    result = run("--config", str(zero), "config", "check")
    if can_be_off:
        assert result.exit_code == 0, result.output
    else:
        assert f"sites[0].{key}" in one_line(result.output)
