"""What the foundation writes to the audit log: harvests (failed ones too), seals, verifies
and config changes, through the real CLI, with the chain still intact afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer

from tests.helpers import catalog_rows, site_toml, write_config


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="300", ARCHIVER_LOG_LEVEL="CRITICAL"),
    )


def _trail(config: Path) -> list[tuple[str, str, dict[str, Any]]]:
    rows = catalog_rows(config, "SELECT action, subject, details FROM audit_log ORDER BY seq")
    return [(r["action"], r["subject"], json.loads(r["details"])) for r in rows]


def test_harvest_seal_verify_and_config_change_are_audited(tmp_path: Path) -> None:
    world, city = build_demo_world(statuses=10, followers=20, seed=8)
    world.rate_limit = 1_000_000
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))

        server.inject(f"/api/v1/accounts/{city}/statuses", "status_500", times=10)
        failed = _cli(config, "harvest")
        server.clear_faults()
        assert failed.returncode == 1
        ok = _cli(config, "harvest")
        assert ok.returncode == 0, ok.stderr

    trail = _trail(config)
    assert trail[0][0] == "config.change" and trail[0][2]["sites"] == ["city"]
    assert [a for a, _s, _d in trail].count("config.change") == 1  # unchanged file: once
    harvests = [d for a, _s, d in trail if a == "harvest"]
    assert [h["status"] for h in harvests] == ["failed", "succeeded"]
    assert "HTTP 500" in str(harvests[0]["error"])
    seals = [(s, d) for a, s, d in trail if a == "seal"]
    bundles = catalog_rows(config, "SELECT id FROM bundles")
    assert sorted(s for s, _d in seals) == sorted(b["id"] for b in bundles)
    assert harvests[1]["bundles"] and set(harvests[1]["bundles"]) == {s for s, _d in seals}
    assert {d["record_class"] for _s, d in seals} >= {"posts", "followers"}

    # A flipped byte: verify fails, and the audit entry says so and names the file.
    warc = sorted((tmp_path / "archive" / "bundles").rglob("*.warc.gz"))[0]
    warc.chmod(0o644)
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01
    warc.write_bytes(bytes(data))
    assert _cli(config, "verify", "--all").returncode == 1
    verifies = [(s, d) for a, s, d in _trail(config) if a == "verify"]
    assert len(verifies) == 1
    scope, detail = verifies[0]
    assert scope == "archive" and detail["ok"] is False and detail["problems"] >= 1
    assert any(warc.name in p for p in detail["first_problems"])

    # Editing the config is recorded the next time it is used, with its new digest.
    config.write_text(config.read_text() + "\n# reviewed by the records manager\n")
    assert _cli(config, "sites").returncode == 0
    changes = [d for a, _s, d in _trail(config) if a == "config.change"]
    assert len(changes) == 2 and changes[0]["sha256"] != changes[1]["sha256"]

    chain = _cli(config, "audit", "verify", "--json")
    assert chain.returncode == 0, chain.stdout + chain.stderr
    assert json.loads(chain.stdout)["ok"] is True
