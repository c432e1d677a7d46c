"""Hostile and huge input in exports: formulas, a 10,000-reply thread."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from sqlalchemy import event, select

from archiver.app import open_app
from archiver.catalog import schema as s
from archiver.csvsafe import SafeDictWriter, SafeWriter, cell
from archiver.prr import certify, threads
from archiver.search import SearchFilters
from tests.export.helpers import cli, validate_package, warc_records
from tests.helpers import harvest, site_toml, write_config

FORMULAS = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
]


def test_cell_neutralises_every_formula_start() -> None:
    for f in FORMULAS:
        assert cell(f) == "'" + f
    for ok in ("plain", "a=b", "", "2026-11-20", 5, None, True):
        assert cell(ok) == ok
    buf = io.StringIO()
    w = SafeDictWriter(buf, ["a", "b"])
    w.writeheader()
    w.writerow({"a": "=1+1", "b": 7})
    SafeWriter(buf).writerow(["@x", 3])
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == [
        ["a", "b"],
        ["'=1+1", "7"],
        ["'@x", "3"],
    ]


def test_formula_comment_is_text_in_csv_and_exact_elsewhere(tmp_path: Path) -> None:
    world, city_id = build_demo_world(statuses=12, followers=5)
    world.rate_limit = 1_000_000
    post = world.post_status(city_id, "Comment on the Rouse Avenue paving plan here.")
    evil = world.add_account("spreadsheet", "=cmd|' /C calc'!A0")
    bad = world.post_status(str(evil["id"]), FORMULAS[0], in_reply_to_id=str(post["id"]))
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "city")
    r = cli(config, "request", "open", "--requester", "R", "--received", "2026-11-20",
            "--description", "paving", "--json")  # fmt: skip
    rid = json.loads(r.stdout)["id"]
    out = tmp_path / "pkg"
    r = cli(config, "export", rid, "Rouse paving", "--out", str(out))
    assert r.returncode == 0, r.stderr
    validate_package(out)
    with (out / "data" / "index.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["platform_id"]: r for r in csv.DictReader(fh)}
    row = rows[str(bad["id"])]
    assert row["text"] == "'" + FORMULAS[0]
    assert row["author_name"].startswith("'=")
    for r2 in rows.values():
        for v in r2.values():
            assert not v.startswith(("=", "+", "@", "\t", "\r")), v
    exact = {r["platform_id"]: r for r in json.loads((out / "data" / "index.json").read_text())}
    assert exact[str(bad["id"])]["text"] == FORMULAS[0]
    payloads = b"".join(
        x["payload"] for x in warc_records(out / "data" / "originals" / "export-00000.warc.gz")
        if isinstance(x["payload"], bytes)
    )  # fmt: skip
    # The original response is the platform's bytes, untouched (Mastodon's HTML rendering).
    assert b'"content":"<p>=HYPERLINK(' in payloads


def test_a_10000_reply_thread_is_gathered_in_bounded_queries(tmp_path: Path) -> None:
    """Conversation expansion and gap finding run in chunks, streamed: the statement count
    grows with replies / 900, not with replies, and nothing is lost."""
    config = write_config(tmp_path)
    app = open_app(str(config))
    n = 10_000
    now = "2026-11-20T18:00:00+00:00"
    try:
        with app.catalog.begin() as conn:
            conn.execute(s.sites.insert().values(id="city", platform="mastodon", account="c",
                                                 department="", base_url="", created_at=now))  # fmt: skip
            conn.execute(s.bundles.insert().values(
                id="b1", key="city/b1", site_id="city", run_id="r1", record_class="comments",
                storage="local", started_at=now, sealed_at=now, cataloged_at=now,
                tagmanifest_sha256="0" * 64, size_bytes=0, file_count=0, record_count=n + 1))  # fmt: skip
            items: list[dict[str, object]] = [dict(site_id="city", platform_id="p0", record_class="posts", kind="post",
                          parent_id=None, root_id="p0")]  # fmt: skip
            for k in range(1, n + 1):
                # Every tenth reply answers the previous reply: depth as well as breadth.
                parent = f"p{k - 1}" if k % 10 == 0 else "p0"
                items.append(dict(site_id="city", platform_id=f"p{k}", record_class="comments",
                                  kind="reply", parent_id=parent, root_id="p0"))  # fmt: skip
            for it in items:
                it.update(author_handle="someone", posted_at=now, first_captured_at=now,
                          last_seen_at=now, last_seen_run="r1", current_version=1,
                          current_hash="h", by_owner=False)  # fmt: skip
            conn.execute(s.items.insert(), items)
            ids = {str(r.platform_id): int(r.id) for r in conn.execute(select(s.items))}
            conn.execute(s.item_versions.insert(), [
                dict(item_id=iid, version=1, content_hash="h", text=f"reply {pid}",
                     captured_at=now, run_id="r1", bundle_id="b1", warc_file="w.warc.gz",
                     warc_offset=0, warc_length=1, warc_record_id=f"<urn:{pid}>",
                     warc_type="response")
                for pid, iid in ids.items()
            ])  # fmt: skip
        statements = 0

        def count(*_a: object, **_k: object) -> None:
            nonlocal statements
            statements += 1

        engine = app.catalog.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            hit = next(
                threads.version_rows(app.catalog, [ids["p500"]], SearchFilters(all_versions=True))
            )
            rows = threads.with_conversations(app.catalog, [hit], SearchFilters(all_versions=True))
            with app.catalog.begin() as conn:
                gaps = certify.known_gaps(conn, {int(r["item_id"]) for r in rows})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(rows) == n + 1
        assert {r["included_as"] for r in rows if r["platform_id"] == "p500"} == {"match"}
        assert sum(1 for r in rows if r["included_as"] == "conversation") == n
        assert gaps == []
        assert statements < 120, statements
    finally:
        app.close()
