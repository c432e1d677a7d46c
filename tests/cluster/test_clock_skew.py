"""Clock skew between workers: each worker's Procrastinate deferrer computes the slots from
its own clock, but a slot is the same UTC second for every worker and the periodic-defer key
(task, site, second) lets only one job per slot into the queue, even after the first job
has already run. Driven through our own ``build_app``, on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import create_engine, text

from archiver.cluster.settings import cluster_settings, procrastinate_dsn
from archiver.cluster.tasks import build_app
from archiver.config import load_config
from tests.cluster.conftest import cluster_config

pytestmark = pytest.mark.postgres


def _jobs(url: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT args->>'site_id', (args->>'timestamp')::bigint FROM procrastinate_jobs"
                    " WHERE task_name = 'archiver.harvest'"
                )
            ).all()
    finally:
        engine.dispose()
    return [(str(a), int(b)) for a, b in rows]


def test_skewed_clocks_defer_each_slot_once(tmp_path: Path, pg_url: str) -> None:
    config = cluster_config(
        tmp_path,
        catalog_url=pg_url,
        endpoint="127.0.0.1:9",
        bucket="b",
        sites=[("site0", "town0", "1m"), ("site1", "town1", "1m")],
        base_url="http://127.0.0.1:9",
    )
    cfg = load_config(str(config))
    app = build_app(procrastinate_dsn(pg_url), cfg, cfg.daemon, cluster_settings(cfg))

    slots: list[int] = []

    async def scenario() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            # Three clocks 20 s apart, all inside the same one-minute slot.
            now = time.time() // 60 * 60 + 30
            slots.append(int(now - 30))
            exact, behind, ahead = (PeriodicDeferrer(app.periodic_registry) for _ in range(3))
            await exact.defer_jobs(exact.get_previous_tasks(at=now))
            # The first slot's jobs have run (queueing locks released) when the others look.
            engine = create_engine(pg_url)
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'todo'")
                )
            engine.dispose()
            await behind.defer_jobs(behind.get_previous_tasks(at=now - 20))
            await ahead.defer_jobs(ahead.get_previous_tasks(at=now + 20))

    asyncio.run(scenario())
    jobs = _jobs(pg_url)
    assert sorted(jobs) == [("site0", slots[0]), ("site1", slots[0])], jobs
