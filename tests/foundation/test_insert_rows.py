"""``ingest.insert_rows``: the catalog's bulk inserts, straight to the SQLite driver (issue 14
part 5). It must store exactly what ``conn.execute(table.insert(), rows)`` stores: bind
processors applied (a Boolean is 0/1), and Python-side defaults filled for columns the rows
leave out (by SQLAlchemy's own path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.catalog import schema as s
from archiver.catalog.ingest import insert_rows
from archiver.catalog.store import Catalog


def _item(n: int, *, by_owner: bool) -> dict[str, Any]:
    return {
        "site_id": "city",
        "platform_id": f"p{n}",
        "record_class": "posts",
        "kind": "post",
        "by_owner": by_owner,
        "first_captured_at": "2026-12-05T08:00:00+00:00",
        "last_seen_at": "2026-12-05T08:00:00+00:00",
        "last_seen_run": "run-1",
        "current_version": 1,
        "current_hash": f"{n:064x}",
    }


def _stored(catalog: Catalog, table: Any, *columns: str) -> list[tuple[Any, ...]]:
    with catalog.begin() as conn:
        rows = conn.execute(select(*(table.c[c] for c in columns)).order_by(table.c.id))
        return [tuple(r) for r in rows]


def test_insert_rows_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    fast = Catalog(f"sqlite:///{tmp_path / 'fast.sqlite'}")
    plain = Catalog(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    items = [_item(1, by_owner=True), _item(2, by_owner=False), _item(3, by_owner=True)]
    # item_versions rows without media_json, hidden and extra_json: those have defaults.
    versions = [
        {
            "item_id": n,
            "version": 1,
            "content_hash": f"{n:064x}",
            "text": f"text {n} \N{SNOWMAN}",
            "captured_at": "2026-12-05T08:00:00+00:00",
            "run_id": "run-1",
            "bundle_id": "b1",
            "warc_file": "posts-00000.warc.gz",
            "warc_offset": 100 * n,
            "warc_length": 50,
            "warc_record_id": f"<urn:uuid:{n}>",
            "warc_type": "response",
        }
        for n in (1, 2, 3)
    ]
    try:
        for catalog, insert in (
            (fast, lambda conn, table, rows: insert_rows(conn, table, rows)),
            (plain, lambda conn, table, rows: conn.execute(table.insert(), rows)),
        ):
            with catalog.begin() as conn:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.execute(
                    s.sites.insert().values(
                        id="city", platform="mastodon", account="c", created_at="2026"
                    )
                )
                insert(conn, s.items, items)
                insert(conn, s.item_versions, versions)
        with fast.begin() as conn:
            insert_rows(conn, s.items, [])  # no rows: nothing (SQLAlchemy would insert one)
        item_cols = ("id", "platform_id", "by_owner", "current_hash", "removal_state")
        version_cols = ("item_id", "text", "media_json", "hidden", "extra_json", "warc_offset")
        assert _stored(fast, s.items, *item_cols) == _stored(plain, s.items, *item_cols)
        assert _stored(fast, s.item_versions, *version_cols) == _stored(
            plain, s.item_versions, *version_cols
        )
        assert [r[2] for r in _stored(fast, s.items, *item_cols)] == [True, False, True]
        assert {r[2:5] for r in _stored(fast, s.item_versions, *version_cols)} == {
            ("[]", False, "{}")
        }
        with fast.begin() as conn:  # stored as SQLite integers, as SQLAlchemy stores them
            raw = conn.exec_driver_sql("SELECT typeof(by_owner), by_owner FROM items").all()
        assert [tuple(r) for r in raw] == [("integer", 1), ("integer", 0), ("integer", 1)]
    finally:
        fast.close()
        plain.close()
