"""No silent truncation, no silent typo: totals, refused filter values, empty verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.export.conftest import SITE, Archive
from tests.export.helpers import catalog, cli, open_request
from tests.helpers import write_config


def test_search_says_how_many_it_does_not_show(archive: Archive) -> None:
    total = int(
        catalog(
            archive,
            "SELECT count(*) AS n FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE v.version = i.current_version",
        )[0]["n"]
    )
    assert total > 5
    r = cli(archive.config, "search", "--limit", "5")
    assert r.returncode == 0, r.stderr
    assert f"showing 5 of {total} match(es)" in r.stdout
    data = json.loads(cli(archive.config, "search", "--limit", "5", "--json").stdout)
    assert data["total"] == total and data["shown"] == 5 and len(data["hits"]) == 5
    r = cli(archive.config, "search", "--limit", str(total))
    assert f"{total} match(es)" in r.stdout and "showing" not in r.stdout


def _refused(r: object, *expected: str) -> str:
    import subprocess

    assert isinstance(r, subprocess.CompletedProcess)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    line = " ".join(r.stderr.split())
    for e in expected:
        assert e in line, (e, line)
    return line


@pytest.mark.parametrize(
    "flag,value,expected",
    [
        ("--site", "bozeman-mastodn", f"sites: {SITE}"),
        ("--platform", "mastadon", "platforms: bluesky, facebook, instagram, linkedin, mastodon"),
        ("--kind", "coment", "use one of post, comment, reply, media"),
        ("--author", "cityofbozemann", "did you mean @cityofbozeman"),
    ],
)
def test_every_filtering_command_refuses_a_misspelled_value(
    archive: Archive, tmp_path: Path, flag: str, value: str, expected: str
) -> None:
    rid = open_request(archive)
    commands: list[tuple[str, ...]] = [
        ("search", "snow", flag, value),
        ("search", "snow", flag, value, "--json"),
        ("export", rid, "snow", flag, value, "--out", str(tmp_path / "pkg")),
    ]
    if flag in ("--site", "--author"):
        commands.append(("hold", "add", "typo", "--matter", "m", "--by", "Clerk", flag, value))
    if flag == "--site":
        commands.append(("verify", flag, value))
    for args in commands:
        line = _refused(cli(archive.config, *args), repr(value), expected)
        assert "no matches" not in line and "OK" not in line
    assert not (tmp_path / "pkg").exists()
    holds = json.loads(cli(archive.config, "hold", "list", "--json").stdout)
    assert "typo" not in {h["name"] for h in holds}


def test_verify_of_nothing_is_an_error_not_ok(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    r = cli(config, "verify")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "nothing to verify" in r.stderr and "OK" not in r.stdout + r.stderr


def test_search_and_status_show_edited_earlier_and_removed_markers(archive: Archive) -> None:
    r = cli(archive.config, "search", "--all-versions", "--limit", "10000")
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "[earlier version v1 of 2]" in out
    assert "[edited: v2]" in out
    assert re.search(r"\[removed upstream \(detected \d{4}-\d\d-\d\d \d\d:\d\d M[SD]T\)\]", out)
    # Times a clerk reads: the City's zone, named.
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d M[SD]T ", r.stdout, re.M)
    st = cli(archive.config, "status")
    assert st.returncode == 0, st.stderr
    assert re.search(r"\[edited\] [1-9]", st.stdout) and "[removed] 1" in st.stdout, st.stdout
