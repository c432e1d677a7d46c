"""The bundle format version: the one place that decides whether this code can read a bundle.

Every bundle's ``data/records.sqlite`` carries ``bundle_info.schema_version`` (written by
:mod:`archiver.bundle`). Sealed bundles are kept for decades and never rewritten, so every
reader of ``records.sqlite`` opens it through :func:`open_records`, which reads that version and
hands back a connection presenting the layout of :data:`CURRENT_VERSION`: for an older version a
per-version adapter in :data:`_READERS` makes up the difference, a newer one is refused with a
one-line :class:`~archiver.errors.BundleError` instead of being half understood.

Versions ever written (check ``git log -p -- archiver/bundle.py`` before adding one):

1. release 0.1.0: ``bundle_info``, ``warc_records``, ``items``, ``followers``,
   ``follower_counts``, ``sweeps``, ``bookmarks``, ``unparseable``, ``degradations``.
2. fast lane (issue 13) and capture coverage (issue 11): adds ``live_removals`` (deletions
   reported live by a stream or webhook: platform_id, reported_at, detail, WARC location of
   the event) and ``coverage`` (reported vs captured counts: scope, thread_platform_id,
   reported, captured, reason). A version 1 bundle is presented with both tables empty.
3. change-proportional storage (issue 14): adds ``seen`` (an item the catalog already held in
   exactly this version: record_class, platform_id, content_hash and the WARC record, response
   or revisit, that showed it; its text is not copied again) and ``follower_diffs`` (event
   followed/unfollowed, platform_id, handle, display_name, url, WARC location of the page
   that showed a new follower), and the ``bundle_info`` keys ``followers_form``
   (checkpoint | diff | partial), ``followers_checkpoint`` and ``followers_previous`` (the
   bundles a diff extends). The database uses 1 KiB pages and holds only the tables that
   have rows (an empty table is presented empty by :func:`ensure_tables`). A version 1 or 2
   bundle is presented with both tables empty and no ``followers_form`` (its list is whole
   or partial, as its sweeps say).

4. compact index (issue 14): ``warc_records`` and ``seen`` are stored as ``strings``,
   ``warc_index`` and ``seen_index`` (every repeated string once, record ids and content
   hashes as bytes; :mod:`archiver.bundle_compact`), ``bundle_info`` and ``bookmarks`` are
   ``WITHOUT ROWID`` tables, and a small database uses 512-byte pages. The same facts as
   format 3: the reader presents both tables in the format 3 layout (TEMP tables), so the
   current layout is still format 3's, and a format 3 bundle is read as it is.
5. smaller fixed cost per bundle (issue 14): ``seen_index.platform_id`` has no column type and
   holds a decimal id as an integer (8 bytes instead of 18-19 characters, only when it reads
   back as the same text; others stay text), and every table's SQL text in ``sqlite_master``
   is written without layout whitespace (the schema fills the first pages of every small
   bundle). Same tables, columns and facts: the format 4 reader presents both (it turns an
   integer id back into its text, a no-op on format 4's text ids).

A change to the layout written by ``bundle.py`` bumps ``BUNDLE_SCHEMA_VERSION`` there and adds
the new version here with an adapter for the old one, plus a committed fixture bundle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from archiver.bundle import BUNDLE_SCHEMA_VERSION, TABLE_SQL
from archiver.bundle_compact import expand
from archiver.errors import BundleError

CURRENT_VERSION = BUNDLE_SCHEMA_VERSION


def ensure_tables(db: sqlite3.Connection) -> sqlite3.Connection:
    """Present every table of the current layout: format 3 drops empty tables at sealing, so
    a table the bundle does not hold is created empty as a TEMP table (only where the sealed
    file has no table of that name: a TEMP table would hide it)."""
    have = {r[0] for r in db.execute("SELECT name FROM main.sqlite_master WHERE type='table'")}
    have |= {r[0] for r in db.execute("SELECT name FROM temp.sqlite_master WHERE type='table'")}
    for name, sql in TABLE_SQL.items():
        if name not in have:
            db.execute(sql.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
    return db


def _read_current(db: sqlite3.Connection) -> sqlite3.Connection:
    """Formats 4 and 5: the compact WARC index and seen rows presented in the format 3 layout
    (:func:`archiver.bundle_compact.expand`); tables dropped because they were empty are
    presented empty."""
    expand(db)
    return _read_v3(db)


def _read_v3(db: sqlite3.Connection) -> sqlite3.Connection:
    """Format 3: tables dropped because they were empty are presented empty."""
    return ensure_tables(db)


def _read_v2_as_v3(db: sqlite3.Connection) -> sqlite3.Connection:
    """Version 2 kept every item and follower read in full: present the version 3 tables
    empty (TEMP tables: the sealed file stays read-only and unchanged)."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS seen (record_class TEXT NOT NULL, platform_id TEXT NOT "
        "NULL, content_hash TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,"
        " warc_length INTEGER NOT NULL, warc_record_id TEXT NOT NULL, warc_type TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS follower_diffs (seq INTEGER PRIMARY KEY, event TEXT NOT "
        "NULL, platform_id TEXT NOT NULL, handle TEXT, display_name TEXT, url TEXT, warc_file "
        "TEXT, warc_offset INTEGER, warc_length INTEGER)"
    )
    return db


