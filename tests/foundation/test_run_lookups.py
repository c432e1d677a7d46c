"""The catalog questions a harvest asks for every response (``Catalog.run_lookups``).

They run over one connection held for the whole run (and, on SQLite, straight on the driver),
so these check what that must not change: only a *sealed* bundle's payload is an original a
revisit may point at, the answers are per site, and no read transaction is left open between
questions (a SQLite checkpoint would be held back for the length of a harvest).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.catalog import schema as s
from archiver.catalog.store import Catalog, uri_hash

URI = "https://social.example/api/v1/statuses/1"


def _catalog(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Catalog:
    if backend == "sqlite":
        return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    return Catalog(request.getfixturevalue("pg_url"))


def _bundle(bundle_id: str, status: str) -> dict[str, object]:
    return {
        "id": bundle_id,
        "key": f"city/2026/{bundle_id}",
        "site_id": "city",
        "run_id": "run-1",
        "record_class": "posts",
        "storage": "local",
        "started_at": "2026-12-05T08:00:00+00:00",
        "sealed_at": "2026-12-05T08:01:00+00:00",
        "cataloged_at": "2026-12-05T08:01:00+00:00",
        "tagmanifest_sha256": "0" * 64,
        "size_bytes": 1,
        "file_count": 1,
        "record_count": 1,
        "status": status,
    }


def _payload(bundle_id: str, digest: str, record_id: str) -> dict[str, object]:
    return {
        "site_id": "city",
        "uri_hash": uri_hash(URI),
        "payload_digest": digest,
        "target_uri": URI,
        "record_id": record_id,
        "warc_date": "2026-12-05T08:00:30Z",
        "bundle_id": bundle_id,
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_run_lookups_answer_from_sealed_bundles_only_and_hold_no_transaction(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    catalog = _catalog(tmp_path, backend, request)
    try:
        with catalog.begin() as conn:
            conn.execute(
                s.sites.insert().values(
                    id="city", platform="mastodon", account="city", created_at="2026-12-05"
                )
            )
            conn.execute(s.bundles.insert(), [_bundle("b-sealed", "sealed")])
            conn.execute(s.bundles.insert(), [_bundle("b-disposed", "disposed")])
            conn.execute(
                s.payload_index.insert(),
                [
                    _payload("b-sealed", "sha1:AAAA", "<urn:uuid:kept>"),
                    _payload("b-disposed", "sha1:BBBB", "<urn:uuid:destroyed>"),
                ],
            )
        with catalog.run_lookups("city") as lookups:
            hit = lookups.find_original(URI, "sha1:AAAA")
            assert hit is not None
            assert (hit.record_id, hit.target_uri, hit.bundle_id) == (
                "<urn:uuid:kept>",
                URI,
                "b-sealed",
            )
            # A disposed bundle's payload is gone: a revisit must not point at it.
            assert lookups.find_original(URI, "sha1:BBBB") is None
            assert lookups.find_original(URI + "?page=2", "sha1:AAAA") is None
            assert lookups.uri_seen(URI) and not lookups.uri_seen(URI + "?page=2")
            # Between questions the held connection is in no transaction: a writer of the
            # same catalog (the run's own bookkeeping, another process) commits meanwhile.
            assert not lookups._conn.in_transaction()
            if backend == "sqlite":
                assert not lookups._raw.in_transaction
            with catalog.begin() as conn:
                conn.execute(s.bundles.update().values(status="disposed"))
            assert lookups.find_original(URI, "sha1:AAAA") is None
        with catalog.run_lookups("other-site") as lookups:
            assert lookups.find_original(URI, "sha1:AAAA") is None
            assert not lookups.uri_seen(URI)
        # The one-off forms answer the same.
        assert catalog.find_original("city", URI, "sha1:AAAA") is None
        assert catalog.uri_seen("city", URI)
    finally:
        catalog.close()
