"""RFC 3161 timestamps from a real local TSA: what defeats a back-dated forgery, even one
signed with a stolen archive key; a TSA outage delays the stamp, never the seal."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from fakeplatforms.tsa import LocalTsa

from tests.helpers import harvest, site_toml, write_config
from tests.integrity.conftest import Archive, bundle_dirs, forge_copy, integrity_toml


def _quarantine_reason(archive: Archive, bundle_id: str) -> str:
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    row = db.execute(
        "SELECT reason FROM quarantined_bundles WHERE bundle_id=?", (bundle_id,)
    ).fetchone()
    assert row is not None, "the forged bundle was not quarantined"
    assert db.execute("SELECT count(*) FROM bundles WHERE id=?", (bundle_id,)).fetchone()[0] == 0
    return str(row[0])


def test_back_dated_bundle_with_a_token_for_another_digest_is_quarantined(
    archive: Archive,
) -> None:
    oldest = next(d for d in bundle_dirs(archive) if "-posts-" in d.name)
    sealed_then = next(
        line.split(": ", 1)[1]
        for line in (oldest / "bag-info.txt").read_text().splitlines()
        if line.startswith("Sealed-At")
    )
    new_id, _ = forge_copy(
        archive, "FORGED back-dated", sealed_at=sealed_then, resign=True, token_from=oldest
    )
    rec = archive.cli("recover", "--json")
    assert json.loads(rec.stdout)["cataloged"] == 0
    assert _quarantine_reason(archive, new_id).startswith("TIMESTAMP FOR ANOTHER DIGEST")


def test_back_dated_bundle_with_a_fresh_token_is_named_back_dated(archive: Archive) -> None:
    # Setup: an archive whose key has been in use for ten days (as if enabled long ago).
    path = archive.root / "keys" / "trusted-keys.json"
    trusted = json.loads(path.read_text())
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    trusted["keys"][0]["valid_from"] = trusted["signing_enabled_at"] = ten_days_ago
    path.write_text(json.dumps(trusted))
    # Attack: a forged record claiming it was sealed five days ago, signed with the stolen
    # key; the only token the forger can get now proves today's date.
    five_days_ago = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    new_id, _ = forge_copy(
        archive, "FORGED five days ago", sealed_at=five_days_ago, resign=True, fresh_token=True
    )
    archive.cli("recover")
    assert _quarantine_reason(archive, new_id).startswith("BACK-DATED: bundle says sealed")


def test_swapped_token_in_a_cataloged_bundle_is_named_by_verify(archive: Archive) -> None:
    dirs = [d for d in bundle_dirs(archive) if "-posts-" in d.name]
    victim = dirs[-1]
    os.chmod(victim, 0o755)
    os.chmod(victim / "timestamp.tsr", 0o644)
    shutil.copyfile(dirs[0] / "timestamp.tsr", victim / "timestamp.tsr")
    res = archive.cli("verify", "--json")
    assert res.returncode == 1
    problems = json.loads(res.stdout)["problems"]
    assert any(
        p["kind"] == "timestamp" and p["detail"].startswith("TIMESTAMP FOR ANOTHER DIGEST")
        for p in problems
    )


def test_tsa_outage_seals_anyway_and_stamps_later_and_rotation_keeps_old_keys(
    tmp_path: Path,
) -> None:
    with LocalTsa() as tsa:
        w, _city = build_demo_world(statuses=4, followers=3, seed=9)
        w.rate_limit = 1_000_000
        with FakeServer(w) as server:
            config = write_config(
                tmp_path,
                site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_TOKEN"),
                head=integrity_toml(tsa),
            )
            os.environ["TEST_TOKEN"] = "test-token-abcdef"
            archive = Archive(config, tsa)
            assert archive.cli("keys", "init").returncode == 0
            tsa.available = False
            assert harvest(config, "city").status == "succeeded"
            status = archive.cli("status", "--json")
            waiting = json.loads(status.stdout)["integrity"]["timestamps_pending"]
            assert waiting == len(bundle_dirs(archive)) > 0
            assert "wait for a trusted timestamp" in archive.cli("status").stderr
            retry = archive.cli("keys", "timestamp")
            assert retry.returncode == 1 and f"{waiting} still waiting" in retry.stdout
            tsa.available = True
            retry = archive.cli("keys", "timestamp", "--json")
            assert json.loads(retry.stdout) == {
                "stamped": waiting,
                "still_pending": 0,
                "errors": [],
            }
            assert archive.cli("keys", "rotate").returncode == 0
            w.post_status(_city, "After the rotation")
            assert harvest(config, "city").status == "succeeded"
        res = archive.cli("verify", "--json")
        assert res.returncode == 0, res.stdout
        data = json.loads(res.stdout)
        second_run = len(bundle_dirs(archive)) - waiting
        assert data["timestamps"] == {"late_stamped": waiting, "stamped": second_run}
        fps = {(d / "signature-key.txt").read_text().split()[1] for d in bundle_dirs(archive)}
        assert len(fps) == 2  # bundles of both keys verify
