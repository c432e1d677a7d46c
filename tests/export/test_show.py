"""``archiver show ITEM``: one record's full story, by id, site:platform_id or URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.export.conftest import SITE, Archive, copy_archive
from tests.export.helpers import catalog, cli, open_request


def test_show_an_edited_post_by_every_kind_of_reference(archive: Archive, tmp_path: Path) -> None:
    copy = copy_archive(archive, tmp_path)
    row = catalog(
        copy, "SELECT id, permalink FROM items WHERE site_id = ? AND platform_id = ?",
        (SITE, copy.edited_id),
    )[0]  # fmt: skip
    hold = cli(copy.config, "hold", "add", "snow-claim", "--matter", "Claim 7", "--by", "Clerk",
               "--query", copy.new_text.split()[0], "--site", SITE)  # fmt: skip
    assert hold.returncode == 0, hold.stderr
    rid = open_request(copy)
    exp = cli(copy.config, "export", rid, "UPDATE closure Friday", "--site", SITE,
              "--out", str(tmp_path / "pkg"))  # fmt: skip
    assert exp.returncode == 0, exp.stderr

    stories = []
    for ref in (str(row["id"]), f"{SITE}:{copy.edited_id}", str(row["permalink"])):
        r = cli(copy.config, "show", ref, "--json")
        assert r.returncode == 0, r.stderr
        stories.append(json.loads(r.stdout))
    assert all(s == stories[0] for s in stories)
    st = stories[0]
    assert [v["version"] for v in st["versions"]] == [1, 2]
    assert (
        st["versions"][0]["text"].strip() and copy.old_text.split()[0] in st["versions"][0]["text"]
    )
    assert "UPDATE: the closure now ends Friday" in st["versions"][1]["text"]
    for v in st["versions"]:
        o = v["original"]
        assert o["bundle_id"] and o["warc_file"].endswith(".warc.gz") and o["length"] > 0
    # JSON keeps ISO 8601 with the City's offset.
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?-0[67]:00$", st["times"]["posted"])
    assert st["times"]["disappeared"] is None
    assert "snow-claim" in st["holds"]
    assert rid in {r["request_id"] for r in st["requests"]}

    r = cli(copy.config, "show", str(row["id"]))
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "[version 1 of 2, earlier version]" in out and "[version 2 of 2, current]" in out
    assert re.search(r"posted \d{4}-\d\d-\d\d \d\d:\d\d M[SD]T", out)
    assert "snow-claim" in out and rid in out


def test_show_a_removed_reply_and_its_visibility_at_a_date(archive: Archive) -> None:
    r = cli(archive.config, "show", f"{SITE}:{archive.deleted_id}", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["removal_state"] == "removed_upstream" and st["times"]["disappeared"]
    assert st["versions"][0]["text"] == archive.deleted_text or archive.deleted_text in str(st)
    gone = json.loads(
        cli(
            archive.config, "show", f"{SITE}:{archive.deleted_id}", "--at", "2099-01-01", "--json"
        ).stdout
    )["at"]
    assert gone["state"].startswith("gone") and gone["proven"]
    before = json.loads(
        cli(
            archive.config, "show", f"{SITE}:{archive.deleted_id}", "--at", "2000-01-01", "--json"
        ).stdout
    )["at"]
    assert before["state"] == "not yet posted"
    text = cli(archive.config, "show", f"{SITE}:{archive.deleted_id}", "--at", "2099-01-01")
    assert "[removed upstream]" in text.stdout and "at end of 2099-01-01" in text.stdout


def test_show_something_not_archived_is_one_line(archive: Archive) -> None:
    for ref in ("999999", f"{SITE}:nope", "https://example.invalid/@x/1"):
        r = cli(archive.config, "show", ref)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "no record" in r.stderr
    r = cli(archive.config, "show", f"{SITE}:{archive.edited_id}", "--at", "soon")
    assert r.returncode == 2 and "--at 'soon' is not a date" in r.stderr
