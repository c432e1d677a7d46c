"""Public-records request commands: ``request open|list|show|close`` and ``export``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from archiver.model import KINDS

if TYPE_CHECKING:
    from archiver.prr import requests as prr

from archiver.cli.common import (
    ConfigOption,
    JsonOption,
    app_context,
    clerk_errors,
    console,
    err_console,
    esc,
    print_json,
    real_console,
)

request_app = typer.Typer(help="Track public-records requests.", no_args_is_help=True)


def _describe(r: prr.RecordsRequest, today: date) -> str:
    state = r.status
    if r.overdue(today):
        return "[bold red]OVERDUE[/]"
    return esc(state)


@request_app.command("open")
@clerk_errors
def open_cmd(
    requester: str = typer.Option(..., "--requester", help="Who asked."),
    received: str = typer.Option(..., "--received", help="Date received, YYYY-MM-DD."),
    description: str = typer.Option(..., "--description", help="What was asked for."),
    estimate_minutes: int | None = typer.Option(
        None, "--estimate-minutes", help="Estimated staff minutes (for the fee estimate)."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Log a new request; prints its id PRR-YYYY-NNNN and the City's target dates."""
    from archiver.prr import deadlines
    from archiver.prr import requests as prr

    day = prr.parse_received(received)
    with app_context(config) as app:
        policy = app.cfg.requests
        today = prr.today_in(app.cfg.timezone)
        req = prr.open_request(
            app.catalog,
            requester=requester,
            received=day,
            description=description,
            policy=policy,
            estimated_minutes=estimate_minutes,
            today=today,
            anchor_path=app.cfg.audit_anchor,
        )
    if as_json:
        print_json(req.as_dict(today))
        return
    console.print(
        f"[bold]{esc(req.id)}[/] opened: acknowledge by {req.acknowledge_by}, respond by "
        f"{req.respond_by}" + (f", fee estimate ${req.fee_estimate}" if req.fee_estimate else ""),
        highlight=False,
    )
    console.print(f"[dim]{esc(deadlines.LEGAL_BASIS)}[/]", highlight=False)


