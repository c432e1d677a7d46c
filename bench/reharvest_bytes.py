"""Re-harvest storage benchmark: bytes a run adds to sealed storage, as % of the first harvest.

Run: ``.venv/bin/python bench/reharvest_bytes.py [--followers 3000] [--posts 40] [--replies 3]``

A fake Mastodon city account (posts, each with a reply thread, and a follower list) is
harvested once (the first run is a full sweep). The site uses the defaults (``full_sweep_every
= "1d"``, ``recheck_recent = 40``, ``thread_poll_ceiling = "7d"``, ``follower_checkpoint_every
= "7d"``, ``follower_walk_every = "1d"`` and ``followers_every = 0``: followers are read in
every run, the whole list daily and only the newest followers in between), then:

* an incremental re-harvest with nothing changed upstream   (target < 2 %),
* a full sweep with nothing changed upstream                (target < 10 %); the whole
  follower list is not due yet (it has its own daily cadence),
* an incremental re-harvest after 1 edit + 5 new followers  (target < 5 %),
* a full sweep that also reads the whole follower list (``archiver harvest --full``, or the
  day's run when both daily cadences fall due together): no target, printed so the day's
  most expensive run is in view;

then the same site with ``followers_every = "1d"`` (the list read daily and in every full
sweep, not in the hourly runs between):

* an incremental re-harvest with nothing changed upstream   (target < 2 %),
* an incremental re-harvest after 1 edit + 5 new followers: the list is not due, so the
  followers are not read in this run (they are found by the next daily read, which costs
  what the default section's third row shows).

Bytes are the sizes of every file of every bundle in storage and of the sealed journal
segments beside them (what WORM keeps), measured in this run; each figure is a ratio to the first harvest of the same run. The records.sqlite share
of each run is printed too, since that is what a run that finds nothing new should not copy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _sizes(app: object) -> tuple[int, int, int]:
    """(all bytes in storage, records.sqlite bytes, journal bytes): every bundle's files and
    the sealed workflow-journal segments (stored beside the bundles, WORM on S3 too)."""
    storage = app.storage  # type: ignore[attr-defined]
    total = db = 0
    for key in storage.list_bundles():
        for f in storage.list_files(key):
            total += f.size
            if f.relpath.endswith("records.sqlite"):
                db += f.size
    journal = sum(len(storage.read_journal(name)) for name in storage.list_journal())
    return total + journal, db, journal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=3000)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--replies", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="harvest into this folder and keep it")
    args = parser.parse_args()

    from fakeplatforms.mastodon import MastodonWorld
    from fakeplatforms.server import FakeServer

    from archiver.app import open_app
    from archiver.harvest import Harvester

    start = datetime(2026, 1, 1, tzinfo=UTC)
    world = MastodonWorld(clock_start=start, rate_limit=10**9)
    city = str(world.add_account("cityofbozeman", "City of Bozeman")["id"])
    residents = [str(world.add_account(f"resident{i}", f"Resident {i}")["id"]) for i in range(20)]
    posts = []
    for i in range(args.posts):
        st = world.post_status(
            city,
            f"City update {i}: snow plows on routes {i % 7}, Main Street parking.",
            created_at=start + timedelta(hours=i),
        )
        posts.append(str(st["id"]))
        for j in range(args.replies):
            world.post_status(
                residents[(i + j) % len(residents)],
                f"Reply {j} to update {i}: thanks, and what about Bridger Canyon Road?",
                in_reply_to_id=str(st["id"]),
                created_at=start + timedelta(hours=i, minutes=j + 1),
            )
    for i in range(args.followers):
        acc = world.add_account(f"follower{i}", f"Follower {i}")
        world.follow(city, str(acc["id"]), at=start + timedelta(seconds=i))

    with tempfile.TemporaryDirectory(prefix="bench-reharvest-") as tmp, FakeServer(world) as srv:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        cfg = root / "archiver.toml"
        cfg.write_text(
            f'[archive]\nroot = "{root / "archive"}"\n\n[[sites]]\nid = "bench"\n'
            f'platform = "mastodon"\nbase_url = "{srv.url}"\naccount = "cityofbozeman"\n'
            'department = "Bench"\nadministrators = [{ name = "IT", role = "IT" }]\n'
        )

        def run(full: bool | None, whole: bool = False) -> tuple[int, int, int]:
            app = open_app(str(cfg))
            try:
                Harvester(app.cfg, app.catalog, app.storage).harvest_site(
                    app.cfg.site("bench"), full=full, whole_followers=whole
                )
            finally:
                app.close()  # seals what the run changed into the journal, as the CLI does
            return _sizes(app)

        Row = tuple[str, tuple[int, int, int], float | None]
        rows: list[Row] = []
        state = (0, 0, 0)

        def measure(
            name: str, full: bool | None, target: float | None, *, whole: bool = False
        ) -> None:
            nonlocal state
            after = run(full, whole)
            rows.append(
                (name, (after[0] - state[0], after[1] - state[1], after[2] - state[2]), target)
            )
            state = after

        measure("first harvest (full)", None, None)
        measure("unchanged incremental", False, 2.0)
        measure("unchanged full sweep", True, 10.0)
        world.edit_status(posts[-1], "City update: snow plows on all routes tonight (edited).")
        for i in range(5):
            acc = world.add_account(f"newfollower{i}", f"New follower {i}")
            world.follow(city, str(acc["id"]))
        measure("1 edit + 5 new followers", False, 5.0)
        measure("full sweep + whole list", True, None, whole=True)
        # The same account with the follower list read daily (and in every full sweep)
        # rather than every run: an hourly incremental run then reads the posts only.
        cfg.write_text(
            cfg.read_text().replace("[[sites]]\n", '[[sites]]\nfollowers_every = "1d"\n', 1)
        )
        rows.append(('followers_every = "1d":', (0, 0, 0), None))
        measure("unchanged incremental", False, 2.0)
        world.edit_status(posts[-2], "City update: Main Street parking rules (edited).")
        for i in range(5):
            acc = world.add_account(f"laterfollower{i}", f"Later follower {i}")
            world.follow(city, str(acc["id"]))
        measure("1 edit, list not due", False, None)

    first, first_db, first_journal = rows[0][1]
    print(
        f"account: {args.posts} posts x {args.replies} replies, {args.followers} followers; "
        f"first harvest sealed {first:,} bytes ({first_db:,} of them records.sqlite, "
        f"{first_journal:,} journal)"
    )
    print(
        f"{'run':28} {'bytes added':>12} {'% of first':>10} {'db bytes':>10} {'journal':>8} "
        f"{'target':>8}"
    )
    failed = False
    print("followers_every = 0 (the default: followers are read in every run):")
    for name, (added, db, journal), target in rows:
        if name.endswith(":"):
            print(name)
            continue
        pct = 100.0 * added / first
        mark = ""
        if target is not None:
            mark = f"< {target:g} %" + (" ok" if pct < target else " MISSED")
            failed |= pct >= target
        print(f"{name:28} {added:>12,} {pct:>9.2f}% {db:>10,} {journal:>8,} {mark:>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
