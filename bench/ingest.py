"""Ingest benchmark: items/s and peak memory through recorder -> bundle -> catalog.

Run: ``.venv/bin/python bench/ingest.py [--sizes 10000 100000]``

The fake platform runs in its own process so the harvest's memory is measured alone (the
harvest runs as a real ``archiver harvest`` subprocess; its peak RSS comes from ``wait4``).
Two mixes (issue 14 part 5):

* ``followers``: 95% Mastodon followers (80 per page) plus statuses (40 per page, each with a
  thread request), the historical shape: cheap per item, so it flatters items per second;
* ``city``: the proportions of a municipal account: 12% posts, 38% replies (in threads under
  40% of the posts, up to three levels deep, some by the city), 50% followers.

Baselines measured in the same run:
* recorder overhead: fetching the same pages with plain httpx and writing them with plain
  warcio (request + response records, gzip) vs our RecordingClient + WarcSink;
* memory: the 10k run is the baseline for the 100k run (memory must not grow with run size).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def _serve(followers: int, statuses: int, replies: int, q: Queue[str]) -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from fakeplatforms.mastodon import MastodonWorld
    from fakeplatforms.server import FakeServer

    rng = random.Random(14)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    world = MastodonWorld(clock_start=start, rate_limit=10**9)
    city = str(world.add_account("cityofbozeman", "City of Bozeman")["id"])
    posts = []
    for i in range(statuses):
        st = world.post_status(
            city,
            f"City update number {i}: snow plows on routes {i % 7}, "
            "Main Street parking, Bridger Canyon Road work.",
            created_at=start + timedelta(minutes=i),
        )
        posts.append(str(st["id"]))
    residents = []
    for i in range(followers):
        acc = world.add_account(f"resident{i}", f"Resident {i}")
        world.follow(city, str(acc["id"]), at=start + timedelta(seconds=i))
        residents.append(str(acc["id"]))
    if replies and residents:
        # Replies go to 40% of the posts; each reply answers the post or an earlier reply of
        # its thread (depth up to 3); one in eight is the city answering.
        threads = [p for p in posts if rng.random() < 0.4] or posts[:1]
        tree: dict[str, list[tuple[str, int]]] = {t: [(t, 0)] for t in threads}
        for n in range(replies):
            root = rng.choice(threads)
            parent, depth = rng.choice([x for x in tree[root] if x[1] < 3])
            author = city if n % 8 == 0 else rng.choice(residents)
            st = world.post_status(
                author,
                f"Reply {n}: thanks, is the Bridger Canyon Road closure still on for today?",
                in_reply_to_id=parent,
                created_at=start + timedelta(minutes=statuses + n),
            )
            tree[root].append((str(st["id"]), depth + 1))
    with FakeServer(world) as server:
        q.put(server.url)
        q.get()  # wait for "stop"


MIXES = {
    # name: (posts, replies, followers) as shares of the items
    "followers": (0.05, 0.0, 0.95),
    "city": (0.12, 0.38, 0.50),
}


def _start(followers: int, statuses: int, replies: int = 0) -> tuple[str, BaseProcess, Queue[str]]:
    ctx = mp.get_context("fork")
    q: Queue[str] = ctx.Queue()
    p = ctx.Process(target=_serve, args=(followers, statuses, replies, q), daemon=True)
    p.start()
    url = q.get(timeout=600)
    return url, p, q


def _config(tmp: Path, url: str) -> Path:
    cfg = tmp / "archiver.toml"
    cfg.write_text(
        f'[archive]\nroot = "{tmp / "archive"}"\n\n[[sites]]\nid = "bench"\nplatform = "mastodon"\n'
        f'base_url = "{url}"\naccount = "cityofbozeman"\ndepartment = "Bench"\n'
        'administrators = [{ name = "IT", role = "IT" }]\n'
    )
    return cfg


def _harvest(cfg: Path) -> tuple[float, float, int, int]:
    """Run a real harvest subprocess; return wall s, CPU s, peak RSS (KiB), exit code."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "--config", str(cfg), "harvest", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="ERROR"),
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - t0, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def _urls(url: str, client: httpx.Client) -> list[str]:
    """Every follower page URL, discovered by walking the Link header once."""
    acc = client.get(f"{url}/api/v1/accounts/lookup", params={"acct": "cityofbozeman"}).json()
    out = []
    nxt: str | None = f"{url}/api/v1/accounts/{acc['id']}/followers?limit=80"
    while nxt:
        out.append(nxt)
        r = client.get(nxt)
        nxt = r.links.get("next", {}).get("url")
    return out


