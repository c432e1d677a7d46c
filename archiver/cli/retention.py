"""Retention commands: schedules, hold, disposition, removal, audit.

Every command that changes something takes the person's name (``--by``) because the audit
log records who decided, not which Unix account typed it. List commands take ``--json``.
"""

from __future__ import annotations

import shlex
from datetime import date
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table

from archiver.cli.common import (
    ConfigOption,
    JsonOption,
    app_context,
    clerk_errors,
    console,
    err_console,
    esc,
    print_json,
)
from archiver.errors import ArchiverError, RetentionError

schedules_app = typer.Typer(
    help="Retention schedule items (data in retention_schedules/).", no_args_is_help=True
)
hold_app = typer.Typer(
    help="Legal holds: saved searches that block disposal.", no_args_is_help=True
)
disposition_app = typer.Typer(
    help="Find, propose, approve and execute disposals.", no_args_is_help=True
)
removal_app = typer.Typer(
    help="Comments removed under the social media policy.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


def renamed_option(command: str, old: str, new: str, value: str) -> RetentionError:
    """Old spellings get one line pointing at the new one, never a silent new meaning."""
    what = "a date" if new == "--as-of" else "a person's name"
    return RetentionError(
        f"{command} {old} is now {new} ({what})",
        hint=f"run: archiver {command} {new} {shlex.quote(value)}",
    )


def require_person(value: str | None, command: str) -> str:
    """``--by`` always names a person; a date there is the old ``--by DATE`` spelling."""
    if value is None or not value.strip():
        raise RetentionError(
            f"{command} needs --by NAME (who does it)", hint='e.g. --by "Rita Records"'
        )
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return value.strip()
    raise RetentionError(
        f"{command} --by {value} is a date, but --by names a person",
        hint=f'for the date write --as-of {value}, and name yourself with --by "NAME"',
    )


def _date(value: str | None, option: str) -> date | None:
    from archiver.search import parse_date

    try:
        return parse_date(value, option=option)
    except ArchiverError as exc:
        raise RetentionError(exc.message, hint=exc.hint) from None


# -- schedules ----------------------------------------------------------------------------------


@schedules_app.command("list")
@clerk_errors
def schedules_list(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Every schedule item with retention, trigger, disposal path and verification."""
    from rich.table import Table

    from archiver.config import load_config
    from archiver.retention.dates import long_retention_flag
    from archiver.retention.eligibility import schedules_dir_for
    from archiver.retention.schedules import load_schedules
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    schedules = load_schedules(schedules_dir_for(cfg))
    rows: list[dict[str, Any]] = [
        {
            "ref": i.ref,
            "title": i.title,
            "retention": str(i.retention),
            "trigger": i.trigger.value if i.trigger else None,
            "disposal": i.disposal.value,
            "verified": i.verified,
            "long_retention": long_retention_flag(i),
        }
        for i in schedules.items()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("item", "title", "retention", "trigger", "disposal", "verified")
    for r in rows:
        table.add_row(
            escape(r["ref"]),
            escape(r["title"]),
            escape(r["retention"]),
            escape(r["trigger"] or ""),
            escape(r["disposal"]),
            "yes" if r["verified"] else "[red]NO[/]",
        )
    console.print(table)


@schedules_app.command("show")
@clerk_errors
def schedules_show(
    item: str = typer.Argument(..., help="Item ref, e.g. LG1.2006-1"),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """One item in full, with its source and notes."""
    from archiver.config import load_config
    from archiver.retention.dates import long_retention_flag
    from archiver.retention.eligibility import schedules_dir_for
    from archiver.retention.schedules import load_schedules
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    i = load_schedules(schedules_dir_for(cfg)).item(item)
    data = {
        "ref": i.ref,
        "schedule": i.schedule_key,
        "number": i.number,
        "title": i.title,
        "description": i.description,
        "retention": str(i.retention),
        "trigger": i.trigger.value if i.trigger else None,
        "disposal": i.disposal.value,
        "source": i.source,
        "verified": i.verified,
        "notes": i.notes,
        "long_retention": long_retention_flag(i),
    }
    if as_json:
        print_json(data)
        return
    for k, v in data.items():
        console.print(f"[bold]{k}:[/] {escape(str(v))}", highlight=False, soft_wrap=True)


@schedules_app.command("check")
@clerk_errors
def schedules_check(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Every problem in the schedule files and the class mapping; unverified items in use."""
    from archiver.config import load_config
    from archiver.retention import confirmations
    from archiver.retention.eligibility import schedules_dir_for
    from archiver.retention.mapping import load_mapping, superseded_uses
    from archiver.retention.schedules import check_schedules, load_schedules
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    directory = schedules_dir_for(cfg)
    problems = [str(p) for p in check_schedules(directory)]
    unverified: list[dict[str, Any]] = []
    superseded: list[dict[str, Any]] = []
    if not problems:
        schedules = load_schedules(directory)
        if cfg.retention.classes is None:
            problems.append(
                f"{cfg.path}: retention.classes: missing — nothing will ever be eligible for "
                "disposal; copy retention_schedules/mapping.example.toml"
            )
        else:
            try:
                mapping = load_mapping(
                    cfg.retention.mapping_document(), file=str(cfg.path), schedules=schedules,
                    known_sites=[s.id for s in cfg.sites],
                )  # fmt: skip
            except ArchiverError as exc:
                problems.append(str(exc))
            else:
                superseded = [
                    {
                        "key": u.key,
                        "ref": u.item.ref,
                        "schedule": u.schedule.key,
                        "current_editions": [c.key for c in u.current],
                        "message": str(u),
                    }
                    for u in superseded_uses(mapping, schedules)
                ]
                with app_context(config) as app:
                    confirmed = confirmations.list_confirmations(app, schedules)
                for key, item in mapping.unverified():
                    c = confirmed.get(item.ref)
                    entry: dict[str, Any] = {
                        "key": key,
                        "ref": item.ref,
                        "confirmed_by": c.confirmed_by if c and c.current else None,
                        "confirmed_at": c.confirmed_at if c and c.current else None,
                    }
                    if c is not None and not c.current:
                        # Confirmed once, but not the item as it reads now: confirm again.
                        entry["stale_confirmation"] = {
                            "confirmed_by": c.confirmed_by,
                            "confirmed_at": c.confirmed_at,
                            "reason": c.stale_reason,
                        }
                    unverified.append(entry)
    ok = not problems
    if as_json:
        print_json(
            {
                "ok": ok,
                "directory": str(directory),
                "problems": problems,
                "unverified": unverified,
                "superseded": superseded,
            }
        )
    else:
        for p in problems:
            err_console.print(f"[bold red]error:[/] {escape(p)}", highlight=False, soft_wrap=True)
        for u in unverified:
            stale = u.get("stale_confirmation")
            state = (
                f"confirmed by {u['confirmed_by']} on {u['confirmed_at'][:10]}"
                if u["confirmed_by"]
                else f"NOT confirmed: archiver schedules confirm {u['ref']} --by NAME"
            )
            if stale:
                state = (
                    f"NOT confirmed any more: {stale['reason']} (confirmed by "
                    f"{stale['confirmed_by']} on {stale['confirmed_at'][:10]}); "
                    f"archiver schedules confirm {u['ref']} --by NAME"
                )
            err_console.print(
                "[yellow]unverified:[/] " + escape(f"{u['key']} = {u['ref']} ({state})"),
                highlight=False,
                soft_wrap=True,
            )
        for u in superseded:
            err_console.print(
                f"[yellow]superseded:[/] {escape(u['message'])}", highlight=False, soft_wrap=True
            )
        if ok and superseded:
            console.print(
                f"{escape(str(directory))}: OK, but {len(superseded)} mapping(s) use a superseded edition "
                "(warnings above)"
            )
        elif ok:
            console.print(f"{escape(str(directory))}: OK", highlight=False)
    if not ok:
        raise typer.Exit(2)


@schedules_app.command("confirm")
@clerk_errors
def schedules_confirm(
    item: str = typer.Argument(..., help="Item ref of an unverified item"),
    by: str = typer.Option(..., "--by", help="Records manager's name"),
    note: str = typer.Option("", "--note", help="What was checked, e.g. the schedule page"),
    config: str | None = ConfigOption,
) -> None:
    """Confirm an unverified item against the published schedule so disposal may use it."""
    from archiver.retention import confirmations
    from archiver.retention.eligibility import load_settings

    with app_context(config) as app:
        row = confirmations.confirm(app, load_settings(app.cfg), ref=item, by=by, note=note)
    console.print(
        f"{escape(row['ref'])} confirmed by {escape(row['confirmed_by'])}", highlight=False
    )


# -- holds --------------------------------------------------------------------------------------


@hold_app.command("add")
@clerk_errors
def hold_add(
    name: str = typer.Argument(..., help="Short name for the hold"),
    matter: str = typer.Option(..., "--matter", help="The case, claim or investigation"),
    by: str = typer.Option(..., "--by", help="Who places the hold"),
    site: str | None = typer.Option(None, "--site"),
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD (posted on or after)"),
    until: str | None = typer.Option(None, "--until", help="YYYY-MM-DD (posted on or before)"),
    query: str | None = typer.Option(None, "--query", help="Search words, as archiver search"),
    author: str | None = typer.Option(None, "--author", help="Author handle"),
    config: str | None = ConfigOption,
) -> None:
    """Place a legal hold; it also covers matching records captured later."""
    from archiver.filters import check_filters
    from archiver.retention import holds

    with app_context(config) as app:
        check_filters(app, site=site, author=author)
        warnings = holds.add_hold(
            app, name=name, matter=matter, by=by, site=site,
            since=_date(since, "--since"), until=_date(until, "--until"),
            query=query, author=author,
        )  # fmt: skip
        count = next((h["bundles"] for h in holds.list_holds(app) if h["name"] == name), 0)
    _warn(warnings)
    console.print(
        f"hold {escape(repr(name))} placed; it covers {count} bundle(s) now", highlight=False
    )


@hold_app.command("list")
@clerk_errors
def hold_list(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Active and released holds, with how many bundles each active one covers now."""
    from rich.table import Table

    from archiver.retention import holds
    from archiver.timefmt import local_time

    with app_context(config) as app:
        rows = holds.list_holds(app)
        tz = app.cfg.timezone
    if as_json:
        print_json(rows)
        return
    table = Table("name", "status", "matter", "filters", "bundles", "placed")
    for r in rows:
        filters = ", ".join(
            f"{k}={r[k]}" for k in ("site_id", "since", "until", "query", "author") if r[k]
        )
        table.add_row(
            escape(r["name"]),
            escape(r["status"]),
            escape(r["matter"]),
            escape(filters or "everything"),
            str(r["bundles"]),
            escape(f"{local_time(r['placed_at'], tz)} by {r['placed_by']}"),
        )
    console.print(table)


@hold_app.command("release")
@clerk_errors
def hold_release(
    name: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    by: str = typer.Option(..., "--by"),
    config: str | None = ConfigOption,
) -> None:
    """Release a hold (its row and audit entries stay)."""
    from archiver.retention import holds

    with app_context(config) as app:
        warnings = holds.release_hold(app, name=name, reason=reason, by=by)
    _warn(warnings)
    console.print(f"hold {escape(repr(name))} released", highlight=False)


# -- disposition --------------------------------------------------------------------------------


def _due_table(rows: list[dict[str, Any]], title: str) -> Table:
    from rich.table import Table

    table = Table("bundle", "class", "eligible", "items", "path", "records", "flags", title=title)
    for r in rows:
        flags = []
        if r["long_retention"]:
            flags.append("kept >10 years (ARM 44.14.202: ARMA principles, no paper copy)")
        if r["needs_historical_offer"]:
            flags.append(">50 years: offer first (MCA 2-6-1205)")
        flags.extend(r.get("blocked", []))
        table.add_row(
            escape(r["key"]),
            escape(r["record_class"]),
            escape(r["eligible_on"]),
            escape(", ".join(r["schedule_items"])),
            escape(r["disposal"]),
            str(r["record_count"]),
            escape("; ".join(flags)),
        )
    return table


@disposition_app.command("due")
@clerk_errors
def disposition_due(
    as_of: str | None = typer.Option(
        None, "--as-of", "--on", help="Eligible on this date, YYYY-MM-DD (default today)"
    ),
    old_by: str | None = typer.Option(None, "--by", hidden=True),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Bundles eligible for disposal, not held and not in a batch; and what blocks the rest."""
    from archiver.retention import disposition
    from archiver.retention.eligibility import load_settings

    if old_by is not None:
        raise renamed_option("disposition due", "--by", "--as-of", old_by)
    with app_context(config) as app:
        rows, blocked, warnings = disposition.due(
            app, load_settings(app.cfg), as_of=_date(as_of, "--as-of")
        )
    _warn(warnings)
    if as_json:
        print_json({"due": rows, "blocked": blocked})
        return
    if not rows and not blocked:
        console.print("nothing is eligible for disposal")
        return
    console.print(_due_table(rows, f"{len(rows)} bundle(s) due"))
    if blocked:
        console.print(_due_table(blocked, f"{len(blocked)} eligible bundle(s) blocked"))


@disposition_app.command("propose")
@clerk_errors
def disposition_propose(
    by: str | None = typer.Option(None, "--by", help="Who proposes (a person's name)"),
    as_of: str | None = typer.Option(
        None, "--as-of", "--on", help="Eligible on this date, YYYY-MM-DD (default today)"
    ),
    old_by_name: str | None = typer.Option(None, "--by-name", hidden=True),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Freeze today's due list into a batch for approval."""
    from archiver.retention import disposition
    from archiver.retention.eligibility import load_settings

    if old_by_name is not None:
        raise renamed_option("disposition propose", "--by-name", "--by", old_by_name)
    person = require_person(by, "disposition propose")
    with app_context(config) as app:
        batch = disposition.propose(
            app, load_settings(app.cfg), by=person, as_of=_date(as_of, "--as-of")
        )
    _warn(batch.get("warnings", []))
    if as_json:
        print_json(batch)
        return
    t = batch["totals"]
    console.print(
        escape(
            f"batch {batch['id']} proposed: {t['bundles']} bundle(s), {t['records']} record(s), "
            f"{t['bytes']} bytes; items {', '.join(batch['schedule_items'])}; path {batch['path']}"
        ),
        highlight=False,
    )
    for r in batch["records"]:
        console.print(f"RM60 request for the subcommittee: {escape(str(r['pdf_path']))}")
    console.print(
        f"next: archiver disposition approve {escape(batch['id'])} --by NAME --title TITLE"
    )


@disposition_app.command("approve")
@clerk_errors
def disposition_approve(
    batch: str = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="Approver's name"),
    title: str = typer.Option(..., "--title", help="Approver's title"),
    authority: str | None = typer.Option(
        None, "--authority", help='e.g. "Commission Resolution 5555"'
    ),
    rm60_approved: str | None = typer.Option(
        None, "--rm60-approved", help="Date the disposal subcommittee approved (RM60 path)"
    ),
    config: str | None = ConfigOption,
) -> None:
    """Approve a proposed batch (once)."""
    from archiver.retention import disposition

    with app_context(config) as app:
        b = disposition.approve(
            app, batch_id=batch, by=by, title=title, authority=authority,
            rm60_approved=_date(rm60_approved, "--rm60-approved"),
        )  # fmt: skip
    console.print(
        escape(f"batch {b['id']} approved by {b['approved_by']}, {b['approved_title']}"),
        highlight=False,
    )


@disposition_app.command("offer")
@clerk_errors
def disposition_offer(
    batch: str = typer.Argument(...),
    to: str = typer.Option(..., "--to", help='e.g. "Montana Historical Society"'),
    notified: str = typer.Option(..., "--notified", help="Date the offer notice went out"),
    by: str | None = typer.Option(None, "--by"),
    config: str | None = ConfigOption,
) -> None:
    """Record the MCA 2-6-1205 offer for records more than 50 years old (30 days' notice)."""
    from archiver import audit
    from archiver.retention import disposition

    when = _date(notified, "--notified")
    assert when is not None
    with app_context(config) as app:
        disposition.offer(app, batch_id=batch, to=to, notified=when, by=by or audit.current_actor())
    console.print(
        escape(f"offer recorded for {batch}; execution may proceed 30 days after {when}"),
        highlight=False,
    )


@disposition_app.command("confidential")
@clerk_errors
def disposition_confidential(
    batch: str = typer.Argument(...),
    bundles: list[str] = typer.Argument(..., help="Bundle ids in the batch"),
    by: str = typer.Option(..., "--by"),
    reason: str = typer.Option(..., "--reason"),
    config: str | None = ConfigOption,
) -> None:
    """Mark bundles confidential: never offered to the MCA 2-6-1205 registry."""
    from archiver.retention import disposition

    with app_context(config) as app:
        disposition.mark_confidential(app, batch_id=batch, bundle_ids=bundles, by=by, reason=reason)
    console.print(escape(f"{len(bundles)} bundle(s) of {batch} marked confidential"))


@disposition_app.command("execute")
@clerk_errors
def disposition_execute(
    batch: str = typer.Argument(...),
    by: str | None = typer.Option(None, "--by"),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Dispose of an approved batch; re-checks every bundle; safe to run again."""
    from archiver.retention import disposition
    from archiver.retention.eligibility import load_settings

    with app_context(config) as app:
        r = disposition.execute(app, load_settings(app.cfg), batch_id=batch, by=by)
    _warn(r.warnings)
    if as_json:
        print_json(r.__dict__)
        return
    if r.already_done:
        console.print(escape(f"batch {batch} was already executed; nothing to do"))
        return
    console.print(escape(f"batch {batch}: {len(r.disposed)} bundle(s) disposed, status {r.status}"))
    for bid, why in {**r.skipped, **r.waiting}.items():
        console.print(f"  kept {escape(bid)}: {escape(why)}", highlight=False, soft_wrap=True)
    for path in r.records:
        console.print(f"disposal record: {escape(str(path))}", highlight=False)


@disposition_app.command("list")
@clerk_errors
def disposition_list(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Every disposition batch and its state."""
    from rich.table import Table

    from archiver.retention import disposition

    with app_context(config) as app:
        rows = disposition.list_batches(app)
    if as_json:
        print_json(rows)
        return
    table = Table("batch", "status", "path", "proposed", "approved", "bundles")
    for r in rows:
        table.add_row(
            escape(r["id"]),
            escape(r["status"]),
            escape(r["path"]),
            escape(f"{r['proposed_at'][:10]} {r['proposed_by']}"),
            escape(f"{(r['approved_at'] or '')[:10]} {r['approved_by'] or ''}"),
            escape(", ".join(f"{k} {v}" for k, v in r["bundles"].items())),
        )
    console.print(table)


@disposition_app.command("show")
@clerk_errors
def disposition_show(
    batch: str = typer.Argument(...), config: str | None = ConfigOption, as_json: bool = JsonOption
) -> None:
    """One batch with its bundles and disposal records."""
    from archiver.retention import disposition

    with app_context(config) as app:
        b = disposition.batch_detail(app, batch)
    if as_json:
        print_json(b)
        return
    console.print(
        escape(f"{b['id']}: {b['status']} ({b['path']}), totals {b['totals']}"), highlight=False
    )
    for r in b["bundles"]:
        console.print(escape(f"  {r['key']}  {r['state']}  {r['note'] or ''}"), highlight=False)
    for rec in b["records"]:
        console.print(escape(f"  {rec['form']}: {rec['pdf_path']}"), highlight=False)
        for kind, where in sorted(rec.get("stored", {}).items()):
            console.print(escape(f"    {kind} stored in {where}"), highlight=False)


# -- removals -----------------------------------------------------------------------------------


@removal_app.command("record")
@clerk_errors
def removal_record(
    item: str = typer.Argument(..., help="site:platform_id or catalog item id"),
    category: int = typer.Option(..., "--category", help="Policy category 1-10"),
    by: str = typer.Option(..., "--by"),
    note: str = typer.Option("", "--note"),
    config: str | None = ConfigOption,
) -> None:
    """Record that the City removed a comment, and under which policy category.

    The item is first re-captured from the platform and sealed (issue 13), so the text being
    removed is archived as it stands now; the command says what it captured.
    """
    from archiver.fastlane.recapture import recapture_item
    from archiver.retention import removal

    with app_context(config) as app:
        got = recapture_item(app, item)
        shown = escape((got.text or "")[:80])
        if got.captured:
            what = "a new version" if got.changed else "the same text as the archive already held"
            console.print(
                f"re-captured item {got.item_id} from the platform before recording the "
                f"removal: {what} (version {got.version}, sealed in "
                f"{escape(', '.join(got.bundles))}): {shown!r}",
                highlight=False,
            )
        else:
            console.print(
                f"could not re-capture item {got.item_id} from the platform "
                f"({escape(got.reason or '')}); the archive keeps version {got.version}: "
                f"{shown!r}",
                highlight=False,
            )
        r = removal.record_removal(app, item=item, category=category, by=by, note=note)
    console.print(
        escape(
            f"removal of item {r['item_id']} recorded ({r['category']}: {r['category_name']}); "
            "it is retained until the City Attorney approves"
        ),
        highlight=False,
    )


@removal_app.command("review")
@clerk_errors
def removal_review(
    item: str = typer.Argument(...),
    attorney: str = typer.Option(..., "--attorney"),
    decision: str = typer.Option(..., "--decision", help="approve or reject"),
    note: str = typer.Option(..., "--note"),
    config: str | None = ConfigOption,
) -> None:
    """The City Attorney's decision on a recorded removal."""
    from archiver.retention import removal

    with app_context(config) as app:
        r = removal.review(app, item=item, attorney=attorney, decision=decision, note=note)
    console.print(escape(f"item {r['item_id']}: {r['decision']} by {r['attorney']}"))


@removal_app.command("list")
@clerk_errors
def removal_list(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Recorded removals with poster, time, category and review status."""
    from rich.table import Table

    from archiver.retention import removal
    from archiver.timefmt import local_time

    with app_context(config) as app:
        rows = removal.list_removals(app)
        tz = app.cfg.timezone
    if as_json:
        print_json(rows)
        return
    table = Table("item", "site", "poster", "posted", "category", "status", "recorded")
    for r in rows:
        table.add_row(
            str(r["item_id"]),
            escape(r["site_id"]),
            escape(r["author_handle"] or ""),
            escape(local_time(r["posted_at"], tz)),
            escape(f"{r['category']} {r['category_name']}"),
            escape(r["status"]),
            escape(f"{local_time(r['recorded_at'], tz)} {r['recorded_by']}"),
        )
    console.print(table)


# -- audit --------------------------------------------------------------------------------------


@audit_app.command("verify")
@clerk_errors
def audit_verify(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Re-check every hash and link, the anchor file and the newest sealed checkpoint; exit 1
    naming every bad entry. Writes nothing (not even a config.change entry)."""
    from archiver.integrity.audit_check import verify_with_checkpoint

    with app_context(config, read_only=True) as app:
        report, checkpoint = verify_with_checkpoint(app)
    data = {
        "ok": report.ok,
        "entries_checked": report.entries_checked,
        "first_bad_seq": report.first_bad_seq,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "problems": [{"seq": p.seq, "kind": p.kind, "reason": p.reason} for p in report.problems],
        "checkpoint": checkpoint,
    }
    if as_json:
        print_json(data)
    elif report.ok:
        where = (
            f"; matches sealed checkpoint {checkpoint['n']} (seq {checkpoint['seq']})"
            if checkpoint
            else "; no sealed checkpoint yet (run `archiver audit checkpoint`)"
        )
        console.print(
            f"audit log OK: {report.entries_checked} entries, head seq {report.head_seq} "
            f"{esc(report.head_hash)}{esc(where)}",
            highlight=False,
        )
    else:
        for p in report.problems:
            err_console.print(
                f"[bold red]audit log:[/] seq {p.seq}: {p.kind}: {escape(p.reason)}",
                highlight=False,
                soft_wrap=True,
            )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@clerk_errors
def audit_checkpoint(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Seal the audit log's head (signed, timestamped) as a document with the bundles."""
    from archiver.integrity.audit_check import seal_checkpoint

    with app_context(config) as app:
        cp = seal_checkpoint(app)
    data = {"n": cp.n, "seq": cp.seq, "entry_hash": cp.entry_hash, "at": cp.at}
    if as_json:
        print_json(data)
    else:
        console.print(
            f"audit checkpoint {cp.n}: head seq {cp.seq} {cp.entry_hash}", highlight=False
        )


@audit_app.command("log")
@clerk_errors
def audit_log_cmd(
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N entries"),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """The newest audit entries, newest first."""
    from rich.table import Table
    from sqlalchemy import select

    from archiver import audit
    from archiver.timefmt import local_time

    a = audit.audit_log
    with app_context(config, read_only_ok=True) as app, app.catalog.begin() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(select(a).order_by(a.c.seq.desc()).limit(limit))
        ]
        tz = app.cfg.timezone
    if as_json:
        print_json(rows)
        return
    table = Table("seq", "at", "actor", "action", "subject", "details")
    for r in rows:
        table.add_row(
            str(r["seq"]),
            escape(local_time(r["at"], tz)),
            escape(r["actor"]),
            escape(r["action"]),
            escape(r["subject"]),
            escape(r["details"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(schedules_app, name="schedules")
    app.add_typer(hold_app, name="hold")
    app.add_typer(disposition_app, name="disposition")
    app.add_typer(removal_app, name="removal")
    app.add_typer(audit_app, name="audit")
