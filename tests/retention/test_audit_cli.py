"""The retention CLI end to end in a subprocess: what a clerk types, what the audit log shows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.retention_kit import ArchiveFactory


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
        check=False,
    )


def test_hold_and_audit_commands(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = _cli(
        config,
        "hold",
        "add",
        "snow-suit",
        "--matter",
        "Doe v. City",
        "--query",
        "snow",
        "--by",
        "Clerk Kim",
    )
    assert r.returncode == 0, r.stderr
    assert "hold 'snow-suit' placed" in r.stdout
    r = _cli(config, "hold", "add", "bad", "--matter", "m", "--site", "nope", "--by", "Clerk Kim")
    assert (
        r.returncode == 2
        and r.stderr.count("\n") == 1
        and "--site 'nope' is neither a configured site nor in the catalog" in r.stderr
    )
    holds = json.loads(_cli(config, "hold", "list", "--json").stdout)
    assert [h["name"] for h in holds] == ["snow-suit"] and holds[0]["bundles"] >= 1
    r = _cli(config, "hold", "release", "snow-suit", "--reason", "dismissed", "--by", "Clerk Kim")
    assert r.returncode == 0, r.stderr
    log = json.loads(_cli(config, "audit", "log", "--json", "--limit", "5").stdout)
    assert [e["action"] for e in log[:2]] == ["hold.release", "hold.add"]
    assert log[0]["actor"] == "Clerk Kim"
    r = _cli(config, "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


def test_audit_verify_names_the_tampered_entry(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    for n in range(3):
        assert (
            _cli(config, "hold", "add", f"h{n}", "--matter", "m", "--by", "Clerk").returncode == 0
        )
    seq = json.loads(_cli(config, "audit", "log", "--json").stdout)[-1]["seq"] + 1  # 2nd hold
    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite")
    try:
        # An attacker with database access drops the guard triggers first.
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'Someone Else' WHERE seq = ?", (seq,))
        db.commit()
    finally:
        db.close()
    r = _cli(config, "audit", "verify")
    assert r.returncode == 1
    assert f"seq {seq}" in r.stderr
    data = json.loads(_cli(config, "audit", "verify", "--json").stdout)
    assert data["ok"] is False and data["first_bad_seq"] == seq


def test_schedules_and_disposition_commands(make_archive: ArchiveFactory) -> None:
    config = make_archive({"public_comment": "TEST.2026-4"})
    r = _cli(config, "schedules", "check", "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["ok"]
    assert data["unverified"] == [
        {
            "key": "retention.classes.public_comment",
            "ref": "TEST.2026-4",
            "confirmed_by": None,
            "confirmed_at": None,
        }
    ]
    r = _cli(
        config, "schedules", "confirm", "TEST.2026-4", "--by", "Rita Records", "--note", "p. 12"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(_cli(config, "schedules", "check", "--json").stdout)
    assert data["unverified"][0]["confirmed_by"] == "Rita Records"
    r = _cli(config, "schedules", "confirm", "TEST.2026-1", "--by", "Rita Records")
    assert r.returncode == 2 and "already verified" in r.stderr
    listed = json.loads(_cli(config, "schedules", "list", "--json").stdout)
    assert {i["ref"] for i in listed} == {
        "TEST.2026-1",
        "TEST.2026-2",
        "TEST.2026-3",
        "TEST.2026-4",
    }
    due = json.loads(_cli(config, "disposition", "due", "--as-of", "2031-01-01", "--json").stdout)
    assert due["due"] and due["blocked"] == []
    assert all(not row["long_retention"] for row in due["due"])
    r = _cli(
        config,
        "disposition",
        "propose",
        "--as-of",
        "2031-01-01",
        "--by",
        "Rita Records",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)
    r = _cli(config, "disposition", "execute", batch["id"])
    assert r.returncode == 2 and "not approved" in r.stderr
    r = _cli(
        config,
        "disposition",
        "approve",
        batch["id"],
        "--by",
        "Mia Mayor",
        "--title",
        "City Manager",
    )
    assert r.returncode == 0, r.stderr
    r = _cli(
        config,
        "disposition",
        "approve",
        batch["id"],
        "--by",
        "Mia Mayor",
        "--title",
        "City Manager",
    )
    assert r.returncode == 2 and "already approved" in r.stderr
    listed = json.loads(_cli(config, "disposition", "list", "--json").stdout)
    assert listed[0]["status"] == "approved"
    actions = [e["action"] for e in json.loads(_cli(config, "audit", "log", "--json").stdout)]
    assert actions[:3] == ["disposition.approve", "disposition.propose", "schedule.confirm"]
