"""A small signed, timestamped archive (real fake-Mastodon harvests, a real local TSA) that
each attack test copies and tampers with, as an insider with file access would."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from fakeplatforms.tsa import LocalTsa

from archiver.integrity.tsa import request_token
from archiver.settings.integrity import TsaSettings
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


def bundle_dirs(archive: Archive) -> list[Path]:
    return sorted(p.parent for p in archive.bundles.rglob("tagmanifest-sha256.txt"))


def forge_copy(
    archive: Archive,
    text: str,
    *,
    sealed_at: str | None = None,
    resign: bool = False,
    token_from: Path | None = None,
    fresh_token: bool = False,
) -> tuple[str, Path]:
    """The issue's attack: copy a sealed posts bundle under a new id, change one record's
    text, recompute both manifests. Optionally back-date ``Sealed-At``, re-sign with the
    archive's private key (an insider who stole it), and put in a timestamp token copied
    from another bundle or freshly obtained from the TSA."""
    src = [d for d in bundle_dirs(archive) if "-posts-" in d.name][-1]
    new_id = src.name[:-6] + "f0f0f0"
    dst = src.parent / new_id
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) | stat.S_IWUSR)
    db = sqlite3.connect(dst / "data" / "records.sqlite")
    db.execute("UPDATE items SET text=? WHERE seq=(SELECT min(seq) FROM items)", (text,))
    db.execute("UPDATE bundle_info SET value=? WHERE key='bundle_id'", (new_id,))
    if sealed_at:
        db.execute("UPDATE bundle_info SET value=? WHERE key='sealed_at'", (sealed_at,))
    db.commit()
    db.close()
    info = (dst / "bag-info.txt").read_text().replace(src.name, new_id)
    if sealed_at:
        info = re.sub(r"(?m)^Sealed-At: .*$", f"Sealed-At: {sealed_at}", info)
    (dst / "bag-info.txt").write_text(info)

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    lines = [
        f"{sha(p)}  {p.relative_to(dst).as_posix()}\n"
        for p in sorted((dst / "data").rglob("*"))
        if p.is_file()
    ]
    (dst / "manifest-sha256.txt").write_text("".join(lines))
    (dst / "tagmanifest-sha256.txt").write_text(
        "".join(
            f"{sha(dst / n)}  {n}\n" for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
        )
    )
    tag = (dst / "tagmanifest-sha256.txt").read_bytes()
    if resign:
        key = serialization.load_pem_private_key(
            (archive.root / "keys" / "signing-key.pem").read_bytes(), password=None
        )
        assert isinstance(key, Ed25519PrivateKey)
        (dst / "signature.ed25519").write_bytes(key.sign(tag))
    if token_from is not None:
        shutil.copyfile(token_from / "timestamp.tsr", dst / "timestamp.tsr")
    if fresh_token:
        token = request_token(
            TsaSettings(archive.tsa.url, archive.tsa.ca_file), hashlib.sha256(tag).hexdigest()
        )
        (dst / "timestamp.tsr").write_bytes(token)
    return new_id, dst
