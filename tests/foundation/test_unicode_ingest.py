"""A reply with a lone surrogate or NUL in it is harvested, not a traceback for the whole site.

Some APIs emit ``"\\ud800"`` (half of a surrogate pair) in JSON escapes; Python's ``json``
accepts it, but no UTF-8 encoder, SQLite or PostgreSQL does. The WARC keeps the bytes as
sent; the catalog gets U+FFFD in their place, and says that it did.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse

from archiver.model import Author, Item, Media, WarcRef
from archiver.recorder import RecordedResponse
from archiver.textclean import clean_record, clean_text, decode_text, parse_json
from tests.helpers import catalog_rows, harvest, site_toml, write_config

# What the platform sends, byte for byte, inside the JSON string.
BROKEN = b"caf\\u00e9 \\ud800 and \\u0000 end"


class Broken:
    """Mastodon, except that one reply's text arrives with a lone surrogate and a NUL."""

    def __init__(self, world: MastodonWorld) -> None:
        self.world = world

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        answer = self.world.handle(method, path, query, headers)
        if answer is not None and b"BROKEN-TEXT" in answer.body:
            answer.body = answer.body.replace(b"BROKEN-TEXT", BROKEN)
        return answer


def test_a_reply_with_a_lone_surrogate_is_harvested_end_to_end(tmp_path: Path) -> None:
    world = MastodonWorld(clock_start=datetime(2026, 6, 1, 16, 0, tzinfo=UTC))
    city = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    maria = world.add_account("maria", "Maria")["id"]
    post = world.post_status(city, "Road work on Main St.")["id"]
    reply = world.post_status(maria, "BROKEN-TEXT", in_reply_to_id=post)["id"]
    world.post_status(maria, "a normal reply", in_reply_to_id=post)
    with FakeServer(Broken(world)) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, CITY_USERNAME))
        assert harvest(config, "city").status == "succeeded"
        # And the next run too: the comment must not stop the site.
        assert harvest(config, "city", full=True).status == "succeeded"
    rows = catalog_rows(
        config,
        "SELECT v.text, v.extra_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.platform_id = ?",
        (reply,),
    )
    assert rows, "the reply was not captured"
    text = rows[0]["text"]
    assert "caf\u00e9 \ufffd and \ufffd end" in text
    # The WARC holds the escapes exactly as the platform sent them.
    warcs = list((config.parent / "archive").rglob("*.warc.gz"))
    assert any(BROKEN in gzip.decompress(w.read_bytes()) for w in warcs)
    # The substitution is recorded with the version: two code points, in text and in html.
    assert json.loads(rows[0]["extra_json"]).get("unicode_replaced") == 4


def test_normalisation_helpers_count_what_they_replace() -> None:
    assert clean_text("a\ud800b\x00c") == ("a\ufffdb\ufffdc", 2)
    assert decode_text(b"ok \xff\xfe end") == ("ok \ufffd\ufffd end", 2)
    data, n = parse_json(b'{"k\\ud800": ["\\udc00x", "\\ud83d\\ude00 fine", "n\\u0000"]}')
    assert data == {"k\ufffd": ["\ufffdx", "\U0001f600 fine", "n\ufffd"]} and n == 3
    assert parse_json(b'{"plain": "text \\u00e9"}') == ({"plain": "text \u00e9"}, 0)
    # The recorder's json() never fails on them and replaces nothing (the bundle does).
    resp = RecordedResponse(
        url="u",
        status_code=200,
        headers=httpx.Headers(),
        content=b'{"t": "a\\ud800 \xff"}',
        ref=None,  # type: ignore[arg-type]
        site="s",
        endpoint="e",
    )
    assert clean_text(resp.json()["t"]) == ("a\ufffd \ufffd", 2)


def test_clean_record_finds_unfit_text_wherever_it_sits_in_an_item() -> None:
    """``clean_record`` first checks a record field by field (issue 14 part 5); a lone
    surrogate or NUL anywhere -- a nested author, a media description in the tuple, a key or
    value deep in ``extra`` -- still sends it through the cleaning walk, and a fit item comes
    back as the very same object."""
    ref = WarcRef("posts-00000.warc.gz", 0, 10, "<urn:uuid:1>", "response", "https://x/1")
    fit = Item(
        record_class="posts",
        kind="post",
        platform_id="1",
        author=Author("a1", "city", "City \N{SNOWMAN}"),
        text="fine \U0001f600",
        ref=ref,
        posted_at=datetime(2026, 12, 5, tzinfo=UTC),
        media=(Media("m1", "image", "https://x/m1.jpg", "a photo"),),
        extra={"poll": {"options": ["yes", "no"], "votes": [1, 2]}, "lang": "en"},
    )
    assert clean_record(fit) == (fit, 0) and clean_record(fit)[0] is fit
    spoiled = {
        "text": replace(fit, text="a\x00b"),
        "author": replace(fit, author=Author("a1", "ci\ud800ty")),
        "media": replace(fit, media=(Media("m1", "image", None, "x\udc00"),)),
        "extra value": replace(fit, extra={"poll": {"options": ["y\x00es"]}}),
        "extra key": replace(fit, extra={"k\ud800": 1}),
    }
    for where, item in spoiled.items():
        cleaned, n = clean_record(item)
        assert n == 1, where
        assert "\x00" not in repr(cleaned) and "\\ud8" not in repr(cleaned)
        assert "\\udc" not in repr(cleaned), where
