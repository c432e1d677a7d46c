"""Which resource failure becomes which one-line error (archiver.resources), and a read-only
catalog that refuses every write with such a line instead of a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from archiver.catalog.store import Catalog
from archiver.errors import CatalogError, StorageError
from archiver.resources import guard, make_private, mkdir_private


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, ("No space left on device", "free space")),
        (errno.EDQUOT, ("Disk quota exceeded", "raise it or free space")),
        (errno.EROFS, ("Read-only file system", "remount it read-write")),
        (errno.EACCES, ("Permission denied", "write access")),
        (errno.EPERM, ("Operation not permitted", "write access")),
    ],
)
def test_each_errno_names_the_path_and_the_fix(
    tmp_path: Path, code: int, words: tuple[str, str]
) -> None:
    target = tmp_path / "staging" / "x.warc.gz"
    with pytest.raises(StorageError) as caught, guard(tmp_path, doing="writing a WARC"):
        raise OSError(code, "from the kernel", str(target))
    text = str(caught.value)
    assert "\n" not in text and str(target) in text
    assert words[0] in text and words[1] in text, text


def test_other_errors_are_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), guard(tmp_path, doing="reading"):
        (tmp_path / "nope").read_bytes()


def test_read_only_catalog_reads_and_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite"
    url = f"sqlite:///{db}"
    Catalog(url).close()  # made by a writable open
    before = db.read_bytes()
    ro = Catalog(url, read_only=True)
    try:
        assert ro.bundle_ids() == set()
        with pytest.raises(CatalogError) as caught:
            ro.start_run("city", full_sweep=False)
        assert str(db) in str(caught.value) and "\n" not in str(caught.value)
        ro.mark_verified("no-such-bundle", True)  # skipped on a read-only catalog, no error
    finally:
        ro.close()
    assert db.read_bytes() == before
    wal = db.with_name("catalog.sqlite-wal")  # a WAL reader may open an empty one
    assert not wal.exists() or wal.stat().st_size == 0


def test_read_only_catalog_must_exist(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog(f"sqlite:///{tmp_path / 'none.sqlite'}", read_only=True)
    assert not (tmp_path / "none.sqlite").exists()


def test_private_modes(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    mkdir_private(folder)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o750
    assert folder.stat().st_mode & 0o777 == 0o750
    f = folder / "f.txt"
    f.write_text("x")
    f.chmod(0o644)
    make_private(tmp_path / "a")
    assert f.stat().st_mode & 0o777 == 0o640


def test_read_only_catalog_on_postgresql(pg_url: str) -> None:
    Catalog(pg_url).close()
    ro = Catalog(pg_url, read_only=True)
    try:
        assert ro.bundle_ids() == set()
        with pytest.raises(CatalogError, match="opened read-only"):
            ro.start_run("city", full_sweep=False)
    finally:
        ro.close()
