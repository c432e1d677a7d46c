"""``archiver demo`` on an install without the fake platforms: say so, in one line."""

from __future__ import annotations

import typer

from archiver.cli.common import clerk_errors
from archiver.errors import ArchiverError


class DemoUnavailableError(ArchiverError):
    """The demo's fake platform servers (package fakeplatforms) are not installed."""


@clerk_errors
def demo() -> None:
    """Run the full local demo (needs the fake platforms: `make setup` in a source tree)."""
    raise DemoUnavailableError(
        "archiver demo needs the fake platform servers (package muni-archiver-fakes), "
        "which a production install leaves out",
        hint="from a source checkout run `make demo` (it installs them with `make setup`), "
        "or pip install -e ./fakes",
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
