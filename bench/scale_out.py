"""Scale-out benchmark: harvest throughput with 1, 2 and 3 ``archiver worker`` processes.

Run: ``.venv/bin/python bench/scale_out.py [--sites 500] [--workers 1 2 3]``

Each round gets a fresh PostgreSQL database (``ARCHIVER_TEST_PG``, default the local server),
a fresh bucket on moto's S3 server and the same fake Mastodon with ``--sites`` small accounts;
every site is due in the same one-minute slot. Throughput is sites harvested per second from
the first harvest's start to the last one's end, read from ``job_runs``; it is printed as a
ratio to the one-worker round measured in the same run. The round also checks what the
simulation test asserts: every site harvested exactly once in that slot.

On a two-core machine the workers share the cores with PostgreSQL, moto and the fake platform,
so the ratios say more about the absence of contention in the queue (no site twice, none
lost) than about the speed-up on separate servers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from fakeplatforms import FakeServer, MastodonWorld
from minio import Minio
from moto.server import ThreadedMotoServer
from sqlalchemy import create_engine, text

from tests.cluster.conftest import ACCESS, SECRET, WorkerProcess, cli, cluster_config
from tests.conftest import PG_ADMIN_DSN


def _database() -> tuple[str, str]:
    name = f"archiver_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _runs(url: str) -> list[tuple[str, str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT job_id, started_at, finished_at, detail_json FROM job_runs "
                    "WHERE result = 'succeeded' AND job_id LIKE 'harvest:%'"
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2], json.loads(r[3]).get("slot", "")) for r in rows]


def one_round(
    n_workers: int, sites: int, base_url: str, endpoint: str, work: Path
) -> dict[str, float]:
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    Minio(endpoint, ACCESS, SECRET, secure=False, region="us-east-1").make_bucket(
        bucket, object_lock=True
    )
    name, url = _database()
    workers: list[WorkerProcess] = []
    try:
        site_list = [(f"site{i:03d}", f"town{i:03d}", "1m") for i in range(sites)]
        configs = [
            cluster_config(
                work / f"r{n_workers}-w{n}",
                catalog_url=url,
                endpoint=endpoint,
                bucket=bucket,
                sites=site_list,
                base_url=base_url,
                cluster="heartbeat_seconds = 2\nstalled_seconds = 10\nconcurrency = 2\n",
            )
            for n in range(n_workers)
        ]
        done = cli(configs[0], "cluster", "schema")
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        workers = [WorkerProcess(c) for c in configs]
        deadline = time.monotonic() + 60 * 60
        while True:
            runs = _runs(url)
            first_slot = min((r[3] for r in runs), default=None)
            in_slot = [r for r in runs if r[3] == first_slot]
            if len({r[0] for r in in_slot}) >= sites:
                break
            if time.monotonic() > deadline or any(w.proc.poll() is not None for w in workers):
                raise SystemExit(f"round with {n_workers} worker(s) did not finish")
            time.sleep(1)
        doubled = [k for k, v in Counter((r[0], r[3]) for r in runs).items() if v > 1]
        start = min(datetime.fromisoformat(r[1]) for r in in_slot)
        end = max(datetime.fromisoformat(r[2]) for r in in_slot)
        span = (end - start).total_seconds()
        return {"span": span, "per_second": sites / span, "doubled": float(len(doubled))}
    finally:
        for w in workers:
            w.stop()
        _drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import os

    os.environ.setdefault("ARCHIVER_S3_ACCESS_KEY", ACCESS)
    os.environ.setdefault("ARCHIVER_S3_SECRET_KEY", SECRET)
    world = MastodonWorld()
    world.rate_limit = 10_000_000
    for i in range(args.sites):
        acc = world.add_account(f"town{i:03d}", f"Town {i:03d}")
        world.post_status(acc["id"], f"Council agenda #{i}")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    results: dict[int, dict[str, float]] = {}
    try:
        with FakeServer(world) as server, tempfile.TemporaryDirectory() as tmp:
            for n in args.workers:
                results[n] = one_round(n, args.sites, server.url, f"{host}:{port}", Path(tmp))
                r = results[n]
                print(
                    f"{n} worker(s): {args.sites} sites in {r['span']:.1f} s "
                    f"({r['per_second']:.2f} sites/s), sites harvested twice in the slot: "
                    f"{int(r['doubled'])}",
                    flush=True,
                )
    finally:
        moto.stop()
    base = results[min(results)]["per_second"]
    print(f"\nthroughput ratio vs {min(results)} worker(s), same run ({args.sites} sites):")
    for n, r in results.items():
        print(f"  {n} worker(s): x{r['per_second'] / base:.2f}")


if __name__ == "__main__":
    main()
