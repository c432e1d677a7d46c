"""Media (photos, video) attached to exported versions.

A version lists its attachments in ``item_versions.media_json``; each captured one names the
WARC response record holding its bytes (``ref``: bundle and record id, usually in the run's
``media`` bundle). Media is downloaded once per URL, so a later version of the same post
says "captured in an earlier run" without a ref; its record is found again through the
catalog's ``payload_index`` (same site, same URL, earliest capture). The export copies those
records byte for byte with the others (see :mod:`archiver.prr.originals`) and writes a
viewable copy of each body under ``data/readable/media/`` so the readable site can show it.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.catalog import schema as s
from archiver.catalog.store import uri_hash
from archiver.csvsafe import SafeDictWriter
from archiver.parts import ArchiveParts
from archiver.prr.originals import CopiedRecord
from archiver.recorder import redact_url

MEDIA_DIR: Final = "media"


@dataclass
class MediaRef:
    """One attachment of one exported version, and where its original record is."""

    version_id: int
    item_id: int
    site_id: str
    platform_id: str
    version: int
    media_id: str
    type: str
    url: str
    description: str
    bundle_id: str | None
    record_id: str | None
    note: str

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.bundle_id, self.record_id) if self.bundle_id and self.record_id else None


@dataclass(frozen=True, slots=True)
class MediaFile:
    """The viewable copy of a media body, relative to ``data/readable/``."""

    path: str | None
    sha256: str
    content_type: str
    note: str


def media_of(app: ArchiveParts, hits: Iterable[Mapping[str, Any]]) -> list[MediaRef]:
    """Every attachment of the given versions, with its original record where one exists."""
    by_version = {int(h["version_id"]): h for h in hits}
    ids = sorted(by_version)
    raw: dict[int, str] = {}
    v = s.item_versions
    with app.catalog.begin() as conn:
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            for r in conn.execute(select(v.c.id, v.c.media_json).where(v.c.id.in_(chunk))):
                raw[int(r.id)] = str(r.media_json or "[]")
    out: list[MediaRef] = []
    for vid in ids:
        h = by_version[vid]
        try:
            entries = json.loads(raw.get(vid, "[]"))
        except ValueError:
            entries = []
        for m in entries if isinstance(entries, list) else []:
            ref = m.get("ref") or {}
            out.append(
                MediaRef(
                    version_id=vid,
                    item_id=int(h["item_id"]),
                    site_id=str(h["site_id"]),
                    platform_id=str(h["platform_id"]),
                    version=int(h["version"]),
                    media_id=str(m.get("id") or ""),
                    type=str(m.get("type") or ""),
                    url=str(m.get("url") or ""),
                    description=str(m.get("description") or ""),
                    bundle_id=ref.get("bundle_id"),
                    record_id=ref.get("record_id"),
                    note=str(m.get("skipped_reason") or ""),
                )
            )
    _resolve_earlier_captures(app, [m for m in out if m.key is None and m.url])
    return out


def _resolve_earlier_captures(app: ArchiveParts, refs: list[MediaRef]) -> None:
    """Media downloaded in an earlier run: find that capture (same site and URL)."""
    p = s.payload_index
    found: dict[tuple[str, str], tuple[str, str, str]] = {}
    wanted = {(m.site_id, uri_hash(redact_url(m.url))) for m in refs}
    with app.catalog.begin() as conn:
        for site, digest in sorted(wanted):
            row = conn.execute(
                select(p.c.bundle_id, p.c.record_id, p.c.warc_date)
                .join(s.bundles, s.bundles.c.id == p.c.bundle_id)
                .where(p.c.site_id == site, p.c.uri_hash == digest, s.bundles.c.status == "sealed")
                .order_by(p.c.warc_date)
                .limit(1)
            ).first()
            if row is not None:
                found[(site, digest)] = (str(row.bundle_id), str(row.record_id), str(row.warc_date))
    for m in refs:
        hit = found.get((m.site_id, uri_hash(redact_url(m.url))))
        if hit is not None:
            m.bundle_id, m.record_id = hit[0], hit[1]
            m.note = f"captured in an earlier run ({hit[2]})"
        elif not m.note:
            m.note = "not captured"


def write_files(
    out_dir: Path,
    warc_path: Path,
    copied: Mapping[tuple[str, str], CopiedRecord],
    refs: Iterable[MediaRef],
) -> dict[tuple[str, str], MediaFile]:
    """Decode each copied media response (following a revisit to its original) to a file."""
    files: dict[tuple[str, str], MediaFile] = {}
    with warc_path.open("rb") as fh:
        for m in refs:
            key = m.key
            if key is None or key in files or key not in copied:
                continue
            files[key] = _extract(fh, out_dir, copied, key)
    return files


def _extract(
    fh: Any, out_dir: Path, copied: Mapping[tuple[str, str], CopiedRecord], key: tuple[str, str]
) -> MediaFile:
    c = copied[key]
    src = c.source
    if src.record_type == "revisit":
        target = (src.refers_to_bundle or src.bundle_id, src.refers_to_record_id or "")
        if target not in copied:
            return MediaFile(None, "", "", "revisit whose original is not in the package")
        c = copied[target]
    fh.seek(c.offset)
    rec = next(iter(ArchiveIterator(fh)))
    if rec.rec_type != "response" or rec.http_headers is None:
        return MediaFile(None, "", "", f"record is a {rec.rec_type}, not a response")
    status = rec.http_headers.get_statuscode()
    body = rec.content_stream().read()
    digest = hashlib.sha256(body).hexdigest()
    ctype = (rec.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if status != "200":
        return MediaFile(None, digest, ctype, f"HTTP {status} at capture")
    if rec.rec_headers.get_header("WARC-Truncated"):
        return MediaFile(None, digest, ctype, "truncated at capture (size limit)")
    ext = mimetypes.guess_extension(ctype) or ".bin"
    name = f"{MEDIA_DIR}/{digest[:24]}{ext}"
    path = out_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return MediaFile(name, digest, ctype, "")


MEDIA_FIELDS: Final = (
    "item_id",
    "version_id",
    "site_id",
    "platform_id",
    "version",
    "media_id",
    "type",
    "url",
    "description",
    "bundle_id",
    "warc_record_id",
    "original_in_package",
    "export_warc_offset",
    "export_warc_length",
    "content_type",
    "payload_sha256",
    "readable_file",
    "note",
)


def write_index(
    path: Path,
    refs: Iterable[MediaRef],
    copied: Mapping[tuple[str, str], CopiedRecord],
    files: Mapping[tuple[str, str], MediaFile],
) -> None:
    """``data/media.csv``: one row per attachment of an exported version."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(MEDIA_FIELDS))
        w.writeheader()
        for m in refs:
            c = copied.get(m.key) if m.key else None
            f = files.get(m.key) if m.key else None
            w.writerow(
                {
                    "item_id": m.item_id,
                    "version_id": m.version_id,
                    "site_id": m.site_id,
                    "platform_id": m.platform_id,
                    "version": m.version,
                    "media_id": m.media_id,
                    "type": m.type,
                    "url": m.url,
                    "description": m.description,
                    "bundle_id": m.bundle_id or "",
                    "warc_record_id": m.record_id or "",
                    "original_in_package": c is not None,
                    "export_warc_offset": c.offset if c else "",
                    "export_warc_length": c.length if c else "",
                    "content_type": f.content_type if f else "",
                    "payload_sha256": f.sha256 if f else "",
                    "readable_file": f"readable/{f.path}" if f and f.path else "",
                    "note": "; ".join(x for x in (m.note, f.note if f else "") if x),
                }
            )
