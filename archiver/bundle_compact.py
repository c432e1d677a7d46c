"""Bundle format 4: the WARC index and the ``seen`` rows stored compactly, presented whole.

Why: a run that finds nothing new still reads dozens of pages, and format 3 kept, for every
WARC record, a ~450-byte index row (two UUID strings, the URL twice, the bundle id of the
original, the file name) and, for every item seen again, a ~220-byte row repeating the WARC
location of the page that showed it. Every one of those values is either in the WARC record
itself or repeated from a neighbouring row, so on WORM storage they were paid for again every
hour. Format 4 keeps exactly the same facts with each repeated string stored once:

* ``strings(id, value)``: every URL, WARC file name, record type, record class and bundle id
  the bundle's index uses, once;
* ``warc_index``: one row per WARC record (``warc_records`` of format 3), strings as ids into
  ``strings`` and ``urn:uuid`` record ids as their 16 bytes (any other id stays text);
* ``seen_index``: one row per item seen unchanged (``seen`` of format 3): the content hash
  as its 32 bytes and the record that showed it as the ``warc_index`` row id (an explicit
  location only if the record is not in this bundle's index).

:func:`compact` converts a bundle's tables at sealing; :func:`expand` (the format 4 reader,
see :mod:`archiver.bundle_format`) presents them as the format 3 ``warc_records`` and
``seen`` tables, in TEMP tables of the reading connection (the sealed file is not changed),
so no reader knows the difference. The expansion is pure SQL (``hex``, ``substr``, joins): a
reader without this software can recover every value with the statements below.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta

_UUID_PREFIX = "<urn:uuid:"


#: What ``str(uuid.UUID(...))`` gives: exactly the ids that round-trip through 16 bytes.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _rid_blob(value: str | None) -> bytes | str | None:
    """A WARC record id ``<urn:uuid:…>`` as its 16 bytes, if it round-trips exactly (the
    canonical lower-case form; matched, not parsed and printed again: every record of a
    bundle passes here at sealing)."""
    if value is None or not value.startswith(_UUID_PREFIX) or not value.endswith(">"):
        return value
    text = value[len(_UUID_PREFIX) : -1]
    if _CANONICAL_UUID.fullmatch(text) is None:
        return value
    return bytes.fromhex(text.replace("-", ""))


def _hash_blob(value: str) -> bytes | str:
    """A lower-case hex SHA-256 as its 32 bytes (anything else stays text)."""
    if len(value) == 64 and value == value.lower():
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value
    return value


def rid_sql(column: str) -> str:
    """SQL giving back the text record id of a ``warc_index`` id column."""
    h = f"lower(hex({column}))"
    parts = " || '-' || ".join(
        f"substr({h}, {start}, {n})" for start, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    )
    return f"CASE WHEN typeof({column}) = 'blob' THEN '{_UUID_PREFIX}' || {parts} || '>' ELSE {column} END"


def _id_int(value: str) -> int | str:
    """A platform id written in decimal digits (Mastodon, X, YouTube comment ids are not, but
    Mastodon's and X's are) as an integer, when it reads back as exactly the same text:
    8 bytes instead of 18-19 (format 5)."""
    if value.isascii() and value.isdigit() and value[0] != "0" and len(value) <= 19:
        number = int(value)
        if number < 1 << 63:
            return number
    return value


def id_sql(column: str) -> str:
    """SQL giving back the text platform id of a ``seen_index.platform_id``."""
    return f"CASE WHEN typeof({column}) = 'integer' THEN CAST({column} AS TEXT) ELSE {column} END"


def hash_sql(column: str) -> str:
    """SQL giving back the hex content hash of a ``seen_index.content_hash``."""
    return f"CASE WHEN typeof({column}) = 'blob' THEN lower(hex({column})) ELSE {column} END"


def tight_sql(sql: str) -> str:
    """SQL text as stored in ``sqlite_master`` with no layout whitespace: the schema is part of
    every small bundle's first pages (format 5; the tables and columns are the same)."""
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(", ", ",").replace(" )", ")")


COMPACT_SCHEMA = """
CREATE TABLE strings (id INTEGER PRIMARY KEY, base INTEGER, shared INTEGER, value TEXT NOT NULL);
CREATE TABLE warc_index (
  id INTEGER PRIMARY KEY, record_id NOT NULL, record_type INTEGER NOT NULL, target_uri INTEGER,
  warc_date, warc_file INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  payload_digest TEXT, http_status INTEGER, concurrent_to, refers_to_record_id,
  refers_to_uri INTEGER, refers_to_date, refers_to_bundle INTEGER);
CREATE TABLE seen_index (
  record_class INTEGER NOT NULL, platform_id NOT NULL, content_hash NOT NULL,
  warc INTEGER, warc_file INTEGER, warc_offset INTEGER, warc_length INTEGER, warc_record_id,
  warc_type INTEGER);
"""