@request_app.command("list")
@clerk_errors
def list_cmd(
    open_only: bool = typer.Option(False, "--open", help="Only open requests."),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Requests: open first, overdue first, then by response target."""
    from rich.table import Table

    from archiver.prr import requests as prr

    with app_context(config) as app:
        today = prr.today_in(app.cfg.timezone)
        rows = prr.list_requests(app.catalog, today=today, include_closed=not open_only)
    if as_json:
        print_json([r.as_dict(today) for r in rows])
        return
    if not rows:
        console.print("no records requests")
        return
    table = Table("id", "status", "received", "respond by", "requester", "description")
    for r in rows:
        table.add_row(
            esc(r.id),
            _describe(r, today),
            r.received.isoformat(),
            r.respond_by.isoformat(),
            esc(r.requester),
            esc(r.description[:60]),
        )
    console.print(table)


@request_app.command("show")
@clerk_errors
def show_cmd(
    request_id: str = typer.Argument(..., help="PRR-YYYY-NNNN"),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """One request with its dates, fee estimate and exports."""
    from archiver.prr import requests as prr
    from archiver.timefmt import local_time

    with app_context(config) as app:
        today = prr.today_in(app.cfg.timezone)
        req = prr.get_request(app.catalog, request_id)
        exports = prr.exports_for(app.catalog, req.id)
        tz = app.cfg.timezone
    data: dict[str, Any] = req.as_dict(today) | {"exports": exports}
    if as_json:
        print_json(data)
        return
    for k, v in data.items():
        if k == "exports":
            continue
        if k.endswith("_at") and isinstance(v, str):
            v = local_time(v, tz)
        console.print(f"[bold]{esc(k)}:[/] {esc(v if v is not None else '-')}", highlight=False)
    for e in exports:
        console.print(
            f"[bold]export:[/] {esc(local_time(e['at'], tz))} by {esc(e['actor'])} -> "
            f"{esc(e['out_path'])} (package {esc(e['package_sha256'][:16])}…)",
            highlight=False,
        )


@request_app.command("close")
@clerk_errors
def close_cmd(
    request_id: str = typer.Argument(..., help="PRR-YYYY-NNNN"),
    outcome: str = typer.Option(..., "--outcome", help="What was provided or why not."),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Close a request with its outcome (audit entry request.close)."""
    from archiver.prr import requests as prr

    with app_context(config) as app:
        today = prr.today_in(app.cfg.timezone)
        req = prr.close_request(
            app.catalog, request_id, outcome=outcome, anchor_path=app.cfg.audit_anchor
        )
    if as_json:
        print_json(req.as_dict(today))
        return
    console.print(f"[bold]{esc(req.id)}[/] closed: {esc(req.outcome)}", highlight=False)


@clerk_errors
def export_cmd(
    request_id: str = typer.Argument(..., help="PRR-YYYY-NNNN the export answers."),
    query: str = typer.Argument("", help="Words to find (all must match); empty = all."),
    out: Path = typer.Option(..., "--out", help="Package folder (or .zip with --zip) to create."),
    site: str | None = typer.Option(None, "--site"),
    platform: str | None = typer.Option(None, "--platform"),
    kind: list[str] = typer.Option([], "--kind", help=f"One of {', '.join(KINDS)} (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Posted on or after YYYY-MM-DD."),
    until: str | None = typer.Option(None, "--until", help="Posted on or before YYYY-MM-DD."),
    author: str | None = typer.Option(None, "--author", help="Author handle or id."),
    all_versions: bool = typer.Option(
        True, "--all-versions/--current-only", help="Include earlier versions (default)."
    ),
    exclude_removed: bool = typer.Option(False, "--exclude-removed"),
    include_followers: bool = typer.Option(
        False, "--include-followers", help="Add follower list snapshot(s) of the matched sites."
    ),
    zip_: bool = typer.Option(False, "--zip", help="Write one .zip of the bag."),
    redact: str | None = typer.Option(
        None, "--redact", help="ssn,phone,email,address,card and/or regex:<pattern>."
    ),
    withhold: bool = typer.Option(
        False, "--withhold-redacted-originals", help="Omit originals of redacted records."
    ),
    matches_only: bool = typer.Option(
        False,
        "--matches-only",
        help="Only the matching records, not their conversations (default: each match with "
        "its root post, parents and every reply).",
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a BagIt package answering a request: originals, WACZ, readable copy, index."""
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from archiver.filters import check_kinds
    from archiver.prr.export import ExportOptions, run_export
    from archiver.prr.redact import parse_rules
    from archiver.search import SearchFilters, parse_date

    check_kinds(kind)  # site, platform and author are checked against the archive by run_export
    rules = parse_rules(redact)
    since_d = parse_date(since, option="--since")
    until_d = parse_date(until, option="--until")
    with app_context(config) as app:
        filters = SearchFilters(
            site=site,
            platform=platform,
            kinds=tuple(kind),
            since=since_d,
            until=until_d,
            author=author,
            all_versions=all_versions,
            include_removed=not exclude_removed,
            tz=app.cfg.timezone,
        )
        opts = ExportOptions(
            request_id=request_id,
            query=query,
            filters=filters,
            out=out,
            zip=zip_,
            rules=rules,
            withhold_redacted_originals=withhold,
            include_followers=include_followers,
            matches_only=matches_only,
        )
        with Progress(
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=real_console(err_console),
            disable=as_json,
            transient=True,
        ) as progress:
            task = progress.add_task("export", total=None)
            result = run_export(
                app, opts, on_step=lambda s: progress.update(task, description=f"export: {s}")
            )
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"[green]✓[/] {esc(result.request_id)}: {result.counts['versions']} record version(s) "
        f"from {result.counts['bundles']} bundle(s) -> {esc(result.path)}",
        highlight=False,
    )
    c = result.counts
    gaps = c.get("known_gaps", 0)
    console.print(
        f"  {c.get('items_matched', c['items'])} item(s) matched, "
        f"{c['items'] - c.get('items_matched', c['items'])} added with their conversations; "
        + (
            f"[bold yellow]{gaps} known gap(s)[/] (see certification.txt)"
            if gaps
            else "no known gap"
        ),
        highlight=False,
    )
    console.print(f"package sha256 (tagmanifest): {result.package_sha256}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
    app.command("export")(export_cmd)
