"""Quiet fast-lane ticks: bytes sealed per tick that finds nothing, per day, vs a first harvest.

Run: ``.venv/bin/python bench/fastlane_quiet_bytes.py [--ticks 60] [--interval 60]``

For each live platform (RSS, Mastodon, X, Bluesky, YouTube) a fake site on loopback with a few
posts and comments is harvested once (a full sweep: the baseline), then followed by one tick
that captures a new comment (so X and Bluesky have captured mentions to re-read), then by
``--ticks`` ticks in which nothing happens upstream (an RSS 304, an empty notifications page,
X re-reading its captured mentions, Bluesky re-reading its captured posts, a YouTube page with
nothing newer). The quiet ticks run in one process like the daemon's fast lane; at the end
the quiet-tick spool is sealed as the ``[fastlane] quiet_seal_every`` period would seal it
(``--ticks 60`` at ``--interval 60`` is one hour, the default period), and the catalog's
changes are journaled, as the daemon does after its next job.

Bytes are every file of every bundle in storage plus the sealed journal segments (what WORM
keeps), measured in this run. Printed per platform: bytes per quiet tick, of which WARC (the
polls' exchanges, and the warcinfo record of each bundle) and journal, bundles per quiet tick,
bytes per day at ``--interval``, and the day's bytes as % of the first harvest (a day of
nothing happening against one full capture of the site).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakeplatforms import FakeServer, FeedWorld
from fakeplatforms.live import LiveBluesky, LiveMastodon, LiveX
from fakeplatforms.youtube import YouTubeWorld

from archiver.app import open_app
from archiver.fastlane import run_once
from archiver.harvest import Harvester
from tests.helpers import harvest, site_toml, write_config

YT_KEY = "AIzaSyFakeKeyForTests0000000000000000"
X_TOKEN = "x-quiet-bench-bearer"


@dataclass
class Site:
    world: Any
    toml: Callable[[str], str]
    comment: Callable[[], object]


def _rss() -> Site:
    w = FeedWorld()
    for i in range(10):
        w.add_entry(f"n{i}", f"Notice {i}", f"<p>Leaf pickup zone {i} starts Monday.</p>")
    return Site(
        w,
        lambda url: site_toml("s", "rss", url, "/news/rss.xml"),
        lambda: w.add_entry("new", "Water main break", "<p>Babcock closed.</p>"),
    )


def _mastodon() -> Site:
    w = LiveMastodon(clock_start=datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    city = w.add_account("cityofbozeman", "City of Bozeman")["id"]
    maria = w.add_account("maria", "Maria")["id"]
    posts = [w.post_status(city, f"City update {i}: plows on route {i}.")["id"] for i in range(10)]
    for p in posts:
        w.post_status(maria, "thanks for the update", in_reply_to_id=p)
    return Site(
        w,
        lambda url: site_toml("s", "mastodon", url, "cityofbozeman"),
        lambda: w.post_status(maria, "brown water on Olive St?", in_reply_to_id=posts[0]),
    )


def _x() -> Site:
    w = LiveX(bearer_token=X_TOKEN)
    city = w.add_user("cityofbozeman", "City of Bozeman")
    maria = w.add_user("maria", "Maria")
    posts = [w.post(city, f"City update {i}: plows on route {i}.") for i in range(10)]
    for p in posts:
        w.post(maria, "@cityofbozeman thanks", reply_to=p)
    return Site(
        w,
        lambda url: site_toml("s", "x", url, "cityofbozeman", token_env="X_TOKEN"),
        lambda: w.post(maria, "@cityofbozeman brown water?", reply_to=posts[0]),
    )


def _bluesky() -> Site:
    w = LiveBluesky()
    city = w.add_actor("bozeman.gov", "City of Bozeman")["did"]
    maria = w.add_actor("maria.bsky.social", "Maria")["did"]
    w.notify_did = city
    posts = [w.add_post(city, f"City update {i}: plows on route {i}.") for i in range(10)]
    for p in posts:
        w.reply(p, maria, "thanks for the update")
    return Site(
        w,
        lambda url: site_toml("s", "bluesky", url, "bozeman.gov"),
        lambda: w.reply(posts[0], maria, "Is that why my water is brown?"),
    )


def _youtube() -> Site:
    w = YouTubeWorld(api_key=YT_KEY)
    city = w.add_channel("cityofbozeman", "City of Bozeman")
    maria = w.add_channel("maria", "Maria")
    videos = [w.add_video(city, f"Commission meeting {i}", "Agenda.") for i in range(5)]
    for v in videos:
        w.add_comment(v, maria, "When is the budget vote?")
    return Site(
        w,
        lambda url: site_toml(
            "s", "youtube", f"{url}/youtube/v3", "@cityofbozeman", token_env="YT_KEY"
        ),
        lambda: w.add_comment(videos[0], maria, "Olive St was not plowed"),
    )


PLATFORMS: dict[str, Callable[[], Site]] = {
    "rss": _rss,
    "mastodon": _mastodon,
    "x": _x,
    "bluesky": _bluesky,
    "youtube": _youtube,
}


def _sizes(app: Any) -> tuple[int, int, int, int]:
    """(bytes in storage incl. journal, bundles, journal bytes, WARC bytes)."""
    storage = app.storage
    total = n = warc = 0
    for key in storage.list_bundles():
        n += 1
        for f in storage.list_files(key):
            total += f.size
            if f.relpath.endswith(".warc.gz"):
                warc += f.size
    journal = sum(len(storage.read_journal(name)) for name in storage.list_journal())
    return total + journal, n, journal, warc


@dataclass
class Row:
    platform: str
    first: int
    per_tick: float
    bundles_per_tick: float
    journal_per_tick: float
    warc_per_tick: float
    per_day: float


def measure(name: str, ticks: int, interval: float, root: Path) -> Row:
    site = PLATFORMS[name]()
    with FakeServer(site.world) as server:
        config = write_config(root, site.toml(server.url))
        harvest(config, "s", full=True)
        app = open_app(str(config))
        first = _sizes(app)
        app.close()
        site.comment()
        if name == "youtube":  # the first tick only learns the newest thread
            app = open_app(str(config))
            run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("s"))
            app.close()
            site.comment()
        app = open_app(str(config))
        run_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("s"))
        app.close()
        app = open_app(str(config))
        before = _sizes(app)
        try:
            harvester = Harvester(app.cfg, app.catalog, app.storage)
            for _ in range(ticks):
                run_once(harvester, app.cfg.site("s"))
            seal = getattr(sys.modules["archiver.fastlane"], "seal_quiet", None)
            if seal is not None:  # the period ends: the spool is sealed as one bundle
                seal(harvester, app.cfg.site("s"))
        finally:
            app.close()  # journals the catalog's changes, as the daemon does after each job
        app = open_app(str(config))
        after = _sizes(app)
        app.close()
    per_tick = (after[0] - before[0]) / ticks
    return Row(
        name,
        first[0],
        per_tick,
        (after[1] - before[1]) / ticks,
        (after[2] - before[2]) / ticks,
        (after[3] - before[3]) / ticks,
        per_tick * 86400 / interval,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--platforms", default=",".join(PLATFORMS))
    args = parser.parse_args()
    os.environ["YT_KEY"] = YT_KEY
    os.environ["X_TOKEN"] = X_TOKEN
    rows = []
    for name in args.platforms.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-quiet-{name}-") as tmp:
            rows.append(measure(name, args.ticks, args.interval, Path(tmp)))
    print(
        f"{args.ticks} quiet ticks per platform, interval {args.interval:g} s "
        f"({86400 / args.interval:.0f} ticks a day)"
    )
    print(
        f"{'platform':<10} {'first harvest':>14} {'B/quiet tick':>13} {'WARC B/tick':>12} "
        f"{'journal B/tick':>15} {'bundles/tick':>13} {'B/day':>12} {'day % first':>12}"
    )
    for r in rows:
        print(
            f"{r.platform:<10} {r.first:>14,} {r.per_tick:>13,.0f} {r.warc_per_tick:>12,.0f} "
            f"{r.journal_per_tick:>15,.0f} {r.bundles_per_tick:>13.3f} {r.per_day:>12,.0f} "
            f"{100 * r.per_day / r.first:>11.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
