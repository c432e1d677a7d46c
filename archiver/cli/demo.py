"""``archiver demo``: the whole product on one machine in about a minute.

Starts a local fake Mastodon instance and news feed (loopback only), writes a config that
points at them, then runs the real CLI as a clerk would: harvest, change things upstream (an
edit, a deleted reply, new and lost followers), harvest again, verify, search, status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import typer
from rich.rule import Rule

from archiver.cli.common import clerk_errors, console
from archiver.errors import ArchiverError
from archiver.testing.demo_data import build_demo_feed, build_demo_world
from archiver.testing.mastodon import MastodonWorld
from archiver.testing.server import FakeServer

MARKER = ".archiver-demo"


def _config(workdir: Path, url: str) -> str:
    return textwrap.dedent(
        f"""\
        # Demo configuration written by `archiver demo`. Secrets never go in this file.
        [archive]
        root = "{workdir / "archive"}"
        city = "City of Bozeman"
        timezone = "America/Denver"

        [http]
        max_retry_wait = 5

        [[sites]]
        id = "bozeman-mastodon"
        platform = "mastodon"
        base_url = "{url}"
        account = "cityofbozeman"
        department = "City Manager's Office - Communications"
        administrators = [
          {{ name = "Melissa Communications", role = "Communications Manager" }},
          {{ name = "Ivan Tech", role = "IT", department = "Information Technology" }},
        ]
        interval = "1h"
        full_sweep_every = "1d"

        [[sites]]
        id = "bozeman-news"
        platform = "rss"
        base_url = "{url}"
        account = "/news/rss.xml"
        department = "City Manager's Office - Communications"
        administrators = [{{ name = "Ivan Tech", role = "IT" }}]
        interval = "6h"
        """
    )


def _run(config: Path, *args: str) -> int:
    cmd = [sys.executable, "-m", "archiver", "--config", str(config), *args]
    console.print(f"[bold cyan]$ archiver {' '.join(args)}[/]", highlight=False)
    env = dict(os.environ, ARCHIVER_LOG_LEVEL="WARNING", COLUMNS="140")
    return subprocess.run(cmd, env=env, check=False).returncode


def _change_upstream(world: MastodonWorld, city_id: str, url: str) -> dict[str, str]:
    """One edit, one deleted reply, new followers, one unfollow: what the second run must see."""
    recent = world.status_ids(city_id)[:30]
    edited = deleted = ""
    with httpx.Client(base_url=url) as client:
        for sid in recent:
            ctx = client.get(f"/api/v1/statuses/{sid}/context").json()
            replies = [d for d in ctx["descendants"] if d["account"]["id"] != city_id]
            if replies:
                edited, deleted = sid, replies[-1]["id"]
                break
    if not edited:
        raise ArchiverError("demo data has no recent status with replies")
    old = world.status_text(edited)
    world.edit_status(edited, old + " UPDATE: the closure now ends Friday at 5 p.m.")
    world.delete_status(deleted)
    newcomers = []
    for n in range(12):
        acc = world.add_account(f"newresident{n}", f"New Resident {n}")
        world.follow(city_id, str(acc["id"]))
        newcomers.append(str(acc["id"]))
    lost = world.follower_ids(city_id)[-1]
    world.unfollow(city_id, lost)
    world.post_status(city_id, "Snow emergency declared: park on the odd-numbered side tonight.")
    return {"edited": edited, "deleted": deleted, "unfollowed": lost}


@clerk_errors
def demo(
    workdir: Path = typer.Option(
        Path("demo-archive"), "--workdir", help="Where the demo archive goes."
    ),
    statuses: int = typer.Option(300, "--statuses"),
    followers: int = typer.Option(3000, "--followers"),
) -> None:
    """Run a complete local demo: harvest, change upstream, re-harvest, verify, search, export."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise ArchiverError(
                f"{workdir} exists and is not a demo folder", hint="choose another --workdir"
            )
        from archiver.bundle import remove_tree

        remove_tree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by archiver demo\n")
    workdir = workdir.resolve()
    console.print(Rule("Building a realistic City of Bozeman Mastodon account and news feed"))
    world, city_id = build_demo_world(statuses=statuses, followers=followers)
    world.rate_limit = 1_000_000
    feed = build_demo_feed()
    with FakeServer(world, feed) as server:
        config = workdir / "archiver.toml"
        config.write_text(_config(workdir, server.url))
        console.print(f"local platform server on {server.url}; config written to {config}")
        steps: list[tuple[str, tuple[str, ...]]] = [
            ("Check the configuration", ("config", "check")),
            ("First harvest (full sweep): posts, reply threads, followers, news", ("harvest",)),
        ]
        for title, args in steps:
            console.print(Rule(title))
            if _run(config, *args) != 0:
                raise ArchiverError(f"demo step failed: archiver {' '.join(args)}")
        console.print(
            Rule("Upstream changes: one edit, one deleted reply, new followers, one unfollow")
        )
        changed = _change_upstream(world, city_id, server.url)
        console.print(changed, highlight=False)
        steps = [
            ("Second harvest (incremental: new posts + re-check of recent threads)", ("harvest",)),
            ("Verify every sealed byte", ("verify", "--all")),
            (
                "Search: the edited post, every version",
                ("search", "closure now ends Friday", "--all-versions"),
            ),
            (
                "Search: what was removed upstream (still readable)",
                (
                    "search",
                    "--site",
                    "bozeman-mastodon",
                    "--kind",
                    "comment",
                    "--kind",
                    "reply",
                    "--limit",
                    "400",
                    "--json",
                ),
            ),
            ("Status", ("status",)),
        ]
        for title, args in steps:
            console.print(Rule(title))
            if "--json" in args:
                _show_removed(config, args)
                continue
            if _run(config, *args) != 0:
                raise ArchiverError(f"demo step failed: archiver {' '.join(args)}")
        _show_follower_diff(workdir)
        _export(config, workdir)
    console.print(Rule("Done"))
    console.print(f"Archive: {workdir / 'archive'}  (config {config})")
    console.print(f"Try: archiver --config {config} search plow")
    _ = shutil


