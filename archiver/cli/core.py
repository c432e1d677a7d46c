"""Foundation commands: config check, sites, harvest, verify, search, status, recover."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from archiver.cli.common import (
    ConfigOption,
    JsonOption,
    app_context,
    clerk_errors,
    console,
    err_console,
    esc,
    loading,
    print_json,
    read_context,
    real_console,
)
from archiver.errors import ArchiverError, CatalogError, StorageError
from archiver.model import KINDS

if TYPE_CHECKING:
    from archiver.catalog.sql import Reader
    from archiver.config import Config

config_app = typer.Typer(help="Write or check the configuration file.", no_args_is_help=True)


@config_app.command("check")
@clerk_errors
def config_check(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Validate the config and explain every problem (file, key, fix)."""
    from archiver.cli.config_check import deep_problems
    from archiver.config import check_config, resolve_path
    from connectors.registry import option_problems, platforms

    path = resolve_path(config)
    cfg, errors, warnings = check_config(
        path, platforms=platforms(), options=option_problems, deep=deep_problems
    )
    if as_json:
        print_json({"ok": not errors, "errors": [str(e) for e in errors], "warnings": warnings})
    else:
        for w in warnings:
            err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
        for e in errors:
            err_console.print(
                f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True
            )
        if not errors and cfg is not None:
            console.print(
                escape(f"{path}: OK ({len(cfg.sites)} site(s), archive root {cfg.root})"),
                soft_wrap=True,
            )
    if errors:
        raise typer.Exit(2)


