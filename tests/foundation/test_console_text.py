"""Nothing a clerk should read disappears in the terminal.

Rich reads ``[word]`` as a style tag and silently drops it, so "fix [archive] root in ..."
printed as "fix  root in ...". Every command's help and a set of error outputs (bad config,
bad filter values, missing arguments) run here through the real CLI and console, and each
word and bracketed label of the raw message (the help text, or ``str()`` of the error the
code raises) must appear in what is printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer.main
from typer.testing import CliRunner

from archiver.app import open_app
from archiver.cli import app as cli_app
from archiver.config import check_config
from archiver.errors import ArchiverError
from archiver.filters import check_kinds, check_site
from archiver.report.settings import smtp_settings
from archiver.search import parse_date
from connectors.registry import platforms
from tests.helpers import write_config


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """The CLI configures structlog (level WARNING) in-process; later tests capture INFO."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


BOX = re.compile(r"[│╭╮╰╯─┃━┏┓┗┛]")


def _flat(text: str) -> str:
    return " ".join(BOX.sub(" ", text).split())


def assert_survives(raw: str, shown: str) -> None:
    """Every bracketed label and every word of ``raw`` is in ``shown`` (wrapping ignored)."""
    # Help strings may carry rich's own escape (``\\[smtp]``): the reader sees ``[smtp]``.
    expected = _flat(raw.replace("\\[", "["))
    out = _flat(shown)
    for label in re.findall(r"\[[^\]\s]*\]", expected):
        assert label in out, f"{label!r} vanished from the output:\n{shown}"
    for word in expected.split():
        assert word in out, f"{word!r} of {raw!r} vanished from the output:\n{shown}"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args), env={"COLUMNS": "250"})
    assert not isinstance(result.exception, AssertionError | TypeError | KeyError), result.output
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _commands(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group (typer vendors its own click: duck-typed, not isinstance)."""
    yield path, cmd
    if hasattr(cmd, "commands"):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(cli_app), ()))


def test_there_are_commands_to_check() -> None:
    names = {" ".join(p) for p, _ in ALL_COMMANDS}
    assert {"search", "export", "verify", "report", "hold add", "config check"} <= names


@pytest.mark.parametrize(
    "path,cmd", ALL_COMMANDS, ids=lambda x: " ".join(x) if isinstance(x, tuple) else ""
)
def test_help_keeps_every_word(path: tuple[str, ...], cmd: Any) -> None:
    code, out = run(*path, "--help")
    assert code == 0, out
    raws = [cmd.help or ""] + [
        p.help for p in cmd.params if getattr(p, "help", None) and not getattr(p, "hidden", False)
    ]
    for raw in raws:
        assert_survives(raw.split("\f")[0], out)


def _raised(fn: object, *args: object) -> str:
    try:
        fn(*args)  # type: ignore[operator]
    except ArchiverError as exc:
        return str(exc)
    raise AssertionError(f"{fn} raised nothing")


def test_error_messages_keep_every_word(tmp_path: Path) -> None:
    # A config whose archive root cannot be created: "fix [archive] root in ...".
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    bad_root = tmp_path / "bad-root"
    bad_root.mkdir()
    cfg = write_config(bad_root)
    cfg.write_text(cfg.read_text().replace(str(bad_root / "archive"), str(blocker / "archive")))
    raw = _raised(open_app, str(cfg))
    assert "[archive]" in raw
    code, out = run("--config", str(cfg), "status")
    assert code != 0
    assert_survives(raw, out)

    # A config with bad values: every error `config check` finds.
    bad = tmp_path / "bad-values"
    bad.mkdir()
    cfg2 = write_config(bad)
    cfg2.write_text(
        cfg2.read_text().replace("[archive]\n", '[archive]\ntimezone = "Mars/Olympus"\n')
        + '\n[[sites]]\nid = "x"\nplatform = "myspace"\n'
    )
    _cfg, errors, warnings = check_config(cfg2, platforms=platforms())
    assert errors
    code, out = run("--config", str(cfg2), "config", "check")
    assert code == 2
    for e in [*map(str, errors), *warnings]:
        assert_survives(e, out)

    good = tmp_path / "good"
    good.mkdir()
    cfg3 = write_config(good)
    # No [smtp] section: "no [smtp] section: the report cannot be e-mailed".
    app = open_app(str(cfg3))
    try:
        raw = _raised(smtp_settings, app.cfg)
        site_raw = _raised(check_site, app, "nosuch")
    finally:
        app.close()
    assert "[smtp]" in raw
    code, out = run("--config", str(cfg3), "report", "--send", "--month", "2026-10")
    assert code != 0
    assert_survives(raw, out)

    # Bad filter values and dates.
    code, out = run("--config", str(cfg3), "search", "snow", "--site", "nosuch")
    assert code == 2
    assert_survives(site_raw, out)
    code, out = run("--config", str(cfg3), "search", "snow", "--kind", "coment")
    assert code == 2
    assert_survives(_raised(check_kinds, ["coment"]), out)
    code, out = run("--config", str(cfg3), "search", "--since", "[yesterday]")
    assert code == 2
    assert_survives(_raised(lambda: parse_date("[yesterday]", option="--since")), out)

    # Missing arguments (click's own usage errors).
    for args, raw in [
        (("export",), "Missing argument 'request_id'."),
        (("request", "close", "PRR-2026-0001"), "Missing option '--outcome'."),
        (("hold", "add", "[x]"), "Missing option '--matter'."),
    ]:
        code, out = run("--config", str(cfg3), *args)
        assert code == 2, out
        assert_survives(raw, out)
