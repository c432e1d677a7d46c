"""Shared CLI plumbing: one-line errors instead of tracebacks, JSON output, the app context."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from archiver.app import App, open_app
from archiver.errors import ArchiverError
from archiver.resources import as_archiver_error

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    None, "--config", "-c", help="Config file (default: $ARCHIVER_CONFIG or ./archiver.toml)."
)
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


def esc(value: object) -> str:
    """Any value as text rich prints literally: ``[archive]`` or ``[edited]`` stays visible.

    Rich reads square brackets as style tags and silently drops the ones it recognises or
    cannot parse, so every user text, id, path or message goes through this before printing.
    """
    return escape("" if value is None else str(value))


def clerk_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``ArchiverError`` into one clear line on stderr and a non-zero exit.

    A full disk, a read-only mount or a missing permission that no caller translated yet is
    translated here (``archiver.resources``): the administrator gets the path and the fix,
    not a traceback. Any other exception is a bug and keeps its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ArchiverError as exc:
            _print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (OSError, sqlite3.OperationalError, OperationalError) as exc:
            mapped = as_archiver_error(exc)
            if mapped is None:
                raise
            _print_error(mapped)
            raise typer.Exit(mapped.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _print_error(exc: ArchiverError) -> None:
    # Escaped: messages carry paths and hints such as "[archive] root" that rich would eat.
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


@contextmanager
def app_context(
    config: str | None, *, read_only: bool = False, read_only_ok: bool = False
) -> Iterator[App]:
    """The opened archive; see ``open_app`` for the read-only modes.

    Notes the command collected (something it could not record on a read-only archive) are
    printed on stderr, one line each, when it ends: a skipped write is never silent.
    """
    app = open_app(config, read_only=read_only, read_only_ok=read_only_ok)
    try:
        yield app
    finally:
        app.close()
        for note in app.notes:
            err_console.print(escape(note), highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
