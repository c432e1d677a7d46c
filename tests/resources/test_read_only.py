"""A read-only copy of the archive: reading commands work and say what they could not record;
writing commands end in one line naming the path and the fix.

Read-only for real: the archive's tmpfs is remounted ``ro`` (EROFS), and separately the
archive is owned by root and read by ``nobody`` (EACCES).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from tests.helpers import site_toml, write_config
from tests.resources.conftest import Runner, Tmpfs, no_traceback, one_error_line, run_cli


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeServer, MastodonWorld]]:
    world, _city = build_demo_world(statuses=30, followers=20, seed=9)
    world.rate_limit = 1_000_000
    with FakeServer(world) as srv:
        yield srv, world


def _audit_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    finally:
        conn.close()


def _a_word(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        text = str(conn.execute("SELECT text FROM item_versions ORDER BY id LIMIT 1").fetchone()[0])
    finally:
        conn.close()
    return max(text.split(), key=len).strip(".,!?#@")


def test_reading_commands_on_a_read_only_mount(
    tmpfs: Tmpfs, server: tuple[FakeServer, MastodonWorld]
) -> None:
    srv, _world = server
    config = write_config(tmpfs.path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    assert run_cli(config, "harvest").returncode == 0
    catalog = tmpfs.path / "archive" / "catalog.sqlite"
    word = _a_word(catalog)
    # A changed config on a read-only archive: its audit entry cannot be written either.
    config.write_text(config.read_text() + "\n# edited on the read-only copy\n")
    entries = _audit_count(catalog)
    tmpfs.remount("ro")
    try:
        verify = run_cli(config, "verify", "--all", "--json")
        no_traceback(verify)
        assert verify.returncode == 0, verify.stderr
        report = json.loads(verify.stdout)
        assert report["ok"] is True and report["bundles_checked"] >= 1
        assert "this verify's result (audit entry verify) was not recorded" in verify.stderr
        assert "read-only filesystem" in verify.stderr
        assert "config.change" in verify.stderr  # the edited config is not recorded, and says so

        text = run_cli(config, "verify", "--all")
        assert text.returncode == 0 and "— OK" in text.stdout, text.stdout + text.stderr

        audit = run_cli(config, "audit", "verify")
        no_traceback(audit)
        assert audit.returncode == 0, audit.stderr
        assert f"audit log OK: {entries} entries" in audit.stdout

        status = run_cli(config, "status", "--json")
        no_traceback(status)
        assert status.returncode == 0, status.stderr
        sites = json.loads(status.stdout)["sites"]
        assert sites[0]["site"] == "city" and sites[0]["bundles"] >= 1

        found = run_cli(config, "search", word, "--json")
        no_traceback(found)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout), f"{word!r} not found"

        harvest = run_cli(config, "harvest")
        line = one_error_line(harvest)
        assert "read-only filesystem" in line and str(tmpfs.path) in line, line
        assert "remount it read-write" in line, line
    finally:
        tmpfs.remount("rw")
    # Nothing was written while read-only (not even by audit verify before its check).
    assert _audit_count(catalog) == entries
    assert run_cli(config, "harvest").returncode == 0


def test_reading_commands_without_write_permission(
    tmp_path: Path, server: tuple[FakeServer, MastodonWorld], nobody: Runner
) -> None:
    srv, _world = server
    tmp_path.chmod(0o755)
    config = write_config(tmp_path, site_toml("city", "mastodon", srv.url, "cityofbozeman"))
    assert run_cli(config, "harvest").returncode == 0
    root = tmp_path / "archive"
    # Readable by everyone, writable only by root: what an auditor's account would see.
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    for parent in tmp_path.parents:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    config.chmod(0o644)

    verify = run_cli(config, "verify", "--all", runner=nobody)
    no_traceback(verify)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "— OK" in verify.stdout
    assert f"no write permission on {root}" in verify.stderr
    status = run_cli(config, "status", runner=nobody)
    no_traceback(status)
    assert status.returncode == 0, status.stderr
    audit = run_cli(config, "audit", "verify", runner=nobody)
    assert audit.returncode == 0 and "audit log OK" in audit.stdout, audit.stderr

    harvest = run_cli(config, "harvest", runner=nobody)
    line = one_error_line(harvest)
    assert "permission denied" in line and str(root) in line and "write access" in line, line
