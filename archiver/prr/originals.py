"""Copy exactly the WARC records an export needs, byte for byte, into one new .warc.gz.

Every record in a sealed bundle is its own gzip member (see :mod:`archiver.warc`), so the
bytes at ``offset:offset+length`` are a complete, independently valid gzip member and a
concatenation of such members (after a fresh ``warcinfo`` describing the export) is a valid
WARC file. Nothing is decoded and re-encoded: the copy is the original, which is what lets a
court compare the package with the City's archive digest for digest.

Each bundle's ``data/records.sqlite`` maps its records: the request record of a response is
the one whose ``concurrent_to`` names it; a ``revisit`` names the response it repeats
(``refers_to_record_id``) and the bundle holding it (``refers_to_bundle``, possibly another
bundle). The closure over those links is copied too, so the package stands alone.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.warcwriter import WARCWriter

from archiver import __version__
from archiver.bundle import RECORDS_DB
from archiver.bundle_format import open_records
from archiver.errors import ExportError, StorageError
from archiver.storage.base import Storage


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record in a sealed bundle, and why the export carries it."""

    bundle_id: str
    warc_file: str
    offset: int
    length: int
    record_id: str
    record_type: str
    target_uri: str | None
    warc_date: str | None
    concurrent_to: str | None
    refers_to_record_id: str | None
    refers_to_bundle: str | None
    http_status: int | None
    payload_digest: str | None
    role: str  # match | capture | request | revisit-original | followers


@dataclass(frozen=True, slots=True)
class CopiedRecord:
    source: SourceRecord
    offset: int
    length: int


_COLS = (
    "record_id, record_type, target_uri, warc_date, warc_file, offset, length, concurrent_to, "
    "refers_to_record_id, refers_to_bundle, http_status, payload_digest"
)


class BundleIndex:
    """The record maps of the source bundles, opened read-only (downloaded if remote)."""

    def __init__(self, storage: Storage, bundles: Mapping[str, Mapping[str, Any]], tmp: Path):
        self.storage = storage
        self.bundles = bundles
        self.tmp = tmp
        self._dbs: dict[str, sqlite3.Connection] = {}

    def bundle(self, bundle_id: str) -> Mapping[str, Any]:
        try:
            return self.bundles[bundle_id]
        except KeyError:
            raise ExportError(
                f"bundle {bundle_id} is referenced by an exported record but is not a sealed "
                "bundle in the catalog",
                hint="run `archiver recover`; if it was disposed the export cannot stand alone",
            ) from None

    def db(self, bundle_id: str) -> sqlite3.Connection:
        if bundle_id in self._dbs:
            return self._dbs[bundle_id]
        key = str(self.bundle(bundle_id)["key"])
        local = self.storage.local_path(key)
        path = local / RECORDS_DB if local is not None else None
        if path is None or not path.exists():
            path = self.tmp / f"{bundle_id}.records.sqlite"
            try:
                with self.storage.open(key, RECORDS_DB) as src, path.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (StorageError, OSError) as exc:
                raise ExportError(
                    f"cannot read {RECORDS_DB} of bundle {bundle_id}: {exc}",
                    hint="run `archiver verify` and check the storage backend",
                ) from exc
        db = open_records(path, bundle=bundle_id)
        self._dbs[bundle_id] = db
        return db

    def _make(self, bundle_id: str, row: sqlite3.Row, role: str) -> SourceRecord:
        return SourceRecord(
            bundle_id=bundle_id,
            warc_file=row["warc_file"],
            offset=int(row["offset"]),
            length=int(row["length"]),
            record_id=row["record_id"],
            record_type=row["record_type"],
            target_uri=row["target_uri"],
            warc_date=row["warc_date"],
            concurrent_to=row["concurrent_to"],
            refers_to_record_id=row["refers_to_record_id"],
            refers_to_bundle=row["refers_to_bundle"],
            http_status=row["http_status"],
            payload_digest=row["payload_digest"],
            role=role,
        )

    def record(self, bundle_id: str, record_id: str, role: str) -> SourceRecord:
        row = (
            self.db(bundle_id)
            .execute(f"SELECT {_COLS} FROM warc_records WHERE record_id = ?", (record_id,))
            .fetchone()
        )
        if row is None:
            raise ExportError(
                f"record {record_id} is not in bundle {bundle_id}'s records.sqlite",
                hint="the catalog and the bundle disagree; run `archiver verify`",
            )
        return self._make(bundle_id, row, role)

    def requests_for(self, bundle_id: str, record_id: str) -> list[SourceRecord]:
        rows = self.db(bundle_id).execute(
            f"SELECT {_COLS} FROM warc_records WHERE concurrent_to = ? AND record_type = 'request'",
            (record_id,),
        )
        return [self._make(bundle_id, r, "request") for r in rows]

    def captures(
        self, bundle_id: str, wanted: Mapping[str, set[str]]
    ) -> list[tuple[str, str, SourceRecord]]:
        """(platform_id, content_hash, record) for every capture of a wanted version here."""
        out: list[tuple[str, str, SourceRecord]] = []
        # One pass over the bundle's items (it has no platform_id index; one run is small).
        rows = self.db(bundle_id).execute(
            "SELECT platform_id, content_hash, warc_record_id FROM items"
        )
        hits = [(p, d, r) for p, d, r in rows if d in wanted.get(p, ())]
        for pid, digest, rid in hits:
            out.append((pid, digest, self.record(bundle_id, rid, "capture")))
        return out

    def exchanges(self, bundle_id: str, role: str) -> list[SourceRecord]:
        """Every response/revisit/request of a bundle (a follower-list snapshot is all of it)."""
        rows = self.db(bundle_id).execute(
            f"SELECT {_COLS} FROM warc_records WHERE record_type IN ('response','revisit','request')"
        )
        return [self._make(bundle_id, r, role) for r in rows]

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()


