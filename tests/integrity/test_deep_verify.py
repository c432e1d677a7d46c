"""``verify --deep``: the catalog is recomputed from the sealed records; each insider edit of
the catalog is found and named."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.integrity.conftest import Archive


def _deep(archive: Archive) -> tuple[int, dict[str, Any]]:
    res = archive.cli("verify", "--deep", "--json")
    return res.returncode, json.loads(res.stdout)


def _kinds(data: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in data["problems"]:
        out.setdefault(p["kind"], []).append(p["detail"])
    return out


def _db(archive: Archive) -> sqlite3.Connection:
    db = sqlite3.connect(archive.root / "catalog.sqlite", isolation_level=None)
    db.execute("PRAGMA foreign_keys=OFF")
    return db


def test_untouched_archive_passes_deep_verify(archive: Archive) -> None:
    code, data = _deep(archive)
    assert code == 0, data["problems"]
    assert data["deep"]["rows_compared"] > 20


def test_catalog_text_edit_is_named(archive: Archive) -> None:
    db = _db(archive)
    vid = db.execute("SELECT min(id) FROM item_versions").fetchone()[0]
    db.execute("UPDATE item_versions SET text='FORGED' WHERE id=?", (vid,))
    # Plain verify does not read the records; the deep one must.
    code, data = _deep(archive)
    assert code == 1
    texts = _kinds(data)["catalog_text"]
    assert len(texts) == 1 and "'FORGED'" in texts[0] and f"item_versions.id {vid}" in texts[0]


def test_all_versions_text_edited_by_sql_every_one_named(archive: Archive) -> None:
    db = _db(archive)
    n = db.execute("SELECT count(*) FROM item_versions").fetchone()[0]
    db.execute("UPDATE item_versions SET text='FORGED'")
    _code, data = _deep(archive)
    assert len(_kinds(data)["catalog_text"]) == n


def test_deleted_catalog_rows_are_named(archive: Archive) -> None:
    db = _db(archive)
    item_id, pid = db.execute(
        "SELECT id, platform_id FROM items WHERE record_class='comments' LIMIT 1"
    ).fetchone()
    db.execute("DELETE FROM item_versions WHERE item_id=?", (item_id,))
    db.execute("DELETE FROM items WHERE id=?", (item_id,))
    fpid = db.execute("SELECT platform_id FROM followers LIMIT 1").fetchone()[0]
    db.execute("DELETE FROM followers WHERE platform_id=?", (fpid,))
    code, data = _deep(archive)
    assert code == 1
    missing = _kinds(data)["catalog_missing"]
    assert any(f"item {pid} is sealed" in m for m in missing)
    assert any(f"follower {fpid} is sealed" in m for m in missing)


def test_deleted_bundle_rows_are_named_missing_from_catalog(archive: Archive) -> None:
    db = _db(archive)
    bid = db.execute("SELECT id FROM bundles WHERE record_class='comments' LIMIT 1").fetchone()[0]
    db.execute("DELETE FROM bundle_files WHERE bundle_id=?", (bid,))
    db.execute("DELETE FROM bundles WHERE id=?", (bid,))
    code, data = _deep(archive)
    assert code == 1
    kinds = _kinds(data)
    assert any(
        bid in p["bundle_id"] for p in data["problems"] if p["kind"] == "missing_from_catalog"
    )
    assert any(bid in d for d in kinds["catalog_orphan"])


def test_changed_stored_tagmanifest_digest_is_named_by_plain_verify(archive: Archive) -> None:
    db = _db(archive)
    bid = db.execute("SELECT id FROM bundles LIMIT 1").fetchone()[0]
    db.execute("UPDATE bundles SET tagmanifest_sha256=? WHERE id=?", ("0" * 64, bid))
    res = archive.cli("verify", "--json")
    assert res.returncode == 1
    data = json.loads(res.stdout)
    (detail,) = _kinds(data)["catalog_digest"]
    assert "the catalog's digest was changed" in detail


def test_catalog_item_author_edit_is_named(archive: Archive) -> None:
    db = _db(archive)
    db.execute("UPDATE items SET author_handle='mallory' WHERE id=(SELECT min(id) FROM items)")
    _code, data = _deep(archive)
    assert any("items.author_handle 'mallory'" in d for d in _kinds(data)["catalog_item"])


def test_workers_find_the_same_problems_as_one(archive: Archive) -> None:
    """``verify --workers N`` (issue 14 part 4): hashing and the deep check run in N threads
    across bundles; the verdict and every problem are the same as with one worker."""
    db = _db(archive)
    vid = db.execute("SELECT min(id) FROM item_versions").fetchone()[0]
    db.execute("UPDATE item_versions SET text='FORGED' WHERE id=?", (vid,))
    key = db.execute("SELECT key FROM bundles ORDER BY sealed_at DESC LIMIT 1").fetchone()[0]
    warc = next((archive.root / "bundles" / key / "data").rglob("*.warc.gz"))
    warc.chmod(0o644)
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    runs = {}
    for workers in ("1", "2", "3"):
        res = archive.cli("verify", "--deep", "--json", "--workers", workers)
        assert res.returncode == 1
        runs[workers] = json.loads(res.stdout)
    one = runs["1"]
    kinds = _kinds(one)
    assert len(kinds["catalog_text"]) == 1 and "modified" in kinds
    assert any(warc.name in p["relpath"] for p in one["problems"] if p["kind"] == "modified")
    for workers in ("2", "3"):
        other = runs[workers]
        assert sorted(map(json.dumps, other["problems"])) == sorted(
            map(json.dumps, one["problems"])
        )
        for k in ("bundles_checked", "files_checked", "bytes_checked"):
            assert other[k] == one[k]
        assert other["deep"] == one["deep"]