#: The format 3 tables this module converts, as the run writes them (``archiver.bundle``).
_FORMAT_3 = {
    "warc_records": "CREATE TABLE warc_records (record_id TEXT PRIMARY KEY, record_type TEXT NOT"
    " NULL, target_uri TEXT, warc_date TEXT, warc_file TEXT NOT NULL, offset INTEGER NOT NULL,"
    " length INTEGER NOT NULL, payload_digest TEXT, http_status INTEGER, concurrent_to TEXT,"
    " refers_to_record_id TEXT, refers_to_uri TEXT, refers_to_date TEXT, refers_to_bundle TEXT)",
    "seen": "CREATE TABLE seen (record_class TEXT NOT NULL, platform_id TEXT NOT NULL,"
    " content_hash TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,"
    " warc_length INTEGER NOT NULL, warc_record_id TEXT NOT NULL, warc_type TEXT NOT NULL)",
}


class _Strings:
    """Interns strings; a string sharing a long prefix with an earlier whole one (the pages
    of one list differ only in their cursor) is stored as (that string, how many of its
    characters, the rest): one level, so the reader needs no recursion."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.stored: list[tuple[int, int | None, int | None, str]] = []
        self.whole: list[tuple[int, str]] = []  # the most recent strings stored whole

    def __call__(self, value: str | None) -> int | None:
        if value is None:
            return None
        found = self.ids.get(value)
        if found is not None:
            return found
        found = self.ids[value] = len(self.ids) + 1
        best, shared = None, 0
        for base_id, base in self.whole:
            n = _shared(base, value)
            if n > shared:
                best, shared = base_id, n
        if best is not None and shared >= MIN_SHARED:
            self.stored.append((found, best, shared, value[shared:]))
        else:
            self.stored.append((found, None, None, value))
            self.whole = [*self.whole[-(RECENT_WHOLE - 1) :], (found, value)]
        return found


def _shared(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` have in common."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


#: A prefix shorter than this is not worth a reference; the last this-many whole strings are
#: candidates (a bundle's URLs come in runs: one list's pages, one kind of thread read).
MIN_SHARED = 16
RECENT_WHOLE = 8


def _date_int(value: str | None) -> int | str | None:
    """A WARC-Date (``2026-12-05T05:42:12.354505Z``) as microseconds since 1970, if the SQL
    of :func:`date_sql` gives back exactly the same text."""
    if value is None or len(value) != 27 or not value.endswith("Z"):
        return value
    # fromisoformat (C) and an exact round trip, not strptime (Python, a regex per call):
    # the same texts are accepted, only ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
    try:
        naive = datetime.fromisoformat(value[:-1])
    except ValueError:
        return value
    if naive.tzinfo is not None or naive.isoformat(timespec="microseconds") + "Z" != value:
        return value
    micros = (naive.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
    return micros if micros >= 0 else value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def date_sql(column: str) -> str:
    """SQL giving back the WARC-Date text of a ``warc_index`` date column."""
    return (
        f"CASE WHEN typeof({column}) = 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', "
        f"{column} / 1000000, 'unixepoch') || printf('.%06dZ', {column} % 1000000) "
        f"ELSE {column} END"
    )


def compact(db: sqlite3.Connection) -> None:
    """Replace ``warc_records`` and ``seen`` (format 3 layout, as written during the run) by
    ``strings``, ``warc_index`` and ``seen_index``. Runs inside the sealing step, before VACUUM."""
    sid = _Strings()
    for name, sql in _FORMAT_3.items():  # a sealed format 3 bundle may lack an empty one
        if not _has(db, name):
            db.execute(sql)
    db.executescript(tight_sql(COMPACT_SCHEMA))
    index_rows = []
    where: dict[tuple[str, int], int] = {}
    strings_at = (1, 2, 4, 11, 13)  # record_type, target_uri, warc_file, refers_to_*
    ids_at = (0, 9, 10)  # record_id, concurrent_to, refers_to_record_id
    for n, row in enumerate(
        db.execute(
            "SELECT record_id, record_type, target_uri, warc_date, warc_file, offset, length,"
            " payload_digest, http_status, concurrent_to, refers_to_record_id, refers_to_uri,"
            " refers_to_date, refers_to_bundle FROM warc_records ORDER BY rowid"
        ),
        start=1,
    ):
        where.setdefault((row[4], row[5]), n)
        values: list[object] = list(row)
        for i in strings_at:
            values[i] = sid(row[i])
        for i in ids_at:
            values[i] = _rid_blob(row[i])
        for i in (3, 12):  # warc_date, refers_to_date
            values[i] = _date_int(row[i])
        index_rows.append((n, *values))
    db.executemany(f"INSERT INTO warc_index VALUES ({','.join('?' * 15)})", index_rows)
    seen_rows: list[tuple[object, ...]] = []
    for r in db.execute(
        "SELECT record_class, platform_id, content_hash, warc_file, warc_offset, warc_length,"
        " warc_record_id, warc_type FROM seen ORDER BY rowid"
    ):
        head = (sid(r[0]), _id_int(r[1]), _hash_blob(r[2]))
        at = where.get((r[3], r[4]))
        if at is not None:
            seen_rows.append((*head, at, None, None, None, None, None))
        else:  # not a record of this bundle's index: keep the location itself
            seen_rows.append((*head, None, sid(r[3]), r[4], r[5], _rid_blob(r[6]), sid(r[7])))
    db.executemany("INSERT INTO seen_index VALUES (?,?,?,?,?,?,?,?,?)", seen_rows)
    db.executemany("INSERT INTO strings VALUES (?, ?, ?, ?)", sid.stored)
    db.execute("DROP TABLE warc_records")
    db.execute("DROP TABLE seen")


def _has(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def expand(db: sqlite3.Connection) -> None:
    """Present ``warc_index``/``seen_index`` as the format 3 ``warc_records``/``seen`` (TEMP
    tables of this connection; a table the bundle dropped because it was empty stays absent,
    for :func:`archiver.bundle_format.ensure_tables` to present empty)."""

    def s(alias: str, column: str) -> str:
        return f"(SELECT value FROM temp.bundle_strings {alias} WHERE {alias}.id = {column})"

    if _has(db, "strings"):
        db.execute(
            "CREATE TEMP TABLE bundle_strings AS SELECT s.id AS id, CASE WHEN s.base IS NULL "
            "THEN s.value ELSE substr(b.value, 1, s.shared) || s.value END AS value "
            "FROM main.strings s LEFT JOIN main.strings b ON b.id = s.base"
        )
        db.execute("CREATE UNIQUE INDEX temp.bundle_strings_id ON bundle_strings(id)")

    if _has(db, "warc_index"):
        db.execute(
            "CREATE TEMP TABLE warc_records AS SELECT "
            f"{rid_sql('w.record_id')} AS record_id, {s('a', 'w.record_type')} AS record_type, "
            f"{s('b', 'w.target_uri')} AS target_uri, {date_sql('w.warc_date')} AS warc_date, "
            f"{s('c', 'w.warc_file')} AS warc_file, w.offset AS offset, w.length AS length, "
            "w.payload_digest AS payload_digest, w.http_status AS http_status, "
            f"{rid_sql('w.concurrent_to')} AS concurrent_to, "
            f"{rid_sql('w.refers_to_record_id')} AS refers_to_record_id, "
            f"{s('d', 'w.refers_to_uri')} AS refers_to_uri, {date_sql('w.refers_to_date')} AS refers_to_date, "
            f"{s('e', 'w.refers_to_bundle')} AS refers_to_bundle "
            "FROM main.warc_index w ORDER BY w.id"
        )
        db.execute("CREATE INDEX temp.warc_records_id ON warc_records(record_id)")
    if _has(db, "seen_index"):
        # Every seen row names its location itself when the bundle holds no WARC record (the
        # items were shown by records another class's bundle of the run wrote).
        index = (
            "main.warc_index"
            if _has(db, "warc_index")
            else "(SELECT NULL AS id, NULL AS offset, NULL AS length, NULL AS record_id,"
            " NULL AS record_type, NULL AS warc_file WHERE 0)"
        )
        db.execute(
            "CREATE TEMP TABLE seen AS SELECT "
            f"{s('a', 'x.record_class')} AS record_class, "
            f"{id_sql('x.platform_id')} AS platform_id, "
            f"{hash_sql('x.content_hash')} AS content_hash, "
            f"coalesce({s('b', 'w.warc_file')}, {s('c', 'x.warc_file')}) AS warc_file, "
            "coalesce(w.offset, x.warc_offset) AS warc_offset, "
            "coalesce(w.length, x.warc_length) AS warc_length, "
            f"coalesce({rid_sql('w.record_id')}, {rid_sql('x.warc_record_id')}) "
            "AS warc_record_id, "
            f"coalesce({s('d', 'w.record_type')}, {s('e', 'x.warc_type')}) AS warc_type "
            f"FROM main.seen_index x LEFT JOIN {index} w ON w.id = x.warc "
            "ORDER BY x.rowid"
        )