def _read_v1_as_v3(db: sqlite3.Connection) -> sqlite3.Connection:
    """Version 1 had no live removals and no coverage counts: present them empty (TEMP
    tables: the sealed file stays read-only and unchanged)."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS live_removals (platform_id TEXT NOT NULL, "
        "reported_at TEXT NOT NULL, detail TEXT NOT NULL, warc_file TEXT, warc_offset INTEGER, "
        "warc_length INTEGER)"
    )
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS coverage (scope TEXT NOT NULL, thread_platform_id TEXT, "
        "reported INTEGER NOT NULL, captured INTEGER NOT NULL, reason TEXT NOT NULL)"
    )
    return _read_v2_as_v3(db)


#: For each version this code reads: the adapter that presents it in the current layout.
_READERS: dict[int, Callable[[sqlite3.Connection], sqlite3.Connection]] = {
    1: _read_v1_as_v3,
    2: _read_v2_as_v3,
    3: _read_v3,
    4: _read_current,
    5: _read_current,
}
assert CURRENT_VERSION in _READERS, "bundle.py writes a version bundle_format cannot read"


def read_format(db: sqlite3.Connection, where: str) -> int:
    """The format version stated in an open ``records.sqlite`` (``where`` names it in errors)."""
    try:
        row = db.execute("SELECT value FROM bundle_info WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise BundleError(
            f"{where} is not a bundle records database: {exc}",
            hint="run `archiver verify` on it; it may be damaged or not made by this software",
        ) from exc
    if row is None:
        raise BundleError(
            f"{where} has no bundle format version (bundle_info.schema_version)",
            hint="it was not made by this software or is damaged; run `archiver verify`",
        )
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise BundleError(
            f"{where} has bundle format version {row[0]!r}, which is not a number",
            hint="it was not made by this software or is damaged; run `archiver verify`",
        ) from None


def check_format(db: sqlite3.Connection, where: str) -> sqlite3.Connection:
    """Refuse a version this code cannot read; adapt an older one to the current layout."""
    version = read_format(db, where)
    reader = _READERS.get(version)
    if reader is None:
        if version > CURRENT_VERSION:
            raise BundleError(
                f"{where} has format version {version}; this archiver reads up to "
                f"{CURRENT_VERSION}; upgrade the software",
            )
        raise BundleError(
            f"{where} has format version {version}, which no archiver ever wrote",
            hint="it was not made by this software or is damaged; run `archiver verify`",
        )
    return reader(db)


def open_records(path: Path, *, bundle: str | None = None) -> sqlite3.Connection:
    """Open a sealed (read-only) ``records.sqlite`` without creating journal files.

    ``bundle`` (an id or folder) names the bundle in errors; the path is used otherwise.
    """
    where = f"bundle {bundle}" if bundle else str(path)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise BundleError(f"cannot open {path}: {exc}", hint="run `archiver verify`") from exc
    db.row_factory = sqlite3.Row
    try:
        return check_format(db, where)
    except BaseException:
        db.close()
        raise
