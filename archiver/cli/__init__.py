"""The ``archiver`` command: clerk CLI and daemon entry point."""

from __future__ import annotations

import importlib.util
import os

import typer

from archiver import __version__
from archiver.cli import core
from archiver.resources import restrict_umask

app = typer.Typer(
    name="archiver",
    help="Social media records archiver: capture, seal, search, export, retain.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"archiver (muni-archiver) {__version__}")
        raise typer.Exit()


@app.callback()
def _setup(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    log_level: str = typer.Option("WARNING", "--log-level", envvar="ARCHIVER_LOG_LEVEL"),
    log_json: bool | None = typer.Option(None, "--log-json/--log-console"),
    config: str | None = typer.Option(
        None, "--config", "-c", help="Config file for every command (sets ARCHIVER_CONFIG)."
    ),
) -> None:
    from archiver.log import configure

    if config:
        os.environ["ARCHIVER_CONFIG"] = config
    configure(json=log_json, level=log_level)


core.register(app)
from archiver.cli import records  # noqa: E402

records.register(app)
from archiver.cli import show  # noqa: E402

show.register(app)
from archiver.cli import daemon  # noqa: E402

daemon.register(app)
from archiver.cli import retention  # noqa: E402

retention.register(app)
from archiver.cli import maintenance  # noqa: E402

maintenance.register(app)
from archiver.cli import keys  # noqa: E402

keys.register(app)
from archiver.cli import catalog_cmds  # noqa: E402

catalog_cmds.register(app)
from archiver.cli import compliance  # noqa: E402

compliance.register(app)
from archiver.cli import coverage_cmd  # noqa: E402

coverage_cmd.register(app)
from archiver.cli import cluster_cmds  # noqa: E402

cluster_cmds.register(app)
# The demo runs the fake platform servers (package fakeplatforms, `make setup`); a production
# install leaves them out. Looked up, not imported: the demo imports them when it runs.
if importlib.util.find_spec("fakeplatforms") is not None:
    from archiver.cli import demo
else:
    from archiver.cli import demo_missing as demo  # type: ignore[no-redef]
demo.register(app)


def main() -> None:
    # Catalog, bundles, exports and reports are private to the service user and its group,
    # also when started by hand from a shell with umask 022 (archiver.resources).
    restrict_umask()
    from archiver.cli.common import begin_process

    begin_process()
    app()
