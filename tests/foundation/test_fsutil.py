"""archiver.fsutil: the one atomic write (temp file, fsync, rename, fsync the folder)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from archiver.clock import now_iso
from archiver.fsutil import atomic_write, fsync_tree


def test_atomic_write_replaces_the_file_with_the_mode_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "anchor.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anchor.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "head.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]  # fails mid-write
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.json"]


def test_fsync_tree_flushes_every_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.warc.gz").write_bytes(b"x")
    fsync_tree(tmp_path)  # raises OSError if any entry cannot be opened


def test_now_iso_is_utc_with_microseconds_from_an_injected_clock() -> None:
    from datetime import datetime, timedelta, timezone

    fixed = datetime(2026, 11, 20, 14, 35, tzinfo=timezone(timedelta(hours=-7)))
    assert now_iso(lambda: fixed) == "2026-11-20T21:35:00.000000+00:00"
