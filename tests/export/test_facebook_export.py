"""Exports of a Facebook Page: a follower *count* (the platform lists no followers) and photos."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import sqlite3
from pathlib import Path

from archiver.bundle_format import open_records
from archiver.prr.export import COUNT_ONLY
from tests.export.conftest import FB_SITE, FbArchive
from tests.export.helpers import (
    bundle_path,
    cli,
    open_request,
    payload_of,
    read_member,
    validate_package,
    warc_records,
)


def _export(archive: FbArchive, out: Path, *args: str) -> None:
    rid = open_request(archive)
    r = cli(archive.config, "export", rid, "--site", FB_SITE, "--out", str(out), *args)
    assert r.returncode == 0, r.stderr
    validate_package(out)


def test_follower_count_says_count_only_everywhere(fb_archive: FbArchive, tmp_path: Path) -> None:
    out = tmp_path / "fb-followers"
    _export(fb_archive, out, "--include-followers")
    note = "The Graph API does not list a Page's followers; only the count is available"
    # Certification: the count, the plain statement and the platform's own note.
    cert = (out / "certification.txt").read_text("utf-8")
    section = cert[cert.index("FOLLOWER LISTS") : cert.index("REDACTION AND WITHHOLDING")]
    assert "(4210 followers)" in section
    assert f"      {COUNT_ONLY}\n" in section
    assert f"platform note: {note}" in section
    assert COUNT_ONLY == "count only — the platform does not list follower identities"
    # Index of snapshots: one row, identities not listed, the same statement and note.
    with (out / "data" / "follower-snapshots.csv").open(encoding="utf-8") as fh:
        snaps = list(csv.DictReader(fh))
    assert len(snaps) == 1
    assert snaps[0]["count"] == "4210" and snaps[0]["identities_listed"] == "False"
    assert snaps[0]["statement"] == COUNT_ONLY and snaps[0]["note"] == note
    # No names: followers.csv has only its header.
    assert (out / "data" / "followers.csv").read_text("utf-8").count("\n") == 1
    # Readable copy: index.html says the same.
    index = html.unescape((out / "data" / "readable" / "index.html").read_text("utf-8"))
    assert "4210 followers" in index and COUNT_ONLY in index and note in index
    # The PDF too.
    import pypdf

    pdf = " ".join(
        (p.extract_text() or "")
        for p in pypdf.PdfReader(out / "data" / "readable" / "export.pdf").pages
    )
    flat = " ".join(pdf.split())
    assert "4210 followers" in flat and "the platform does not list follower identities" in flat
    # The count's original response is in the WARC.
    recs = warc_records(out / "data" / "originals" / "export-00000.warc.gz")
    assert any(b'"followers_count"' in payload_of(x) for x in recs if x["type"] == "response")


def test_media_of_every_exported_version_is_in_the_package(
    fb_archive: FbArchive, tmp_path: Path
) -> None:
    out = tmp_path / "fb-media"
    _export(fb_archive, out)
    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    album = sorted(
        (r for r in rows if r["platform_id"] == fb_archive.album_id), key=lambda r: r["version"]
    )
    comment = [r for r in rows if r["platform_id"] == fb_archive.photo_comment_id]
    assert [r["version"] for r in album] == [1, 2] and len(comment) == 1
    # Each version lists its own captures (the second run's may be revisits); the same bytes
    # give the same viewable file.
    assert len(album[0]["media_records"].split()) == 2
    assert len(album[1]["media_records"].split()) == 2
    assert album[1]["media_files"] == album[0]["media_files"]
    assert len(comment[0]["media_records"].split()) == 1
    assert all(len(r["media_files"].split()) == len(r["media_records"].split()) for r in rows)

    warc = out / "data" / "originals" / "export-00000.warc.gz"
    by_id = {str(x["id"]): x for x in warc_records(warc)}
    with (out / "data" / "media.csv").open(encoding="utf-8") as fh:
        listed = list(csv.DictReader(fh))
    # 2 + 2 (both album versions) + 1, + 2: the Page profile's picture and cover (issue 17)
    assert len(listed) == 7
    for m in listed:
        rid = m["warc_record_id"]
        rec = by_id[rid]
        assert m["original_in_package"] == "True" and rec["type"] in ("response", "revisit")
        # Byte for byte the sealed gzip member of the source bundle.
        src_db = open_records(bundle_path(fb_archive, m["bundle_id"]) / "data" / "records.sqlite")
        wf, off, length = src_db.execute(
            "SELECT warc_file, offset, length FROM warc_records WHERE record_id = ?", (rid,)
        ).fetchone()
        src_db.close()
        src = bundle_path(fb_archive, m["bundle_id"]) / "data" / "warc" / wf
        assert read_member(
            warc, int(m["export_warc_offset"]), int(m["export_warc_length"])
        ) == read_member(src, off, length)
        # The viewable copy is the response body (a revisit's: its original's, also copied).
        original = by_id[str(rec["refers_to"])] if rec["type"] == "revisit" else rec
        assert original["type"] == "response"
        body = (out / "data" / m["readable_file"]).read_bytes()
        assert body.startswith(b"\x89PNG") and m["content_type"] == "image/png"
        assert hashlib.sha256(body).hexdigest() == m["payload_sha256"]
        assert payload_of(original) == body
        version_files = {
            f
            for r in rows
            if r["version_id"] == int(m["version_id"])
            for f in r["media_files"].split()
        }
        assert m["readable_file"] in version_files
    n_records = len({m["warc_record_id"] for m in listed})
    assert f"media records: {n_records}\n" in (out / "certification.txt").read_text("utf-8")

    # The readable copy shows the images on the post's page.
    page = out / "data" / "readable" / "posts" / f"{FB_SITE}-{fb_archive.album_id}.html"
    text = page.read_text("utf-8")
    for f in album[0]["media_files"].split():
        assert f'<img src="../{f.removeprefix("readable/")}"' in text
    assert "media attachments: 7\n" in (out / "certification.txt").read_text("utf-8")
    # The WACZ indexes the media responses, so replay shows the photos too.
    import zipfile

    with zipfile.ZipFile(out / "data" / "replay" / "export.wacz") as z:
        cdx = z.read("indexes/index.cdx").decode()
    for m in listed:
        assert m["url"].split("://", 1)[1].split("/", 1)[1] in cdx


def test_media_captured_in_an_earlier_run_is_found_again(
    fb_archive: FbArchive, tmp_path: Path
) -> None:
    """Connectors download a URL once; a later version says so without a ref. The export
    finds the earlier capture of that URL and carries it for the later version too."""
    import shutil

    root = tmp_path / "archive"
    shutil.copytree(fb_archive.root, root, symlinks=True)
    config = tmp_path / "archiver.toml"
    config.write_text(fb_archive.config.read_text().replace(str(fb_archive.root), str(root)))
    for p in root.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    copy = FbArchive(config, root, fb_archive.album_id, fb_archive.photo_comment_id)
    db = sqlite3.connect(root / "catalog.sqlite")
    (vid, raw), *_ = db.execute(
        "SELECT v.id, v.media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ? AND v.version = 2",
        (copy.album_id,),
    ).fetchall()
    media = json.loads(raw)
    first = json.loads(
        db.execute(
            "SELECT v.media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ? AND v.version = 1",
            (copy.album_id,),
        ).fetchone()[0]
    )
    for m, earlier in zip(media, first, strict=True):
        # As a connector that fetches each URL once writes it: the URL it captured, no ref.
        (m["url"],) = db.execute(
            "SELECT target_uri FROM payload_index WHERE record_id = ?",
            (earlier["ref"]["record_id"],),
        ).fetchone()
        m["ref"], m["skipped_reason"] = None, "captured in an earlier run"
    db.execute("UPDATE item_versions SET media_json = ? WHERE id = ?", (json.dumps(media), vid))
    db.commit()
    db.close()
    out = tmp_path / "earlier"
    _export(copy, out)
    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    album = sorted(
        (r for r in rows if r["platform_id"] == copy.album_id), key=lambda r: r["version"]
    )
    assert album[1]["media_records"] == album[0]["media_records"] != ""
    assert album[1]["media_files"] == album[0]["media_files"]
    with (out / "data" / "media.csv").open(encoding="utf-8") as fh:
        listed = [m for m in csv.DictReader(fh) if m["version_id"] == str(vid)]
    assert len(listed) == 2
    assert all(m["note"].startswith("captured in an earlier run (") for m in listed)
    assert all(m["original_in_package"] == "True" for m in listed)
