"""Search answers newest posted first with early termination (issue 14 part 3).

A query with many matches walks items newest-first and stops at the limit; one with few is
sorted. Either way the page must be exactly the first rows of the full, sorted answer, with
filters applied, on SQLite (FTS5) and PostgreSQL. Speed is measured by
``bench/search_export.py``, not here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from archiver import search as search_module
from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.search import SearchFilters, search

N = 240


def _fill(catalog: Catalog) -> None:
    rng = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start.isoformat()
    with catalog.begin() as conn:
        for site in ("east", "west"):
            conn.execute(
                insert(s.sites).values(
                    id=site, platform="mastodon", account=site, department="Parks",
                    base_url="https://mastodon.example", created_at=now,
                )
            )  # fmt: skip
        conn.execute(
            insert(s.bundles).values(
                id="b", key="east/2026/b", site_id="east", run_id="run", record_class="posts",
                storage="local", started_at=now, sealed_at=now, cataloged_at=now,
                tagmanifest_sha256="0" * 64, size_bytes=1, file_count=1, record_count=N,
                status="sealed",
            )
        )  # fmt: skip
        items, versions = [], []
        vid = 0
        for n in range(N):
            # Posted times shuffled against ids and some equal, so order cannot come from ids.
            posted = (start + timedelta(hours=rng.randrange(N // 2))).isoformat()
            current = 1 + (n % 3 == 0)
            items.append(
                dict(id=n + 1, site_id=("east", "west")[n % 2], platform_id=str(n),
                     record_class="posts", kind=("post", "comment", "message")[n % 7 % 3],
                     author_handle=f"user{n % 4}", author_id=f"u{n % 4}", by_owner=False,
                     posted_at=posted, first_captured_at=now, last_seen_at=now,
                     last_seen_run="run", current_version=current, current_hash="h")
            )  # fmt: skip
            for version in range(1, current + 1):
                vid += 1
                words = ["snow"] if n % 2 or version == 2 else ["rain"]
                words += ["plow"] if n % 5 == 0 else []
                versions.append(
                    dict(id=vid, item_id=n + 1, version=version, content_hash=f"h{vid}",
                         text=" ".join([*words, f"word{n}"]), media_json="[]", hidden=False,
                         extra_json="{}", captured_at=now, run_id="run", bundle_id="b",
                         warc_file="w", warc_offset=0, warc_length=1, warc_record_id="r",
                         warc_type="response")
                )  # fmt: skip
        conn.execute(insert(s.items), items)
        conn.execute(insert(s.item_versions), versions)
        if catalog.dialect == "sqlite":
            conn.execute(text("INSERT INTO item_versions_fts(item_versions_fts) VALUES('rebuild')"))


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Catalog]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/catalog.sqlite"
    else:
        url = request.getfixturevalue("pg_url")
    cat = Catalog(url)
    _fill(cat)
    yield cat
    cat.close()


FILTERS = [
    SearchFilters(),
    SearchFilters(site="west"),
    SearchFilters(since=date(2026, 1, 2), until=date(2026, 1, 4), tz="UTC"),
    SearchFilters(kinds=("comment",)),
    SearchFilters(all_versions=True),
    SearchFilters(author="user1"),
    SearchFilters(include_removed=False, kinds=("message", "post")),
]


@pytest.mark.parametrize("walk_from", [1, 10**9], ids=["walk", "sort"])
@pytest.mark.parametrize("query", ["snow", "snow plow", "rain", "word17", "nothing"])
def test_a_page_is_the_head_of_the_full_sorted_answer(
    catalog: Catalog, query: str, walk_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # walk_from=1: every query with a match takes the newest-first walk; 10**9: none does.
    monkeypatch.setattr(search_module, "_break_even", lambda _limit, _items: walk_from)
    for filters in FILTERS:
        everything = search(catalog, query, filters, limit=None)
        keys = [(-_ts(r["posted_at"]), r["item_id"], r["version"]) for r in everything]
        assert keys == sorted(keys), "the full answer is newest posted first"
        for limit in (1, 7, 50, 1000):
            page = search(catalog, query, filters, limit=limit)
            assert page == everything[:limit], (query, filters, limit)
    if query != "nothing":
        assert search(catalog, query, SearchFilters(), limit=5)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def test_few_and_many_matches_take_different_plans(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan switch is real: with a break-even of 50 matches, "snow" (many) walks and
    "word17" (one) is sorted from the match list read once."""
    if catalog.dialect != "sqlite":
        pytest.skip("PostgreSQL plans the ids-first query itself")
    monkeypatch.setattr(search_module, "_break_even", lambda _limit, _items: 50)
    with catalog.begin() as conn:
        assert search_module._few_matches(conn, '"snow"', 100) is None
        assert search_module._few_matches(conn, '"word17"', 100) == [
            r[0]
            for r in conn.execute(text("SELECT id FROM item_versions WHERE text LIKE '%word17'"))
        ]
