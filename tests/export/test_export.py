"""End-to-end: open a request, export, and check the package with the real validators."""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.app import open_app
from archiver.bundle_format import open_records
from archiver.csvsafe import cell
from archiver.errors import ExportError
from archiver.prr.export import COUNT_ONLY, ExportOptions, run_export
from archiver.prr.redact import parse_rules
from archiver.search import SearchFilters
from tests.export.conftest import PHONE_TEXT, SITE, Archive, copy_archive
from tests.export.helpers import (
    ARCHIVER,
    bundle_path,
    catalog,
    cli,
    one_error_line,
    open_request,
    payload_of,
    read_member,
    validate_package,
    warc_records,
)


@pytest.fixture(scope="module")
def full_export(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Everything on the site, through the CLI, as a clerk would run it."""
    rid = open_request(archive)
    out = tmp_path_factory.mktemp("out") / "PRR-package"
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == str(out)
    return rid, out


def test_package_passes_the_real_validators(full_export: tuple[str, Path]) -> None:
    _rid, out = full_export
    validate_package(out)
    assert not list(out.parent.glob("*.partial*"))


def test_wacz_pages_match_warc_dates_and_hold_the_same_warc(full_export: tuple[str, Path]) -> None:
    import zipfile

    _rid, out = full_export
    warc = out / "data" / "originals" / "export-00000.warc.gz"
    with zipfile.ZipFile(out / "data" / "replay" / "export.wacz") as z:
        lines = z.read("pages/pages.jsonl").decode().splitlines()
        assert z.read(f"archive/{warc.name}") == warc.read_bytes()
        assert z.getinfo(f"archive/{warc.name}").compress_type == zipfile.ZIP_STORED
        cdx = z.read("indexes/index.cdx").decode().splitlines()
    assert json.loads(lines[0])["format"] == "json-pages-1.0"
    pages = [json.loads(x) for x in lines[1:]]
    assert pages
    captured = {(r["uri"], r["date"]) for r in warc_records(warc) if r["type"] == "response"}
    for page in pages:
        assert (page["url"], page["ts"]) in captured
    assert len(cdx) == sum(1 for r in warc_records(warc) if r["type"] in ("response", "revisit"))


def test_index_rows_match_the_catalog(archive: Archive, full_export: tuple[str, Path]) -> None:
    _rid, out = full_export
    with (out / "data" / "index.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    as_json = json.loads((out / "data" / "index.json").read_text("utf-8"))
    assert len(rows) == len(as_json)
    exact = {int(j["version_id"]): j for j in as_json}
    expected = catalog(
        archive,
        "SELECT v.*, i.platform_id, i.permalink, i.posted_at, i.first_captured_at, i.last_seen_at,"
        " i.disappeared_at, i.author_handle FROM item_versions v JOIN items i ON i.id = v.item_id"
        " WHERE i.site_id = ?",
        (SITE,),
    )
    assert {int(r["version_id"]) for r in rows} == {int(e["id"]) for e in expected}
    by_id = {int(e["id"]): e for e in expected}
    for r in rows:
        e = by_id[int(r["version_id"])]
        for col in ("content_hash", "bundle_id", "warc_file", "warc_record_id", "platform_id",
                    "permalink", "posted_at", "first_captured_at", "last_seen_at", "text"):  # fmt: skip
            # index.csv neutralises formula-looking cells; index.json keeps the exact text.
            assert r[col] == cell(e[col] or ""), col
        assert exact[int(r["version_id"])]["text"] == e["text"]
        assert (r["disappeared_at"] or None) == e["disappeared_at"]
        assert int(r["warc_offset"]) == e["warc_offset"]
        assert int(r["warc_length"]) == e["warc_length"]
        assert int(r["version"]) == e["version"]
        assert r["original_in_package"] == "True"


def test_exported_records_are_the_original_bytes(
    archive: Archive, full_export: tuple[str, Path]
) -> None:
    _rid, out = full_export
    warc = out / "data" / "originals" / "export-00000.warc.gz"
    exported = {str(r["id"]): r for r in warc_records(warc)}
    assert next(iter(exported.values()))["type"] == "warcinfo"
    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    assert rows
    for row in rows:
        src = bundle_path(archive, row["bundle_id"]) / "data" / "warc" / row["warc_file"]
        original = read_member(src, row["warc_offset"], row["warc_length"])
        copy = read_member(warc, row["export_warc_offset"], row["export_warc_length"])
        assert copy == original  # byte for byte, gzip member included
        with gzip.open(io.BytesIO(original)) as g:
            src_recs = warc_records_from_bytes(g.read())
        assert exported[row["warc_record_id"]]["payload_sha256"] == src_recs
        # Every response travels with its request record.
        assert any(r["concurrent_to"] == row["warc_record_id"] for r in exported.values())


def warc_records_from_bytes(raw: bytes) -> str:
    it = ArchiveIterator(io.BytesIO(raw))
    rec = next(iter(it))
    return hashlib.sha256(rec.content_stream().read()).hexdigest()


def test_every_revisit_has_its_original_in_the_package(
    archive: Archive, full_export: tuple[str, Path]
) -> None:
    _rid, out = full_export
    home: dict[str, str] = {}
    for b in catalog(archive, "SELECT id FROM bundles"):
        db = open_records(bundle_path(archive, b["id"]) / "data" / "records.sqlite")
        home.update({rid: b["id"] for (rid,) in db.execute("SELECT record_id FROM warc_records")})
        db.close()
    recs = warc_records(out / "data" / "originals" / "export-00000.warc.gz")
    ids = {r["id"] for r in recs}
    revisits = [r for r in recs if r["type"] == "revisit"]
    assert revisits, "the second harvest should have produced revisit records"
    cross_bundle = 0
    for r in revisits:
        assert r["refers_to"] in ids
        original = next(x for x in recs if x["id"] == r["refers_to"])
        assert original["type"] == "response"
        assert original["uri"] == r["uri"]
        if home[str(r["id"])] != home[str(original["id"])]:
            cross_bundle += 1
    assert cross_bundle, "expected revisits whose original lives in an earlier bundle"
    # Follower lists are excluded by default and the certification says so.
    assert not any("/followers" in str(r["uri"] or "") for r in recs)
    cert = (out / "certification.txt").read_text("utf-8")
    assert "FOLLOWER LISTS\n  Not included." in cert


def test_readable_copy_shows_versions_and_removal(
    archive: Archive, full_export: tuple[str, Path]
) -> None:
    _rid, out = full_export
    page = out / "data" / "readable" / "posts" / f"{SITE}-{archive.edited_id}.html"
    html = page.read_text("utf-8")
    import html as html_mod

    text = html_mod.unescape(html)
    assert archive.old_text in text and archive.new_text in text
    assert "Version 1" in text and "Version 2 (current)" in text
    assert archive.deleted_text in text
    removed = catalog(
        archive, "SELECT disappeared_at FROM items WHERE platform_id = ?", (archive.deleted_id,)
    )[0]["disappeared_at"]
    from archiver.prr.readable import fmt_time

    denver = fmt_time(removed, "America/Denver")
    assert denver.endswith(("MST", "MDT"))
    assert f"Removed upstream; detected at {denver}" in text
    index = (out / "data" / "readable" / "index.html").read_text("utf-8")
    assert f"posts/{SITE}-{archive.edited_id}.html" in index
    n_items = len(catalog(archive, "SELECT id FROM items WHERE site_id = ?", (SITE,)))
    n_versions = len(json.loads((out / "data" / "index.json").read_text("utf-8")))
    assert f"{n_items} item(s), {n_versions} version(s)" in index
    assert (out / "data" / "readable" / "export.pdf").read_bytes().startswith(b"%PDF")


def test_custody_row_and_audit_entry(archive: Archive, full_export: tuple[str, Path]) -> None:
    rid, out = full_export
    rows = catalog(archive, "SELECT * FROM exports WHERE request_id = ?", (rid,))
    assert len(rows) == 1
    tag = hashlib.sha256((out / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    assert rows[0]["package_sha256"] == tag
    assert rows[0]["out_path"] == str(out)
    audits = catalog(
        archive, "SELECT * FROM audit_log WHERE action = 'export' AND subject = ?", (rid,)
    )
    assert len(audits) == 1 and json.loads(audits[0]["details"])["package_sha256"] == tag
    cert = (out / "certification.txt").read_text("utf-8")
    assert "certification.txt" in (out / "tagmanifest-sha256.txt").read_text("utf-8")
    assert f"Id:          {rid}" in cert and "Jane Q. Reporter" in cert
    for line in (out / "manifest-sha256.txt").read_text("utf-8").splitlines():
        assert line in cert
    bundles = {r["bundle_id"] for r in json.loads((out / "data" / "index.json").read_text())}
    for b in bundles:
        assert f"{b}: OK" in cert
    assert "WARC/1.1" in cert and "gzip member" in cert


def test_include_followers_adds_snapshot(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "with-followers"
    r = cli(archive.config, "export", rid, "plows", "--out", str(out), "--include-followers")
    assert r.returncode == 0, r.stderr
    validate_package(out)
    recs = warc_records(out / "data" / "originals" / "export-00000.warc.gz")
    assert any("/followers" in str(x["uri"] or "") for x in recs)
    with (out / "data" / "followers.csv").open(encoding="utf-8") as fh:
        followers = list(csv.DictReader(fh))
    assert len(followers) == 25
    cert = (out / "certification.txt").read_text("utf-8")
    assert "FOLLOWER LISTS\n  Included: 1" in cert
    # A complete list names its followers and is never called a count.
    assert "(25 followers)" in cert and "complete follower list" in cert
    assert COUNT_ONLY not in cert
    index = (out / "data" / "readable" / "index.html").read_text("utf-8")
    assert "25 followers" in index and COUNT_ONLY not in html.unescape(index)


def test_empty_result_is_a_valid_package_saying_so(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "empty"
    r = cli(archive.config, "export", rid, "xylophonequartz", "--out", str(out))
    assert r.returncode == 0, r.stderr
    validate_package(out)
    cert = (out / "certification.txt").read_text("utf-8")
    assert "NO RECORDS MATCHED THIS QUERY" in cert
    assert (out / "data" / "index.csv").read_text("utf-8").count("\n") == 1


def test_zip_package_validates_after_unzip(archive: Archive, tmp_path: Path) -> None:
    import zipfile

    rid = open_request(archive)
    out = tmp_path / "pkg.zip"
    r = cli(archive.config, "export", rid, "plows", "--out", str(out), "--zip")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as z:
        z.extractall(tmp_path / "unzipped")
    validate_package(tmp_path / "unzipped" / "pkg")


def test_existing_non_empty_out_is_refused(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("clerk's notes")
    line = one_error_line(cli(archive.config, "export", rid, "--out", str(out)))
    assert "exists and is not empty" in line
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert not list(tmp_path.glob("*.partial*"))


def test_bad_inputs_give_one_line(archive: Archive, tmp_path: Path) -> None:
    bad = cli(archive.config, "request", "open", "--requester", "x", "--received", "2026-02-30",
              "--description", "y")  # fmt: skip
    assert "--received '2026-02-30' is not a date" in one_error_line(bad)
    assert "no records request 'PRR-2026-9999'" in one_error_line(
        cli(archive.config, "export", "PRR-2026-9999", "--out", str(tmp_path / "a"))
    )
    assert "no records request" in one_error_line(cli(archive.config, "request", "show", "nope"))
    rid = open_request(archive)
    line = one_error_line(
        cli(archive.config, "export", rid, "--out", str(tmp_path / "b"), "--redact", "regex:([a-")
    )
    assert "is not a valid regular expression" in line
    line = one_error_line(
        cli(archive.config, "export", rid, "--out", str(tmp_path / "c"), "--redact", "zip")
    )
    assert "--redact rule 'zip' is unknown" in line
    line = one_error_line(
        cli(archive.config, "export", rid, "--out", str(tmp_path / "d"), "--since", "yesterday")
    )
    assert "not a date" in line
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob("*.partial*"))


def test_redaction_changes_copies_not_originals(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "redacted"
    r = cli(
        archive.config, "export", rid, "snow desk", "--out", str(out), "--redact", "phone,email"
    )
    assert r.returncode == 0, r.stderr
    validate_package(out)
    with (out / "redaction-log.csv").open(encoding="utf-8") as fh:
        log = list(csv.DictReader(fh))
    assert {x["rule"] for x in log} == {"phone", "email"}
    assert all(x["field"] == "text" and x["reason"] for x in log)
    log_text = (out / "redaction-log.csv").read_text("utf-8")
    assert "406-555-0199" not in log_text and "dana.snow@example.org" not in log_text
    for f in [out / "data" / "index.csv", out / "data" / "index.json",
              *(out / "data" / "readable").rglob("*.html")]:  # fmt: skip
        body = f.read_text("utf-8")
        assert "406-555-0199" not in body and "dana.snow@example.org" not in body
    assert "[REDACTED: phone]" in (out / "data" / "index.csv").read_text("utf-8")
    # The original record is still there, unredacted and byte-identical.
    row = json.loads((out / "data" / "index.json").read_text())[0]
    warc = out / "data" / "originals" / "export-00000.warc.gz"
    src = bundle_path(archive, row["bundle_id"]) / "data" / "warc" / row["warc_file"]
    assert read_member(warc, row["export_warc_offset"], row["export_warc_length"]) == read_member(
        src, row["warc_offset"], row["warc_length"]
    )
    payloads = b"".join(payload_of(r) for r in warc_records(warc))
    assert b"406-555-0199" in payloads
    assert "redaction-log.csv" in (out / "tagmanifest-sha256.txt").read_text("utf-8")


def test_withhold_redacted_originals(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "withheld"
    r = cli(archive.config, "export", rid, "snow desk", "--out", str(out), "--redact", "phone",
            "--withhold-redacted-originals")  # fmt: skip
    assert r.returncode == 0, r.stderr
    validate_package(out)
    warc = out / "data" / "originals" / "export-00000.warc.gz"
    payloads = b"".join(payload_of(r) for r in warc_records(warc))
    assert b"406-555-0199" not in payloads
    row = json.loads((out / "data" / "index.json").read_text())[0]
    assert row["original_in_package"] is False
    cert = (out / "certification.txt").read_text("utf-8")
    assert "--withhold-redacted-originals:" in cert and row["warc_record_id"] in cert
    # Per site and record class, with the redaction-log line of each withheld version.
    assert f"{SITE} / posts: 1 item(s) matched the query" in cert
    assert "1 with their original withheld (redaction)" in cert
    assert f"withheld: {SITE}/{archive.phone_id} v1: redaction-log.csv line 2" in cert
    assert PHONE_TEXT not in (out / "data" / "index.csv").read_text("utf-8")


def test_damaged_source_bundle_is_refused(archive: Archive, tmp_path: Path) -> None:
    copy = copy_archive(archive, tmp_path / "copy")
    rid = open_request(copy)
    bid = catalog(copy, "SELECT bundle_id FROM item_versions ORDER BY id LIMIT 1")[0][0]
    warc = next((bundle_path(copy, bid) / "data" / "warc").glob("*.warc.gz"))
    with warc.open("ab") as fh:
        fh.write(b"tampered")
    out = tmp_path / "refused"
    line = one_error_line(cli(copy.config, "export", rid, "--out", str(out)))
    assert f"source bundle {bid} failed verification" in line
    assert not out.exists() and not list(tmp_path.glob("*.partial*"))


def test_interrupted_export_leaves_nothing_that_looks_complete(
    archive: Archive, tmp_path: Path
) -> None:
    rid = open_request(archive)
    out = tmp_path / "interrupted"

    def stop_at_bagging(step: str) -> None:
        if step == "bagging":
            raise OSError(28, "No space left on device")

    app = open_app(str(archive.config))
    try:
        opts = ExportOptions(
            request_id=rid, query="", filters=SearchFilters(site=SITE, all_versions=True), out=out
        )
        with pytest.raises(ExportError, match="No space left on device"):
            run_export(app, opts, on_step=stop_at_bagging)
        assert not out.exists()
        assert not list(tmp_path.iterdir())
        assert not catalog(archive, "SELECT * FROM exports WHERE request_id = ?", (rid,))
        # A later run succeeds in the same place.
        result = run_export(app, opts)
        assert result.path == out
    finally:
        app.close()
    validate_package(out)


def test_redaction_rules_parse() -> None:
    rules = parse_rules("ssn,card,address")
    assert [r.name for r in rules] == ["ssn", "card", "address"]


def test_pdf_holds_every_version_once(archive: Archive, tmp_path: Path) -> None:
    """Printed in volumes, every version appears exactly once; each volume is numbered alone."""
    import pypdf

    from archiver.catalog.store import Catalog
    from archiver.prr import readable

    cat = Catalog(f"sqlite:///{archive.root / 'catalog.sqlite'}")
    try:
        from archiver.search import search

        hits = search(cat, "", SearchFilters(site=SITE, all_versions=True), limit=None)
    finally:
        cat.close()
    threads = readable.build_threads(hits, "America/Denver")
    context = {
        "city": "City of Bozeman", "request": {"id": "PRR-TEST", "requester": "x",
        "received": "2026-11-20", "description": "d"}, "query_text": "q", "exported_at": "now",
        "actor": "me", "tz": "America/Denver", "counts": {"items": 1, "versions": len(hits)},
        "redacted": False, "rules": "",
    }  # fmt: skip
    out = tmp_path / "export.pdf"
    written = readable.write_pdf(out, threads, context, volume_versions=7)
    volumes = len(readable.pdf_volumes(threads, 7))
    assert volumes > 3 and len(written) == volumes
    assert [p.name for p, _ in written] == [
        f"export-volume-{k:02d}-of-{volumes:02d}.pdf" for k in range(1, volumes + 1)
    ]
    assert sorted(tmp_path.iterdir()) == sorted(p for p, _ in written)
    text = ""
    for k, (path, pages) in enumerate(written, start=1):
        reader = pypdf.PdfReader(path)
        assert len(reader.pages) == pages
        first = " ".join(reader.pages[0].extract_text().split())
        assert f"public records request PRR-TEST, volume {k} of {volumes}" in first
        assert f"page 1 of {pages}" in first
        text += "".join(p.extract_text() for p in reader.pages)
    compact = "".join(text.split())
    assert text.count("Requested by x, received 2026-11-20") == 1  # the cover, in volume 1
    from collections import Counter

    expected = Counter(str(h["content_hash"]) for h in hits)  # equal texts share a hash
    for digest, n in expected.items():
        assert compact.count(digest) == n, digest


def test_killed_export_leaves_only_partial_names(archive: Archive, tmp_path: Path) -> None:
    import signal
    import time

    rid = open_request(archive)
    out = tmp_path / "killed"
    staging = tmp_path / "killed.partial"
    env = dict(os.environ, ARCHIVER_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [
            ARCHIVER,
            "--config",
            str(archive.config),
            "export",
            rid,
            "--site",
            SITE,
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (staging / "data" / "originals").exists() and not (staging / "payload").exists():
            assert proc.poll() is None, "export finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    assert all(p.name.endswith(".partial") for p in tmp_path.iterdir())
    assert not catalog(archive, "SELECT * FROM exports WHERE request_id = ?", (rid,))
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert not staging.exists()
    validate_package(out)


def test_unknown_site_or_platform_is_refused(archive: Archive, tmp_path: Path) -> None:
    """A typo must not produce a package certifying that nothing matched."""
    rid = open_request(archive)
    line = one_error_line(
        cli(
            archive.config, "export", rid, "--site", "bozeman-mastodn", "--out", str(tmp_path / "a")
        )
    )
    assert "--site 'bozeman-mastodn' is neither a configured site nor in the catalog" in line
    assert f"sites: {SITE}" in line
    line = one_error_line(
        cli(archive.config, "export", rid, "--platform", "mastadon", "--out", str(tmp_path / "b"))
    )
    assert "--platform 'mastadon' is not a known platform" in line
    assert "facebook" in line and "mastodon" in line and "youtube" in line
    assert not list(tmp_path.iterdir())
    # A real platform this archive has nothing of: an honest empty package.
    out = tmp_path / "youtube"
    r = cli(archive.config, "export", rid, "--platform", "youtube", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "NO RECORDS MATCHED THIS QUERY" in (out / "certification.txt").read_text("utf-8")


def test_site_known_only_to_the_catalog_is_accepted(archive: Archive, tmp_path: Path) -> None:
    """A site removed from the config still has records in the archive: it may be exported."""
    copy = copy_archive(archive, tmp_path / "copy")
    text = copy.config.read_text()
    copy.config.write_text(text[: text.index("[[sites]]")])
    rid = open_request(copy)
    out = tmp_path / "retired-site"
    r = cli(copy.config, "export", rid, "plows", "--site", SITE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "data" / "index.json").read_text("utf-8"))


def test_export_shows_the_removal_review_trail(archive: Archive, tmp_path: Path) -> None:
    import html as html_mod

    import pypdf

    from archiver.prr.readable import fmt_time
    from archiver.retention.removal import CATEGORIES, record_removal, review

    copy = copy_archive(archive, tmp_path / "copy")
    other = catalog(
        copy,
        "SELECT platform_id FROM items WHERE by_owner = 0 AND kind != 'post' AND platform_id != ?"
        " ORDER BY id LIMIT 1",
        (copy.deleted_id,),
    )[0][0]
    app = open_app(str(copy.config))
    try:
        record_removal(app, item=f"{SITE}:{copy.deleted_id}", category=4, by="Clerk Casey",
                       note="insults a named resident")  # fmt: skip
        review(app, item=f"{SITE}:{copy.deleted_id}", attorney="Avery Attorney",
               decision="approve", note="a personal attack under item 4")  # fmt: skip
        record_removal(app, item=f"{SITE}:{other}", category=2, by="Clerk Casey")
    finally:
        app.close()
    trail = {
        str(r["platform_id"]): dict(r) for r in catalog(copy, "SELECT * FROM comment_removals")
    }
    rid = open_request(copy)
    out = tmp_path / "trail"
    r = cli(copy.config, "export", rid, "--site", SITE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    validate_package(out)

    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    with (out / "data" / "index.csv").open(encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    removed = [x for x in rows if x["platform_id"] == copy.deleted_id]
    assert removed
    t = trail[copy.deleted_id]
    for x in removed:
        assert x["city_removal_category"] == 4
        assert x["city_removal_category_name"] == CATEGORIES[4] == "personal attack"
        assert x["city_removal_recorded_by"] == "Clerk Casey"
        assert x["city_removal_recorded_at"] == t["recorded_at"]
        assert x["city_removal_note"] == "insults a named resident"
        assert x["attorney_decision"] == "approve"
        assert x["attorney"] == "Avery Attorney"
        assert x["attorney_reviewed_at"] == t["reviewed_at"]
        assert x["attorney_note"] == "a personal attack under item 4"
    pending = [x for x in rows if x["platform_id"] == other]
    assert pending and all(x["city_removal_category"] == 2 for x in pending)
    assert all(x["attorney_decision"] is None for x in pending)
    untouched = [x for x in rows if x["platform_id"] not in (copy.deleted_id, other)]
    assert untouched and all(x["city_removal_category"] is None for x in untouched)
    by_csv = [x for x in csv_rows if x["platform_id"] == copy.deleted_id]
    assert by_csv[0]["city_removal_category_name"] == "personal attack"
    assert by_csv[0]["attorney"] == "Avery Attorney"

    page = out / "data" / "readable" / "posts" / f"{SITE}-{copy.edited_id}.html"
    text = html_mod.unescape(page.read_text("utf-8"))
    recorded = fmt_time(t["recorded_at"], "America/Denver")
    reviewed = fmt_time(t["reviewed_at"], "America/Denver")
    assert (
        "Removed by the City under the Social Media Use Policy, prohibited-content category 4 "
        f"(personal attack); recorded by Clerk Casey at {recorded}. "
        "Note: insults a named resident"
    ) in text
    assert (
        f"City Attorney review: Avery Attorney approved the removal at {reviewed}. "
        "Note: a personal attack under item 4"
    ) in text
    pdf = " ".join(
        (p.extract_text() or "")
        for p in pypdf.PdfReader(out / "data" / "readable" / "export.pdf").pages
    )
    flat = " ".join(pdf.split())
    assert "category 4 (personal attack); recorded by Clerk Casey" in flat
    assert "Avery Attorney approved the removal" in flat
    assert "category 2 (commercial promotion or solicitation)" in flat
    assert "City Attorney review: not yet reviewed" in flat


def test_withholding_counts_versions_that_share_a_redacted_record(
    archive: Archive, tmp_path: Path
) -> None:
    rid = open_request(archive)
    out = tmp_path / "withheld-all"
    r = cli(archive.config, "export", rid, "--site", SITE, "--out", str(out), "--redact", "phone",
            "--withhold-redacted-originals")  # fmt: skip
    assert r.returncode == 0, r.stderr
    validate_package(out)
    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    missing = [x for x in rows if not x["original_in_package"]]
    collateral = [x for x in missing if not x["redacted"]]
    assert any(x["redacted"] for x in missing)
    # The phone post came in on a timeline page with other posts: they lose their original too.
    assert collateral
    cert = (out / "certification.txt").read_text("utf-8")
    assert (
        f"Record versions without their original in this package: {len(missing)} of {len(rows)}."
    ) in cert
    assert f"Of these, {len(collateral)} version(s) were not redacted themselves" in cert
    assert f"unredacted versions withheld with a redacted one: {len(collateral)}\n" in cert


def test_out_that_is_a_file_is_refused(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    for content in ("", "clerk's notes"):
        target = tmp_path / "notes.txt"
        target.write_text(content)
        line = one_error_line(cli(archive.config, "export", rid, "plows", "--out", str(target)))
        assert f"--out {target} is an existing file; an export never overwrites one" in line
        assert "disk space" not in line
        assert target.read_text() == content
    line = one_error_line(
        cli(archive.config, "export", rid, "plows", "--out", str(tmp_path / "notes.txt" / "pkg"))
    )
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in line
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    line = one_error_line(
        cli(archive.config, "export", rid, "plows", "--zip", "--out", str(folder))
    )
    assert "is an existing folder; --zip writes a single .zip file" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-folder", "notes.txt"]


def test_media_attachments_travel_with_their_versions(
    archive: Archive, full_export: tuple[str, Path]
) -> None:
    _rid, out = full_export
    rows = {r["version_id"]: r for r in json.loads((out / "data" / "index.json").read_text())}
    with_media = catalog(
        archive,
        "SELECT v.id, v.media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.site_id = ? AND v.media_json != '[]'",
        (SITE,),
    )
    assert with_media, "the demo account should have posts with images"
    warc = out / "data" / "originals" / "export-00000.warc.gz"
    ids = {str(r["id"]) for r in warc_records(warc)}
    for v in with_media:
        media = json.loads(v["media_json"])
        row = rows[v["id"]]
        refs = [m["ref"]["record_id"] for m in media if m.get("ref")]
        assert set(refs) <= set(row["media_records"].split()) <= ids
        files = row["media_files"].split()
        assert len(files) == len(row["media_records"].split())
        page_html = "".join(
            p.read_text("utf-8") for p in (out / "data" / "readable" / "posts").glob("*.html")
        )
        for f in files:
            assert (out / "data" / f).read_bytes().startswith(b"\x89PNG")
            assert f'<img src="../{f.removeprefix("readable/")}"' in page_html


def test_pdf_volumes_are_an_even_number_of_about_equal_size() -> None:
    """Volumes print in parallel: 3,728 versions make 4 volumes of 932, not 1,500+1,500+728
    (one core idle for the last); the cut depends only on the threads, and none is split."""
    from archiver.prr import readable

    def thread(n: int, versions: int) -> readable.ThreadView:
        item = readable.ItemView(
            key=f"s/{n}", platform_id=str(n), site_id="s", kind="post", author="@a",
            permalink="", posted="", first_captured="", last_seen="", removal="",
            parent_id=None,
        )  # fmt: skip
        item.versions = [
            readable.VersionView(version=k, text="t", captured="", edited="",
                                 content_hash=f"{n}-{k}", current=False, redacted=False)
            for k in range(versions)
        ]  # fmt: skip
        return readable.ThreadView(slug=str(n), site_id="s", title="", root=item,
                                   root_id=str(n), flat=[item])  # fmt: skip

    threads = [thread(n, 1 + n % 3) for n in range(1864)]  # 3,728 versions
    volumes = readable.pdf_volumes(threads, 1500)
    sizes = [sum(len(i.versions) for t in v for i in t.flat) for v in volumes]
    assert len(volumes) == 4 and max(sizes) - min(sizes) <= 3, sizes
    assert [t for v in volumes for t in v] == threads
    assert readable.pdf_volumes(threads, 1500) == volumes
    assert readable.pdf_volumes(threads, 4000) == [threads]
    assert readable.pdf_volumes([], 1500) == [[]]
    assert len(readable.pdf_volumes(threads, 1000)) == 4  # 4 needed: already even
    assert len(readable.pdf_volumes(threads, 1300)) == 4  # 3 needed, rounded up to 4
