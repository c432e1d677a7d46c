"""The demo's request, answered whole: every comment and reply under the matching posts.

"All City posts and public comments about Bridger Canyon Road" (``archiver demo``) used to
export 24 posts and none of the 39 comments and replies under them, with a certification
that read as complete. Here the demo world is harvested as the demo does, one thread is cut
by the server at its reply limit (a known gap the harvest records), and the export must
carry every reply in ``data/index.csv``, the readable copy and the WARC originals, and say
what it could not get.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer

from archiver.cli.demo import _change_upstream as change_upstream
from tests.export.helpers import cli, validate_package, warc_records
from tests.helpers import harvest, site_toml, write_config

SITE = "bozeman-mastodon"
QUERY = "Bridger Canyon"
DESCRIPTION = "All City posts and public comments about Bridger Canyon Road"


@dataclass(frozen=True)
class Demo:
    config: Path
    root: Path
    cut_post: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("demo-request")
    world, city_id = build_demo_world()  # the demo's own world (300 statuses, 3,000 followers)
    world.rate_limit = 1_000_000
    with FakeServer(world) as server:
        config = write_config(base, site_toml(SITE, "mastodon", server.url, "cityofbozeman"))
        harvest(config, SITE)
        change_upstream(world, city_id, server.url)  # what `archiver demo` changes
        # A thread longer than an anonymous caller may read (60 replies): the server cuts it
        # and the harvest records the cut as a degradation, a known gap of these comments.
        cut = world.post_status(city_id, "Sledding hill rules for the winter: share the slope.")
        fan = world.add_account("sledfan", "Sled Fan")
        for n in range(65):
            world.post_status(str(fan["id"]), f"Sledding reply {n}", in_reply_to_id=str(cut["id"]))
        harvest(config, SITE)
    yield Demo(config, base / "archive", str(cut["id"]))
    shutil.rmtree(base, ignore_errors=True)


def _db(demo: Demo) -> sqlite3.Connection:
    db = sqlite3.connect(demo.root / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    return db


def _export(demo: Demo, out: Path, *extra: str) -> Path:
    r = cli(demo.config, "request", "open", "--requester", "Jane Q. Public", "--received",
            "2026-11-20", "--description", DESCRIPTION, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    rid = json.loads(r.stdout)["id"]
    r = cli(demo.config, "export", rid, QUERY, "--site", SITE, "--out", str(out), *extra)
    assert r.returncode == 0, r.stderr
    return out


def _index(pkg: Path) -> list[dict[str, str]]:
    with (pkg / "data" / "index.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_demo_request_carries_every_comment_and_reply(demo: Demo, tmp_path: Path) -> None:
    db = _db(demo)
    try:
        posts = {
            str(r["platform_id"])
            for r in db.execute(
                "SELECT DISTINCT i.platform_id FROM item_versions_fts f "
                "JOIN item_versions v ON v.id = f.rowid JOIN items i ON i.id = v.item_id "
                "WHERE item_versions_fts MATCH '\"Bridger Canyon\"' AND i.kind = 'post'"
            )
        }
        replies = {
            str(r["platform_id"]): str(r["text"])
            for r in db.execute(
                "SELECT i.platform_id, v.text FROM items i JOIN item_versions v "
                "ON v.item_id = i.id AND v.version = i.current_version "
                f"WHERE i.kind != 'post' AND i.root_id IN ({','.join('?' * len(posts))})",
                sorted(posts),
            )
        }
    finally:
        db.close()
    print(f"demo request: {len(posts)} matching posts, {len(replies)} comments and replies")
    assert len(posts) == 24 and len(replies) == 39  # the demo's request, as the issue counts

    before = _export(demo, tmp_path / "matches-only", "--matches-only")
    old = _index(before)
    assert {r["platform_id"] for r in old if r["kind"] == "post"} == posts
    assert not {r["platform_id"] for r in old} & set(replies)  # the old answer: 0 of 39

    pkg = _export(demo, tmp_path / "whole")
    validate_package(pkg)
    rows = _index(pkg)
    by_id = {r["platform_id"]: r for r in rows}
    assert posts | set(replies) <= set(by_id)
    assert {by_id[p]["included_as"] for p in posts} == {"match"}
    assert all(by_id[c]["included_as"] in ("match", "conversation") for c in replies)
    assert any(by_id[c]["included_as"] == "conversation" for c in replies)

    # The readable copy shows each reply inside its thread, matches highlighted.
    pages = "\n".join(
        p.read_text("utf-8") for p in (pkg / "data" / "readable" / "posts").glob("*.html")
    )
    flat_pages = " ".join(html.unescape(pages).split())
    for pid, text in replies.items():
        assert f"{SITE}/{pid}" in pages, pid
        assert " ".join(text.split())[:40] in flat_pages
    assert 'class="matchlabel"' in pages

    # The WARC originals hold the responses carrying every reply.
    warc = pkg / "data" / "originals" / "export-00000.warc.gz"
    payloads = b"\n".join(
        r["payload"] for r in warc_records(warc) if isinstance(r["payload"], bytes)
    )
    for pid in replies:
        assert f'"id":"{pid}"'.encode() in payloads or f'"id": "{pid}"'.encode() in payloads, pid
    for r in rows:
        assert r["original_in_package"] == "True", r["platform_id"]

    cert = (pkg / "certification.txt").read_text("utf-8")
    assert f"{SITE} / posts: 24 item(s) matched the query" in cert
    n_conv = sum(
        1 for r in {x["item_id"]: x for x in rows}.values() if r["included_as"] == "conversation"
    )
    import re

    said = re.findall(r"(\d+) included because they belong to a matching conversation", cert)
    assert sum(map(int, said)) == n_conv >= 39
    # The planted gap: the server cut a thread at its reply limit during the harvest.
    assert "KNOWN GAPS" in cert and "the server cut at least one thread" in cert
    assert "NOT certified as complete" in cert
    assert "complete copy" not in cert and "complete as far" not in cert
    assert "--since/--until bound the MATCHING only" not in cert  # no dates were given


def test_dates_bound_the_matching_not_the_thread(demo: Demo, tmp_path: Path) -> None:
    db = _db(demo)
    try:
        newest = db.execute(
            "SELECT i.platform_id, i.posted_at FROM item_versions_fts f "
            "JOIN item_versions v ON v.id = f.rowid JOIN items i ON i.id = v.item_id "
            "WHERE item_versions_fts MATCH '\"Bridger Canyon\"' AND i.kind = 'post' "
            "AND EXISTS (SELECT 1 FROM items c WHERE c.root_id = i.platform_id AND c.kind != 'post') "
            "ORDER BY i.posted_at DESC LIMIT 1"
        ).fetchone()
        later = db.execute(
            "SELECT max(posted_at) FROM items WHERE root_id = ? AND kind != 'post'",
            (newest["platform_id"],),
        ).fetchone()[0]
    finally:
        db.close()
    day = str(newest["posted_at"])[:10]
    assert later[:10] >= day
    pkg = _export(demo, tmp_path / "dated", "--since", day, "--until", day)
    rows = _index(pkg)
    thread = [r for r in rows if r["root_id"] == newest["platform_id"]]
    assert any(r["kind"] != "post" for r in thread)
    cert = (pkg / "certification.txt").read_text("utf-8")
    assert "--since/--until bound the MATCHING only" in cert


def test_a_conversation_whose_root_was_never_captured_states_the_gap(
    demo: Demo, tmp_path: Path
) -> None:
    """A reply found, its post gone before the first capture: the reply comes with the gap."""
    copy_root = tmp_path / "archive"
    shutil.copytree(demo.root, copy_root, symlinks=True)
    config = tmp_path / "archiver.toml"
    config.write_text(demo.config.read_text().replace(str(demo.root), str(copy_root)))
    db = sqlite3.connect(copy_root / "catalog.sqlite")
    try:
        root = db.execute(
            "SELECT i.id, i.platform_id FROM items i WHERE i.kind = 'post' AND EXISTS "
            "(SELECT 1 FROM items c WHERE c.root_id = i.platform_id AND c.kind = 'comment') "
            "ORDER BY i.id LIMIT 1"
        ).fetchone()
        reply = db.execute(
            "SELECT v.text FROM items c JOIN item_versions v ON v.item_id = c.id "
            "WHERE c.root_id = ? AND c.kind = 'comment' LIMIT 1",
            (root[1],),
        ).fetchone()[0]
        db.execute("DELETE FROM item_versions WHERE item_id = ?", (root[0],))
        db.execute("DELETE FROM items WHERE id = ?", (root[0],))
        db.commit()
    finally:
        db.close()
    word = max(reply.split(), key=len).strip(".,!?")
    r = cli(config, "request", "open", "--requester", "J", "--received", "2026-11-20",
            "--description", "d", "--json")  # fmt: skip
    rid = json.loads(r.stdout)["id"]
    out = tmp_path / "pkg"
    r = cli(config, "export", rid, f'"{word}"', "--site", SITE, "--kind", "comment",
            "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    validate_package(out)
    cert = (out / "certification.txt").read_text("utf-8")
    assert f"thread {root[1]}, missing-root" in cert and "was never captured" in cert
    assert "NOT certified as complete" in cert
    index = (out / "data" / "readable" / "index.html").read_text("utf-8")
    assert "the post itself was never captured" in index
