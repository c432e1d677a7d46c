"""Under umask 022 nothing the archiver writes is readable by other users.

The catalog (requester names, removal reviews), sealed bundles, staging, an export package and
the monthly report are created owner+group only: the CLI tightens the umask at entry, and the
modules set modes explicitly for library callers (the harvest below runs in-process).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from tests.helpers import harvest, site_toml, write_config
from tests.resources.conftest import Tmpfs, no_traceback, one_error_line, run_cli


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeServer, MastodonWorld]]:
    world, _city = build_demo_world(statuses=20, followers=10, seed=3)
    world.rate_limit = 1_000_000
    with FakeServer(world) as srv:
        yield srv, world


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _world_accessible(top: Path) -> list[str]:
    paths = [top, *top.rglob("*")] if top.is_dir() else [top]
    return [
        f"{p} {stat.filemode(p.stat().st_mode)}"
        for p in paths
        if not p.is_symlink() and p.stat().st_mode & 0o007
    ]


def _request(config: Path) -> str:
    r = run_cli(
        config, "request", "open", "--requester", "Jane Q. Reporter", "--received", "2026-11-20",
        "--description", "all posts", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["id"])


def test_files_are_private_under_umask_022(
    tmp_path: Path, server: tuple[FakeServer, MastodonWorld], umask_022: None
) -> None:
    srv, _world = server
    config = write_config(tmp_path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    root = tmp_path / "archive"
    harvest(config, "city")  # in-process: the explicit modes, not the CLI's umask
    catalog = root / "catalog.sqlite"
    assert catalog.exists()
    assert _world_accessible(catalog) == []
    bundles = root / "bundles"
    assert list(bundles.rglob("*.warc.gz"))
    assert _world_accessible(bundles) == []
    assert _world_accessible(root / "staging") == []

    # The CLI, started from a shell with umask 022.
    again = run_cli(config, "harvest", umask=0o022)
    assert again.returncode == 0, again.stderr
    rid = _request(config)
    out = tmp_path / "exports" / "package"
    export = run_cli(config, "export", rid, "--out", str(out), umask=0o022)
    assert export.returncode == 0, export.stderr
    assert (out / "bagit.txt").exists()
    assert _world_accessible(out) == []
    month = date.today().strftime("%Y-%m")
    report = run_cli(config, "report", "--month", month, umask=0o022)
    assert report.returncode == 0, report.stderr
    reports = list((root / "reports").rglob("*.*"))
    assert reports, "the report wrote no file"
    assert _world_accessible(root / "reports") == []
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        if (root / name).exists():
            assert _world_accessible(root / name) == [], name
    assert _world_accessible(root) == []


def test_export_and_report_to_a_full_disk(
    tmp_path: Path, tmpfs: Tmpfs, server: tuple[FakeServer, MastodonWorld]
) -> None:
    srv, _world = server
    config = write_config(tmp_path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    assert run_cli(config, "harvest").returncode == 0
    rid = _request(config)
    tmpfs.fill(0)
    out = tmpfs.path / "package"
    export = run_cli(config, "export", rid, "--out", str(out))
    line = one_error_line(export)
    assert str(out) in line and "No space left on device" in line and "free space" in line, line
    assert not out.exists() and not list(tmpfs.path.glob("package.partial*"))
    month = date.today().strftime("%Y-%m")
    report = run_cli(config, "report", "--month", month, "--out", str(tmpfs.path / "rep"))
    line = one_error_line(report)
    assert str(tmpfs.path) in line and "No space left on device" in line, line

    tmpfs.unfill()
    tmpfs.remount("ro")
    try:
        export = run_cli(config, "export", rid, "--out", str(out))
        line = one_error_line(export)
        assert "read-only filesystem" in line and str(tmpfs.path) in line, line
    finally:
        tmpfs.remount("rw")
    export = run_cli(config, "export", rid, "--out", str(out))
    no_traceback(export)
    assert export.returncode == 0, export.stderr
