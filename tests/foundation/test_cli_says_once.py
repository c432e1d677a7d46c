"""A person running ``archiver harvest`` reads a failure once, as a sentence.

At the default level the harvest's ``harvest_failed`` log event would repeat the command's own
``error:`` line; whoever asks for the log (``--log-level INFO``, as the systemd units do) still
gets the event.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import site_toml, write_config


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _harvest(config: Path, *log_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            *log_args,
            "--log-json",
            "harvest",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_failed_harvest_is_said_once_and_still_logged_when_asked(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = write_config(tmp_path, site_toml("city-rss", "rss", url, "/news/rss.xml"))

    quiet = _harvest(config)
    assert quiet.returncode != 0
    assert quiet.stderr.count("city-rss") == 1, quiet.stderr
    assert "error: site city-rss" in quiet.stderr
    assert "harvest_failed" not in quiet.stderr

    logged = _harvest(config, "--log-level", "INFO")
    assert logged.returncode != 0
    assert '"event": "harvest_failed"' in logged.stderr
    assert "error: site city-rss" in logged.stderr


def test_status_notes_print_as_text_not_as_markup(tmp_path: Path) -> None:
    """Status notes are plain text (``--json`` and the report carry them too); the CLI escapes
    them, so a note written with rich markup printed its brackets literally."""
    config = write_config(tmp_path, site_toml("city-rss", "rss", "http://127.0.0.1:9", "/rss"))
    done = subprocess.run(
        [sys.executable, "-m", "archiver", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "signing is not enabled: new bundles are unsigned" in done.stderr
    assert "[/]" not in done.stderr + done.stdout
