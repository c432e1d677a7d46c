"""``archiver daemon`` (the scheduled service) and ``archiver report`` (the monthly report)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from archiver.cli.common import (
    ConfigOption,
    JsonOption,
    app_context,
    clerk_errors,
    err_console,
    esc,
    print_json,
)
from archiver.errors import ReportError


@clerk_errors
def daemon(config: str | None = ConfigOption) -> None:
    """Run the scheduler: harvests, nightly fixity, retention refresh, monthly report."""
    from archiver.daemon.service import run_daemon

    raise typer.Exit(run_daemon(config))


@clerk_errors
def report(
    month: str | None = typer.Option(
        None, "--month", help="YYYY-MM (default: last month, in the archive's time zone)."
    ),
    send: bool = typer.Option(
        False,
        "--send",
        # typer renders help as rich markup: the backslashes keep the section names visible.
        help=r"E-mail it to the \[smtp]/\[report] recipients.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Also write the files here (a copy always goes to <root>/reports/)."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Build the monthly retention report; keep it on disk and optionally e-mail it."""
    from archiver.daemon.jobs import previous_month
    from archiver.report.build import produce_report, to_json
    from archiver.report.render import render_text

    with app_context(config) as app:
        if month is None:
            month = previous_month(datetime.now(ZoneInfo(app.cfg.timezone)).date())
        if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", month):
            raise ReportError(f"--month {month!r} is not YYYY-MM", hint="e.g. --month 2026-10")
        outcome = produce_report(app, month, send=send, out_dir=out)
    assert outcome.data is not None
    if as_json:
        print_json(
            {
                "month": outcome.month,
                "files": [str(p) for p in outcome.paths],
                "sent": outcome.sent,
                "send_error": outcome.error,
                "report": to_json(outcome.data),
            }
        )
    else:
        # Plain write: the text is already wrapped for e-mail; rich would re-wrap it.
        sys.stdout.write(render_text(outcome.data))
        err_console.print(
            f"report files: {esc(', '.join(str(p) for p in outcome.paths))}", highlight=False
        )
        if outcome.sent:
            err_console.print("report e-mailed")
    if outcome.error:
        err_console.print(
            f"[bold red]error:[/] {esc(outcome.error)}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(ReportError.exit_code)


def register(app: typer.Typer) -> None:
    app.command("daemon")(daemon)
    app.command("report")(report)
