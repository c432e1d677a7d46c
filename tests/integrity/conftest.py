"""A small signed, timestamped archive (real fake-Mastodon harvests, a real local TSA) that
each attack test copies and tampers with, as an insider with file access would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.testing.demo_data import build_demo_world
from archiver.testing.server import FakeServer
from archiver.testing.tsa import LocalTsa
from tests.helpers import harvest, site_toml, write_config


@dataclass
class Archive:
    config: Path
    tsa: LocalTsa

    @property
    def root(self) -> Path:
        return self.config.parent / "archive"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "archiver", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=dict(os.environ, COLUMNS="250"),
            check=False,
        )


def integrity_toml(tsa: LocalTsa) -> str:
    return f'[integrity]\ntsa_url = "{tsa.url}"\ntsa_ca_file = "{tsa.ca_file}"\n'


@pytest.fixture(scope="session")
def tsa() -> Iterator[LocalTsa]:
    with LocalTsa() as t:
        yield t


@pytest.fixture(scope="module")
def base_archive(tmp_path_factory: pytest.TempPathFactory, tsa: LocalTsa) -> Iterator[Path]:
    """Signing enabled before the first harvest; two harvests (an edit in between)."""
    tmp = tmp_path_factory.mktemp("signed")
    w, city = build_demo_world(statuses=10, followers=12, seed=5)
    w.rate_limit = 1_000_000
    with FakeServer(w) as server:
        config = write_config(
            tmp,
            site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_TOKEN"),
            head=integrity_toml(tsa),
        )
        os.environ["TEST_TOKEN"] = "test-token-abcdef"
        init = Archive(config, tsa).cli("keys", "init")
        assert init.returncode == 0, init.stderr
        assert harvest(config, "city").status == "succeeded"
        sid = w.status_ids(city)[0]
        w.edit_status(sid, w.status_text(sid) + " (updated)")
        assert harvest(config, "city").status == "succeeded"
    yield tmp


@pytest.fixture
def archive(base_archive: Path, tmp_path: Path, tsa: LocalTsa) -> Archive:
    """A private copy of the signed archive, config pointing at the copy."""
    dest = tmp_path / "copy"
    shutil.copytree(base_archive, dest, symlinks=True)
    config = dest / "archiver.toml"
    config.write_text(config.read_text().replace(str(base_archive), str(dest)))
    return Archive(config, tsa)