def sites(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """List the configured sites."""
    from rich.table import Table

    with app_context(config) as app:
        rows: list[dict[str, Any]] = [
            {
                "id": s.id,
                "platform": s.platform,
                "account": s.account,
                "department": s.department,
                "interval_seconds": s.interval_seconds,
                "enabled": s.enabled,
                "administrators": [f"{a.name} ({a.role})" for a in s.administrators],
                "it_administrator": s.has_it_admin,
            }
            for s in app.cfg.sites
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "platform", "account", "department", "every", "IT admin")
    for r in rows:
        table.add_row(
            esc(r["id"]),
            esc(r["platform"]),
            esc(r["account"]),
            esc(r["department"]),
            f"{r['interval_seconds'] // 60} min",
            "yes" if r["it_administrator"] else "[red]MISSING[/]",
        )
    console.print(table)


def harvest(
    site: str | None = typer.Option(None, "--site", help="Only this site id."),
    full: bool = typer.Option(
        False,
        "--full",
        help="Full sweep: re-read everything upstream, the whole follower list included.",
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Harvest every enabled site (or one) now: capture, seal, catalog."""
    with loading():
        import archiver.app  # noqa: F401  (what app_context opens the archive with)
        from archiver.cli.clerk_output import harvest_sentence
        from archiver.compliance.run import after_harvest
        from archiver.harvest import Harvester
        from archiver.log import said_by_caller

    said_by_caller("harvest_failed", "harvest_rate_limited")  # each is printed as "error: ..."
    with app_context(config) as app:
        targets = [app.cfg.site(site)] if site else [s for s in app.cfg.sites if s.enabled]
        harvester = Harvester(app.cfg, app.catalog, app.storage, after_site=after_harvest)
        results: list[dict[str, Any]] = []
        failed = 0
        for s in targets:
            try:
                with console.status(f"harvesting {esc(s.id)} ({esc(s.platform)})…"):
                    r = harvester.harvest_site(s, full=True if full else None, whole_followers=full)
            except ArchiverError as exc:
                failed += 1
                results.append({"site": s.id, "status": "failed", "error": str(exc)})
                err_console.print(
                    f"[bold red]error:[/] {esc(exc)}", highlight=False, soft_wrap=True
                )
                continue
            changes = {
                "new_items": sum(x.new_items for x in r.ingest),
                "new_versions": sum(x.new_versions - x.new_items for x in r.ingest),
                "removed_upstream": sum(x.removed for x in r.ingest),
                "followed": sum(x.followed for x in r.ingest),
                "unfollowed": sum(x.unfollowed for x in r.ingest),
            }
            results.append(
                {
                    "site": s.id,
                    "status": r.status,
                    "run": r.run_id,
                    "full_sweep": r.full_sweep,
                    "bundles": r.bundles,
                    "captured": r.counts,
                    "changes": changes,
                }
            )
            if not as_json:
                sentence = harvest_sentence(
                    s.id,
                    r.run_id,
                    full_sweep=r.full_sweep,
                    bundles=len(r.bundles),
                    captured=r.counts,
                    changes=changes,
                )
                console.print(escape(sentence), highlight=False, soft_wrap=True)
    if as_json:
        print_json(results)
    if failed:
        raise typer.Exit(1)


def verify(
    all_: bool = typer.Option(True, "--all/--sample", help="Every bundle (default) or a sample."),
    sample: int = typer.Option(20, "--sample-size", help="Bundles to check with --sample."),
    site: str | None = typer.Option(None, "--site"),
    deep: bool = typer.Option(
        False, "--deep", help="Also recompute the catalog from every sealed records.sqlite."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Bundles hashed at a time (default: the number of cores); --deep uses them too.",
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Re-hash every sealed file, check each bundle's signature and timestamp, and (--deep)
    the catalog against the sealed records; exit 1 on any mismatch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from archiver.filters import check_filters
    from archiver.integrity.run import check_archive
    from archiver.verify import record_audit

    with app_context(config, read_only_ok=True) as app:
        check_filters(app, site=site)
        total = len(app.catalog.bundles(site_id=site))
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=real_console(err_console),
            disable=as_json,
            transient=True,
        ) as progress:
            task = progress.add_task("verify", total=total if all_ else min(sample, total))
            report = check_archive(
                app,
                sample=None if all_ else sample,
                site_id=site,
                deep=deep,
                on_bundle=lambda _b: progress.advance(task),
                in_disposal=_in_disposal(app),
                workers=workers,
            )
        if report.bundles_checked == 0 and not report.uncataloged and not report.problems:
            # Zero bundles checked proves nothing: never print "OK" for an empty selection.
            raise ArchiverError(
                "nothing to verify: "
                + (
                    f"site {site!r} has no sealed bundle"
                    if site
                    else "the archive holds no sealed bundle"
                ),
                hint="harvest first (`archiver harvest`); an empty selection proves nothing",
            )
        scope = ("deep:" if deep else "") + ("archive" if all_ else "sample")
        if app.catalog.unrecorded:
            app.notes.append(
                f"note: last-verified dates were not recorded: {app.catalog.unrecorded[0]}"
            )
        if app.read_only:
            app.not_recorded("this verify's result (audit entry verify)")
        else:
            try:
                record_audit(
                    app.catalog,
                    report,
                    scope=f"{scope}:{site}" if site else scope,
                    anchor_path=app.cfg.audit_anchor,
                )
            except (CatalogError, StorageError) as exc:  # e.g. the disk filled meanwhile
                app.notes.append(f"note: this verify's result was not recorded: {exc}")
    if as_json:
        print_json(report.as_dict())
    else:
        for p in report.problems:
            err_console.print(
                f"[bold red]FAIL[/] {esc(p.kind)}: bundle {esc(p.bundle_id)} "
                f"file {esc(p.relpath or '-')}: {esc(p.detail)}",
                highlight=False,
                soft_wrap=True,
            )
        _print_authenticity(report.extra)
        for bid, batch in sorted(report.disposal_in_progress.items()):
            err_console.print(
                f"[yellow]disposal in progress[/]: bundle {escape(bid)} (batch {escape(batch)}) "
                "was being destroyed when the process stopped; `archiver recover` finishes it",
                highlight=False,
                soft_wrap=True,
            )
        verdict = "[green]OK[/]" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]"
        console.print(
            f"verify: {report.bundles_checked} bundle(s), {report.files_checked} file(s), "
            f"{report.bytes_checked:,} bytes checked — {verdict}"
            + (
                f"; {len(report.disposal_in_progress)} bundle(s) in an unfinished disposal "
                "not checked"
                if report.disposal_in_progress
                else ""
            )
        )
    if not report.ok:
        raise typer.Exit(1)


def _print_authenticity(extra: dict[str, Any]) -> None:
    """Seal states as proven, never rounded up: legacy unsigned is not "verified authentic"."""
    seals = extra.get("seals") or {}
    labels = {
        "signed": "signature valid (key trusted at seal time)",
        "legacy_unsigned": "UNSIGNED, sealed before signing was enabled (integrity by "
        "manifests and catalog digests only)",
        "unsigned_signing_off": "UNSIGNED: signing is not enabled (run `archiver keys init`)",
        "quarantine": "FAILED the seal check",
    }
    for state, n in sorted(seals.items()):
        console.print(f"seals: {n} bundle(s) {labels.get(state, state)}", highlight=False)
    stamps = extra.get("timestamps") or {}
    if stamps:
        console.print(
            "timestamps: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(stamps.items())),
            highlight=False,
        )
    deep = extra.get("deep")
    if deep:
        console.print(
            f"deep: {deep['bundles']} bundle(s), {deep['rows_compared']:,} catalog row(s) "
            "compared with the sealed records",
            highlight=False,
        )
    held = extra.get("quarantined") or []
    if held:
        err_console.print(f"[bold red]NEEDS ATTENTION[/]: {len(held)} quarantined bundle(s)")
        for q in held:
            err_console.print(
                f"  QUARANTINED {escape(q['key'])}: {escape(q['reason'])}",
                highlight=False,
                soft_wrap=True,
            )


def search_cmd(
    query: str = typer.Argument("", help='Words to find (all must match); "quoted phrase" works.'),
    site: str | None = typer.Option(None, "--site"),
    platform: str | None = typer.Option(None, "--platform"),
    kind: list[str] = typer.Option([], "--kind", help=f"One of {', '.join(KINDS)} (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Posted on or after YYYY-MM-DD."),
    until: str | None = typer.Option(None, "--until", help="Posted on or before YYYY-MM-DD."),
    author: str | None = typer.Option(None, "--author", help="Author handle or id."),
    all_versions: bool = typer.Option(False, "--all-versions", help="Include earlier versions."),
    exclude_removed: bool = typer.Option(
        False, "--exclude-removed", help="Hide removed-upstream items."
    ),
    limit: int = typer.Option(
        50, "--limit", min=1, help="Show at most N hits (the total is always given)."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Search the archive (full text plus filters)."""
    from archiver.filters import check_filters, check_kinds
    from archiver.search import SearchFilters, count_matches, parse_date, search
    from archiver.timefmt import local_time

    check_kinds(kind)
    with app_context(config, read_only_ok=True) as app:
        check_filters(app, site=site, platform=platform, author=author)
        filters = SearchFilters(
            site=site,
            platform=platform,
            kinds=tuple(kind),
            since=parse_date(since, option="--since"),
            until=parse_date(until, option="--until"),
            author=author,
            all_versions=all_versions,
            include_removed=not exclude_removed,
            tz=app.cfg.timezone,
        )
        hits = search(app.catalog, query, filters, limit=limit)
        tz = app.cfg.timezone
        total = len(hits) if len(hits) < limit else count_matches(app.catalog, query, filters)
    if as_json:
        print_json({"total": total, "shown": len(hits), "limit": limit, "hits": hits})
        return
    if not hits:
        console.print("no matches")
        return
    for h in hits:
        flags = markers(h, tz)
        who = h["author_handle"] or h["author_id"]
        text = " ".join((h["text"] or "").split())
        when = local_time(h["posted_at"], tz) or "?"
        console.print(
            f"[bold]{esc(when)}[/] {esc(h['site_id'])} {esc(h['kind'])} {esc(h['platform_id'])} "
            f"(item {h['item_id']}) by @{esc(who)}"
            + (f" [yellow]{esc('[' + '; '.join(flags) + ']')}[/]" if flags else ""),
            highlight=False,
        )
        console.print(f"    {text[:200]}", highlight=False, markup=False)
        console.print(
            f"    [dim]{esc(h['permalink'] or '')}  bundle {esc(h['bundle_id'])} "
            f"{esc(h['warc_file'])}@{h['warc_offset']}[/]",
            highlight=False,
        )
    if total > len(hits):
        console.print(
            f"showing {len(hits)} of {total} match(es); raise --limit (e.g. --limit {total}) "
            "or narrow the search to see the rest",
            highlight=False,
        )
    else:
        console.print(f"{total} match(es)", highlight=False)


def markers(h: dict[str, Any], tz: str) -> list[str]:
    """The state words shown beside a hit: earlier version, edited, removed/hidden upstream."""
    from archiver.timefmt import local_time

    flags = []
    if h["version"] != h["current_version"]:
        flags.append(f"earlier version v{h['version']} of {h['current_version']}")
    elif h["current_version"] > 1:
        flags.append(f"edited: v{h['version']}")
    if h["removal_state"]:
        detected = local_time(h["disappeared_at"] or h["last_seen_at"], tz)
        flags.append(f"{h['removal_state'].replace('_', ' ')} (detected {detected})")
    return flags


def status(
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
    check_storage: bool = typer.Option(
        False,
        "--check-storage",
        help="Run the S3 WORM self-check now (otherwise its last recorded result is shown).",
    ),
) -> None:
    """Each site's last run, what is archived, and problems needing attention."""
    from rich.table import Table

    from archiver.catalog.site_status import site_status
    from archiver.liveness import mark_interrupted
    from archiver.timefmt import local_time

    with read_context(config, check_storage=check_storage) as read:
        rows = mark_interrupted(site_status(read.db), read.cfg.staging_dir)
        configured = {s.id: s for s in read.cfg.sites}
        for r in rows:
            s = configured.get(r["site"])
            r["it_administrator"] = s.has_it_admin if s else None
        extra = _status_extras(read.cfg, read.db)
        tz = read.cfg.timezone
    if as_json:
        print_json({"sites": rows, **extra})
        return
    table = Table(
        "site",
        "platform",
        "last run",
        "result",
        "items",
        "edited",
        "removed/hidden upstream",
        "followers",
        "bundles",
    )
    for r in rows:
        last = r["last_run"] or {}
        result = last.get("status", "never")
        color = {
            "succeeded": "green",
            "failed": "red",
            "abandoned": "yellow",
            "interrupted": "yellow",
        }.get(result, "white")
        items = ", ".join(f"{k} {v}" for k, v in sorted(r["items"].items())) or "0"
        table.add_row(
            esc(r["site"]),
            esc(r["platform"]),
            esc(local_time(last.get("started_at"), tz)),
            f"[{color}]{esc(result)}[/]",
            esc(items),
            f"[yellow]{esc('[edited]')} {r['edited']}[/]" if r["edited"] else "0",
            f"[yellow]{esc('[removed]')} {r['removed_upstream']}[/]"
            if r["removed_upstream"]
            else "0",
            str(r["followers"]),
            str(r["bundles"]),
        )
    console.print(table)
    _print_jobs(extra.get("jobs") or [], tz)
    for r in rows:
        last = r["last_run"] or {}
        if last.get("status") in ("failed", "abandoned", "interrupted"):
            err_console.print(
                f"[red]{esc(r['site'])}[/]: last run {esc(last['status'])}: {esc(last.get('error'))}",
                highlight=False,
            )
        expires = r.get("token_expires")
        if expires and expires != "never":
            try:
                when = datetime.fromisoformat(expires)
            except ValueError:
                when = None
            if when is not None:
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                days = (when - datetime.now(UTC)).days
                if days < 30:
                    state = "EXPIRED" if days < 0 else f"expires in {days} day(s)"
                    err_console.print(
                        f"[red]{esc(r['site'])}[/]: access token {state} "
                        f"({esc(local_time(expires, tz))}); renew it",
                        highlight=False,
                    )
        if last.get("error_kind") == "AuthError":
            err_console.print(
                f"[red]{esc(r['site'])}[/]: the platform refused the access token; renew it",
                highlight=False,
            )
        if r.get("it_administrator") is False:
            err_console.print(
                f"[yellow]{esc(r['site'])}[/]: no IT Department administrator (policy requires one)"
            )
        for d in r["degradations"]:
            err_console.print(
                f"[yellow]{esc(r['site'])}[/]: degraded {esc(d['capability'])}: {esc(d['reason'])} "
                f"(since {esc(local_time(d['at'], tz))})",
                highlight=False,
            )
    for line in extra.get("notes", []):
        err_console.print(esc(line), highlight=False)


def _print_jobs(jobs: list[dict[str, Any]], tz: str) -> None:
    """The daemon's jobs (next run, last result, back-off), as ``--json`` has them."""
    if not jobs:
        return
    from archiver.daemon.status_table import jobs_table

    console.print(jobs_table(jobs, tz))


def _status_extras(cfg: Config, db: Reader) -> dict[str, Any]:
    """Sections other parts add to status (jobs, report delivery, holds, integrity, ...).

    Imported here, not at module top, so commands other than ``status`` start fast. Each reads
    through ``db`` (``archiver.catalog.sql``), which on a quiet embedded catalog needs no
    SQLAlchemy. A section that cannot be read (an ArchiverError) becomes a note; any other
    error is a bug and shows.
    """
    from archiver.coverage import status_section as coverage_section
    from archiver.daemon.status import status_section as jobs_section
    from archiver.fastlane.latency import status_section as fastlane_section
    from archiver.integrity.status import status_section as integrity_section
    from archiver.report.status import status_section as report_section
    from archiver.retention.status import status_section as retention_section

    sections: list[tuple[str, Callable[[Config, Reader], dict[str, Any]]]] = [
        ("jobs", jobs_section),
        ("report", report_section),
        ("retention", retention_section),
        ("integrity", integrity_section),
        ("fast lane", fastlane_section),
        ("coverage", coverage_section),
    ]
    out: dict[str, Any] = {"notes": []}
    for name, section in sections:
        try:
            part = section(cfg, db)
        except ArchiverError as exc:
            out["notes"].append(f"status section {name} unavailable: {exc}")
            continue
        notes = part.pop("notes", [])
        out.update(part)
        out["notes"].extend(notes)
    return out


def recover(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Finish what a killed run left behind (publish/catalog sealed bundles, drop partial ones)."""
    from archiver.cli.clerk_output import recover_sentence
    from archiver.harvest import Harvester
    from archiver.liveness import abandon_dead_runs

    with app_context(config) as app:
        report: dict[str, Any] = dict(Harvester(app.cfg, app.catalog, app.storage).recover())
        from archiver.integrity.keyops import retry_timestamps

        stamps = retry_timestamps(app)
        report["timestamps_stamped"] = stamps.stamped
        report["timestamps_waiting"] = stamps.still_pending
        report["runs_interrupted"] = abandon_dead_runs(app.catalog, app.cfg.staging_dir)
        report["disposals_finished"] = _finish_disposals(app)
    if as_json:
        print_json(report)
    else:
        console.print(recover_sentence(report), highlight=False, soft_wrap=True)


def _in_disposal(app: Any) -> dict[str, str]:
    """Bundles whose approved disposal was interrupted (none without retention tables)."""
    from archiver.retention import disposition

    return disposition.in_progress(app.catalog)


def _finish_disposals(app: Any) -> list[str]:
    """Complete disposals a killed ``disposition execute`` left half done."""
    from archiver.retention import disposition

    done: list[str] = []
    for result in disposition.roll_forward(app):
        done.extend(result.disposed)
        for w in result.warnings:
            err_console.print(f"[yellow]warning:[/] {esc(w)}", highlight=False)
    return done


def register(app: typer.Typer) -> None:
    from archiver.cli import setup

    setup.register(config_app)
    app.add_typer(config_app, name="config")
    app.command("sites")(clerk_errors(sites))
    app.command("harvest")(clerk_errors(harvest))
    app.command("verify")(clerk_errors(verify))
    app.command("search")(clerk_errors(search_cmd))
    app.command("status")(clerk_errors(status))
    app.command("recover")(clerk_errors(recover))
    from archiver.cli import clerk_output

    clerk_output.register(app)
