"""Bundle format 4 stores a WARC record id as 16 bytes and a WARC-Date as microseconds only
when the reader's SQL gives back exactly the same text (``archiver.bundle_compact``). The two
conversions were made cheaper (issue 14 part 5: every record of a bundle passes them at
sealing); these hold them to the previous, parse-and-print definitions on every kind of
value, the odd ones included, and check the round trip through the reader's SQL itself."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from archiver.bundle_compact import _date_int, _rid_blob, date_sql, rid_sql

_PREFIX = "<urn:uuid:"


def _rid_reference(value: str | None) -> bytes | str | None:
    if value is None or not value.startswith(_PREFIX) or not value.endswith(">"):
        return value
    try:
        raw = uuid.UUID(value[len(_PREFIX) : -1]).bytes
    except ValueError:
        return value
    return raw if f"{_PREFIX}{uuid.UUID(bytes=raw)}>" == value else value


def _date_reference(value: str | None) -> int | str | None:
    if value is None or len(value) != 27 or not value.endswith("Z"):
        return value
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return value
    micros = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return micros if micros >= 0 else value


U = "0f0e7d1c-1b2a-4c3d-9e8f-123456789abc"
RIDS = [
    None,
    f"<urn:uuid:{U}>",
    "<urn:uuid:00000000-0000-4000-8000-000000000000>",
    f"<urn:uuid:{U.upper()}>",  # parses, but prints back in lower case: kept as text
    f"<urn:uuid:{U.replace('-', '')}>",  # no dashes: kept as text
    f"<urn:uuid:{{{U}}}>",  # braces
    f"<urn:uuid:urn:uuid:{U}>",
    f"<urn:uuid:{U[:-1]}>",
    f"<urn:uuid:{U[:-1]}g>",
    f"<urn:uuid:{U} >",
    f"<urn:uuid: {U}>",
    f"urn:uuid:{U}",
    f"<urn:x:{U}>",
    "<urn:uuid:>",
    "",
]
DATES = [
    None,
    "2026-12-05T05:42:12.354505Z",
    "1970-01-01T00:00:00.000000Z",
    "1969-12-31T23:59:59.999999Z",  # before 1970: kept as text
    "2026-12-05 05:42:12.354505Z",  # space separator
    "2026-12-05T05:42:12,354505Z",  # comma
    "2026-12-05T05:42:60.000000Z",  # leap second
    "2026-02-30T05:42:12.354505Z",
    "2026-12-05T05:42:12.354505z",
    "2026-12-05T05:42:12Z",  # WARC/1.0 form, no fraction
    "2026-12-05T05:42:12.3545Z",
    "2026-12-05T05:42:12.354505+00:00",
    "2026-12-05T05:42:12.35450Z0",
    "20261205T054212.354505000Z",
    "2026-12-0505:42:12.3545050Z",
    "+026-12-05T05:42:12.354505Z",
]


@pytest.mark.parametrize("value", RIDS)
def test_record_ids_convert_as_before(value: str | None) -> None:
    assert _rid_blob(value) == _rid_reference(value)


@pytest.mark.parametrize("value", DATES)
def test_warc_dates_convert_as_before(value: str | None) -> None:
    assert _date_int(value) == _date_reference(value)


def test_a_date_with_non_ascii_digits_stays_text() -> None:
    """strptime's ``\\d`` took "２026" (a full-width digit) for 2026, so the previous code
    stored a number that reads back as "2026-...": not the same text. Now it stays text."""
    value = "\N{FULLWIDTH DIGIT TWO}026-12-05T05:42:12.354505Z"
    assert isinstance(_date_reference(value), int)
    assert _date_int(value) == value


def test_what_is_stored_compactly_reads_back_as_the_same_text() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (rid, date)")
    values = [(_rid_blob(r), r) for r in RIDS] + [(_date_int(d), d) for d in DATES]
    stored = [(v, text) for v, text in values if isinstance(v, bytes | int)]
    assert len(stored) >= 4  # the canonical ones of each kind
    for v, text in stored:
        db.execute("DELETE FROM t")
        db.execute("INSERT INTO t VALUES (?, ?)", (v, v))
        back = db.execute(f"SELECT {rid_sql('rid')}, {date_sql('date')} FROM t").fetchone()
        assert back[0 if isinstance(v, bytes) else 1] == text
