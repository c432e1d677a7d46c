"""The audit log's hash chain and anchor, tampered with by raw SQL on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from archiver import audit
from archiver.db import make_engine
from archiver.errors import ArchiverError, IntegrityError

N = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    audit.audit_log.create(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    return tmp_path / "anchor" / "audit-head.json"


def _fill(engine: Engine, anchor: Path | None, n: int = N) -> list[audit.AuditEntry]:
    entries = []
    for i in range(1, n + 1):
        with engine.begin() as conn:
            entries.append(
                audit.append(
                    conn,
                    actor="clerk",
                    action="harvest" if i % 2 else "seal",
                    subject=f"bundle-{i:04d}",
                    details={"items": i, "site": "mastodon", "note": "naïve ✓"},
                    anchor_path=anchor,
                )
            )
    return entries


def _verify(engine: Engine, anchor: Path | None = None) -> audit.AuditReport:
    with engine.connect() as conn:
        return audit.verify(conn, anchor_path=anchor)


def _drop_guards(engine: Engine) -> None:
    """What an attacker who owns the database does first: remove the append-only triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))


def _sql(engine: Engine, sql: str, **params: object) -> None:
    """Tamper with the log by raw SQL, the way someone bypassing the archiver would."""
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_append_many_then_verify_ok(engine: Engine, anchor: Path) -> None:
    entries = _fill(engine, anchor)
    assert [e.seq for e in entries] == list(range(1, N + 1))
    assert entries[0].prev_hash == audit.GENESIS_HASH == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    report = _verify(engine, anchor)
    assert report.ok, report.problems
    assert report.entries_checked == N
    assert report.first_bad_seq is None
    assert (report.head_seq, report.head_hash) == (N, entries[-1].entry_hash)
    with engine.connect() as conn:
        assert audit.head(conn) == (N, entries[-1].entry_hash)
    assert json.loads(anchor.read_text())["seq"] == N
    assert json.loads(anchor.read_text())["entry_hash"] == entries[-1].entry_hash
    assert [p.name for p in anchor.parent.iterdir()] == [anchor.name]  # no temp files left
    report.raise_if_bad()


