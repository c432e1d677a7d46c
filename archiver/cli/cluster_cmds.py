"""``archiver worker`` and ``archiver cluster …``: the scale-out mode (docs/scale-out.md)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from archiver.cli.common import ConfigOption, JsonOption, clerk_errors, console, esc, print_json

cluster_app = typer.Typer(
    help="Scale-out cluster: job queue schema, status, organizations.", no_args_is_help=True
)
org_app = typer.Typer(
    help="Organizations (tenants) and their database roles.", no_args_is_help=True
)


@clerk_errors
def worker(config: str | None = ConfigOption) -> None:
    """Join the cluster: take harvest and maintenance jobs from the shared PostgreSQL queue."""
    from archiver.cluster.worker import run_worker

    raise typer.Exit(run_worker(config))


@clerk_errors
def schema(config: str | None = ConfigOption) -> None:
    """Apply the job queue's own schema (Procrastinate's) to the catalog database, once."""
    import procrastinate
    from sqlalchemy import text

    from archiver.app import open_app
    from archiver.cluster.settings import procrastinate_dsn, require_cluster

    app = open_app(config)
    try:
        require_cluster(app.cfg)
        with app.catalog.engine.connect() as conn:
            present = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
        if present is not None:
            console.print("job queue schema already present; nothing applied")
            return
        queue = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(
                conninfo=procrastinate_dsn(app.cfg.catalog_url)
            )
        )
        with queue.open():
            queue.schema_manager.apply_schema()
        console.print("job queue schema applied (Procrastinate)")
    finally:
        app.catalog.close()


@clerk_errors
def status(config: str | None = ConfigOption, as_json: bool = JsonOption) -> None:
    """Workers alive, queue depth, oldest waiting job, each site's last successful harvest."""
    from archiver.app import open_app
    from archiver.cluster.settings import cluster_settings, require_cluster
    from archiver.cluster.status import age_text, cluster_figures, last_success
    from archiver.cluster.worker import require_queue_schema

    app = open_app(config, read_only_ok=True)
    try:
        require_cluster(app.cfg)
        require_queue_schema(app.catalog.engine)
        settings = cluster_settings(app.cfg)
        figures = cluster_figures(app.catalog.engine, stalled_seconds=settings.stalled_seconds)
        sites = [s.id for s in app.cfg.sites if s.enabled]
        last = last_success(app.catalog.engine, sites)
        tz = app.cfg.timezone
    finally:
        app.catalog.close()
    if as_json:
        print_json({**figures, "last_success": last})
        return
    console.print(
        f"workers alive: {figures['workers']}   running jobs: {figures['running']}   "
        f"waiting: {sum(figures['queue_depth'].values())} "
        f"({', '.join(f'{esc(q)} {n}' for q, n in sorted(figures['queue_depth'].items())) or 'none'})"
        f"   oldest waiting: {age_text(figures['oldest_waiting_seconds'])}",
        highlight=False,
    )
    table = Table("site", f"last successful harvest ({tz})", "slot")
    zone = ZoneInfo(tz)
    for site, info in last.items():
        if info is None:
            table.add_row(esc(site), "never", "")
            continue
        when = datetime.fromisoformat(info["finished_at"]).astimezone(zone)
        table.add_row(esc(site), when.strftime("%Y-%m-%d %H:%M:%S %Z"), esc(info.get("slot") or ""))
    console.print(table)


@clerk_errors
def org_add(
    org_id: str = typer.Argument(..., help="Short id, e.g. bozeman."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 'City of Bozeman'."),
    role: str | None = typer.Option(
        None, "--role", help="PostgreSQL role its clerks log in as (created if missing)."
    ),
    config: str | None = ConfigOption,
) -> None:
    """Add or update an organization; on PostgreSQL create and grant its read-only role."""
    from archiver.app import open_app
    from archiver.cluster.tenants import add_organization

    app = open_app(config)
    try:
        add_organization(app.catalog.engine, org_id, name, role)
    finally:
        app.catalog.close()
    console.print(f"organization {esc(org_id)} recorded", highlight=False)


@clerk_errors
def org_assign(
    site_id: str = typer.Argument(..., help="A configured site id."),
    org_id: str = typer.Argument(..., help="The organization it belongs to."),
    config: str | None = ConfigOption,
) -> None:
    """Put a configured site under an organization."""
    from archiver.app import open_app
    from archiver.cluster.tenants import assign_site

    app = open_app(config)
    try:
        app.catalog.sync_site(app.cfg.site(site_id))
        assign_site(app.catalog.engine, site_id, org_id)
    finally:
        app.catalog.close()
    console.print(f"site {esc(site_id)} belongs to {esc(org_id)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    cluster_app.command("schema")(schema)
    cluster_app.command("status")(status)
    org_app.command("add")(org_add)
    org_app.command("assign")(org_assign)
    cluster_app.add_typer(org_app, name="org")
    app.add_typer(cluster_app, name="cluster")
