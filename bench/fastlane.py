"""Fast-lane benchmark (issue 13): latency from creation to sealed, requests per hour.

Run: ``.venv/bin/python bench/fastlane.py [--comments 30] [--seconds 60] [--interval 5]``

A fake Mastodon instance (user stream + notifications) on 127.0.0.1 with 40 City posts gets
``--comments`` replies posted at random moments over ``--seconds`` while the daemon's fast
lane (``archiver.fastlane.runner.FastLane``) follows it. Printed: p50/p95 of creation-to-
sealed seconds (target: p95 under 120 s), the fast lane's requests per hour, and the
requests of ONE full sweep of the same site (the baseline the fast lane is compared with).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer

from archiver.app import open_app
from archiver.fastlane.latency import percentile
from archiver.fastlane.runner import FastLane
from archiver.settings.fastlane import FastLaneSettings
from tests.helpers import catalog_rows, harvest, site_toml, write_config


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comments", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument(
        "--flaky",
        action="store_true",
        help="the stream hangs up after each answer (default: held open, like Mastodon's)",
    )
    args = ap.parse_args()
    rng = random.Random(13)
    world = LiveMastodon(clock_start=datetime(2026, 11, 1, tzinfo=UTC))
    world.hold_stream = not args.flaky
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    people = [world.add_account(f"resident{i}", f"Resident {i}")["id"] for i in range(10)]
    posts = [world.post_status(city, f"City post {i}")["id"] for i in range(40)]
    with tempfile.TemporaryDirectory() as tmp, FakeServer(world) as server:
        config = write_config(
            Path(tmp), site_toml("masto", "mastodon", server.url, "cityofbozeman")
        )
        server.clear_requests()
        harvest(config, "masto", full=True)
        sweep_requests = len(server.requests)
        server.clear_requests()
        app = open_app(str(config))
        lane = FastLane(app, FastLaneSettings(enabled=True, interval=args.interval))
        lane.start()
        started = time.monotonic()
        moments = sorted(rng.uniform(0, args.seconds) for _ in range(args.comments))
        for at in moments:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            world.post_status(
                rng.choice(people),
                "comment",
                in_reply_to_id=rng.choice(posts),
                created_at=datetime.now(UTC),
            )
        deadline = time.monotonic() + 4 * args.interval + 30
        while time.monotonic() < deadline:
            got = catalog_rows(config, "SELECT seconds FROM fastlane_latency")
            if len(got) >= args.comments:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        lane.stop()
        app.close()
        lane_requests = len(server.requests)
        connections = sum(1 for r in server.requests if r.path == "/api/v1/streaming/user")
    seconds = [float(r["seconds"]) for r in got]
    if not seconds:
        print("no fast-lane capture was sealed: nothing to measure")
        return
    per_hour = lane_requests * 3600 / elapsed
    print(f"fast lane captures: {len(seconds)} of {args.comments} comments")
    print(
        f"latency creation->sealed: p50 {percentile(seconds, 0.5):.1f} s, "
        f"p95 {percentile(seconds, 0.95):.1f} s (target p95 < 120 s; tick {args.interval:.0f} s)"
    )
    print(f"fast lane requests per hour: {per_hour:.0f} ({lane_requests} in {elapsed:.0f} s)")
    mode = "hanging up after each answer" if args.flaky else "held open"
    print(f"user stream ({mode}): {connections} connection(s) in {elapsed:.0f} s")
    print(
        f"one full sweep of the same site: {sweep_requests} requests; fast lane hour / sweep = "
        f"{per_hour / max(sweep_requests, 1):.1f}x"
    )


if __name__ == "__main__":
    main()
