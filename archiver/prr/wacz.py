"""Write the replayable copy (WACZ 1.1.1) of an export's WARC, directly, without py-wacz.

Why direct: the format is a small ZIP (``archive/``, ``indexes/``, ``pages/pages.jsonl``,
``datapackage.json``, ``datapackage-digest.json``), and writing it ourselves keeps py-wacz and
its large frictionless dependency out of the daemon's runtime while giving exact control of
the page list. ``wacz create`` silently drops a page whose ``ts`` does not equal the WARC-Date
(stack-notes §9); here each page's ``ts`` *is* the record's WARC-Date string, by construction.
The tests validate every package with the real ``wacz validate -f``.

The WARC is stored (not deflated) inside the ZIP, as the spec asks, so replay tools can seek
into it by the offsets in the index.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from archiver import __version__
from archiver.prr.wacz_sign import WaczSignature, sign_hash

WACZ_VERSION: Final = "1.1.1"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One CDXJ line: a response or revisit record in the archived WARC."""

    url: str
    warc_date: str
    record_type: str
    status: int | None
    digest: str | None
    offset: int
    length: int
    mime: str = "application/json"


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    ts: str  # the WARC-Date of the record, exactly
    title: str
    page_id: str


def surt(url: str) -> str:
    """A SURT key (host reversed, lower-cased, no scheme) as CDXJ indexes sort by."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    labels = host.split(".")
    if not all(p.isdigit() for p in labels):
        labels.reverse()
    key = ",".join(labels)
    if parts.port:
        key += f":{parts.port}"
    path = parts.path or "/"
    key += ")" + path.lower()
    if parts.query:
        key += "?" + "&".join(sorted(parts.query.split("&"))).lower()
    return key


def cdx_timestamp(warc_date: str) -> str:
    """14-digit CDX timestamp from a WARC-Date (ISO 8601, any fraction)."""
    digits = "".join(c for c in warc_date if c.isdigit())
    return digits[:14]


def cdxj_lines(entries: Iterable[IndexEntry], filename: str) -> list[str]:
    lines = []
    for e in entries:
        body: dict[str, object] = {
            "url": e.url,
            "mime": e.mime if e.record_type == "response" else "warc/revisit",
            "offset": str(e.offset),
            "length": str(e.length),
            "filename": filename,
        }
        if e.status is not None:
            body["status"] = str(e.status)
        if e.digest:
            body["digest"] = e.digest
        lines.append(
            f"{surt(e.url)} {cdx_timestamp(e.warc_date)} {json.dumps(body, sort_keys=True)}"
        )
    return sorted(lines)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_wacz(
    out: Path,
    warc: Path,
    entries: Iterable[IndexEntry],
    pages: Iterable[Page],
    *,
    title: str,
    description: str,
    sign: bool = False,
) -> WaczSignature | None:
    """Write ``out`` (must not exist) holding ``warc`` under ``archive/``.

    With ``sign``, ``datapackage-digest.json`` carries an anonymous WACZ signature
    (:mod:`archiver.prr.wacz_sign`), which is returned so the export can bind its public key
    into the signed package."""
    archive_name = f"archive/{warc.name}"
    index = ("\n".join(cdxj_lines(entries, warc.name)) + "\n").encode("utf-8")
    header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    page_lines = [json.dumps(header)]
    for p in pages:
        page_lines.append(json.dumps({"id": p.page_id, "url": p.url, "ts": p.ts, "title": p.title}))
    pages_bytes = ("\n".join(page_lines) + "\n").encode("utf-8")
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = datetime.now(UTC).timetuple()[:6]
    resources = []
    with zipfile.ZipFile(out, "x", allowZip64=True) as z:
        info = zipfile.ZipInfo(archive_name, stamp)
        info.compress_type = zipfile.ZIP_STORED
        h = hashlib.sha256()
        size = 0
        with warc.open("rb") as src, z.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        resources.append(
            {
                "name": warc.name.lower(),
                "path": archive_name,
                "hash": "sha256:" + h.hexdigest(),
                "bytes": size,
            }
        )
        for name, data in (("indexes/index.cdx", index), ("pages/pages.jsonl", pages_bytes)):
            zi = zipfile.ZipInfo(name, stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
            resources.append(
                {
                    "name": name.rsplit("/", 1)[1].lower(),
                    "path": name,
                    "hash": _sha256(data),
                    "bytes": len(data),
                }
            )
        package = {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "description": description,
            "created": created,
            "wacz_version": WACZ_VERSION,
            "software": f"muni-archiver/{__version__}",
        }
        package_bytes = json.dumps(package, indent=2).encode("utf-8")
        zi = zipfile.ZipInfo("datapackage.json", stamp)
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, package_bytes)
        digest: dict[str, object] = {"path": "datapackage.json", "hash": _sha256(package_bytes)}
        signature = None
        if sign:
            signature = sign_hash(
                _sha256(package_bytes),
                created=created,
                software="muni-archiver",
                version=__version__,
            )
            digest["signedData"] = signature.signed_data
        zi = zipfile.ZipInfo("datapackage-digest.json", stamp)
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, json.dumps(digest, indent=2).encode("utf-8"))
    return signature
