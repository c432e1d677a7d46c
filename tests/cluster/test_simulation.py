"""The three-worker simulation at reduced size (issue 19): 30 small fake sites on a local
Mastodon, moto's S3 server, one PostgreSQL database, three ``archiver worker`` processes.

Asserted: every site harvested exactly once in every slot of the run (no slot missed, none
doubled), one worker killed with SIGKILL mid-harvest and its site's slot finished by another
worker with nothing of the killed run cataloged, a SIGTERM drain that exits cleanly, and two
organizations whose database roles cannot read each other's rows.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fakeplatforms import FakeResponse, FakeServer, MastodonWorld
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archiver.app import open_app
from archiver.cluster.tenants import assign_site
from tests.cluster.conftest import WorkerProcess, cli, cluster_config, worker_env
from tests.conftest import PG_ADMIN_DSN

pytestmark = pytest.mark.postgres

SITES = 12
SLOT = 30  # seconds between a site's slots
SLOTS = 3  # harvested slots per site (the first is the catch-up slot deferred at start-up)
HALF = SITES // 2
CLUSTER = "heartbeat_seconds = 1\nstalled_seconds = 3\nconcurrency = 2\nmetrics_port = 0\n"  # sites 0..HALF-1 belong to organization A, the rest to B


class SlowAccount:
    """The fake Mastodon, with one account made slow so its harvest can be killed midway."""

    def __init__(self, world: MastodonWorld, slow_id: str) -> None:
        self.world = world
        self.slow_id = slow_id
        self.slow = threading.Event()

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if self.slow.is_set() and f"/accounts/{self.slow_id}/" in path:
            time.sleep(1.0)
        return self.world.handle(method, path, query, headers)


@pytest.fixture
def roles(pg_url: str) -> Iterator[list[str]]:
    """Organization roles made by the test; server-wide, so dropped (with their grants)."""
    made: list[str] = []
    yield made
    db = make_url(pg_url).database
    with psycopg.connect(f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{db}", autocommit=True) as conn:
        for role in made:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def _succeeded(url: str) -> list[tuple[str, str, str]]:
    """(site, slot, run id) of every succeeded harvest."""
    out = []
    for job_id, detail in _rows(
        url, "SELECT job_id, detail_json FROM job_runs WHERE result = 'succeeded'"
    ):
        if job_id.startswith("harvest:"):
            d = json.loads(detail)
            out.append((job_id.removeprefix("harvest:"), d["slot"], d["run"]))
    return out


def _wait(what: str, check: Any, timeout: float, workers: list[WorkerProcess]) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end or all(w.proc.poll() is not None for w in workers):
            logs = "\n".join(w.log()[-3000:] for w in workers)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(0.25)


@pytest.mark.timeout(480)
def _started_at(worker: WorkerProcess) -> datetime:
    """When the worker joined the queue (its ``worker_started`` log line)."""
    for line in worker.log().splitlines():
        if line.startswith("{") and '"worker_started"' in line:
            return datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00"))
    raise AssertionError(f"worker {worker.pid} never started:\n{worker.log()[-2000:]}")


def _check_status_and_metrics(config: Path, worker: WorkerProcess, sites: list[str]) -> None:
    """`archiver cluster status` and a survivor's /metrics, while the cluster runs."""
    done = cli(config, "cluster", "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["workers"] == 2  # the killed one sends no heartbeat any more
    assert set(status["last_success"]) == set(sites)
    assert all(v and v["slot"] for v in status["last_success"].values())
    assert all(isinstance(n, int) and n >= 0 for n in status["queue_depth"].values())
    assert "oldest_waiting_seconds" in status
    human = cli(config, "cluster", "status")
    assert human.returncode == 0 and "workers alive: 2" in human.stdout, human.stderr
    started = next(
        json.loads(line)
        for line in worker.log().splitlines()
        if line.startswith("{") and '"worker_started"' in line
    )
    body = httpx.get(f"http://127.0.0.1:{started['metrics_port']}/metrics", timeout=10).text
    figures = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    assert figures['archiver_harvests_total{result="succeeded"}'] > 0
    assert figures["archiver_bytes_sealed_total"] > 0
    assert figures["archiver_workers_alive"] == 2
    assert "archiver_oldest_waiting_seconds" in figures
    assert figures["archiver_harvest_start_lag_seconds_count"] > 0


def test_three_workers_once_per_slot_kill9_and_tenants(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    moto_endpoint: str,
    bucket: str,
    workers: list[WorkerProcess],
    roles: list[str],
) -> None:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    accounts = []
    for i in range(SITES):
        acc = world.add_account(f"town{i:02d}", f"Town {i:02d}")
        world.post_status(acc["id"], f"Council agenda #{i}")
        accounts.append(acc)
    victim = "site07"
    app = SlowAccount(world, accounts[7]["id"])
    sites = [(f"site{i:02d}", f"town{i:02d}", f"{SLOT}s") for i in range(SITES)]
    with FakeServer(app) as server:
        configs = [
            cluster_config(
                tmp_path / f"w{n}",
                catalog_url=pg_url,
                endpoint=moto_endpoint,
                bucket=bucket,
                sites=sites,
                base_url=server.url,
                cluster=CLUSTER,
            )
            for n in range(3)
        ]
        done = cli(configs[0], "cluster", "schema")
        assert done.returncode == 0, done.stderr
        assert "applied" in done.stdout
        # Tenants: the first half of the sites belong to A, the rest to B, each with its own read-only role.
        suffix = uuid.uuid4().hex[:8]
        role_a, role_b = f"org_a_{suffix}", f"org_b_{suffix}"
        roles.extend([role_a, role_b])
        for org, role in (("town-a", role_a), ("town-b", role_b)):
            done = cli(configs[0], "cluster", "org", "add", org, "--name", org, "--role", role)
            assert done.returncode == 0, done.stderr
        # Sites go to organizations in-process (the CLI's own code), one command was enough.
        for env in ("ARCHIVER_S3_ACCESS_KEY", "ARCHIVER_S3_SECRET_KEY"):
            monkeypatch.setenv(env, worker_env()[env])
        archive = open_app(str(configs[0]))
        try:
            for i, (site, _, _) in enumerate(sites):
                archive.catalog.sync_site(archive.cfg.site(site))
                assign_site(archive.catalog.engine, site, "town-a" if i < HALF else "town-b")
        finally:
            archive.catalog.close()

        app.slow.set()
        workers.extend(WorkerProcess(c) for c in configs)
        pids = {w.pid for w in workers}

        # Kill -9 the worker that is harvesting the slow site, mid-harvest.
        def victim_running() -> tuple[str, int] | None:
            rows = _rows(
                pg_url,
                "SELECT id, pid FROM runs WHERE site_id = :s AND status = 'running'",
                s=victim,
            )
            return (rows[0][0], int(rows[0][1])) if rows else None

        killed_run, killed_pid = _wait("the slow site's harvest", victim_running, 90, workers)
        assert killed_pid in pids
        time.sleep(1.5)  # well into the harvest: bundles open in staging, nothing sealed
        os.kill(killed_pid, signal.SIGKILL)
        app.slow.clear()
        survivors = [w for w in workers if w.pid != killed_pid]

        def enough() -> bool:
            per_site = Counter(site for site, _, _ in _succeeded(pg_url))
            return len(per_site) == SITES and min(per_site.values()) >= SLOTS

        _wait(f"{SLOTS} harvested slots of every site", enough, 200, workers)
        _check_status_and_metrics(configs[0], survivors[0], [site for site, _, _ in sites])
        for w in survivors:
            assert w.stop() == 0, w.log()[-2000:]
        assert any('"worker_draining"' in w.log() for w in survivors)

    done_runs = _succeeded(pg_url)
    per_slot = Counter((site, slot) for site, slot, _ in done_runs)
    doubled = {k: n for k, n in per_slot.items() if n > 1}
    assert not doubled, f"harvested more than once in a slot: {doubled}"
    # Every slot that fell after the whole cluster was up is harvested, none skipped. (Slots
    # before that may be coalesced with the catch-up slot deferred at start-up, by design.)
    ready = max(_started_at(w) for w in workers)
    for site, _, _ in sites:
        slots = sorted(datetime.fromisoformat(slot) for s, slot in per_slot if s == site)
        steady = [slot for slot in slots if slot >= ready]
        assert len(steady) >= 2, f"{site}: too few slots after start-up: {slots}"
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(steady)]
        assert all(g == SLOT for g in gaps), f"{site} missed a slot: {slots}"
    failed = _rows(pg_url, "SELECT job_id, error FROM job_runs WHERE result = 'failed'")
    assert not failed, failed

    # The killed run: abandoned, nothing of it cataloged; its slot finished by another worker.
    status = _rows(pg_url, "SELECT status FROM runs WHERE id = :r", r=killed_run)[0][0]
    assert status == "abandoned"
    assert not _rows(pg_url, "SELECT id FROM bundles WHERE run_id = :r", r=killed_run)
    killed_slot = _rows(
        pg_url,
        "SELECT detail_json FROM job_runs WHERE job_id = :j AND result = 'abandoned'",
        j=f"harvest:{victim}",
    )
    assert killed_slot, "the killed worker's job row was not marked abandoned"
    victim_runs = {run for site, _, run in done_runs if site == victim}
    finishers = _rows(pg_url, "SELECT pid FROM runs WHERE id = ANY(:ids)", ids=list(victim_runs))
    assert finishers and killed_pid not in {int(p) for (p,) in finishers}
    first_victim_slot = min(slot for site, slot, _ in done_runs if site == victim)
    assert per_slot[(victim, first_victim_slot)] == 1

    # Tenants: each organization's role sees its own rows only, whatever it asks for.
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO records_requests (id, year, seq, requester, received, description,"
                " status, acknowledge_by, respond_by, opened_at, opened_by, organization_id)"
                " VALUES ('PRR-2026-0001', 2026, 1, 'r', '2026-12-01', 'd', 'open',"
                " '2026-12-03', '2026-12-31', 'now', 'clerk', 'town-b')"
            )
        )
    engine.dispose()
    owner_items = _rows(pg_url, "SELECT site_id FROM items")
    assert {s for (s,) in owner_items} >= {"site00", f"site{SITES - 1:02d}"}
    url = make_url(pg_url)
    for role, mine in ((role_a, range(HALF)), (role_b, range(HALF, SITES))):
        dsn = f"host={url.host} port={url.port or 5432} dbname={url.database} user={role}"
        own = {f"site{i:02d}" for i in mine}
        with psycopg.connect(dsn) as pg:
            seen_items = {r[0] for r in pg.execute("SELECT site_id FROM items")}
            assert seen_items and seen_items <= own
            seen_versions = pg.execute(
                "SELECT count(*) FROM item_versions v JOIN items i ON i.id = v.item_id"
            ).fetchone()
            other_versions = pg.execute(
                "SELECT count(*) FROM item_versions WHERE item_id NOT IN (SELECT id FROM items)"
            ).fetchone()
            assert seen_versions and seen_versions[0] > 0
            assert other_versions == (0,)
            assert {r[0] for r in pg.execute("SELECT site_id FROM bundles")} <= own
            requests = [r[0] for r in pg.execute("SELECT id FROM records_requests")]
            assert requests == (["PRR-2026-0001"] if role == role_b else [])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                pg.execute("DELETE FROM items")
