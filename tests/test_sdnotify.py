"""sd_notify against real AF_UNIX datagram sockets: a filesystem one and an abstract one."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from archiver.sdnotify import Notifier


@pytest.fixture
def fs_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"archiver-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    yield sock, "@" + name
    sock.close()


def _recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_filesystem_socket_receives_every_message(fs_socket: tuple[socket.socket, str]) -> None:
    sock, path = fs_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready()
    assert _recv(sock) == "READY=1"
    assert n.status("harvesting 3 sites\nsecond line")
    assert _recv(sock) == "STATUS=harvesting 3 sites second line"
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"
    assert n.stopping()
    assert _recv(sock) == "STOPPING=1"
    assert n.ready(status="idle")
    assert _recv(sock) == "READY=1\nSTATUS=idle"


def test_reloading_carries_current_monotonic_time(fs_socket: tuple[socket.socket, str]) -> None:
    sock, path = fs_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert Notifier({"NOTIFY_SOCKET": path}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = _recv(sock).split("\n")
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_abstract_socket(abstract_socket: tuple[socket.socket, str]) -> None:
    sock, name = abstract_socket
    n = Notifier({"NOTIFY_SOCKET": name})
    assert n.ready()
    assert _recv(sock) == "READY=1"
    assert n.watchdog()
    assert _recv(sock) == "WATCHDOG=1"


def test_reads_process_environment_by_default(
    fs_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = fs_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert Notifier().status("ok")
    assert _recv(sock) == "STATUS=ok"


def test_noop_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled
    with capture_logs() as logs:
        assert n.ready() is False
        assert n.watchdog() is False
        assert n.reloading() is False
    assert logs == []


def test_send_failure_logs_warning_and_does_not_raise(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    with capture_logs() as logs:
        assert n.ready() is False
        assert n.watchdog() is False
    assert len(logs) == 2
    assert all(e["log_level"] == "warning" for e in logs)
    assert logs[0]["event"] == "sdnotify.send_failed"
    assert logs[0]["notify_socket"].endswith("nobody-listens.sock")


def test_send_failure_on_missing_abstract_socket() -> None:
    n = Notifier({"NOTIFY_SOCKET": f"@archiver-absent-{uuid.uuid4().hex}"})
    with capture_logs() as logs:
        assert n.watchdog() is False
    assert logs[0]["event"] == "sdnotify.send_failed"
    assert logs[0]["notify_socket"].startswith("@archiver-absent-")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "120000000"}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid())}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "garbage"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "3000000"}, 1.5),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert Notifier(env).watchdog_interval() == expected
