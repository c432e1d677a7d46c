"""``WarcSink.write_exchange`` serialises response, revisit and request records itself (issue 14
part 5: warcio's generic record builder cost as much CPU as the fetch). These hold its bytes
equal to what warcio writes for the same exchange, field for field and in the same order, so
every reader of our WARCs (warcio, pywb, the export's CDX, ``verify``) sees no difference.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from archiver import warc
from archiver.model import WarcRef
from archiver.warc import RevisitTarget, WarcSink, WrittenRecord

DATES = ["2026-12-05T08:00:00.123456Z", "2026-12-05T08:00:01Z"]
REQUEST = [("Host", "social.example"), ("Authorization", "Bearer REDACTED")]


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Restarts the record ids and dates both writers draw, so both get the same ones."""

    def reset() -> None:
        ids = (uuid.UUID(int=n) for n in itertools.count(1))
        dates = itertools.cycle(DATES)
        monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
        monkeypatch.setattr(warc, "_warc_date", lambda: next(dates))
        monkeypatch.setattr(
            RecordBuilder, "_make_warc_date", classmethod(lambda cls, **_: next(dates))
        )

    reset()
    return reset


def _warcio_exchange(kw: dict[str, Any]) -> bytes:
    """The records as the previous, warcio-built ``write_exchange`` wrote them."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
    body: bytes = kw["body"]
    digest = kw.get("digest") or warc.payload_digest(body)
    http = StatusAndHeaders(kw["status_line"], list(kw["response_headers"]), protocol="HTTP/1.1")
    revisit: RevisitTarget | None = kw.get("revisit_of")
    extra = dict(kw.get("warc_headers") or {})
    if revisit is not None:
        record = writer.create_revisit_record(
            kw["uri"],
            digest,
            revisit.target_uri,
            revisit.warc_date,
            http_headers=http,
            warc_headers_dict={"WARC-Refers-To": revisit.record_id, **extra},
        )
    else:
        rec_headers = writer._init_warc_headers(kw["uri"], "response", extra)
        rec_headers.add_header("WARC-Payload-Digest", digest)
        record = writer.create_warc_record(
            kw["uri"],
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers=rec_headers,
        )
    writer.write_record(record)
    req = writer.create_warc_record(
        kw["uri"],
        "request",
        payload=io.BytesIO(b""),
        length=0,
        http_headers=StatusAndHeaders(
            kw["request_line"], list(REQUEST), is_http_request=True, protocol="HTTP/1.1"
        ),
        warc_headers_dict={"WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")},
    )
    writer.write_record(req)
    return gzip.decompress(out.getvalue())


CASES: dict[str, dict[str, Any]] = {
    "json page": {
        "uri": "https://social.example/api/v1/accounts/1/statuses?limit=40",
        "request_line": "GET /api/v1/accounts/1/statuses?limit=40 HTTP/1.1",
        "status_line": "200 OK",
        "status": 200,
        "response_headers": [("Content-Type", "application/json"), ("Content-Length", "17")],
        "body": b'[{"id": "1", "x": 2}]',
    },
    "truncated, masked, digest given": {
        "uri": "https://social.example/api/v1/statuses/9/context",
        "request_line": "GET /api/v1/statuses/9/context HTTP/1.1",
        "status_line": "200 OK",
        "status": 200,
        "response_headers": [("Content-Type", "application/json")],
        "body": b"{" * 100,
        "digest": warc.payload_digest(b"{" * 100),
        "warc_headers": {"WARC-Truncated": "length", warc.__name__ + "-Note": "masked 1"},
    },
    "revisit": {
        "uri": "https://social.example/api/v1/accounts/1",
        "request_line": "GET /api/v1/accounts/1 HTTP/1.1",
        "status_line": "200 OK",
        "status": 200,
        "response_headers": [("Content-Type", "application/json"), ("ETag", '"abc"')],
        "body": b'{"id": "1"}',
        "revisit_of": RevisitTarget(
            "<urn:uuid:00000000-0000-0000-0000-0000000000ff>",
            "https://social.example/api/v1/accounts/1",
            "2026-12-01T00:00:00Z",
            "older-bundle",
        ),
    },
    "non-ASCII header, no reason phrase": {
        "uri": "https://cdn.example/media/1.jpg",
        "request_line": "GET /media/1.jpg HTTP/1.1",
        "status_line": "404",
        "status": 404,
        "response_headers": [("Content-Disposition", "inline; filename=café.jpg"), ("X", "ü")],
        "body": b"",
    },
    "large media body": {
        "uri": "https://cdn.example/media/2.mp4",
        "request_line": "GET /media/2.mp4 HTTP/1.1",
        "status_line": "200 OK",
        "status": 200,
        "response_headers": [("Content-Type", "video/mp4")],
        "body": bytes(range(256)) * 5000,  # over the size joined into one compress call
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_exchange_records_are_the_bytes_warcio_writes(
    tmp_path: Path, fixed_ids: Callable[[], None], case: str
) -> None:
    kw = CASES[case]
    written: list[WrittenRecord] = []
    sink = WarcSink(tmp_path, "posts", info={"operator": "City"}, on_record=written.append)
    warcinfo_end: list[int] = []
    sink._ensure_open()
    warcinfo_end.append(sink._fh.tell())  # type: ignore[union-attr]
    fixed_ids()
    ref = sink.write_exchange(request_headers=REQUEST, **kw)
    sink.close()
    fixed_ids()
    expected = _warcio_exchange(kw)
    data = (tmp_path / "posts-00000.warc.gz").read_bytes()
    ours = gzip.decompress(data[warcinfo_end[0] :])
    assert ours == expected

    # What the bundle indexes: each record is one gzip member at its offset, and warcio
    # reads it back as the record type, id and target the index says.
    response, request = written[-2:]
    assert ref == response.ref
    assert request.concurrent_to == response.ref.record_id
    for rec in (response, request):
        member = data[rec.ref.offset : rec.ref.offset + rec.ref.length]
        (parsed,) = list(ArchiveIterator(io.BytesIO(member)))
        assert parsed.rec_type == rec.ref.record_type
        assert parsed.rec_headers.get_header("WARC-Record-ID") == rec.ref.record_id
        assert parsed.rec_headers.get_header("WARC-Target-URI") == kw["uri"]
        assert parsed.rec_headers.get_header("WARC-Date") == rec.warc_date
    assert response.ref.record_type == ("revisit" if "revisit_of" in kw else "response")
    assert response.payload_digest == warc.payload_digest(kw["body"])
    assert isinstance(response.ref, WarcRef) and response.http_status == kw["status"]


def test_record_dates_have_warcio_s_warc_1_1_form() -> None:
    """UTC, microseconds when not zero, a literal ``Z``: what warcio writes for WARC/1.1 (the
    test above draws both writers' dates from one list, so this is checked on its own)."""
    form = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")
    ours = warc._warc_date()
    theirs = RecordBuilder(warc_version="WARC/1.1").curr_warc_date()
    assert form.fullmatch(ours) and form.fullmatch(theirs), (ours, theirs)
    assert abs(iso_date_to_datetime(ours) - iso_date_to_datetime(theirs)).total_seconds() < 5
