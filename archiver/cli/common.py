"""Shared CLI plumbing: one-line errors instead of tracebacks, JSON output, the app context."""

from __future__ import annotations

import functools
import gc
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape

from archiver.errors import ArchiverError
from archiver.resources import as_archiver_error

if TYPE_CHECKING:
    from rich.console import Console

    from archiver.app import App, CatalogRead

P = ParamSpec("P")
R = TypeVar("R")


class _LazyConsole:
    """A rich ``Console`` made on first use: ``archiver --help`` and commands that print
    nothing through rich do not pay for importing it (issue 14 part 2)."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console: Console | None = None

    def _get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def real_console(c: Console) -> Console:
    """The rich Console behind one of the lazy consoles (for rich objects such as
    ``Progress`` that keep a console of their own)."""
    return c._get() if isinstance(c, _LazyConsole) else c


# Typed as Console for callers; the proxy forwards every attribute.
console: Console = _LazyConsole()  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]

ConfigOption = typer.Option(
    None, "--config", "-c", help="Config file (default: $ARCHIVER_CONFIG or ./archiver.toml)."
)
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


_PROCESS_ENTRY = False
"""Set by ``archiver.cli.main``: this process runs one command (or the daemon) and exits."""


def begin_process() -> None:
    """Called once by ``archiver.cli.main`` before the command runs.

    ``python -m archiver`` turns the cyclic garbage collector off while the CLI imports
    (``archiver.__main__``): module import allocates hundreds of thousands of objects, none of
    them garbage, and the collector would walk them again and again (about 30 ms of a
    command's start-up). Here it goes back on, and what is loaded so far is frozen (see
    :func:`loading`).
    """
    global _PROCESS_ENTRY
    _PROCESS_ENTRY = True
    gc.freeze()
    gc.enable()


@contextmanager
def loading() -> Iterator[None]:
    """Around a command's imports: no collection while they load, then their objects are
    moved out of the collector's reach (``gc.freeze``).

    They live until the process ends anyway; frozen, they are not traversed by every full
    collection during the command nor by the last one at exit (issue 14 part 5: a harvest
    spent about 70 ms of CPU collecting, most of it walking module objects). Only in a real
    command process: a test runner that calls commands in-process keeps its collector as is,
    since freezing would keep its garbage alive for good.
    """
    if not _PROCESS_ENTRY:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


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
        except _translatable() as exc:
            mapped = as_archiver_error(exc)
            if mapped is None:
                raise
            _print_error(mapped)
            raise typer.Exit(mapped.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _translatable() -> tuple[type[BaseException], ...]:
    """Errors ``archiver.resources`` may translate: OS and SQLite errors, and SQLAlchemy's
    OperationalError when SQLAlchemy is loaded (if it is not, none can have been raised)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    extra = (sa_exc.OperationalError,) if sa_exc is not None else ()
    return (OSError, sqlite3.OperationalError, *extra)


def _print_error(exc: ArchiverError) -> None:
    # Escaped: messages carry paths and hints such as "[archive] root" that rich would eat.
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


@contextmanager
def app_context(
    config: str | None,
    *,
    read_only: bool = False,
    read_only_ok: bool = False,
    check_storage: bool = False,
) -> Iterator[App]:
    """The opened archive; see ``open_app`` for the read-only modes.

    Notes the command collected (something it could not record on a read-only archive) are
    printed on stderr, one line each, when it ends: a skipped write is never silent.
    """
    from archiver.app import open_app

    app = open_app(
        config, read_only=read_only, read_only_ok=read_only_ok, check_storage=check_storage
    )
    try:
        yield app
    finally:
        app.close()
        for note in app.notes:
            err_console.print(escape(note), highlight=False, soft_wrap=True)


@contextmanager
def read_context(config: str | None, *, check_storage: bool = False) -> Iterator[CatalogRead]:
    """The archive opened for reading only (``archiver.app.read_catalog``: on a quiet embedded
    catalog without SQLAlchemy); notes are printed on stderr when it ends, as ``app_context``
    prints them."""
    from archiver.app import read_catalog

    notes: list[str] = []
    try:
        with read_catalog(config, check_storage=check_storage) as read:
            notes = read.notes
            yield read
    finally:
        for note in notes:
            err_console.print(escape(note), highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
