"""``archiver demo`` end to end, as a subprocess: it must stay on loopback and show the clerk
the edit as two versions and the follower changes by name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("demo") / "demo-archive"
    env = dict(os.environ, COLUMNS="200")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "demo",
            "--workdir",
            str(workdir),
            "--statuses",
            "60",
            "--followers",
            "150",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    return workdir, result


def test_demo_succeeds(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, result = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "media_failed" not in result.stderr
    assert "ConnectError" not in result.stderr


def test_demo_fetches_only_from_loopback(
    demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    workdir, result = demo_run
    assert result.returncode == 0
    warcs = sorted(workdir.rglob("*.warc.gz"))
    assert warcs
    uris: list[str] = []
    pdfs: list[bytes] = []
    for path in warcs:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if uri is None:
                    continue
                uris.append(uri)
                if record.rec_type == "response" and uri.endswith(".pdf"):
                    pdfs.append(record.content_stream().read())
    assert uris
    outside = sorted({u for u in uris if not u.startswith("http://127.0.0.1:")})
    assert not outside, outside[:10]
    # The news feed's enclosures were downloaded from the demo's own server, as real PDFs.
    assert pdfs and all(p.startswith(b"%PDF-") and b"%%EOF" in p for p in pdfs)


def test_demo_shows_edit_as_two_versions_and_follower_names(
    demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo_run
    out = result.stdout
    assert result.returncode == 0
    assert "version 1 of 2, captured" in out
    assert "version 2 of 2, captured" in out
    v1, v2 = out.index("version 1 of 2"), out.index("version 2 of 2")
    assert v1 < v2
    assert "UPDATE: the closure now ends Friday" not in out[v1:v2]
    assert "UPDATE: the closure now ends Friday" in out[v2:]
    diff = out[out.index("Follower list: changes since the previous run") :]
    followed = next(line for line in diff.splitlines() if "followed (12" in line)
    assert re.search(r"@newresident\d+\b", followed) and "and 2 more" in followed
    unfollowed = next(line for line in diff.splitlines() if "unfollowed (1):" in line)
    assert "@" in unfollowed
    assert "removed_upstream" in out
