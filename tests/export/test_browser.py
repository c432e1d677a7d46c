"""A real browser opens the readable copy: headless Chromium renders index.html and a thread.

Chromium exits 0 even when a page throws or logs errors, so the exit code proves little. Two
checks make this test able to fail: every page is loaded with Chromium's console routed to
stderr (``--enable-logging=stderr``) and any console line from the package fails the test (a
canary page first proves this Chromium reports console errors that way), and every resource
the pages reference (images, stylesheets, scripts, linked pages and media) must exist inside
the package, since a failed ``file://`` load is not reported on the console at all.

Skipped when Chromium is not installed, except in CI (``CI=true``), where a missing browser
is a failure: install it with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest

from tests.export.conftest import SITE, Archive
from tests.export.helpers import cli, open_request

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
    # Console messages (console.*, uncaught exceptions) go to stderr as
    # `[...:INFO:CONSOLE:N] "message", source: URL (line)`.
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r':CONSOLE(?::\d+)?\] "(?P<message>.*)", source: (?P<source>\S*)')


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is required in CI: apt-get install -y chromium")
    pytest.skip("Chromium not installed (apt-get install -y chromium)")


def run_chromium(
    common: list[str], package: Path, page: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Load ``page``; return the run and every console line from a file in ``package``."""
    done = subprocess.run(
        [*common, *extra, page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done, console_errors(done.stderr, package.as_uri())


def console_errors(stderr: str, under: str) -> list[str]:
    found = []
    for line in stderr.splitlines():
        m = CONSOLE.search(line)
        from_package = m is not None and (not m["source"] or m["source"].startswith(under))
        if from_package or ("Uncaught" in line and under in line):
            found.append(line.strip())
    return found


class References(HTMLParser):
    """Collects the local resources a page loads or links to."""

    ATTRS: ClassVar[dict[str, str]] = {
        "img": "src",
        "script": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "link": "href",
        "a": "href",
    }

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        want = self.ATTRS.get(tag)
        for name, value in attrs:
            if value and (name == want or (tag == "img" and name == "srcset")):
                self.refs.append((tag, value))


def missing_references(readable: Path, package: Path) -> list[str]:
    """Every local src/href in the readable pages that does not resolve to a file in the package."""
    problems = []
    package = package.resolve()
    for page in sorted(readable.rglob("*.html")):
        parser = References()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "mailto") or ref.startswith("#"):
                continue  # permalinks to the platform are links out, not resources
            if parts.scheme or parts.netloc:
                problems.append(f"{page.name}: <{tag}> {ref!r} is not a relative path")
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(package):
                problems.append(f"{page.name}: <{tag}> {ref!r} points outside the package")
            elif not target.is_file():
                problems.append(f"{page.name}: <{tag}> {ref!r} does not exist")
    return problems


def test_console_and_reference_checks_catch_a_broken_page(tmp_path: Path) -> None:
    """The detectors themselves: a page with a script error and a missing image is caught."""
    browser = chromium()
    site = tmp_path / "pkg" / "data" / "readable"
    site.mkdir(parents=True)
    bad = site / "bad.html"
    bad.write_text(
        '<!doctype html><html><head><link rel="stylesheet" href="gone.css"></head><body>'
        '<img src="../media/nope.png"><script>console.error("canary-error"); noSuchFn();'
        "</script></body></html>",
        encoding="utf-8",
    )
    common = [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    _, errors = run_chromium(common, tmp_path / "pkg", bad, "--dump-dom")
    assert any("canary-error" in e for e in errors), errors
    assert any("Uncaught ReferenceError" in e for e in errors), errors
    missing = missing_references(site, tmp_path / "pkg")
    assert len(missing) == 2 and all("does not exist" in m for m in missing), missing


def test_chromium_renders_the_readable_copy(archive: Archive, tmp_path: Path) -> None:
    browser = chromium()
    rid = open_request(archive)
    out = tmp_path / "pkg"
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    readable = out / "data" / "readable"
    index = readable / "index.html"

    assert missing_references(readable, out) == []
    pages = sorted((readable / "posts").glob("*.html"))
    assert len(pages) >= 2
    with_images = [p for p in pages if "<img " in p.read_text(encoding="utf-8")]
    assert with_images, "the demo account has posts with images; none reached the readable copy"

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "prr-readable-index.png"
    shot.unlink(missing_ok=True)
    profile = tmp_path / "chromium-profile"
    common = [browser, *FLAGS, f"--user-data-dir={profile}"]
    _, errors = run_chromium(common, out, index, f"--screenshot={shot}", "--window-size=1280,1600")
    assert errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    thread = readable / "posts" / f"{SITE}-{archive.edited_id}.html"
    dom, errors = run_chromium(common, out, thread, "--dump-dom")
    assert errors == []
    assert "Version 2 (current)" in dom.stdout and rid in dom.stdout
    assert "Removed upstream; detected at" in dom.stdout

    for page in with_images[:3]:
        dom, errors = run_chromium(common, out, page, "--dump-dom")
        assert errors == [], page.name
        assert "<img " in dom.stdout, page.name
