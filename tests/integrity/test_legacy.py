"""Bundles sealed before signing existed: accepted as "unsigned, sealed before <date>", never
called verified-authentic; the inventory taken at ``keys init`` is what admits them."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from fakeplatforms.tsa import LocalTsa

from tests.helpers import harvest, site_toml, write_config
from tests.integrity.conftest import Archive


def test_legacy_bundles_stay_unsigned_and_are_stated_as_such(tmp_path: Path, tsa: LocalTsa) -> None:
    w, city = build_demo_world(statuses=4, followers=3, seed=11)
    w.rate_limit = 1_000_000
    with FakeServer(w) as server:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_TOKEN"),
        )
        os.environ["TEST_TOKEN"] = "test-token-abcdef"
        archive = Archive(config, tsa)
        assert harvest(config, "city").status == "succeeded"
        before = archive.cli("verify", "--json")
        # posts, comments, followers, and media (the profile's avatar and banner images).
        assert json.loads(before.stdout)["seals"] == {"unsigned_signing_off": 4}
        init = archive.cli("keys", "init", "--json")
        assert json.loads(init.stdout)["legacy_unsigned_bundles"] == 4
        w.post_status(city, "Signed from now on")
        assert harvest(config, "city").status == "succeeded"
    res = archive.cli("verify")
    assert res.returncode == 0, res.stderr
    assert "4 bundle(s) UNSIGNED, sealed before signing was enabled" in res.stdout
    assert "signature valid" in res.stdout
    rid = json.loads(
        archive.cli(
            "request", "open", "--requester", "J", "--received", "2026-11-20",
            "--description", "all", "--json",
        ).stdout
    )["id"]  # fmt: skip
    out = tmp_path / "pkg"
    assert archive.cli("export", rid, "--site", "city", "--out", str(out)).returncode == 0
    cert = (out / "certification.txt").read_text()
    assert "legacy unsigned" in cert and "NOT certified as signature-verified" in cert
    assert "WITHOUT a signature" in (out / "VERIFY.md").read_text()
    # A legacy bundle altered after init is no longer the inventoried one: quarantined.
    db = sqlite3.connect(tmp_path / "archive" / "catalog.sqlite")
    bid, key = db.execute(
        "SELECT b.id, b.key FROM bundles b JOIN bundle_seals s ON s.bundle_id=b.id "
        "WHERE s.state='legacy_unsigned' AND b.record_class='followers'"
    ).fetchone()
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("DELETE FROM bundle_files WHERE bundle_id=?", (bid,))
    db.execute("DELETE FROM bundles WHERE id=?", (bid,))
    db.commit()
    folder = tmp_path / "archive" / "bundles" / key
    os.chmod(folder, 0o755)
    os.chmod(folder / "bag-info.txt", 0o644)
    with (folder / "bag-info.txt").open("a") as fh:
        fh.write("Note: edited later\n")
    tag = folder / "tagmanifest-sha256.txt"
    os.chmod(tag, 0o644)
    import hashlib

    lines = [
        line if not line.endswith("bag-info.txt") else
        f"{hashlib.sha256((folder / 'bag-info.txt').read_bytes()).hexdigest()}  bag-info.txt"
        for line in tag.read_text().splitlines()
    ]  # fmt: skip
    tag.write_text("\n".join(lines) + "\n")
    archive.cli("recover")
    (reason,) = db.execute(
        "SELECT reason FROM quarantined_bundles WHERE bundle_id=?", (bid,)
    ).fetchone()
    assert reason.startswith("UNSIGNED bundle that was not in the archive")
