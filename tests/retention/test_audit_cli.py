"""The retention CLI end to end in a subprocess: what a clerk types, what the audit log shows."""

from __future__ import annotations

import json
import sqlite3

from tests.retention_kit import ArchiveFactory, cli


def test_hold_and_audit_commands(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = cli(
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
    r = cli(config, "hold", "add", "bad", "--matter", "m", "--site", "nope", "--by", "Clerk Kim")
    assert (
        r.returncode == 2
        and r.stderr.count("\n") == 1
        and "--site 'nope' is neither a configured site nor in the catalog" in r.stderr
    )
    holds = json.loads(cli(config, "hold", "list", "--json").stdout)
    assert [h["name"] for h in holds] == ["snow-suit"] and holds[0]["bundles"] >= 1
    r = cli(config, "hold", "release", "snow-suit", "--reason", "dismissed", "--by", "Clerk Kim")
    assert r.returncode == 0, r.stderr
    log = json.loads(cli(config, "audit", "log", "--json", "--limit", "5").stdout)
    assert [e["action"] for e in log[:2]] == ["hold.release", "hold.add"]
    assert log[0]["actor"] == "Clerk Kim"
    r = cli(config, "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


def test_audit_verify_names_the_tampered_entry(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    for n in range(3):
        assert cli(config, "hold", "add", f"h{n}", "--matter", "m", "--by", "Clerk").returncode == 0
    seq = json.loads(cli(config, "audit", "log", "--json").stdout)[-1]["seq"] + 1  # 2nd hold
    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite")
    try:
        # An attacker with database access drops the guard triggers first.
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'Someone Else' WHERE seq = ?", (seq,))
        db.commit()
    finally:
        db.close()
    r = cli(config, "audit", "verify")
    assert r.returncode == 1
    assert f"seq {seq}" in r.stderr
    data = json.loads(cli(config, "audit", "verify", "--json").stdout)
    assert data["ok"] is False and data["first_bad_seq"] == seq


def test_schedules_and_disposition_commands(make_archive: ArchiveFactory) -> None:
    config = make_archive({"public_comment": "TEST.2026-4"})
    r = cli(config, "schedules", "check", "--json")
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
    r = cli(
        config, "schedules", "confirm", "TEST.2026-4", "--by", "Rita Records", "--note", "p. 12"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(cli(config, "schedules", "check", "--json").stdout)
    assert data["unverified"][0]["confirmed_by"] == "Rita Records"
    r = cli(config, "schedules", "confirm", "TEST.2026-1", "--by", "Rita Records")
    assert r.returncode == 2 and "already verified" in r.stderr
    listed = json.loads(cli(config, "schedules", "list", "--json").stdout)
    assert {i["ref"] for i in listed} == {
        "TEST.2026-1",
        "TEST.2026-2",
        "TEST.2026-3",
        "TEST.2026-4",
    }
    due = json.loads(cli(config, "disposition", "due", "--as-of", "2031-01-01", "--json").stdout)
    assert due["due"] and due["blocked"] == []
    assert all(not row["long_retention"] for row in due["due"])
    r = cli(
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
    r = cli(config, "disposition", "execute", batch["id"])
    assert r.returncode == 2 and "not approved" in r.stderr
    r = cli(
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
    r = cli(
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
    listed = json.loads(cli(config, "disposition", "list", "--json").stdout)
    assert listed[0]["status"] == "approved"
    actions = [e["action"] for e in json.loads(cli(config, "audit", "log", "--json").stdout)]
    assert actions[:3] == ["disposition.approve", "disposition.propose", "schedule.confirm"]
