"""The audit log cannot be wiped or trimmed unnoticed: sealed checkpoints and kept anchors."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.integrity.conftest import Archive


def _db(archive: Archive) -> sqlite3.Connection:
    return sqlite3.connect(archive.root / "catalog.sqlite", isolation_level=None)


def _drop_guards(db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DROP TRIGGER audit_log_no_update")


def _audit_verify(archive: Archive) -> tuple[int, dict[str, Any]]:
    res = archive.cli("audit", "verify", "--json")
    return res.returncode, json.loads(res.stdout)


def test_checkpoint_is_signed_stamped_and_audit_verify_reports_it(archive: Archive) -> None:
    cp = archive.cli("audit", "checkpoint", "--json")
    assert cp.returncode == 0, cp.stderr
    n = json.loads(cp.stdout)["n"]
    doc = json.loads(
        (archive.bundles / "disposal-records" / f"audit-checkpoint-{n:06d}.json").read_text()
    )
    assert doc["signature"] and doc["timestamp"] and doc["key"]
    code, data = _audit_verify(archive)
    assert code == 0 and data["checkpoint"]["n"] == n


def test_audit_wipe_with_trigger_dropped_is_detected_and_verify_writes_nothing(
    archive: Archive,
) -> None:
    assert archive.cli("audit", "checkpoint").returncode == 0
    db = _db(archive)
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    _drop_guards(db)
    db.execute("DELETE FROM audit_log")
    # The insider also removes the anchor file beside the database.
    (archive.root / "audit-head.json").unlink()
    code, data = _audit_verify(archive)
    assert code == 1
    problems = data["problems"]
    assert isinstance(problems, list)
    wiped = [p for p in problems if p["kind"] == "truncated"]
    assert wiped and "the whole log was wiped" in wiped[0]["reason"]
    assert f"recorded {before} entries" in wiped[0]["reason"]
    # audit verify itself wrote nothing: the log is still empty (no new first entry).
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_newest_entry_delete_survives_the_next_append(archive: Archive) -> None:
    """Without a checkpoint covering it: the anchor the next append would overwrite is kept."""
    db = _db(archive)
    _drop_guards(db)
    head = db.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    db.execute("DELETE FROM audit_log WHERE seq=?", (head,))
    # Any later command appends (here: a verify) and moves the anchor forward.
    archive.cli("verify")
    assert db.execute("SELECT max(seq) FROM audit_log").fetchone()[0] >= head
    code, data = _audit_verify(archive)
    assert code == 1
    reasons = [p["reason"] for p in data["problems"] if p["kind"] == "truncated"]
    assert any(f"recorded entry seq {head} as" in r for r in reasons)


def test_newest_entry_delete_after_checkpoint_is_named(archive: Archive) -> None:
    assert archive.cli("audit", "checkpoint").returncode == 0
    db = _db(archive)
    _drop_guards(db)
    head = db.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    db.execute("DELETE FROM audit_log WHERE seq=?", (head,))
    code, data = _audit_verify(archive)
    assert code == 1
    kinds = {p["kind"] for p in data["problems"]}
    assert "truncated" in kinds
    # Even if the anchor evidence is also destroyed and the log appended to again, the sealed
    # checkpoint names the rewritten entry.
    for f in archive.root.glob("audit-head*.json"):
        f.unlink()
    archive.cli("verify")
    code, data = _audit_verify(archive)
    assert code == 1
    assert any(
        p["kind"] == "checkpoint" and f"entry seq {head} is not the one" in p["reason"]
        for p in data["problems"]
    )


def test_edited_entry_is_still_named(archive: Archive) -> None:
    db = _db(archive)
    _drop_guards(db)
    db.execute("UPDATE audit_log SET actor='mallory' WHERE seq=2")
    code, data = _audit_verify(archive)
    assert code == 1
    assert any(p["kind"] == "edited" and p["seq"] == 2 for p in data["problems"])
