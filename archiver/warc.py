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
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


HTTP_RESPONSE = "application/http; msgtype=response"
HTTP_REQUEST = "application/http; msgtype=request"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
EMPTY_DIGEST = payload_digest(b"")
# Bodies up to this size are joined with their record's head and compressed in one call.
_JOIN_BELOW = 1 << 18


def _sha1(*parts: bytes) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part)
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


def _warc_date() -> str:
    """WARC/1.1 ``WARC-Date``: UTC with microseconds (none shown when zero), as warcio's."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"


def _record_fields(record_type: str, uri: str, extra: dict[str, str]) -> list[tuple[str, str]]:
    """The leading WARC fields of a record, in warcio's order: the extra fields given, then
    type, record id, target URI and date (an extra field of the same name is replaced in
    place, as warcio does)."""
    fields = list(extra.items())
    lower = {k.lower(): i for i, (k, _) in enumerate(fields)}

    def put(name: str, value: str) -> None:
        at = lower.get(name.lower())
        if at is None:
            lower[name.lower()] = len(fields)
            fields.append((name, value))
        else:
            fields[at] = (fields[at][0], value)

    put("WARC-Type", record_type)
    if "warc-record-id" not in lower:
        put("WARC-Record-ID", f"<urn:uuid:{uuid.uuid4()}>")
    if uri:
        put("WARC-Target-URI", uri)
    if "warc-date" not in lower:
        put("WARC-Date", _warc_date())
    return fields


def _http_block(protocol: str, statusline: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The HTTP status (or request) line and headers as warcio stores them: ASCII, and a
    header value that is not ASCII percent-encoded by warcio itself (RFC 8187)."""
    pairs = list(headers)
    first = protocol + (" " if protocol and statusline else "") + statusline
    text = (first + "\r\n" if first else "") + "".join(f"{k}: {v}\r\n" for k, v in pairs)
    try:
        return text.encode("ascii") + b"\r\n"
    except UnicodeEncodeError:
        from warcio.statusandheaders import StatusAndHeaders

        block: bytes = StatusAndHeaders(statusline, pairs, protocol=protocol).to_ascii_bytes()
        return block


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
        masking note). ``digest``: the payload digest of ``body`` if the caller has it.

        These two records are most of what a harvest writes, so they are serialised here, not
        by warcio's record builder, whose generic path (header objects, two passes over the
        stream, a compression call per piece) cost as much CPU as the fetch itself (issue 14
        part 5). The bytes are exactly those warcio writes for the same exchange, fields in
        the same order (``tests/foundation/test_warc_records.py`` holds the two equal), and
        warcio still writes the ``warcinfo`` and ``metadata`` records.
        """
        self._ensure_open()
        digest = digest or payload_digest(body)
        block = _http_block("HTTP/1.1", status_line, response_headers)
        if revisit_of is not None:
            fields = _record_fields(
                "revisit",
                uri,
                {"WARC-Refers-To": revisit_of.record_id, **(warc_headers or {})},
            )
            fields += [
                ("WARC-Profile", REVISIT_PROFILE),
                ("WARC-Refers-To-Target-URI", revisit_of.target_uri),
                ("WARC-Refers-To-Date", revisit_of.warc_date),
                ("WARC-Payload-Digest", digest),
                ("WARC-Block-Digest", _sha1(block)),
                ("Content-Type", HTTP_RESPONSE),
                ("Content-Length", str(len(block))),
            ]
            payload = b""  # a revisit keeps the HTTP headers only
        else:
            fields = _record_fields("response", uri, dict(warc_headers or {}))
            fields += [
                ("WARC-Payload-Digest", digest),
                ("WARC-Block-Digest", _sha1(block, body)),
                ("Content-Type", HTTP_RESPONSE),
                ("Content-Length", str(len(block) + len(body))),
            ]
            payload = body
        ref = self._write_fields(
            fields, block, payload, status=status, digest=digest, refers_to=revisit_of
        )
        protocol, _, line = request_line.partition(" ")
        req_block = _http_block(protocol, line, request_headers)
        req_fields = _record_fields("request", uri, {"WARC-Concurrent-To": ref.record_id})
        req_fields += [
            ("WARC-Payload-Digest", EMPTY_DIGEST),
            ("WARC-Block-Digest", _sha1(req_block)),
            ("Content-Type", HTTP_REQUEST),
            ("Content-Length", str(len(req_block))),
        ]
        self._write_fields(
            req_fields, req_block, b"", status=None, digest=None, concurrent_to=ref.record_id
        )
        return ref

    def _write_fields(
        self,
        fields: list[tuple[str, str]],
        block: bytes,
        payload: bytes,
        *,
        status: int | None,
        digest: str | None,
        refers_to: RevisitTarget | None = None,
        concurrent_to: str | None = None,
    ) -> WarcRef:
        """One record as one gzip member: WARC fields, HTTP block, payload, two CRLFs."""
        assert self._fh is not None
        head = ("WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()
        offset = self._fh.tell()
        z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        if len(payload) <= _JOIN_BELOW:
            self._fh.write(z.compress(b"".join((head, block, payload, b"\r\n\r\n"))))
        else:  # a large media body is not copied once more
            self._fh.write(z.compress(head + block))
            self._fh.write(z.compress(payload))
            self._fh.write(z.compress(b"\r\n\r\n"))
        self._fh.write(z.flush())
        named = dict(fields)
        ref = WarcRef(
            warc_file=self._name,
            offset=offset,
            length=self._fh.tell() - offset,
            record_id=named["WARC-Record-ID"],
            record_type=named["WARC-Type"],
            target_uri=named.get("WARC-Target-URI", ""),
            bundle_id=self.bundle_id,
        )
        self.on_record(
            WrittenRecord(
                ref=ref,
                warc_date=named["WARC-Date"],
                payload_digest=digest,
                http_status=status,
                refers_to=refers_to,
                concurrent_to=concurrent_to,
            )
        )
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
