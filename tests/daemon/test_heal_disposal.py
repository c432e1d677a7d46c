"""Daemon start finishes a ``disposition execute`` that was killed mid-delete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.daemon.conftest import DaemonProcess, NotifySocket, rows, wait_for
from tests.retention_kit import ArchiveFactory, kill_disposition_mid_delete


def test_daemon_start_finishes_an_interrupted_disposal(
    make_archive: ArchiveFactory,
    notify: NotifySocket,
    start_daemon: Callable[[Path], DaemonProcess],
) -> None:
    config = make_archive()
    bid, victim, key = kill_disposition_mid_delete(config)
    daemon = start_daemon(config)
    notify.wait_line("READY=1")
    state = "SELECT state FROM batch_bundles WHERE batch_id = ? AND bundle_id = ?"
    wait_for(
        "the interrupted bundle disposed",
        lambda: rows(config, state, (bid, victim))[0]["state"] == "disposed",
    )
    assert daemon.stop() == 0, daemon.log()
    assert rows(config, "SELECT status FROM bundles WHERE id = ?", (victim,))[0]["status"] == (
        "disposed"
    )
    assert rows(config, "SELECT key FROM tombstones WHERE bundle_id = ?", (victim,))
    assert not (config.parent / "archive" / "bundles" / f"{key}.deleting").exists()
