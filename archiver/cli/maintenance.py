"""``archiver migrate``: bring the catalog to the schema revision this archiver needs.

The one command that may open a catalog at another revision. It says where the catalog is and
where it goes, lists the named steps, copies an SQLite catalog aside first (PostgreSQL: take a
``pg_dump``), then runs every step in one transaction. ``--dry-run`` only reads.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from archiver.catalog import migrate as m

from archiver.cli.common import ConfigOption, clerk_errors, console
from archiver.errors import CatalogError, StorageError


def migrate(
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show the current and target revision and the steps; change nothing.",
    ),
    config: str | None = ConfigOption,
) -> None:
    """Upgrade the catalog schema (backs up an SQLite catalog first)."""
    from archiver.config import load_config
    from archiver.db import make_engine
    from connectors.registry import platforms

    cfg = load_config(config, platforms=platforms())
    try:
        if not dry_run:
            cfg.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the archive root {cfg.root}: {exc.strerror}",
            hint=f"fix [archive] root in {cfg.path} or the folder's permissions",
        ) from exc
    engine = make_engine(cfg.catalog_url)
    try:
        _migrate(engine, cfg.catalog_url, cfg.audit_anchor, dry_run=dry_run)
    finally:
        engine.dispose()


def _migrate(engine: Engine, url: str, anchor: Path, *, dry_run: bool) -> None:
    from sqlalchemy import create_engine

    from archiver.catalog import migrate as m

    path = m.sqlite_path(engine)
    if path is not None and not path.exists():
        # Connecting would create the file; plan from an empty in-memory database instead.
        blank = create_engine("sqlite://")
        try:
            state = replace(m.read_state(blank), url=engine.url.render_as_string())
        finally:
            blank.dispose()
    else:
        state = m.read_state(engine)
    say = console.print
    say(f"catalog: {escape(state.url)}", highlight=False)
    if state.empty:
        current = "none (new catalog)"
    elif state.unversioned:
        current = "none (predates schema versioning: release 0.1.0)"
    else:
        current = str(state.current)
    say(f"current revision: {escape(current)}", highlight=False)
    say(f"target revision:  {escape(state.head)}", highlight=False)
    if not state.known:
        problem = m.refusal(state)
        assert problem is not None
        raise problem
    if state.unversioned:
        problems = m.baseline_differences(engine)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CatalogError(
                f"catalog {state.url} predates schema versioning but does not match the "
                f"release 0.1.0 schema: {problems[0]}{more}",
                hint="it was not made by this software, or was changed by hand; restore a copy",
            )
        say(
            "checked: the tables match the release 0.1.0 schema; it will be stamped",
            highlight=False,
        )
    if state.at_head:
        say(f"the catalog is at {escape(state.head)}; nothing to do", highlight=False)
        return
    say("steps:", highlight=False)
    for step in state.steps:
        say(f"  {escape(step.revision)}: {escape(step.title)}", highlight=False)
    if dry_run:
        say("dry run: nothing was changed", highlight=False)
        return
    backup = None if state.empty else m.backup_sqlite(engine, state.head)
    if backup is not None:
        say(
            f"backup: {escape(str(backup))} (restore it by copying it over the catalog)",
            highlight=False,
        )
    elif engine.dialect.name == "postgresql" and not state.empty:
        say("backup: none taken for PostgreSQL; keep a pg_dump from before this", highlight=False)
    m.upgrade(engine)
    m.check_revision(engine)
    say(f"migrated: the catalog is at {escape(state.head)}", highlight=False)
    if not state.empty:
        _audit(engine, state, backup, anchor)


def _audit(engine: Engine, state: m.CatalogState, backup: Path | None, anchor: Path) -> None:
    from archiver import audit

    with engine.begin() as conn:
        audit.append(
            conn,
            action="catalog.migrate",
            subject=state.url,
            details={
                "from": state.current,
                "to": state.head,
                "steps": [s.revision for s in state.steps],
                "backup": str(backup) if backup else None,
            },
            anchor_path=anchor,
        )


def register(app: typer.Typer) -> None:
    app.command("migrate")(clerk_errors(migrate))