def with_closure(index: BundleIndex, records: Iterable[SourceRecord]) -> list[SourceRecord]:
    """Add each response's request record and each revisit's original (+ its request)."""
    seen: dict[tuple[str, str], SourceRecord] = {}
    todo = list(records)
    while todo:
        rec = todo.pop()
        k = (rec.bundle_id, rec.record_id)
        if k in seen:
            continue
        seen[k] = rec
        if rec.record_type in ("response", "revisit"):
            todo.extend(index.requests_for(rec.bundle_id, rec.record_id))
        if rec.record_type == "revisit":
            if not rec.refers_to_record_id:
                raise ExportError(
                    f"revisit {rec.record_id} in bundle {rec.bundle_id} names no original",
                    hint="the bundle is damaged; run `archiver verify`",
                )
            target_bundle = rec.refers_to_bundle or rec.bundle_id
            todo.append(index.record(target_bundle, rec.refers_to_record_id, "revisit-original"))
    return list(seen.values())


def order_key(
    bundles: Mapping[str, Mapping[str, Any]],
) -> Any:
    """Sort by bundle seal time, then file and offset: originals precede their revisits."""

    def key(r: SourceRecord) -> tuple[str, str, str, int]:
        return (str(bundles[r.bundle_id]["sealed_at"]), r.bundle_id, r.warc_file, r.offset)

    return key


def write_subset(
    storage: Storage,
    bundles: Mapping[str, Mapping[str, Any]],
    records: list[SourceRecord],
    out: Path,
    info: Mapping[str, str],
) -> dict[tuple[str, str], CopiedRecord]:
    """Write a warcinfo, then each record's original gzip member unchanged, in order."""
    copied: dict[tuple[str, str], CopiedRecord] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("xb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        fields = {
            "software": f"muni-archiver/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
        }
        fields.update(info)
        writer.write_record(writer.create_warcinfo_record(out.name, fields))
        current: tuple[str, str] | None = None
        src: BinaryIO | None = None
        try:
            for rec in records:
                key = str(bundles[rec.bundle_id]["key"])
                relpath = f"data/warc/{rec.warc_file}"
                where = (rec.bundle_id, rec.warc_file)
                if where != current:
                    if src is not None:
                        src.close()
                        src = None
                    local = storage.local_path(key)
                    if local is not None:  # a plain file: seek instead of one GET per record
                        src = (local / relpath).open("rb")
                    current = where
                if src is not None:
                    src.seek(rec.offset)
                    data = src.read(rec.length)
                else:
                    data = storage.read_range(key, relpath, rec.offset, rec.length)
                if len(data) != rec.length or data[:2] != b"\x1f\x8b":
                    raise ExportError(
                        f"record {rec.record_id} at {rec.warc_file}@{rec.offset} in bundle "
                        f"{rec.bundle_id} is not a whole gzip member",
                        hint="run `archiver verify`; the bundle may be damaged",
                    )
                offset = fh.tell()
                fh.write(data)
                copied[(rec.bundle_id, rec.record_id)] = CopiedRecord(rec, offset, rec.length)
        finally:
            if src is not None:
                src.close()
        fh.flush()
    return copied
