"""Disaster-recovery commands: ``catalog rebuild``, ``catalog backup``, ``journal flush|verify``.

``catalog rebuild`` and ``journal verify`` never open the configured catalog: they are what
you run when it is lost, and opening it would create an empty one in its place.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import typer
from rich.markup import escape

from archiver.cli.common import (
    ConfigOption,
    JsonOption,
    app_context,
    clerk_errors,
    console,
    print_json,
)
from archiver.errors import CatalogError

catalog_app = typer.Typer(help="Back up and rebuild the catalog database.", no_args_is_help=True)
journal_app = typer.Typer(
    help="The workflow journal kept in storage (holds, requests, reviews, audit log).",
    no_args_is_help=True,
)


@catalog_app.command("rebuild")
@clerk_errors
def rebuild_cmd(
    into: str = typer.Option(
        ..., "--into", help="New SQLite file or empty database URL for the rebuilt catalog."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Recreate the catalog from storage alone: every sealed bundle, then the journal."""
    from archiver.app import make_storage
    from archiver.catalog.rebuild import rebuild
    from archiver.config import load_config
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    report = rebuild(cfg, make_storage(cfg), into)
    if as_json:
        print_json({**report.__dict__, "audit_ok": report.audit_ok})
    else:
        console.print(
            f"rebuilt catalog {escape(report.target)}: {report.bundles_cataloged} of "
            f"{report.bundles_in_storage} stored bundle(s) cataloged, {report.segments} journal "
            f"segment(s) with {report.entries} entries replayed",
            highlight=False,
            soft_wrap=True,
        )
        for key in report.bundles_skipped_disposed:
            console.print(
                f"  skipped {escape(key)}: disposed according to the journal", highlight=False
            )
        if report.audit_ok:
            console.print(
                f"audit log: {report.audit_entries} entries, hash chain re-verified",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"[bold red]audit log: {len(report.audit_problems)} problem(s)[/]", highlight=False
            )
            for p in report.audit_problems:
                console.print(f"  {escape(p)}", highlight=False, soft_wrap=True)
        console.print(
            "point [archive] catalog_url at the new catalog to use it",
            highlight=False,
            soft_wrap=True,
        )
    if not report.audit_ok:
        raise typer.Exit(1)


@catalog_app.command("backup")
@clerk_errors
def backup_cmd(
    to: Path = typer.Option(..., "--to", help="New file for the copy of the SQLite catalog."),
    config: str | None = ConfigOption,
) -> None:
    """Copy a live SQLite catalog with SQLite's online backup API (journal flushed first)."""
    from archiver import journal

    with app_context(config) as app:
        url = app.catalog.engine.url
        if app.catalog.dialect != "sqlite" or not url.database:
            raise CatalogError(
                f"catalog backup copies SQLite catalogs; this one is {app.catalog.dialect}",
                hint="back up PostgreSQL with pg_dump (see docs/operations.md)",
            )
        source = Path(url.database)
        journal.flush(app.cfg.root, app.catalog.engine, app.storage)
    target = to.expanduser().resolve()
    if target.exists():
        raise CatalogError(
            f"refusing to overwrite {target}", hint="give --to a new file name for the backup"
        )
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            ok = dst.execute("PRAGMA integrity_check").fetchone()
        finally:
            dst.close()
            src.close()
        target.chmod(0o640)
    except (sqlite3.Error, OSError) as exc:
        raise CatalogError(
            f"cannot back up {source} to {target}: {exc}",
            hint="check free space and permissions of the backup folder",
        ) from exc
    if not ok or ok[0] != "ok":
        raise CatalogError(f"backup {target} failed SQLite's integrity check: {ok}")
    console.print(
        f"backed up {escape(str(source))} to {escape(str(target))} (integrity check: ok)",
        highlight=False,
        soft_wrap=True,
    )


@journal_app.command("flush")
@clerk_errors
def flush_cmd(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Journal what changed in the catalog and seal it into storage now."""
    from archiver import journal

    with app_context(config) as app:
        result = journal.flush(app.cfg.root, app.catalog.engine, app.storage)
    if as_json:
        print_json(result.__dict__)
        return
    sealed = ", ".join(result.sealed) or "none"
    console.print(
        f"journal: {result.captured} change(s) captured; sealed segment(s): {escape(sealed)}",
        highlight=False,
        soft_wrap=True,
    )


@journal_app.command("verify")
@clerk_errors
def verify_cmd(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Check every journal segment's hash and the chain between them (exit 1 on a problem)."""
    from archiver import journal
    from archiver.app import make_storage
    from archiver.config import load_config
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    head = journal.read_head(journal.journal_dir(cfg.root))
    segments = journal.read_chain(make_storage(cfg), head=head)
    entries = sum(len(s.entries) for s in segments)
    if as_json:
        print_json(
            {
                "segments": len(segments),
                "entries": entries,
                "newest": segments[-1].key if segments else None,
            }
        )
        return
    newest = escape(segments[-1].key) if segments else "none"
    console.print(
        f"journal: {len(segments)} segment(s), {entries} entries, every hash and link "
        f"checked; newest {newest}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(journal_app, name="journal")
