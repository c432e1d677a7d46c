"""SIGHUP compares the typed sections: a changed ``[storage]`` needs a restart, and says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from archiver.daemon.service import Daemon
from tests.helpers import site_toml, write_config


def _config(tmp_path: Path, storage: str, daemon: str) -> Path:
    site = site_toml("s1", "mastodon", "http://127.0.0.1:9", "x", extra="enabled = false")
    return write_config(tmp_path, site, head=f"[storage]\n{storage}\n[daemon]\n{daemon}\n")


def _partial(logs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(e.get("reason")) for e in logs if e.get("event") == "daemon_reload_partial"]


def test_reload_compares_typed_sections(tmp_path: Path) -> None:
    config = _config(tmp_path, "rolling_lock_days = 30", "fixity_sample = 5")
    daemon = Daemon(str(config))
    daemon.start()
    try:
        assert daemon.app is not None and daemon.app.cfg.daemon.fixity_sample == 5
        _config(tmp_path, "rolling_lock_days = 30", "fixity_sample = 7")
        with capture_logs() as logs:
            daemon.reload()
        assert _partial(logs) == [], "an unchanged [storage] must not ask for a restart"
        assert daemon.app.cfg.daemon.fixity_sample == 7
        assert daemon.runtime is not None and daemon.runtime.settings.fixity_sample == 7

        _config(tmp_path, "rolling_lock_days = 40", "fixity_sample = 7")
        with capture_logs() as logs:
            daemon.reload()
        [reason] = _partial(logs)
        assert "[storage]" in reason
        assert daemon.app.cfg.storage.rolling_lock_days == 40

        _config(tmp_path, "rolling_lock_days = 40", "fixity_sample = 0")
        with capture_logs() as logs:
            daemon.reload()
        failed = [e for e in logs if e.get("event") == "daemon_reload_failed"]
        assert len(failed) == 1 and "daemon.fixity_sample" in str(failed[0]["error"])
        assert daemon.app.cfg.daemon.fixity_sample == 7, "a bad config keeps the old one"
    finally:
        daemon.shutdown()
