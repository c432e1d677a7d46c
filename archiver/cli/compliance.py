"""``archiver compliance`` (findings against the City's policy) and ``archiver profile``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from archiver.cli.common import ConfigOption, JsonOption, app_context, clerk_errors, console
from archiver.cli.common import print_json as print_json

compliance_app = typer.Typer(
    help="Findings against the City's Social Media Use Policy (open ones by default).",
    invoke_without_command=True,
)
profile_app = typer.Typer(help="The accounts' profiles.", no_args_is_help=True)


def _local(stamp: str | None, zone: str) -> str:
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@compliance_app.callback()
@clerk_errors
def compliance_list(
    ctx: typer.Context,
    site: str | None = typer.Option(None, "--site", help="Only this site."),
    show_all: bool = typer.Option(False, "--all", help="Also passing and acknowledged ones."),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Open findings: failing or unknown, not acknowledged."""
    from archiver.compliance import site_findings
    from archiver.compliance.policy import POLICY

    if ctx.invoked_subcommand is not None:
        return
    with app_context(config, read_only_ok=True) as app:
        if site:
            app.cfg.site(site)
        with app.catalog.begin() as conn:
            found = site_findings(conn, site)
        zone = app.cfg.timezone
    shown = [f for f in found if show_all or f.open]
    if as_json:
        print_json([asdict(f) | {"policy": POLICY.get(f.rule, "")} for f in shown])
        return
    if not shown:
        console.print(
            f"no open findings ({len(found)} stored; run `archiver compliance check` or a "
            "harvest to evaluate)",
            highlight=False,
        )
        return
    # One block per finding, not a table: messages and ids stay whole in a narrow terminal.
    for f in shown:
        state = f.status + (f", acknowledged by {f.acked_by}" if f.acked_at else "")
        alerted = _local(f.alerted_at, zone) or "not e-mailed"
        console.print(
            f"#{f.id} {escape(f.site_id)} {f.rule} ({escape(state)}) first seen "
            f"{_local(f.first_seen, zone)}, last seen {_local(f.last_seen, zone)}; {alerted}",
            highlight=False,
            soft_wrap=True,
        )
        if f.subject:
            console.print(f"    subject: {escape(f.subject)}", highlight=False, soft_wrap=True)
        console.print(f"    {escape(f.message)}", highlight=False, soft_wrap=True)


@compliance_app.command("check")
@clerk_errors
def compliance_check(
    site: str | None = typer.Option(None, "--site", help="Only this site."),
    config: str | None = ConfigOption,
) -> None:
    """Evaluate now (a harvest does this too) and e-mail new failures."""
    from archiver.compliance import check_and_alert

    with app_context(config) as app:
        sites = [app.cfg.site(site)] if site else list(app.cfg.sites)
        for s in sites:
            res = check_and_alert(app.catalog, app.cfg, s)
            failing = sum(1 for f in res.findings if f.open)
            console.print(
                f"{escape(s.id)}: {failing} open finding(s), {len(res.alerted)} e-mailed now",
                highlight=False,
            )
            if res.alert_error:
                console.print(f"  {escape(res.alert_error)}", highlight=False)


@compliance_app.command("ack")
@clerk_errors
def compliance_ack(
    finding: int = typer.Argument(..., help="The finding id (first column of the list)."),
    by: str = typer.Option(..., "--by", help="Who reviewed it."),
    note: str = typer.Option(..., "--note", help="What was found and done."),
    config: str | None = ConfigOption,
) -> None:
    """Close a finding after review (recorded in the audit log)."""
    from archiver.compliance import ack

    with app_context(config) as app:
        f = ack(app.catalog, app.cfg, finding, by=by, note=note)
    console.print(
        f"finding {f.id} ({f.rule} on {escape(f.site_id)}) acknowledged by {escape(by)}",
        highlight=False,
    )


@profile_app.command("expect")
@clerk_errors
def profile_expect(
    site: str = typer.Argument(..., help="The site whose profile is about to change."),
    by: str = typer.Option(..., "--by", help="Who announces the change."),
    note: str = typer.Option(..., "--note", help="What will change (e.g. new winter banner)."),
    config: str | None = ConfigOption,
) -> None:
    """Announce a profile change beforehand, so it is not reported as vandalism."""
    from archiver.compliance import expect_profile_change

    with app_context(config) as app:
        rid = expect_profile_change(app.catalog, app.cfg, site, by=by, note=note)
    console.print(
        f"announcement {rid} recorded for {escape(site)}: a profile change seen within the "
        "grace period is reported as expected",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(compliance_app, name="compliance")
    app.add_typer(profile_app, name="profile")