def test_hash_matches_the_documented_formula(engine: Engine) -> None:
    """An outside verifier using only hashlib and json gets the same digest."""
    when = datetime(2026, 11, 25, 7, 0, tzinfo=timezone(timedelta(hours=-7)))
    with engine.begin() as conn:
        e = audit.append(
            conn,
            actor="jdoe",
            action="hold.add",
            subject="case 2026-17",
            details={"b": [1, 2], "a": "x"},
            at=when,
        )
    assert e.at == "2026-11-25T14:00:00.000000+00:00"
    payload = {
        "seq": 1,
        "at": e.at,
        "actor": "jdoe",
        "action": "hold.add",
        "subject": "case 2026-17",
        "details": {"a": "x", "b": [1, 2]},
        "prev_hash": "0" * 64,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert e.entry_hash == hashlib.sha256(canonical.encode()).hexdigest()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT details, entry_hash FROM audit_log")).one()
    assert stored.details == '{"a":"x","b":[1,2]}'
    assert stored.entry_hash == e.entry_hash


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_triggers_refuse_changes_to_history(engine: Engine, sql: str) -> None:
    if sql.startswith("TRUNCATE") and engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no TRUNCATE")
    _fill(engine, None, n=3)
    with pytest.raises(DBAPIError, match="audit_log is append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    report = _verify(engine)
    assert report.ok
    assert report.entries_checked == 3


def test_edited_details_are_detected_with_their_seq(engine: Engine) -> None:
    _fill(engine, None)
    _sql(engine, "UPDATE audit_log SET details = :d WHERE seq = 17", d='{"items":999}')
    report = _verify(engine)
    assert not report.ok
    assert report.first_bad_seq == 17
    assert [(p.seq, p.kind) for p in report.problems] == [(17, "edited")]
    assert "edited" in report.problems[0].reason
    with pytest.raises(IntegrityError, match="seq 17"):
        report.raise_if_bad()


def test_whitespace_only_edit_is_detected(engine: Engine) -> None:
    _fill(engine, None, n=5)
    with engine.connect() as conn:
        original = conn.execute(text("SELECT details FROM audit_log WHERE seq = 3")).scalar_one()
    _sql(engine, "UPDATE audit_log SET details = :d WHERE seq = 3", d=original + " ")
    assert [(p.seq, p.kind) for p in _verify(engine).problems] == [(3, "edited")]


def test_edit_with_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    entries = _fill(engine, None)
    e = entries[16]
    forged = audit.entry_hash(
        seq=e.seq,
        at=e.at,
        actor=e.actor,
        action=e.action,
        subject="bundle-forged",
        details=e.details,
        prev_hash=e.prev_hash,
    )
    _sql(
        engine,
        "UPDATE audit_log SET subject = 'bundle-forged', entry_hash = :h WHERE seq = 17",
        h=forged,
    )
    report = _verify(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(18, "broken_link")]
    assert "seq 17" in report.problems[0].reason


def test_deleted_middle_entry_is_detected(engine: Engine) -> None:
    _fill(engine, None)
    _sql(engine, "DELETE FROM audit_log WHERE seq = 20")
    report = _verify(engine)
    assert report.first_bad_seq == 20
    assert [(p.seq, p.kind) for p in report.problems] == [(20, "deleted")]
    assert "seq 20" in report.problems[0].reason


def test_several_deleted_entries_named_as_a_range(engine: Engine) -> None:
    _fill(engine, None)
    _sql(engine, "DELETE FROM audit_log WHERE seq BETWEEN 5 AND 7")
    problems = _verify(engine).problems
    assert [(p.seq, p.kind) for p in problems] == [(5, "deleted")]
    assert "seq 5..7" in problems[0].reason


def _swap(engine: Engine, a: int, b: int) -> None:
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = :a"), {"a": a})
        conn.execute(text("UPDATE audit_log SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE audit_log SET seq = :b WHERE seq = -1"), {"b": b})


def test_swapped_entries_are_detected_as_reordered(engine: Engine) -> None:
    _fill(engine, None)
    _swap(engine, 10, 30)
    report = _verify(engine)
    assert report.first_bad_seq == 10
    assert [(p.seq, p.kind) for p in report.problems] == [(10, "reordered"), (30, "reordered")]
    assert "written as seq 30" in report.problems[0].reason
    assert "written as seq 10" in report.problems[1].reason


def test_adjacent_swap_is_detected_as_reordered(engine: Engine) -> None:
    _fill(engine, None)
    _swap(engine, 5, 6)
    problems = _verify(engine).problems
    assert [(p.seq, p.kind) for p in problems] == [(5, "reordered"), (6, "reordered")]


def test_deleting_the_newest_entry_is_only_caught_by_the_anchor(
    engine: Engine, anchor: Path
) -> None:
    _fill(engine, anchor)
    _sql(engine, f"DELETE FROM audit_log WHERE seq = {N}")
    # The documented limit: the shortened chain is still a valid chain.
    assert _verify(engine).ok
    report = _verify(engine, anchor)
    assert not report.ok
    assert report.first_bad_seq == N
    assert [(p.seq, p.kind) for p in report.problems] == [(N, "truncated")]
    assert f"seq {N}" in report.problems[0].reason


def test_rewritten_tail_is_caught_by_the_anchor(engine: Engine, anchor: Path) -> None:
    entries = _fill(engine, anchor)
    last = entries[-1]
    forged = audit.entry_hash(
        seq=last.seq,
        at=last.at,
        actor="someone-else",
        action=last.action,
        subject=last.subject,
        details=last.details,
        prev_hash=last.prev_hash,
    )
    _sql(
        engine,
        f"UPDATE audit_log SET actor = 'someone-else', entry_hash = :h WHERE seq = {N}",
        h=forged,
    )
    assert _verify(engine).ok
    assert [(p.seq, p.kind) for p in _verify(engine, anchor).problems] == [(N, "anchor")]


def test_missing_or_garbled_anchor_is_a_problem(engine: Engine, anchor: Path) -> None:
    assert _verify(engine, anchor).ok  # empty log, no anchor yet: fine
    _fill(engine, anchor, n=3)
    anchor.write_text("not json")
    assert [p.kind for p in _verify(engine, anchor).problems] == ["anchor"]
    anchor.unlink()
    problems = _verify(engine, anchor).problems
    assert [p.kind for p in problems] == ["anchor"]
    assert "missing" in problems[0].reason


def test_anchor_behind_the_head_is_fine(engine: Engine, anchor: Path) -> None:
    """Writers that were not given the anchor path may append; the anchor is a lower bound."""
    _fill(engine, anchor, n=3)
    with engine.begin() as conn:
        audit.append(conn, actor="cli", action="export", subject="request 9")
    assert json.loads(anchor.read_text())["seq"] == 3
    assert _verify(engine, anchor).ok


def test_rolled_back_append_leaves_log_and_anchor_alone(engine: Engine, anchor: Path) -> None:
    _fill(engine, anchor, n=2)
    before = anchor.read_text()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.append(conn, actor="x", action="seal", subject="b", anchor_path=anchor)
        raise RuntimeError("the action failed")
    assert anchor.read_text() == before
    report = _verify(engine, anchor)
    assert report.ok
    assert report.head_seq == 2


def test_anchor_reflects_a_rolled_back_savepoint(engine: Engine, anchor: Path) -> None:
    with engine.begin() as conn:
        audit.append(conn, actor="x", action="seal", subject="kept", anchor_path=anchor)
        nested = conn.begin_nested()
        audit.append(conn, actor="x", action="seal", subject="undone", anchor_path=anchor)
        nested.rollback()
    assert json.loads(anchor.read_text())["seq"] == 1
    assert _verify(engine, anchor).ok


def test_bad_input_is_refused_with_archiver_errors(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(audit.AuditError, match="unknown audit action 'harvset'"):
            audit.append(conn, actor="x", action="harvset", subject="s")
        with pytest.raises(audit.AuditError, match="no timezone"):
            audit.append(conn, actor="x", action="seal", subject="s", at=datetime(2026, 1, 1))
        with pytest.raises(audit.AuditError, match="not plain JSON"):
            audit.append(conn, actor="x", action="seal", subject="s", details={"p": Path("/")})
        with pytest.raises(ArchiverError, match="actor is empty"):
            audit.append(conn, actor=" ", action="seal", subject="s")
    assert _verify(engine).entries_checked == 0


def test_every_product_action_is_accepted(engine: Engine) -> None:
    with engine.begin() as conn:
        for action in sorted(audit.ACTIONS):
            audit.append(conn, action=action, subject="s", at=datetime.now(UTC))
    report = _verify(engine)
    assert report.ok
    assert report.entries_checked == len(audit.ACTIONS) == 22  # + compliance.ack, profile.expect


def test_current_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "archiver")
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert audit.current_actor() == "archiver"
    monkeypatch.setenv("SUDO_USER", "jdoe")
    assert audit.current_actor() == "jdoe (as archiver)"
    monkeypatch.setenv("SUDO_USER", "archiver")
    assert audit.current_actor() == "archiver"


def test_default_actor_is_the_os_user(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "clerk7")
    monkeypatch.delenv("SUDO_USER", raising=False)
    with engine.begin() as conn:
        assert audit.append(conn, action="verify", subject="all").actor == "clerk7"


def test_concurrent_appends_keep_one_chain(engine: Engine, anchor: Path) -> None:
    per_thread = 30
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with engine.begin() as conn:
                    audit.append(
                        conn,
                        actor=name,
                        action="harvest",
                        subject=f"{name}-{i}",
                        anchor_path=anchor,
                    )
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    report = _verify(engine, anchor)
    assert report.ok, report.problems
    assert report.entries_checked == report.head_seq == 2 * per_thread
    with engine.connect() as conn:
        actors = conn.execute(text("SELECT actor, count(*) FROM audit_log GROUP BY actor")).all()
    assert sorted((a, int(c)) for a, c in actors) == [("w1", per_thread), ("w2", per_thread)]
