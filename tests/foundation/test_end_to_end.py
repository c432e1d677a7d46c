"""The foundation slice end to end: harvest, change upstream, harvest again, verify, search."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakeplatforms.demo_data import build_demo_feed, build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer
from warcio.archiveiterator import ArchiveIterator

from archiver.bundle_format import open_records
from archiver.search import SearchFilters, search
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

BIN = Path(sys.executable).parent


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
        check=False,
    )


def _warcs(root: Path) -> list[Path]:
    return sorted((root / "archive" / "bundles").rglob("*.warc.gz"))


def _thread_with_reply(url: str, world: MastodonWorld, city: str) -> tuple[str, str]:
    with httpx.Client(base_url=url) as client:
        for sid in world.status_ids(city)[:30]:
            ctx = client.get(f"/api/v1/statuses/{sid}/context").json()
            replies = [d for d in ctx["descendants"] if d["account"]["id"] != city]
            if replies:
                return sid, replies[-1]["id"]
    raise AssertionError("no recent thread with replies in the demo world")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """One archive for the module: two harvests with upstream changes in between."""
    w, city = build_demo_world(statuses=45, followers=170, seed=3)
    w.rate_limit = 1_000_000
    with FakeServer(w, build_demo_feed(entries=8)) as server:
        yield _two_runs(tmp_path_factory.mktemp("e2e"), server, w, city)


def _two_runs(
    tmp_path: Path, server: FakeServer, w: MastodonWorld, city: str
) -> tuple[Path, dict[str, str]]:
    config = write_config(
        tmp_path,
        # Every thread read every run (no adaptive re-polling), so the second run re-reads
        # unchanged threads and the revisit test below sees them (tests/foundation/
        # test_lean_storage.py covers the decay).
        site_toml(
            "city",
            "mastodon",
            server.url,
            "cityofbozeman",
            token_env="TEST_MASTODON_TOKEN",
            extra="thread_poll_ceiling = 0",
        ),
        site_toml("news", "rss", server.url, "/news/rss.xml"),
    )
    os.environ["TEST_MASTODON_TOKEN"] = "sekrit-token-value-123456"
    first = harvest(config, "city")
    assert first.status == "succeeded" and first.full_sweep
    harvest(config, "news")
    edited, deleted = _thread_with_reply(server.url, w, city)
    w.edit_status(edited, w.status_text(edited) + " Correction: open until 9 p.m.")
    w.delete_status(deleted)
    new_ids = []
    for n in range(5):
        acc = w.add_account(f"newbie{n}", f"Newbie {n}")
        w.follow(city, str(acc["id"]))
        new_ids.append(str(acc["id"]))
    gone = w.follower_ids(city)[-1]
    w.unfollow(city, gone)
    second = harvest(config, "city")
    assert second.status == "succeeded" and not second.full_sweep
    return config, {"edited": edited, "deleted": deleted, "gone": gone}


def test_edit_becomes_second_version(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, ids = two_runs
    rows = catalog_rows(
        config,
        "SELECT v.version, v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? ORDER BY v.version",
        (ids["edited"],),
    )
    assert [r["version"] for r in rows] == [1, 2]
    assert "Correction: open until 9 p.m." not in rows[0]["text"]
    assert "Correction: open until 9 p.m." in rows[1]["text"]


def test_deleted_reply_is_removed_upstream_and_still_readable(
    two_runs: tuple[Path, dict[str, str]],
) -> None:
    config, ids = two_runs
    (row,) = catalog_rows(
        config,
        "SELECT removal_state, disappeared_at, first_captured_at, last_seen_at, posted_at, "
        "author_handle FROM items WHERE platform_id = ?",
        (ids["deleted"],),
    )
    assert row["removal_state"] == "removed_upstream"
    assert row["disappeared_at"] > row["last_seen_at"] >= row["first_captured_at"]
    assert row["author_handle"] and row["posted_at"]
    app = open_test_app(config)
    try:
        hits = search(
            app.catalog, "", SearchFilters(site="city", kinds=("comment", "reply")), limit=None
        )
    finally:
        app.close()
    removed = [h for h in hits if h["platform_id"] == ids["deleted"]]
    assert removed and removed[0]["text"]


def test_follower_diff(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, ids = two_runs
    run2 = catalog_rows(config, "SELECT id FROM runs WHERE site_id='city' ORDER BY started_at")[-1][
        "id"
    ]
    events = catalog_rows(
        config, "SELECT event, platform_id FROM follower_events WHERE run_id = ?", (run2,)
    )
    assert sorted(e["event"] for e in events) == ["followed"] * 5 + ["unfollowed"]
    assert [e["platform_id"] for e in events if e["event"] == "unfollowed"] == [ids["gone"]]
    snaps = catalog_rows(
        config, "SELECT count FROM follower_snapshots WHERE identities = 1 ORDER BY id"
    )
    assert [s["count"] for s in snaps][-2:] == [170, 174]


def test_unchanged_responses_become_revisits(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, _ = two_runs
    second_run = catalog_rows(
        config, "SELECT id FROM runs WHERE site_id='city' ORDER BY started_at"
    )[-1]["id"]
    keys = [
        r["key"]
        for r in catalog_rows(config, "SELECT key FROM bundles WHERE run_id = ?", (second_run,))
    ]
    types: dict[str, int] = {}
    for key in keys:
        db = open_records(config.parent / "archive" / "bundles" / key / "data" / "records.sqlite")
        for t, n in db.execute(
            "SELECT record_type, count(*) FROM warc_records GROUP BY record_type"
        ):
            types[t] = types.get(t, 0) + n
        db.close()
    assert types.get("revisit", 0) > types.get("response", 0) > 0
    refs = catalog_rows(config, "SELECT count(*) AS n FROM revisit_refs")
    assert refs[0]["n"] > 0
    profiles = set()
    for warc in _warcs(config.parent):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "revisit":
                    values = [v for k, v in record.rec_headers.headers if k == "WARC-Profile"]
                    assert len(values) == 1, values
                    profiles.add(values[0])
    assert profiles == {"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"}


def test_every_warc_passes_warcio_check_and_bags_validate(
    two_runs: tuple[Path, dict[str, str]],
) -> None:
    config, _ = two_runs
    warcs = _warcs(config.parent)
    assert len(warcs) >= 6
    result = subprocess.run(
        [str(BIN / "warcio"), "check", *map(str, warcs)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for bundle in (config.parent / "archive" / "bundles").glob("*/*/*"):
        r = subprocess.run(
            [str(BIN / "bagit.py"), "--validate", str(bundle)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr


def test_sealed_files_are_read_only(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, _ = two_runs
    files = [p for p in (config.parent / "archive" / "bundles").rglob("*") if p.is_file()]
    assert files
    assert all(not (p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) for p in files)


def test_token_never_reaches_a_warc(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, _ = two_runs
    secret = b"sekrit-token-value-123456"
    for warc in _warcs(config.parent):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                headers = record.http_headers.to_str() if record.http_headers else ""
                assert secret.decode() not in headers
                assert secret not in record.content_stream().read()
    authz = []
    for warc in _warcs(config.parent):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "request" and record.http_headers.get_header("Authorization"):
                    authz.append(record.http_headers.get_header("Authorization"))
    assert authz and set(authz) == {"Bearer REDACTED"}


@pytest.mark.parametrize("target", ["warc", "records", "manifest"])
def test_verify_detects_a_single_flipped_byte(
    two_runs: tuple[Path, dict[str, str]], target: str
) -> None:
    config, _ = two_runs
    ok = _cli(config, "verify", "--all")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bundles = config.parent / "archive" / "bundles"
    victim = {
        "warc": next(iter(sorted(bundles.rglob("*.warc.gz")))),
        "records": next(iter(sorted(bundles.rglob("records.sqlite")))),
        "manifest": next(iter(sorted(bundles.rglob("manifest-sha256.txt")))),
    }[target]
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    pos = len(data) // 2
    data[pos] ^= 0x01
    victim.write_bytes(bytes(data))
    try:
        bad = _cli(config, "verify", "--all", "--json")
        assert bad.returncode == 1
        assert victim.name in bad.stdout
        human = _cli(config, "verify", "--all")
        assert human.returncode == 1 and victim.name in human.stderr
    finally:
        data[pos] ^= 0x01
        victim.write_bytes(bytes(data))
        os.chmod(victim, 0o444)
    assert _cli(config, "verify", "--all").returncode == 0


def test_cli_search_finds_edit_with_all_versions(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, ids = two_runs
    out = _cli(config, "search", "Correction open until", "--all-versions", "--json")
    assert out.returncode == 0, out.stderr
    import json

    hits = json.loads(out.stdout)["hits"]
    assert {h["platform_id"] for h in hits} == {ids["edited"]}
    assert [h["version"] for h in hits] == [2]
    out = _cli(config, "search", "--since", "2026-13-01")
    assert out.returncode != 0 and "YYYY-MM-DD" in out.stderr and "Traceback" not in out.stderr


def test_search_kind_media_finds_the_records_with_attachments(
    two_runs: tuple[Path, dict[str, str]],
) -> None:
    import json

    config, _ = two_runs
    with_media = catalog_rows(
        config,
        "SELECT i.platform_id FROM items i JOIN item_versions v ON v.item_id = i.id "
        "AND v.version = i.current_version WHERE v.media_json != '[]'",
    )
    assert with_media
    out = _cli(config, "search", "--kind", "media", "--limit", "10000", "--json")
    assert out.returncode == 0, out.stderr
    assert {h["platform_id"] for h in json.loads(out.stdout)["hits"]} == {
        r["platform_id"] for r in with_media
    }
    both = _cli(
        config, "search", "--kind", "media", "--kind", "reply", "--limit", "10000", "--json"
    )
    kinds = {h["kind"] for h in json.loads(both.stdout)["hits"]}
    assert "reply" in kinds and len(json.loads(both.stdout)["hits"]) > len(with_media)


def test_rss_feed_entries_are_posts(two_runs: tuple[Path, dict[str, str]]) -> None:
    config, _ = two_runs
    rows = catalog_rows(
        config, "SELECT count(*) AS n FROM items WHERE site_id='news' AND kind='post'"
    )
    assert rows[0]["n"] == 8


def test_deleting_a_post_marks_its_thread_removed(tmp_path: Path) -> None:
    w, _city = build_demo_world(statuses=15, followers=10, seed=4)
    w.rate_limit = 1_000_000
    with FakeServer(w) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "city")
        with_replies = catalog_rows(
            config,
            "SELECT root_id, count(*) AS n FROM items WHERE kind != 'post' "
            "GROUP BY root_id ORDER BY n DESC LIMIT 1",
        )[0]
        w.delete_status(with_replies["root_id"])
        assert harvest(config, "city", full=True).status == "succeeded"
    rows = catalog_rows(
        config,
        "SELECT removal_state FROM items WHERE root_id = ? AND kind != 'post'",
        (with_replies["root_id"],),
    )
    assert len(rows) == with_replies["n"]
    assert {r["removal_state"] for r in rows} == {"removed_upstream"}
    (post,) = catalog_rows(
        config, "SELECT removal_state FROM items WHERE platform_id = ?", (with_replies["root_id"],)
    )
    assert post["removal_state"] == "removed_upstream"
