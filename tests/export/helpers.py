"""Helpers for the export tests: run the CLI, open a request, read packages and WARCs.

Imported by the export (and coverage) tests; test modules never import each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from warcio.archiveiterator import ArchiveIterator

VENV = Path(sys.executable).parent
ARCHIVER = str(VENV / "archiver")


class ArchiveDirs(Protocol):
    """What these helpers need of an archive (conftest's ``Archive`` and ``FbArchive``)."""

    @property
    def config(self) -> Path: ...

    @property
    def root(self) -> Path: ...


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", ARCHIVER_LOG_LEVEL="WARNING")
    return subprocess.run(
        [ARCHIVER, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def open_request(archive: ArchiveDirs, received: str = "2026-11-20") -> str:
    r = cli(
        archive.config,
        "request", "open", "--requester", "Jane Q. Reporter", "--received", received,
        "--description", "City posts about snow plowing and the replies", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["id"])


def validate_package(bag: Path) -> None:
    r = subprocess.run(
        [str(VENV / "bagit.py"), "--validate", str(bag)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "is valid" in r.stderr
    for warc in sorted((bag / "data" / "originals").glob("*.warc.gz")):
        r = subprocess.run(
            [str(VENV / "warcio"), "check", str(warc)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [str(VENV / "wacz"), "validate", "-f", str(bag / "data" / "replay" / "export.wacz")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Validation succeeded" in r.stdout


def warc_records(path: Path) -> list[dict[str, object]]:
    out = []
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            payload = rec.content_stream().read()
            out.append(
                {
                    "id": rec.rec_headers.get_header("WARC-Record-ID"),
                    "type": rec.rec_type,
                    "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                    "refers_to": rec.rec_headers.get_header("WARC-Refers-To"),
                    "concurrent_to": rec.rec_headers.get_header("WARC-Concurrent-To"),
                    "date": rec.rec_headers.get_header("WARC-Date"),
                    "payload_sha256": hashlib.sha256(payload).hexdigest(),
                    "payload": payload,
                    "offset": it.get_record_offset(),
                }
            )
    return out


def payload_of(record: dict[str, object]) -> bytes:
    payload = record["payload"]
    assert isinstance(payload, bytes)
    return payload


def read_member(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def catalog(archive: ArchiveDirs, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def bundle_path(archive: ArchiveDirs, bundle_id: str) -> Path:
    key = str(catalog(archive, "SELECT key FROM bundles WHERE id = ?", (bundle_id,))[0]["key"])
    return archive.root / "bundles" / key


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in r.stderr
    return lines[0]
