"""Shared CLI plumbing: one-line errors instead of tracebacks, JSON output, the app context."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from archiver.app import App, open_app
from archiver.errors import ArchiverError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    None, "--config", "-c", help="Config file (default: $ARCHIVER_CONFIG or ./archiver.toml)."
)
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


def clerk_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``ArchiverError`` into one clear line on stderr and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ArchiverError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


@contextmanager
def app_context(config: str | None, *, record_config: bool = True) -> Iterator[App]:
    app = open_app(config, record_config=record_config)
    try:
        yield app
    finally:
        app.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
