"""The README's Quick tour works exactly as written, after the demo, from a fresh folder.

Every line of the tour's fenced block is run through bash in a temporary working folder
(the README's ``demo-archive/`` and ``.venv`` are relative to the checkout, so the test makes
that folder look like one: the demo's archive plus a link to this interpreter's virtualenv).
The tour is also the demo's re-run check: ``archiver demo`` keeps the archive, ``--fresh``
removes it and says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def tour_lines() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the Quick tour has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def bash(cwd: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(COLUMNS="200", ARCHIVER_LOG_LEVEL="CRITICAL", PATH="/usr/bin:/bin")
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cwd = tmp_path_factory.mktemp("tour")
    (cwd / ".venv").symlink_to(VENV)
    demo = bash(cwd, ". .venv/bin/activate && archiver demo")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr
    assert "PRR-2026-0001" in demo.stdout
    yield cwd


def test_every_quick_tour_command_runs_as_written(checkout: Path) -> None:
    lines = tour_lines()
    assert lines[0] == ". .venv/bin/activate"
    setup = [x for x in lines if x.startswith((". ", "export "))]
    outputs: dict[str, str] = {}
    for line in lines:
        if line in setup:
            continue
        result = bash(checkout, "\n".join([*setup, line]))
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr}"
        assert "Traceback" not in result.stderr, line
        outputs[line.split("#")[0].strip()] = result.stdout
    by_cmd = {
        k.split()[1] + " " + (k.split()[2] if len(k.split()) > 2 else ""): v
        for k, v in outputs.items()
    }
    assert "bozeman-mastodon" in by_cmd["status "]
    author = next(v for k, v in outputs.items() if "--author" in k)
    hits = json.loads(author)["hits"]
    assert hits, "the tour's --author example must find something"
    assert {h["author_handle"] for h in hits} == {"abigail_h"}
    assert "match(es)" in next(v for k, v in outputs.items() if k.startswith('archiver search "'))
    assert "people followed" in by_cmd["followers bozeman-mastodon"]
    assert "PRR-2026-0001" in by_cmd["request list"]
    assert "PRR-2026-0002" in by_cmd["request open"]
    assert "version" in by_cmd["show 42"]  # the record's story: its versions
    package = checkout / "prr-2026-0002"
    assert (package / "bagit.txt").is_file() and (package / "data").is_dir()


def test_demo_keeps_an_existing_archive_unless_fresh(checkout: Path) -> None:
    marker = checkout / "demo-archive" / "my-notes.txt"
    marker.write_text("added by the user")
    again = bash(checkout, ". .venv/bin/activate && archiver demo")
    assert again.returncode == 0, again.stderr
    assert "already holds a demo archive" in again.stdout and "--fresh" in again.stdout
    assert marker.read_text() == "added by the user"
    fresh = bash(
        checkout, ". .venv/bin/activate && archiver demo --fresh --statuses 20 --followers 30"
    )
    assert fresh.returncode == 0, fresh.stdout[-2000:] + fresh.stderr
    first = fresh.stdout.splitlines()[0]
    assert (
        first.startswith("--fresh: removing ") and "files" in first and "records request" in first
    )
    assert not marker.exists()
