"""Typed connector options: ``config check`` refuses an unknown or mistyped option, naming the
site, the key and the options the platform knows (a typo must not silently turn a feature
off, as ``full_archve = true`` used to)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import structlog
from fakeplatforms import FakeServer
from fakeplatforms.x import XWorld
from typer.testing import CliRunner

from archiver.cli import app as cli_app
from archiver.errors import ConfigError
from connectors.registry import BUILTIN, get_connector, option_problems
from tests.helpers import harvest, site_toml, write_config


def _check(config: Path) -> tuple[int, dict[str, object]]:
    try:
        out = CliRunner().invoke(cli_app, ["config", "check", "--config", str(config), "--json"])
    finally:
        structlog.reset_defaults()
    return out.exit_code, json.loads(out.stdout)


def test_misspelled_option_is_a_config_error_with_a_suggestion(tmp_path: Path) -> None:
    toml = site_toml("x-city", "x", "https://api.x.com", "cityofbozeman", token_env="X_TOKEN")
    config = write_config(tmp_path, toml + "options = { full_archve = true }\n")
    code, answer = _check(config)
    assert code == 2 and answer["ok"] is False
    errors = answer["errors"]
    assert isinstance(errors, list) and len(errors) == 1
    line = str(errors[0])
    assert "site x-city" in line and "'full_archve'" in line and "options" in line
    assert "did you mean 'full_archive'?" in line and "known options: full_archive" in line


def test_wrong_type_and_wrong_choice_are_config_errors(tmp_path: Path) -> None:
    sites = [
        site_toml("x-city", "x", "https://api.x.com", "city", token_env="X")
        + 'options = { full_archive = "yes" }\n',
        site_toml("fb", "facebook", "https://graph.facebook.com/v21.0", "1", token_env="F")
        + 'options = { edge = "timeline" }\n',
        site_toml("masto", "mastodon", "https://mastodon.example", "city")
        + "options = { moderation = true }\n",
    ]
    code, answer = _check(write_config(tmp_path, *sites))
    errors = [str(e) for e in answer["errors"]]  # type: ignore[attr-defined]
    assert code == 2 and len(errors) == 3
    assert "site x-city" in errors[0] and "must be true or false, not 'yes'" in errors[0]
    assert "site fb" in errors[1] and "'posts' or 'feed' or 'published_posts'" in errors[1]
    assert "site masto" in errors[2] and "known options: (none)" in errors[2]


def test_good_options_pass_config_check(tmp_path: Path) -> None:
    toml = site_toml("yt", "youtube", "https://www.googleapis.com/youtube/v3", "@c", token_env="Y")
    config = write_config(tmp_path, toml + 'options = { auth = "oauth", moderation = true }\n')
    code, answer = _check(config)
    assert (code, answer["errors"]) == (0, [])


@pytest.mark.parametrize("platform", sorted(BUILTIN))
def test_every_connector_declares_frozen_typed_options(platform: str) -> None:
    options = get_connector(platform).Options
    assert dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert option_problems(platform, "s", {}) == []
    assert option_problems(platform, "s", {"no_such_option": 1})


def test_harvest_refuses_an_unknown_option_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X_TOKEN", "x-test-bearer-token")
    with FakeServer(XWorld()) as server:
        toml = site_toml("x-city", "x", server.url, "cityofbozeman", token_env="X_TOKEN")
        config = write_config(tmp_path, toml + "options = { full_archve = true }\n")
        with pytest.raises(ConfigError, match="unknown option 'full_archve'"):
            harvest(config, "x-city", full=True)
        assert server.requests == []