def _recorder_overhead(url: str, tmp: Path) -> tuple[float, float, int]:
    """Same pages: plain httpx + plain warcio vs RecordingClient + WarcSink."""
    from archiver.config import HttpSettings
    from archiver.recorder import RecordingClient
    from archiver.warc import WarcSink

    with httpx.Client() as client:
        urls = _urls(url, client)
        t0 = time.perf_counter()
        with (tmp / "raw.warc.gz").open("wb") as fh:
            writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
            for u in urls:
                r = client.get(u)
                resp = writer.create_warc_record(
                    u,
                    "response",
                    payload=io.BytesIO(r.content),
                    length=len(r.content),
                    http_headers=StatusAndHeaders(
                        f"{r.status_code} OK", list(r.headers.items()), protocol="HTTP/1.1"
                    ),
                )
                writer.write_record(resp)
                req = writer.create_warc_record(
                    u,
                    "request",
                    payload=io.BytesIO(b""),
                    length=0,
                    http_headers=StatusAndHeaders(
                        f"GET {u} HTTP/1.1", list(r.request.headers.items()), is_http_request=True
                    ),
                )
                writer.write_record(req)
        raw = time.perf_counter() - t0
    sink = WarcSink(tmp / "ours", "bench", info={}, on_record=lambda _r: None)
    rc = RecordingClient(site_id="bench", settings=HttpSettings(), sinks=lambda _c: sink)
    t0 = time.perf_counter()
    for u in urls:
        rc.get(u, record_class="followers")
    ours = time.perf_counter() - t0
    sink.close()
    rc.close()
    return raw, ours, len(urls)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--mixes", nargs="+", choices=sorted(MIXES), default=["followers", "city"])
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    results = []
    per_cpu: dict[tuple[str, int], float] = {}
    for mix in args.mixes:
        post_share, reply_share, _ = MIXES[mix]
        for size in args.sizes:
            statuses = int(size * post_share)
            replies = int(size * reply_share)
            followers = size - statuses - replies
            url, proc, q = _start(followers, statuses, replies)
            try:
                with tempfile.TemporaryDirectory() as d:
                    tmp = Path(d)
                    if mix == args.mixes[0] and size == args.sizes[0]:
                        raw, ours, pages = _recorder_overhead(url, tmp)
                        print(
                            f"recorder overhead on {pages} follower pages: plain httpx+warcio "
                            f"{raw:.2f} s, RecordingClient+WarcSink {ours:.2f} s, "
                            f"ratio {ours / raw:.2f}x"
                        )
                    cfg = _config(tmp, url)
                    secs, cpu, rss_kib, code = _harvest(cfg)
                    if code != 0:
                        raise SystemExit(f"harvest of {size} items failed (exit {code})")
                    if mix == "followers":
                        results.append((size, secs, rss_kib))
                    per_cpu[(mix, size)] = size / cpu
                    print(
                        f"[{mix:>9}] {size:>8,} items ({statuses:,} posts + {replies:,} replies "
                        f"+ {followers:,} followers): wall {secs:6.1f} s = {size / secs:7,.0f} "
                        f"items/s (the fake server shares the cores); harvest CPU {cpu:5.1f} s = "
                        f"{size / cpu:7,.0f} items per CPU-second; peak RSS "
                        f"{rss_kib / 1024:6.1f} MiB"
                    )
            finally:
                q.put("stop")
                proc.join(timeout=10)
    for size in args.sizes:
        if ("followers", size) in per_cpu and ("city", size) in per_cpu:
            print(
                f"{size:,} items: the city mix runs at "
                f"{per_cpu[('city', size)] / per_cpu[('followers', size)]:.2f}x the items per "
                "CPU-second of the follower-heavy mix"
            )
    if len(results) >= 2:
        (s0, _t0, m0), (s1, _t1, m1) = results[0], results[-1]
        print(
            f"memory growth {s0:,} -> {s1:,} items: {m1 / m0:.2f}x peak RSS "
            f"for {s1 / s0:.0f}x the items"
        )


if __name__ == "__main__":
    main()
