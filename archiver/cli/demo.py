"""``archiver demo``: the whole product on one machine in about a minute.

Starts a local fake Mastodon instance and news feed (loopback only: every URL the harvester
fetches, media and news-release PDFs included, is served by that one local server), writes a
config that points at them, then runs the real CLI as a clerk would: harvest, change things
upstream (an edit, a deleted reply, new and lost followers), harvest again, verify, search,
status. The demo checks what it shows, and fails if the archive did not catch a change.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from archiver.cli.common import clerk_errors, console, esc
from archiver.errors import ArchiverError

if TYPE_CHECKING:
    from fakeplatforms.mastodon import MastodonWorld

MARKER = ".archiver-demo"
TIMEZONE = "America/Denver"
MASTODON_SITE = "bozeman-mastodon"
EDIT_SUFFIX = " UPDATE: the closure now ends Friday at 5 p.m."
SHOW_HANDLES = 10  # follower changes listed by name; the rest are counted


@dataclass(frozen=True)
class UpstreamChanges:
    """What the demo changed on the fake platform between the two harvests."""

    edited: str
    original_text: str
    deleted: str
    followed: tuple[str, ...]  # handles
    unfollowed: str  # handle


def _config(workdir: Path, url: str) -> str:
    return textwrap.dedent(
        f"""\
        # Demo configuration written by `archiver demo`. Secrets never go in this file.
        [archive]
        root = "{workdir / "archive"}"
        city = "City of Bozeman"
        timezone = "{TIMEZONE}"

        [http]
        max_retry_wait = 5

        [[sites]]
        id = "{MASTODON_SITE}"
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
    console.print(f"[bold cyan]$ archiver {esc(' '.join(args))}[/]", highlight=False)
    env = dict(os.environ, ARCHIVER_LOG_LEVEL="WARNING", COLUMNS="140")
    return subprocess.run(cmd, env=env, check=False).returncode


def _change_upstream(world: MastodonWorld, city_id: str, url: str) -> UpstreamChanges:
    """One edit, one deleted reply, new followers, one unfollow: what the second run must see."""
    import httpx

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
    world.edit_status(edited, old + EDIT_SUFFIX)
    world.delete_status(deleted)
    newcomers = []
    for n in range(12):
        acc = world.add_account(f"newresident{n}", f"New Resident {n}")
        world.follow(city_id, str(acc["id"]))
        newcomers.append(str(acc["username"]))
    lost = world.follower_ids(city_id)[-1]
    world.unfollow(city_id, lost)
    world.post_status(city_id, "Snow emergency declared: park on the odd-numbered side tonight.")
    return UpstreamChanges(
        edited=edited,
        original_text=old,
        deleted=deleted,
        followed=tuple(newcomers),
        unfollowed=world.username_of(lost),
    )


def _describe_changes(changes: UpstreamChanges) -> None:
    console.print(
        esc(f"  edited post {changes.edited}: appended {EDIT_SUFFIX.strip()!r}"), highlight=False
    )
    console.print(f"  deleted a reply: {esc(changes.deleted)}", highlight=False)
    console.print(
        esc(
            f"  {len(changes.followed)} new followers ({_handles(changes.followed)}); "
            f"@{changes.unfollowed} unfollowed"
        ),
        highlight=False,
    )
    console.print("  posted one new status (snow emergency)", highlight=False)


