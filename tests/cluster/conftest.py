"""Cluster fixtures: a real moto S3 server, a fresh PostgreSQL database (tests/conftest.py),
and ``archiver worker`` subprocesses started exactly as the systemd unit starts them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from tests.helpers import site_toml

REPO = Path(__file__).resolve().parents[2]
ACCESS, SECRET = "archiver-test-access", "archiver-test-secret"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"cluster-{uuid.uuid4().hex[:16]}"
    Minio(moto_endpoint, ACCESS, SECRET, secure=False, region="us-east-1").make_bucket(
        name, object_lock=True
    )
    return name


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ARCHIVER_S3_ACCESS_KEY=ACCESS,
        ARCHIVER_S3_SECRET_KEY=SECRET,
        PYTHONPATH=str(REPO),
        ARCHIVER_LOG_LEVEL="INFO",
    )
    for unset in ("ARCHIVER_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"):
        env.pop(unset, None)
    return env


def cluster_config(
    folder: Path,
    *,
    catalog_url: str,
    endpoint: str,
    bucket: str,
    sites: list[tuple[str, str, str]],
    base_url: str,
    cluster: str = "heartbeat_seconds = 1\nstalled_seconds = 3\nconcurrency = 2\n",
    backend: str = "s3",
) -> Path:
    """One worker's config: its own root (local staging), the shared catalog and bucket.

    ``sites`` are (id, account, interval)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        f'[archive]\nroot = "{folder / "archive"}"\ncatalog_url = "{catalog_url}"\n'
        'timezone = "America/Denver"\n'
        "\n[http]\nmax_retry_wait = 2\nmax_attempts = 3\ntimeout = 5\n"
        "\n[daemon]\nstop_grace_seconds = 2\n"
        f"\n[cluster]\n{cluster}"
        f'\n[storage]\nbackend = "{backend}"\n'
    )
    if backend == "s3":
        text += (
            f'endpoint = "{endpoint}"\nbucket = "{bucket}"\nsecure = false\n'
            'region = "us-east-1"\nprefix = "archive"\nallow_unsafe_worm = true\n'
        )
    text += "\n" + "\n".join(
        site_toml(i, "mastodon", base_url, acct, extra=f'interval = "{every}"')
        for i, acct, every in sites
    )
    path = folder / "archiver.toml"
    path.write_text(text)
    return path


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        cwd=REPO,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class WorkerProcess:
    def __init__(self, config: Path) -> None:
        self.log_path = config.parent / "worker.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "archiver", "--log-json", "--config", str(config), "worker"],
            cwd=REPO,
            env=worker_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()
