"""Bad input and faults: one clear line, a failed run in the catalog, nothing half-sealed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer, Fault

from tests.helpers import catalog_rows, site_toml, write_config


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeServer, MastodonWorld, str]]:
    world, city = build_demo_world(statuses=12, followers=30, seed=5)
    world.rate_limit = 1_000_000
    with FakeServer(world) as server:
        yield server, world, city


def _cli(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="400", ARCHIVER_LOG_LEVEL="CRITICAL", **(env or {})),
    )


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:"), stderr
    return lines[0]


def _assert_failed_and_nothing_sealed(config: Path) -> None:
    runs = catalog_rows(config, "SELECT status, error FROM runs ORDER BY started_at")
    assert runs and runs[-1]["status"] == "failed" and runs[-1]["error"]
    bundles = config.parent / "archive" / "bundles"
    assert not list(bundles.glob("*/*/*")), "a failed run must not publish bundles"
    staging = config.parent / "archive" / "staging"
    assert not list(staging.glob("*.partial")) and not list(staging.glob("*.sealed"))


@pytest.mark.parametrize(
    ("fault", "times", "expect"),
    [
        ("malformed_json", 1, "expected JSON"),
        ("html_error", 10, "HTTP 502"),
        ("status_500", 10, "HTTP 500"),
        ("rate_limit_429", 10, "rate limited"),
        ("truncated", 10, "truncated"),
        ("empty_body", 1, "expected JSON"),
    ],
)
def test_platform_fault_fails_the_run_cleanly(
    tmp_path: Path,
    fake: tuple[FakeServer, MastodonWorld, str],
    fault: Fault,
    times: int,
    expect: str,
) -> None:
    server, _world, city = fake
    config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
    server.clear_faults()
    server.inject(f"/api/v1/accounts/{city}/statuses", fault, times=times)
    try:
        result = _cli(config, "harvest")
    finally:
        server.clear_faults()
    assert result.returncode == 1
    line = _one_error_line(result.stderr)
    assert expect in line and "site city" in line and "/statuses" in line
    _assert_failed_and_nothing_sealed(config)


@pytest.mark.parametrize("fault", ["truncated", "rate_limit_429", "status_500"])
def test_transient_fault_is_retried(
    tmp_path: Path, fake: tuple[FakeServer, MastodonWorld, str], fault: Fault
) -> None:
    server, _world, city = fake
    config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
    server.clear_faults()
    server.inject(f"/api/v1/accounts/{city}/statuses", fault, times=2)
    result = _cli(config, "harvest")
    assert result.returncode == 0, result.stderr
    runs = catalog_rows(config, "SELECT status FROM runs")
    assert [r["status"] for r in runs] == ["succeeded"]


def test_unknown_account(tmp_path: Path, fake: tuple[FakeServer, MastodonWorld, str]) -> None:
    server, _, _ = fake
    config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "no_such_town"))
    result = _cli(config, "harvest")
    line = _one_error_line(result.stderr)
    assert "no_such_town" in line and "does not exist" in line and "account" in line
    _assert_failed_and_nothing_sealed(config)


def test_expired_token(tmp_path: Path, fake: tuple[FakeServer, MastodonWorld, str]) -> None:
    server, world, _ = fake
    config = write_config(
        tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="T_TOKEN")
    )
    world.required_token = "the-good-token"
    try:
        result = _cli(config, "harvest", env={"T_TOKEN": "an-expired-token"})
    finally:
        world.required_token = None
    line = _one_error_line(result.stderr)
    assert "HTTP 401" in line and "access token is invalid" in line and "token_env" in line
    _assert_failed_and_nothing_sealed(config)
    assert catalog_rows(config, "SELECT error_kind FROM runs")[-1]["error_kind"] == "AuthError"
    status = _cli(config, "status")
    assert "refused the access token; renew it" in status.stderr


def test_missing_token_variable(
    tmp_path: Path, fake: tuple[FakeServer, MastodonWorld, str]
) -> None:
    server, _, _ = fake
    config = write_config(
        tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="NOPE_TOKEN")
    )
    result = _cli(config, "harvest")
    line = _one_error_line(result.stderr)
    assert "NOPE_TOKEN" in line


def test_config_errors_name_file_key_and_fix(tmp_path: Path) -> None:
    config = tmp_path / "archiver.toml"
    config.write_text(
        f'[archive]\nroot = "{tmp_path / "a"}"\n\n[[sites]]\nid = "x"\nplatfrom = "mastodon"\n'
        'base_url = "ftp://nowhere"\naccount = "a"\ninterval = "often"\n'
    )
    result = _cli(config, "config", "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    err = result.stderr
    assert f"{config}: sites[0].platfrom: unknown key" in err and "did you mean 'platform'" in err
    assert "sites[0].platform: is required but missing" in err
    assert "sites[0].base_url" in err and "http(s)" in err
    assert "sites[0].department: is required" in err
    assert "sites[0].interval" in err and "30m" in err
    assert "no administrator from the IT Department" in err
    harvest = _cli(config, "harvest")
    assert harvest.returncode == 2
    _one_error_line(harvest.stderr)


def test_missing_config_file(tmp_path: Path) -> None:
    result = _cli(tmp_path / "nope.toml", "status")
    line = _one_error_line(result.stderr)
    assert "nope.toml" in line and "not found" in line


def test_unwritable_archive_root(
    tmp_path: Path, fake: tuple[FakeServer, MastodonWorld, str]
) -> None:
    server, _, _ = fake
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = tmp_path / "archiver.toml"
    config.write_text(
        f'[archive]\nroot = "{blocker / "archive"}"\n\n'
        + site_toml("city", "mastodon", server.url, "cityofbozeman")
    )
    result = _cli(config, "harvest")
    line = _one_error_line(result.stderr)
    assert str(blocker / "archive") in line and "archive root" in line
