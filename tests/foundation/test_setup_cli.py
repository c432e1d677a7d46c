"""Set-up: the example config, ``config init`` and ``--version`` work for a new clerk."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from archiver import __version__
from archiver.cli import app as cli_app
from archiver.config_init import PLATFORM_EXAMPLES, example_config
from connectors.registry import platforms

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(
        cli_app, list(args), env={"ARCHIVER_LOG_LEVEL": "CRITICAL", "ARCHIVER_CONFIG": ""}
    )


def test_repo_example_is_what_config_init_writes_and_passes_check(tmp_path: Path) -> None:
    example = REPO / "archiver.example.toml"
    assert example.read_text(encoding="utf-8") == example_config(), (
        "archiver.example.toml is stale: regenerate it from archiver.config_init.example_config()"
    )
    check = run("config", "check", "--config", str(example))
    assert check.exit_code == 0, check.stderr
    assert "error" not in check.stderr
    assert f"{example}: OK (2 site(s)" in check.stdout


def test_every_platform_has_an_example() -> None:
    assert set(PLATFORM_EXAMPLES) == platforms()


@pytest.mark.parametrize("platform", sorted(PLATFORM_EXAMPLES))
def test_config_init_writes_a_config_that_passes_check(tmp_path: Path, platform: str) -> None:
    out = tmp_path / "archiver.toml"
    init = run("config", "init", "--platform", platform, "--out", str(out))
    assert init.exit_code == 0, init.stderr
    assert f"wrote {out}" in init.stdout
    text = out.read_text(encoding="utf-8")
    assert f'platform = "{platform}"' in text and text.count("\n[[sites]]\n") == 1
    check = run("config", "check", "--config", str(out))
    assert check.exit_code == 0, check.stderr
    assert "OK (1 site(s)" in check.stdout


def test_config_init_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "archiver.toml"
    out.write_text("# the clerk's own config\n")
    init = run("config", "init", "--out", str(out))
    assert init.exit_code == 2
    lines = init.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "already exists; not overwritten" in lines[0] and str(out) in lines[0]
    )
    assert out.read_text() == "# the clerk's own config\n"


def test_config_init_unknown_platform_is_one_line(tmp_path: Path) -> None:
    init = run("config", "init", "--platform", "myspace", "--out", str(tmp_path / "a.toml"))
    assert init.exit_code == 2 and "Traceback" not in init.stderr
    assert init.stderr.strip().count("\n") == 0 and "mastodon" in init.stderr
    assert not (tmp_path / "a.toml").exists()


def test_version() -> None:
    result = run("--version")
    assert (
        result.exit_code == 0 and result.stdout.strip() == f"archiver (muni-archiver) {__version__}"
    )
