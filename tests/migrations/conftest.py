"""The committed release-0.1.0 archive, copied where a test may change it."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

FIXTURE = Path(__file__).parent.parent / "fixtures" / "v0_1"


@dataclass(frozen=True)
class OldArchive:
    config: Path
    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.catalog}"


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """A CLI test run earlier (CliRunner) can leave structlog printing to its closed stream."""
    structlog.reset_defaults()


@pytest.fixture
def old_archive(tmp_path: Path) -> Iterator[OldArchive]:
    root = tmp_path / "archive"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("README.md", "*.in"))
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    config = tmp_path / "archiver.toml"
    config.write_text((FIXTURE / "archiver.toml.in").read_text().replace("@ROOT@", str(root)))
    yield OldArchive(config, root)


def snapshot(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (alembic's own table aside), sorted, for before/after checks."""
    db = sqlite3.connect(db_path)
    try:
        names = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
            if r[0] != "alembic_version"
        ]
        return {n: sorted(db.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        db.close()