@clerk_errors
def demo(
    workdir: Path = typer.Option(
        Path("demo-archive"), "--workdir", help="Where the demo archive goes."
    ),
    statuses: int = typer.Option(300, "--statuses"),
    followers: int = typer.Option(3000, "--followers"),
    fresh: bool = typer.Option(
        False, "--fresh", help="Delete an existing demo archive (and all added to it) first."
    ),
) -> None:
    """Run a complete local demo: harvest, change upstream, re-harvest, verify, search, export.

    An existing demo archive is kept (it may hold requests or holds the user added); only
    ``--fresh`` deletes it, after saying what it removes.
    """
    from fakeplatforms.demo_data import build_demo_feed, build_demo_world
    from fakeplatforms.server import FakeServer
    from rich.rule import Rule

    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise ArchiverError(
                f"{workdir} exists and is not a demo folder", hint="choose another --workdir"
            )
        held = _describe_folder(workdir)
        if not fresh:
            console.print(
                escape(
                    f"{workdir} already holds a demo archive ({held}); it is kept as it is. "
                    f"Look around with: archiver --config {workdir / 'archiver.toml'} status. "
                    "To delete it and start over: archiver demo --fresh"
                ),
                soft_wrap=True,
                highlight=False,
            )
            return
        console.print(
            escape(
                f"--fresh: removing {workdir} ({held}), including anything added to it since "
                "the last demo"
            ),
            soft_wrap=True,
            highlight=False,
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
        console.print(
            esc(f"local platform server on {server.url}; config written to {config}"),
            highlight=False,
        )
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
        changes = _change_upstream(world, city_id, server.url)
        _describe_changes(changes)
        steps = [
            ("Second harvest (incremental: new posts + re-check of recent threads)", ("harvest",)),
            ("Verify every sealed byte", ("verify", "--all")),
        ]
        for title, args in steps:
            console.print(Rule(title))
            if _run(config, *args) != 0:
                raise ArchiverError(f"demo step failed: archiver {' '.join(args)}")
        console.print(Rule("Search: the edited post, every version"))
        _show_versions(config, changes)
        console.print(Rule("Search: what was removed upstream (still readable)"))
        _show_removed(config, changes)
        console.print(Rule("Status"))
        if _run(config, "status") != 0:
            raise ArchiverError("demo step failed: archiver status")
        _show_follower_diff(workdir, changes)
        _export(config, workdir)
    console.print(Rule("Done"))
    console.print(esc(f"Archive: {workdir / 'archive'}  (config {config})"), highlight=False)
    console.print(esc(f"Try: archiver --config {config} search plow"), highlight=False)


def _describe_folder(folder: Path) -> str:
    """``1,234 files, 56.7 MB, 2 records requests``: what --fresh would delete."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    text = f"{len(files):,} files, {size / 1_000_000:,.1f} MB"
    catalog = folder / "archive" / "catalog.sqlite"
    if catalog.is_file():
        db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
        try:
            n = db.execute("SELECT count(*) FROM records_requests").fetchone()[0]
            text += f", {n} records request(s)"
        except sqlite3.Error:
            pass  # an older or damaged demo catalog: the file count says enough
        finally:
            db.close()
    return text


def _json_cli(config: Path, args: tuple[str, ...]) -> Any:
    """Run one CLI command that prints JSON; fail the demo with its error if it fails."""
    cmd = [sys.executable, "-m", "archiver", "--config", str(config), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise ArchiverError(f"demo step failed: archiver {shlex.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def _local(stamp: str | None) -> str:
    """An ISO timestamp from the catalog, in the City's time zone, to the second."""
    from archiver.timefmt import local_time

    return local_time(stamp, TIMEZONE, seconds=True) or "?"


def _handles(handles: Sequence[str], limit: int = SHOW_HANDLES) -> str:
    if not handles:
        return "none"
    shown = ", ".join(f"@{h}" for h in handles[:limit])
    more = len(handles) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _show_versions(config: Path, changes: UpstreamChanges) -> None:
    """The clerk searches for the post by words from its original text and sees every
    archived version: the original as first captured and the edit the second run caught."""
    query = " ".join(re.findall(r"[A-Za-z]{3,}", changes.original_text)[:5])
    args = (
        "search",
        query,
        "--site",
        MASTODON_SITE,
        "--kind",
        "post",
        "--all-versions",
        "--limit",
        "1000",
        "--json",
    )
    console.print(
        f"[bold cyan]$ archiver {esc(shlex.join(args))}[/]  (showing post {esc(changes.edited)})",
        highlight=False,
    )
    hits = _json_cli(config, args)["hits"]
    versions = sorted(
        (h for h in hits if h["platform_id"] == changes.edited), key=lambda h: int(h["version"])
    )
    if [int(h["version"]) for h in versions] != [1, 2] or versions[-1]["current_version"] != 2:
        raise ArchiverError(
            f"demo expected the edited post {changes.edited} to have 2 archived versions, "
            f"found {len(versions)}",
            hint="the second harvest did not record the upstream edit as a new version",
        )
    if EDIT_SUFFIX.strip() in versions[0]["text"] or EDIT_SUFFIX.strip() not in versions[1]["text"]:
        raise ArchiverError(
            f"demo expected version 2 of post {changes.edited} to hold the edit and "
            "version 1 the original text"
        )
    width = max(40, console.width - 4)
    for h in versions:
        label = (
            f"version {h['version']} of {h['current_version']}, captured {_local(h['captured_at'])}"
        )
        console.print(f"  [bold]{esc(label)}[/]", highlight=False)
        text = textwrap.fill(" ".join(h["text"].split()), width)
        console.print(textwrap.indent(text, "    "), highlight=False, markup=False)
        console.print(f"    [dim]bundle {esc(h['bundle_id'])}[/]", highlight=False)
    console.print(esc(f"  added in version 2: {EDIT_SUFFIX.strip()!r}"), highlight=False)


def _export(config: Path, workdir: Path) -> None:
    """Answer a records request the way a clerk would, then check the package independently."""
    from fakeplatforms.demo_data import DEMO_END
    from rich.rule import Rule

    console.print(Rule("A public records request: open it, export the package"))
    args = (
        "request",
        "open",
        "--requester",
        "Jane Q. Public",
        "--received",
        # The demo's data ends on DEMO_END; a fixed date keeps the id PRR-2026-0001 whatever
        # year the demo runs in, so the README's Quick tour can name the next one.
        DEMO_END.astimezone(ZoneInfo(TIMEZONE)).date().isoformat(),
        "--description",
        "All City posts and public comments about Bridger Canyon Road",
        "--json",
    )
    console.print(f"[bold cyan]$ archiver {esc(' '.join(args))}[/]", highlight=False)
    request_id = str(_json_cli(config, args)["id"])
    console.print(esc(f"request {request_id} opened"), highlight=False)
    package = workdir / f"{request_id}-package"
    if (
        _run(
            config,
            "export",
            request_id,
            "Bridger Canyon",
            "--site",
            MASTODON_SITE,
            "--out",
            str(package),
        )
        != 0
    ):
        raise ArchiverError("demo step failed: archiver export")
    bagit = Path(sys.executable).parent / "bagit.py"
    check = subprocess.run([str(bagit), "--validate", str(package)], capture_output=True, text=True)
    verdict = "valid" if check.returncode == 0 else f"INVALID: {check.stderr.strip()}"
    console.print(
        esc(f"independent check: bagit.py --validate {package}: {verdict}"), highlight=False
    )
    cert = (package / "certification.txt").read_text("utf-8")
    section = cert[cert.find("WHAT THIS PACKAGE HOLDS") : cert.find("SOURCE BUNDLES")]
    console.print(esc(section.rstrip()), highlight=False, soft_wrap=True)
    for p in sorted(package.rglob("*"))[:40]:
        if p.is_file():
            console.print(
                f"  {esc(p.relative_to(package))}  ({p.stat().st_size:,} bytes)", highlight=False
            )
    console.print(
        esc(f"open {package / 'data' / 'readable' / 'index.html'} in a browser"), highlight=False
    )


def _show_removed(config: Path, changes: UpstreamChanges) -> None:
    args = (
        "search",
        "--site",
        MASTODON_SITE,
        "--kind",
        "comment",
        "--kind",
        "reply",
        "--limit",
        "400",
        "--json",
    )
    console.print(
        f"[bold cyan]$ archiver {esc(' '.join(args))}[/]  (filtered to removed items)",
        highlight=False,
    )
    removed = [h for h in _json_cli(config, args)["hits"] if h["removal_state"]]
    for h in removed:
        console.print(
            esc(
                f"  {h['kind']} {h['platform_id']} by @{h['author_handle']} "
                f"posted {_local(h['posted_at'])}: "
            )
            + f"[yellow]{esc(h['removal_state'])}[/], detected {esc(_local(h['disappeared_at']))}"
            + f"\n    {esc(h['text'][:160])}",
            highlight=False,
        )
    if changes.deleted not in {h["platform_id"] for h in removed}:
        raise ArchiverError(
            f"demo expected the deleted reply {changes.deleted} to show as removed upstream"
        )


def _show_follower_diff(workdir: Path, changes: UpstreamChanges) -> None:
    """Who followed and who left since the previous run, by handle, from the catalog."""
    from rich.rule import Rule

    db = sqlite3.connect(workdir / "archive" / "catalog.sqlite")
    try:
        last = db.execute(
            "SELECT run_id FROM follower_events WHERE site_id = ? ORDER BY id DESC LIMIT 1",
            (MASTODON_SITE,),
        ).fetchone()
        events: list[tuple[str, str | None, str]] = db.execute(
            "SELECT event, handle, platform_id FROM follower_events "
            "WHERE site_id = ? AND run_id = ? ORDER BY id",
            (MASTODON_SITE, last[0] if last else ""),
        ).fetchall()
        total = db.execute(
            "SELECT count(*) FROM followers WHERE site_id = ? AND unfollowed_at IS NULL",
            (MASTODON_SITE,),
        ).fetchone()[0]
    finally:
        db.close()
    followed = [handle or pid for event, handle, pid in events if event == "followed"]
    unfollowed = [handle or pid for event, handle, pid in events if event == "unfollowed"]
    console.print(Rule("Follower list: changes since the previous run"))
    console.print(
        esc(
            f"current followers: {total:,}; in run {last[0] if last else '-'}: "
            f"{len(followed)} followed, {len(unfollowed)} unfollowed"
        ),
        highlight=False,
    )
    console.print(
        f"  [green]followed[/] ({len(followed)}, newest first): {esc(_handles(followed))}",
        highlight=False,
    )
    console.print(
        f"  [red]unfollowed[/] ({len(unfollowed)}): {esc(_handles(unfollowed))}",
        highlight=False,
    )
    missing = sorted(set(changes.followed) - set(followed))
    if missing or changes.unfollowed not in unfollowed:
        raise ArchiverError(
            "demo expected the follower diff to name every change: "
            f"missing followed {_handles(missing)}; "
            f"unfollowed @{changes.unfollowed} {'listed' if changes.unfollowed in unfollowed else 'missing'}"
        )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
