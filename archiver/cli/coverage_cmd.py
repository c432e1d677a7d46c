"""``archiver coverage``: what the archive lacks, with the reason and the fix (issue 11)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import typer

from archiver.cli.common import ConfigOption, JsonOption, app_context, clerk_errors, console, esc
from archiver.errors import ArchiverError


def parse_since(value: str, tz: str) -> datetime:
    """``YYYY-MM-DD`` (start of that day, City time) or an ISO time."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, ZoneInfo(tz))
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ArchiverError(
            f"--since {value!r} is not a date", hint="use YYYY-MM-DD or an ISO 8601 time"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


def coverage(
    site: str | None = typer.Option(None, "--site", help="Only this site."),
    since: str | None = typer.Option(
        None, "--since", help="Only gaps seen or open since then (YYYY-MM-DD or ISO time)."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Threads whose reported count exceeds what was captured, and periods without a harvest."""
    from archiver.catalog.sql import SAReader
    from archiver.coverage import all_gaps, gap_json, gap_line
    from archiver.filters import check_site

    with app_context(config) as app:
        check_site(app, site)
        tz = app.cfg.timezone
        start = parse_since(since, tz) if since else None
        sites = [x for x in app.cfg.sites if site is None or x.id == site]
        with app.catalog.engine.connect() as conn:
            gaps = all_gaps(SAReader(conn), sites, since=start, tz=tz)
    if as_json:
        from archiver.cli.common import print_json

        print_json({"total": len(gaps), "gaps": [gap_json(g, tz) for g in gaps]})
        return
    if not gaps:
        console.print("No coverage gaps recorded for the selection.", highlight=False)
        return
    console.print(f"[yellow]NEEDS ATTENTION[/]: {len(gaps)} coverage gap(s)", highlight=False)
    for g in gaps:
        console.print(f"  {esc(gap_line(g, tz))}", highlight=False)
        console.print(f"    fix: {esc(g.fix)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("coverage")(clerk_errors(coverage))
