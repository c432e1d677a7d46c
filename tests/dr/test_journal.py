"""The workflow journal: chained segments, tampering and loss named, nothing lost by a crash."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archiver import journal
from archiver.app import make_storage
from archiver.config import load_config
from archiver.errors import StorageError
from archiver.retention.holds import add_hold
from archiver.storage.local import LocalStorage
from connectors.registry import platforms
from tests.dr.helpers import cli
from tests.helpers import catalog_rows
from tests.retention_kit import ArchiveFactory, app_for


def _segments(config: Path) -> list[journal.Segment]:
    cfg = load_config(str(config), platforms=platforms())
    return journal.read_chain(make_storage(cfg))


def _journal_dir(config: Path) -> Path:
    return config.parent / "archive" / "bundles" / "journal"


def _entries(config: Path, table: str) -> list[journal.Entry]:
    return [e for s in _segments(config) for e in s.entries if e.table == table]


def _hold(config: Path, name: str) -> None:
    app = app_for(config)
    try:
        add_hold(app, name=name, matter="Doe v. City", query="snow", by="Cara Clerk")
    finally:
        app.close()


def _writable(path: Path) -> None:
    os.chmod(path, path.stat().st_mode | stat.S_IWUSR)


def test_segments_form_a_hash_chain(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    _hold(config, "first")
    _hold(config, "second")
    segments = _segments(config)
    assert len(segments) >= 3
    prev = journal.GENESIS
    for n, seg in enumerate(segments, 1):
        data = gzip.decompress((_journal_dir(config) / seg.name).read_bytes())
        header = json.loads(data.split(b"\n", 1)[0])
        assert header["segment"] == n and header["prev_sha256"] == prev
        assert seg.name == f"{n:08d}-{seg.sha256}.jsonl.gz"
        for line in data.splitlines()[1:]:
            entry = json.loads(line)
            assert entry["at"].endswith("+00:00") and entry["op"] in ("put", "delete")
        prev = seg.sha256
    holds = [e.row["name"] for e in _entries(config, "legal_holds") if e.row]
    assert holds == ["first", "second"]
    audited = [e.row["action"] for e in _entries(config, "audit_log") if e.row]
    assert audited.count("hold.add") == 2 and "seal" in audited
    # Segments are stored read-only and are not bundles.
    assert all(
        not (p.stat().st_mode & stat.S_IWUSR) for p in _journal_dir(config).glob("*.jsonl.gz")
    )
    r = cli(config, "journal", "verify")
    assert r.returncode == 0, r.stderr
    assert f"{len(segments)} segment(s)" in r.stdout


@pytest.mark.parametrize("damage", ["edit", "delete_middle", "delete_newest", "reorder"])
def test_rebuild_names_a_tampered_or_missing_segment(
    make_archive: ArchiveFactory, tmp_path: Path, damage: str
) -> None:
    config = make_archive()
    _hold(config, "first")
    _hold(config, "second")
    names = sorted(p.name for p in _journal_dir(config).glob("*.jsonl.gz"))
    assert len(names) >= 3
    folder = _journal_dir(config)
    victim = folder / names[1]
    if damage == "edit":
        _writable(victim)
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit of the stored (compressed) object
        victim.write_bytes(bytes(data))
        expect = f"journal segment journal/{names[1]} was altered"
    elif damage == "delete_middle":
        victim.unlink()
        expect = f"journal segment 2 is missing (between journal/{names[0]} and journal/{names[2]})"
    elif damage == "delete_newest":
        (folder / names[-1]).unlink()
        expect = f"journal segment {len(names)} is missing: this archive sealed segments up to"
    else:
        # Swap the contents of two segments under each other's names' numbers.
        first, second = folder / names[0], folder / names[1]
        a, b = first.read_bytes(), second.read_bytes()
        first.unlink()
        second.unlink()
        (folder / f"00000001-{names[1].split('-', 1)[1]}").write_bytes(b)
        (folder / f"00000002-{names[0].split('-', 1)[1]}").write_bytes(a)
        expect = "does not follow segment 0"
    target = tmp_path / "new.sqlite"
    r = cli(config, "catalog", "rebuild", "--into", str(target))
    assert r.returncode == 1, r.stdout + r.stderr
    assert expect in r.stderr.replace("\n", "")
    assert "Traceback" not in r.stderr
    assert not target.exists(), "nothing is written before the chain is proven"
    assert cli(config, "journal", "verify").returncode == 1


CRASH_AFTER_WRITE = """
import os, sys
from archiver.app import open_app
from archiver.retention.holds import add_hold
app = open_app(sys.argv[1])
add_hold(app, name="crash-hold", matter="Doe v. City", query="snow", by="Cara Clerk")
os._exit(137)  # killed after the catalog commit, before the command's journal flush
"""


def test_a_crash_between_a_write_and_its_flush_loses_nothing(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive()
    before = len(_segments(config))
    env = dict(os.environ, ARCHIVER_LOG_LEVEL="WARNING")
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH_AFTER_WRITE), str(config)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 137, r.stderr
    assert catalog_rows(config, "SELECT name FROM legal_holds")[0]["name"] == "crash-hold"
    assert len(_segments(config)) == before
    assert not [e for e in _entries(config, "legal_holds")]

    recovered = cli(config, "recover")
    assert recovered.returncode == 0, recovered.stderr
    holds = [e.row["name"] for e in _entries(config, "legal_holds") if e.row]
    assert holds == ["crash-hold"]
    actions = [e.row["action"] for e in _entries(config, "audit_log") if e.row]
    assert "hold.add" in actions


def test_entries_left_pending_by_a_failed_seal_are_sealed_next_time(
    make_archive: ArchiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_archive()
    root = config.parent / "archive"
    pending = root / "journal" / "pending.jsonl"

    def refuse(self: LocalStorage, name: str, data: bytes) -> str:
        raise StorageError("storage is unreachable (test)")

    monkeypatch.setattr(LocalStorage, "put_journal", refuse)
    app = app_for(config)
    try:
        add_hold(app, name="pending-hold", matter="Doe v. City", query="snow", by="Cara Clerk")
        with pytest.raises(StorageError, match="unreachable"):
            journal.flush(app.cfg.root, app.catalog.engine, app.storage)
    finally:
        app.catalog.close()  # no App.close: its quiet flush would fail the same way
    lines = pending.read_text().splitlines()
    assert any('"name":"pending-hold"' in line for line in lines)
    # A kill in the middle of writing an entry leaves a cut-off line: it is never sealed.
    with pending.open("a") as fh:
        fh.write('{"at":"2026-12-04T00:00:00+00:00","op":"put","table":"legal_ho')
    monkeypatch.undo()

    r = cli(config, "journal", "flush", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["captured"] == 0 and len(result["sealed"]) == 1  # the catalog had no news
    assert not pending.exists()
    holds = [e.row["name"] for e in _entries(config, "legal_holds") if e.row]
    assert holds == ["pending-hold"]


def test_a_lost_catalog_is_never_journaled_as_empty(
    make_archive: ArchiveFactory, tmp_path: Path
) -> None:
    """A command run after the catalog was lost makes a new, empty one: that must not be
    journaled as "every hold deleted"."""
    config = make_archive()
    _hold(config, "keep-me")
    catalog = config.parent / "archive" / "catalog.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    before = len(_segments(config))
    status = cli(config, "status")
    assert "this catalog is older than the journal" in status.stderr
    assert len(_segments(config)) == before
    assert not [e for e in _entries(config, "legal_holds") if e.op == "delete"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    r = cli(config, "catalog", "rebuild", "--into", str(tmp_path / "new.sqlite"))
    assert r.returncode == 0, r.stderr
    os.replace(tmp_path / "new.sqlite", catalog)
    assert [r["name"] for r in catalog_rows(config, "SELECT name FROM legal_holds")] == ["keep-me"]


def test_a_read_only_archive_is_not_journaled_and_not_an_error(
    make_archive: ArchiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`verify`/`status` on a read-only mount: the flush at the end of the command is skipped."""
    import errno

    config = make_archive()
    _hold(config, "before")
    app = app_for(config)
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith("/journal/.lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    try:
        monkeypatch.setattr(os, "open", read_only)
        with pytest.raises(journal.JournalReadOnlyError, match="read-only filesystem"):
            journal.flush(app.cfg.root, app.catalog.engine, app.storage)
        assert journal.flush_quietly(app.cfg.root, app.catalog.engine, app.storage) is None
    finally:
        monkeypatch.undo()
        app.close()


def _as_plain_segments(config: Path) -> list[str]:
    """Rewrite the archive's journal as the first journal release stored it: each segment
    plain ``.jsonl``, named and chained by the hash of those bytes (head.json is dropped,
    as an operator restoring such a journal would)."""
    folder = _journal_dir(config)
    prev = journal.GENESIS
    names = []
    for seg in _segments(config):
        path = folder / seg.name
        lines = gzip.decompress(path.read_bytes()).split(b"\n", 1)
        header = json.loads(lines[0])
        header["prev_sha256"] = prev
        data = (json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n").encode()
        data += lines[1]
        prev = hashlib.sha256(data).hexdigest()
        name = f"{seg.seq:08d}-{prev}.jsonl"
        _writable(path)
        path.unlink()
        (folder / name).write_bytes(data)
        names.append(name)
    (config.parent / "archive" / "journal" / "head.json").unlink()
    return names


def test_plain_segments_of_the_first_release_still_read_and_chain_on(
    make_archive: ArchiveFactory, tmp_path: Path
) -> None:
    """Segments sealed before compression (``.jsonl``) verify and rebuild, and the next
    compressed segment chains onto the last plain one."""
    config = make_archive()
    _hold(config, "first")
    plain = _as_plain_segments(config)
    assert len(plain) >= 2
    _hold(config, "second")
    segments = _segments(config)
    assert [s.name for s in segments[: len(plain)]] == plain
    assert segments[-1].name.endswith(".jsonl.gz")
    assert segments[-1].prev_sha256 == plain[-1].split("-", 1)[1].removesuffix(".jsonl")
    holds = [e.row["name"] for e in _entries(config, "legal_holds") if e.row]
    assert holds == ["first", "second"]
    r = cli(config, "journal", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    target = tmp_path / "rebuilt.sqlite"
    r = cli(config, "catalog", "rebuild", "--into", str(target))
    assert r.returncode == 0, r.stdout + r.stderr
    assert {row["name"] for row in catalog_rows_at(target, "SELECT name FROM legal_holds")} == {
        "first",
        "second",
    }


def catalog_rows_at(path: Path, sql: str) -> list[dict[str, object]]:
    import sqlite3

    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()
