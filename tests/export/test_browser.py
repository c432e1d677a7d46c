"""A real browser opens the readable copy: headless Chromium renders index.html and a thread.

Skipped when Chromium is not installed, except in CI (``CI=true``), where a missing browser
is a failure: install it with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.export.conftest import SITE, Archive
from tests.export.test_export import cli, open_request

REPO = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is required in CI: apt-get install -y chromium")
    pytest.skip("Chromium not installed (apt-get install -y chromium)")


def test_chromium_renders_the_readable_copy(archive: Archive, tmp_path: Path) -> None:
    browser = chromium()
    rid = open_request(archive)
    out = tmp_path / "pkg"
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    index = out / "data" / "readable" / "index.html"
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "prr-readable-index.png"
    shot.unlink(missing_ok=True)
    profile = tmp_path / "chromium-profile"
    common = [browser, *FLAGS, f"--user-data-dir={profile}"]
    done = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,1600", index.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    thread = out / "data" / "readable" / "posts" / f"{SITE}-{archive.edited_id}.html"
    dom = subprocess.run(
        [*common, "--dump-dom", thread.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Version 2 (current)" in dom.stdout and rid in dom.stdout
    assert "Removed upstream; detected at" in dom.stdout
