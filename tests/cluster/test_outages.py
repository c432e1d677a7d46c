"""Bad input for a cluster: the database drops every connection mid-run (what a PostgreSQL
restart looks like to the workers). A worker either reconnects and keeps harvesting, or
exits non-zero so systemd (Restart=on-failure) starts it again; never exits 0 as if asked to,
and no slot is harvested twice."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fakeplatforms import FakeServer, MastodonWorld
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cluster.conftest import WorkerProcess, cli, cluster_config
from tests.conftest import PG_ADMIN_DSN

pytestmark = pytest.mark.postgres


def _succeeded(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT job_id, detail_json FROM job_runs "
                    "WHERE result = 'succeeded' AND job_id LIKE 'harvest:%'"
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], json.loads(r[1])["slot"]) for r in rows]


def _wait_for(what: str, check: Callable[[], bool], timeout: float, worker: WorkerProcess) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}\n{worker.log()[-3000:]}")
        time.sleep(0.25)


@pytest.mark.timeout(300)
def test_database_connections_dropped_mid_run(
    tmp_path: Path, pg_url: str, moto_endpoint: str, bucket: str, workers: list[WorkerProcess]
) -> None:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    for i in range(2):
        acc = world.add_account(f"town{i}", f"Town {i}")
        world.post_status(acc["id"], "Road closure")
    with FakeServer(world) as server:
        config = cluster_config(
            tmp_path,
            catalog_url=pg_url,
            endpoint=moto_endpoint,
            bucket=bucket,
            sites=[(f"site{i}", f"town{i}", "10s") for i in range(2)],
            base_url=server.url,
        )
        assert cli(config, "cluster", "schema").returncode == 0
        worker = WorkerProcess(config)
        workers.append(worker)
        _wait_for("a first harvest", lambda: len(_succeeded(pg_url)) >= 2, 120, worker)
        before = len(_succeeded(pg_url))
        db = make_url(pg_url).database
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )
        time.sleep(3)
        if worker.proc.poll() is not None:
            assert worker.proc.returncode != 0, worker.log()[-2000:]
            assert '"worker_stopped_unexpectedly"' in worker.log()
            worker = WorkerProcess(config)  # what systemd's Restart=on-failure does
            workers.append(worker)
        _wait_for(
            "harvests after the connections were dropped",
            lambda: len(_succeeded(pg_url)) >= before + 4,
            120,
            worker,
        )
        assert worker.stop() == 0
    doubled = {k: n for k, n in Counter(_succeeded(pg_url)).items() if n > 1}
    assert not doubled, doubled