def _export(config: Path, workdir: Path) -> None:
    """Answer a records request the way a clerk would, then check the package independently."""
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    console.print(Rule("A public records request: open it, export the package"))
    args = (
        "request",
        "open",
        "--requester",
        "Jane Q. Public",
        "--received",
        datetime.now(ZoneInfo("America/Denver")).date().isoformat(),
        "--description",
        "All City posts and public comments about Bridger Canyon Road",
        "--json",
    )
    console.print(f"[bold cyan]$ archiver {' '.join(args)}[/]", highlight=False)
    cmd = [sys.executable, "-m", "archiver", "--config", str(config), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise ArchiverError(f"demo step failed: archiver request open: {out.stderr.strip()}")
    request_id = str(json.loads(out.stdout)["id"])
    console.print(f"request {request_id} opened")
    package = workdir / f"{request_id}-package"
    if (
        _run(
            config,
            "export",
            request_id,
            "Bridger Canyon",
            "--site",
            "bozeman-mastodon",
            "--out",
            str(package),
        )
        != 0
    ):
        raise ArchiverError("demo step failed: archiver export")
    bagit = Path(sys.executable).parent / "bagit.py"
    check = subprocess.run([str(bagit), "--validate", str(package)], capture_output=True, text=True)
    verdict = "valid" if check.returncode == 0 else f"INVALID: {check.stderr.strip()}"
    console.print(f"independent check: bagit.py --validate {package}: {verdict}")
    for p in sorted(package.rglob("*"))[:40]:
        if p.is_file():
            console.print(
                f"  {p.relative_to(package)}  ({p.stat().st_size:,} bytes)", highlight=False
            )
    console.print(f"open {package / 'data' / 'readable' / 'index.html'} in a browser")


def _show_removed(config: Path, args: tuple[str, ...]) -> None:
    import json

    cmd = [sys.executable, "-m", "archiver", "--config", str(config), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    removed = [h for h in json.loads(out) if h["removal_state"]]
    console.print(
        f"[bold cyan]$ archiver {' '.join(args)}[/]  (filtered to removed items)", highlight=False
    )
    for h in removed:
        console.print(
            f"  {h['kind']} {h['platform_id']} by @{h['author_handle']} posted {h['posted_at']}: "
            f"[yellow]{h['removal_state']}[/], detected {h['disappeared_at']}\n    {h['text'][:160]}",
            highlight=False,
        )
    if not removed:
        raise ArchiverError("demo expected a removed reply but found none")


def _show_follower_diff(workdir: Path) -> None:
    import sqlite3

    db = sqlite3.connect(workdir / "archive" / "catalog.sqlite")
    rows = db.execute(
        "SELECT event, count(*) FROM follower_events WHERE run_id = "
        "(SELECT run_id FROM follower_events ORDER BY id DESC LIMIT 1) GROUP BY event"
    ).fetchall()
    total = db.execute("SELECT count(*) FROM followers WHERE unfollowed_at IS NULL").fetchone()[0]
    db.close()
    console.print(Rule("Follower list: changes since the previous run"))
    console.print(f"current followers: {total}; changes in the last run: {dict(rows)}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
