"""A real daemon subprocess, a real systemd-style notify socket, a real fake platform.

Nothing here mocks our own code: the daemon runs as ``python -m archiver daemon`` exactly as the
systemd unit starts it, talks to a datagram socket bound in the test's folder the way systemd's
is, and harvests a ``MastodonWorld`` over loopback HTTP. Waits are on events (a notify message, a
row in the catalog) with generous deadlines, never fixed sleeps.
"""

from __future__ import annotations

import os
import pickle
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakeplatforms import FakeResponse, FakeServer, MastodonWorld

from tests.helpers import site_toml, write_config

REPO = Path(__file__).resolve().parents[2]


def unit_daemon_args(config: Path) -> list[str]:
    """The arguments systemd/archiver.service gives the daemon, with this test's config.

    The daemon tests run exactly what the unit runs (log level, JSON to the journal), so a
    unit that logs nothing at its level fails here, not on the City's server.
    """
    unit = (REPO / "systemd" / "archiver.service").read_text()
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    args = shlex.split(line.removeprefix("ExecStart="))[1:]
    i = args.index("--config")
    return [*args[:i], "--config", str(config), *args[i + 2 :]]


DEADLINE = 60.0
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float = DEADLINE) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class SlowApp:
    """Delegates to a world, optionally sleeping first: a platform that has become slow."""

    def __init__(self, world: MastodonWorld) -> None:
        self.world = world
        self.delay = 0.0

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if self.delay:
            time.sleep(self.delay)
        return self.world.handle(method, path, query, headers)


class NotifySocket:
    """An AF_UNIX datagram socket like systemd's ``$NOTIFY_SOCKET``, recording every message."""

    def __init__(self, folder: Path) -> None:
        # sun_path is limited to 107 bytes; pytest's tmp_path can be longer than that.
        self._dir = tempfile.mkdtemp(prefix="notify-", dir="/tmp")
        self.path = os.path.join(self._dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def lines(self) -> list[str]:
        with self._lock:
            return [line for m in self.messages for line in m.split("\n")]

    def count(self, line: str) -> int:
        return sum(1 for x in self.lines() if x == line)

    def wait_line(self, line: str, *, at_least: int = 1, timeout: float = DEADLINE) -> None:
        wait_for(
            f"{line!r} x{at_least} on NOTIFY_SOCKET", lambda: self.count(line) >= at_least, timeout
        )

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self._dir)


class DaemonProcess:
    """``python -m archiver --config X daemon`` with systemd's notify environment."""

    def __init__(self, config: Path, notify: NotifySocket, log: Path) -> None:
        self.config = config
        self.notify = notify
        self.log_path = log
        env = dict(os.environ)
        env.update(
            NOTIFY_SOCKET=notify.path,
            WATCHDOG_USEC="2000000",
            PYTHONPATH=str(REPO),
        )
        for unset in ("WATCHDOG_PID", "ARCHIVER_LOG_LEVEL", "ARCHIVER_CONFIG"):
            env.pop(unset, None)
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "archiver", *unit_daemon_args(config)],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
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


def rows(config: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite", timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        db.close()


def runs(config: Path, site: str, status: str | None = None) -> list[sqlite3.Row]:
    sql = "SELECT * FROM runs WHERE site_id = ?"
    params: tuple[Any, ...] = (site,)
    if status:
        sql += " AND status = ?"
        params += (status,)
    return rows(config, sql + " ORDER BY started_at", params)


def config_for(tmp_path: Path, url: str, *sites: tuple[str, str, str], grace: int = 1) -> Path:
    """``sites`` are (id, account, interval); a short stop grace period unless told otherwise."""
    head = f"[daemon]\nstop_grace_seconds = {grace}\n"
    return write_config(
        tmp_path,
        *(
            site_toml(i, "mastodon", url, acct, extra=f'interval = "{every}"')
            for i, acct, every in sites
        ),
        head=head,
    )


def set_next_run(config: Path, job_id: str, when: datetime) -> None:
    """What a long outage looks like in the job store: a next run time far in the past."""
    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite", timeout=30)
    try:
        (blob,) = db.execute(
            "SELECT job_state FROM apscheduler_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        state: dict[str, Any] = pickle.loads(blob)
        state["next_run_time"] = when
        db.execute(
            "UPDATE apscheduler_jobs SET job_state = ?, next_run_time = ? WHERE id = ?",
            (pickle.dumps(state, pickle.HIGHEST_PROTOCOL), when.timestamp(), job_id),
        )
        db.commit()
    finally:
        db.close()


def small_world() -> tuple[MastodonWorld, str]:
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    city = world.add_account("cityofbozeman", "City of Bozeman")
    for i in range(6):
        world.post_status(city["id"], f"Snow plow update #{i} for Bozeman streets")
    fan = world.add_account("resident1", "Resident One")
    world.follow(city["id"], fan["id"])
    other = world.add_account("bozemanparks", "Bozeman Parks")
    world.post_status(other["id"], "Trail report: Peets Hill is icy")
    return world, city["id"]


@pytest.fixture
def platform() -> Iterator[tuple[FakeServer, SlowApp]]:
    world, _ = small_world()
    app = SlowApp(world)
    with FakeServer(app) as server:
        yield server, app


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket(Path(tempfile.gettempdir()))
    yield sock
    sock.close()


@pytest.fixture
def start_daemon(notify: NotifySocket, tmp_path: Path) -> Iterator[Callable[[Path], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        d = DaemonProcess(config, notify, tmp_path / f"daemon-{len(started)}.log")
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()
