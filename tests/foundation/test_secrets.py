"""Secrets never reach logs, WARCs, the catalog or an export package.

The token is one the platform really checks (a refused run and an accepted one), every
command runs as a real CLI subprocess at DEBUG log level in both log formats, and then every
byte the archiver wrote (config, archive root, export package; gzip members and zip entries
opened) is searched for the token.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeServer

from tests.connectors.mastodon_scene import make_world
from tests.helpers import site_toml, write_config

GOOD = "good-token-0123456789abcdef"
WRONG = "wrong-token-fedcba9876543210"


def _cli(config: Path, token: str, *args: str, json_logs: bool) -> subprocess.CompletedProcess[str]:
    fmt = "--log-json" if json_logs else "--log-console"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "--log-level",
            "DEBUG",
            fmt,
            "--config",
            str(config),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, CITY_TOKEN=token, COLUMNS="200"),
    )


def _contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """The file's bytes, and the decompressed bytes of any gzip or zip inside it."""
    data = path.read_bytes()
    yield str(path), data
    if data[:2] == b"\x1f\x8b":
        yield f"{path} (gunzipped)", gzip.decompress(data)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                inner = zf.read(name)
                yield f"{path}!{name}", inner
                if inner[:2] == b"\x1f\x8b":
                    yield f"{path}!{name} (gunzipped)", gzip.decompress(inner)


def test_no_token_in_output_warcs_catalog_or_export(tmp_path: Path) -> None:
    world, _ids = make_world(required_token=GOOD)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, CITY_USERNAME, token_env="CITY_TOKEN"),
        )
        runs = [_cli(config, WRONG, "harvest", json_logs=True)]
        assert runs[0].returncode == 1 and "401" in runs[0].stderr  # the refusal is recorded
        for json_logs in (True, False):
            runs.append(_cli(config, GOOD, "harvest", "--full", json_logs=json_logs))
            assert runs[-1].returncode == 0, runs[-1].stderr
    for args in (
        ("verify", "--all"),
        ("search", "water", "--json"),
        ("status", "--json"),
        ("status",),
        ("request", "open", "--requester", "J. Doe", "--received", "2026-11-20",
         "--description", "water main posts"),
        ("export", "PRR-2026-0001", "water", "--out", str(tmp_path / "package")),
    ):  # fmt: skip
        runs.append(_cli(config, GOOD, *args, json_logs=False))
        assert runs[-1].returncode == 0, (args, runs[-1].stderr)
    # Logging was really on, in both formats (JSON lines and the console renderer).
    assert '"event": "harvest_started"' in runs[1].stderr and "harvest_started" in runs[2].stderr

    for r in runs:
        for secret in (GOOD, WRONG):
            assert secret not in r.stdout and secret not in r.stderr, r.args
    searched = 0
    control = 0  # the search sees inside WARCs: the redacted header is found where it belongs
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        for where, data in _contents(path):
            searched += 1
            control += b"authorization: bearer redacted" in data.lower()
            for secret in (GOOD, WRONG):
                assert secret.encode() not in data, f"{secret} found in {where}"
    assert control > 0
    warcs = list(tmp_path.rglob("*.warc.gz"))
    assert warcs and (tmp_path / "package").exists() and searched > 20
    # The search is sound: the token is exactly what the platform received.
    assert any(req.headers.get("authorization") == f"Bearer {GOOD}" for req in server.requests)
