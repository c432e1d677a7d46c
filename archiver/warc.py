"""Write WARC/1.1 files, one gzip member per record, and say where each record landed.

The offset and length returned for every record let the catalog point a clerk (and an export)
straight at the original bytes without re-reading the whole file. Identical payloads for the
same URL are written as ``revisit`` records (identical-payload-digest profile) so re-harvesting
an unchanged account costs a few hundred bytes per request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from archiver import __version__
from archiver.model import WarcRef

if TYPE_CHECKING:
    from warcio.warcwriter import WARCWriter

# warcio is imported where records are written: this module is reached from the storage and
# bundle code that every command loads (``archiver status`` writes no WARC; issue 14 part 2).

# warcio compresses at zlib level 9; level 6 keeps nearly the same size (JSON pages) at a
# fraction of the CPU, and compression was the largest share of harvest CPU after the network.
GZIP_LEVEL = 6


def gzip_member(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """One complete gzip member (what warcio writes per record, so readers see no difference)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest warcio would compute (sha1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


class _GzipMember:
    """The file-like warcio writes one record to: compressed on the fly, one gzip member per
    record (what warcio itself writes with ``gzip=True``, at our compression level)."""

    def __init__(self) -> None:
        self._fh: BinaryIO | None = None
        self._z: Any = None

    def begin(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)

    def write(self, data: bytes) -> int:
        assert self._fh is not None and self._z is not None
        out = self._z.compress(data)
        if out:
            self._fh.write(out)
        return len(data)

    def flush(self) -> None:
        """warcio flushes after each record; the member is finished by ``end``."""

    def end(self) -> None:
        assert self._fh is not None and self._z is not None
        self._fh.write(self._z.flush())
        self._fh = None
        self._z = None


@dataclass(frozen=True, slots=True)
class RevisitTarget:
    """The original response an identical payload refers to."""

    record_id: str
    target_uri: str
    warc_date: str
    bundle_id: str | None  # None: in the bundle being written now


@dataclass(frozen=True, slots=True)
class WrittenRecord:
    """What the bundle keeps about every record it holds."""

    ref: WarcRef
    warc_date: str
    payload_digest: str | None
    http_status: int | None
    refers_to: RevisitTarget | None
    concurrent_to: str | None


class WarcSink:
    """Appends records to ``<dir>/<prefix>-NNNNN.warc.gz`` files, rotating at ``max_bytes``."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        *,
        info: dict[str, str],
        on_record: Callable[[WrittenRecord], None],
        max_bytes: int = 1_000_000_000,
        bundle_id: str = "",
    ) -> None:
        self.bundle_id = bundle_id
        self.directory = directory
        self.prefix = prefix
        self.info = info
        self.on_record = on_record
        self.max_bytes = max_bytes
        self._index = -1
        self._fh: BinaryIO | None = None
        # warcio serialises each record into this, which compresses it straight into the file
        # as one gzip member, so the offset and length of every record are known exactly and a
        # large body is never held twice more (uncompressed record, compressed member).
        self._member = _GzipMember()
        self._writer: WARCWriter | None = None
        self._name = ""
        self.files: list[str] = []

    def _open_next(self) -> None:
        self.close()
        self._index += 1
        self._name = f"{self.prefix}-{self._index:05d}.warc.gz"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fh = (self.directory / self._name).open("xb")
        from warcio.warcwriter import WARCWriter

        self._writer = WARCWriter(self._member, gzip=False, warc_version="WARC/1.1")
        info = {
            "software": f"muni-archiver/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
        }
        info.update(self.info)
        record = self._writer.create_warcinfo_record(self._name, info)
        self._write(record, status=None, digest=None, refers_to=None, concurrent_to=None)
        self.files.append(self._name)

    def _ensure_open(self) -> WARCWriter:
        if self._writer is None or self._fh is None or self._fh.tell() >= self.max_bytes:
            self._open_next()
        assert self._writer is not None
        return self._writer

    def _write(
        self,
        record: object,
        *,
        status: int | None,
        digest: str | None,
        refers_to: RevisitTarget | None,
        concurrent_to: str | None,
    ) -> WarcRef:
        assert self._fh is not None and self._writer is not None
        offset = self._fh.tell()
        self._member.begin(self._fh)
        self._writer.write_record(record)
        self._member.end()
        length = self._fh.tell() - offset
        headers = record.rec_headers  # type: ignore[attr-defined]
        ref = WarcRef(
            warc_file=self._name,
            offset=offset,
            length=length,
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=headers.get_header("WARC-Type"),
            target_uri=headers.get_header("WARC-Target-URI") or "",
            bundle_id=self.bundle_id,
        )
        self.on_record(
            WrittenRecord(
                ref=ref,
                warc_date=headers.get_header("WARC-Date"),
                payload_digest=digest,
                http_status=status,
                refers_to=refers_to,
                concurrent_to=concurrent_to,
            )
        )
        return ref

    def write_exchange(
        self,
        *,
        uri: str,
        request_line: str,
        request_headers: Iterable[tuple[str, str]],
        status_line: str,
        status: int,
        response_headers: Iterable[tuple[str, str]],
        body: bytes,
        revisit_of: RevisitTarget | None = None,
        digest: str | None = None,
        warc_headers: Mapping[str, str] | None = None,
    ) -> WarcRef:
        """Write a response (or revisit) and its request; return the response's location.

        ``warc_headers``: extra named fields for the response record (``WARC-Truncated``, a
        masking note); warcio computes the digests over ``body`` as written.
        """
        from warcio.statusandheaders import StatusAndHeaders

        writer = self._ensure_open()
        digest = digest or payload_digest(body)
        http_headers = StatusAndHeaders(status_line, list(response_headers), protocol="HTTP/1.1")
        if revisit_of is not None:
            record = writer.create_revisit_record(
                uri,
                digest,
                revisit_of.target_uri,
                revisit_of.warc_date,
                http_headers=http_headers,
                # warcio adds WARC-Profile itself (the 1.1 identical-payload-digest profile).
                warc_headers_dict={"WARC-Refers-To": revisit_of.record_id, **(warc_headers or {})},
            )
        else:
            # The payload digest is known (the dedup lookup needed it): given to warcio in
            # the headers it would build, in the same order, so it does not hash the body a
            # second time (issue 14 part 5). warcio still computes the block digest.
            rec_headers = writer._init_warc_headers(uri, "response", dict(warc_headers or {}))
            rec_headers.add_header("WARC-Payload-Digest", digest)
            record = writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers=rec_headers,
            )
        ref = self._write(
            record, status=status, digest=digest, refers_to=revisit_of, concurrent_to=None
        )
        req_headers = StatusAndHeaders(
            request_line, list(request_headers), is_http_request=True, protocol="HTTP/1.1"
        )
        request = writer.create_warc_record(
            uri,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=req_headers,
            warc_headers_dict={"WARC-Concurrent-To": ref.record_id},
        )
        self._write(request, status=None, digest=None, refers_to=None, concurrent_to=ref.record_id)
        return ref

    def write_metadata(self, uri: str, content: bytes, content_type: str) -> WarcRef:
        """Notes about the capture itself (e.g. a skipped oversize media file)."""
        writer = self._ensure_open()
        record = writer.create_warc_record(
            uri,
            "metadata",
            payload=io.BytesIO(content),
            length=len(content),
            warc_content_type=content_type,
        )
        return self._write(record, status=None, digest=None, refers_to=None, concurrent_to=None)

    def append_member(self, member: bytes, rec: WrittenRecord) -> WarcRef:
        """Append one record written earlier by another sink (a quiet fast-lane tick's
        exchange, kept in the spool as its exact gzip member): the bytes, its record id and
        WARC-Date are unchanged; only where it lives (this file, this offset) is new."""
        self._ensure_open()
        assert self._fh is not None
        offset = self._fh.tell()
        self._fh.write(member)
        ref = WarcRef(
            warc_file=self._name,
            offset=offset,
            length=len(member),
            record_id=rec.ref.record_id,
            record_type=rec.ref.record_type,
            target_uri=rec.ref.target_uri,
            bundle_id=self.bundle_id,
        )
        self.on_record(
            WrittenRecord(
                ref=ref,
                warc_date=rec.warc_date,
                payload_digest=rec.payload_digest,
                http_status=rec.http_status,
                refers_to=rec.refers_to,
                concurrent_to=rec.concurrent_to,
            )
        )
        return ref

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        self._fh = None
        self._writer = None
