"""A token the server echoes in a body never reaches the WARC, the catalog or the logs.

The echo is planted in real responses of real loopback servers: raw, percent-encoded and
JSON-escaped in a Mastodon status harvested end to end, and inside a gzip-encoded body at the
recorder level (which has to store that body decoded to mask it). Every WARC written must
still pass ``warcio check`` (digests computed over the masked bytes).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse, json_response
from warcio.archiveiterator import ArchiveIterator

from archiver.config import HttpSettings
from archiver.masking import SecretMasker
from archiver.recorder import MASKED_HEADER, ORIG_PREFIX, RecordingClient
from archiver.warc import WarcSink
from tests.helpers import harvest, site_toml, write_config

TOKEN = "s3cr3t/T0ken+with=chars_0123456789"
FORMS = {
    "raw": TOKEN,
    "percent": quote(TOKEN, safe=""),
    "json_slash": json.dumps(TOKEN)[1:-1].replace("/", "\\/"),
}


def _unpacked(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _leaks(root: Path) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = _unpacked(path)
        for name, form in FORMS.items():
            if form.encode() in data:
                found.append(f"{path.relative_to(root)}: {name}")
    return found


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    warcio = Path(sys.executable).with_name("warcio")
    return subprocess.run(
        [str(warcio), "check", "-v", *map(str, paths)], capture_output=True, text=True
    )


class Echo:
    """Mastodon, except that a status' text is rewritten to hold the token in several forms
    (as a debug proxy or a careless error page would put it)."""

    def __init__(self, world: MastodonWorld) -> None:
        self.world = world

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        answer = self.world.handle(method, path, query, headers)
        if answer is not None and b"PLANT" in answer.body:
            plant = " ".join(FORMS.values())
            # The JSON-escaped form must stay escaped in the JSON body.
            answer.body = answer.body.replace(
                b"PLANT", json.dumps(plant)[1:-1].replace("\\\\/", "\\/").encode()
            )
        return answer


def test_an_echoed_token_is_masked_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTO_TOKEN", TOKEN)
    world = MastodonWorld(clock_start=datetime(2026, 6, 1, 16, 0, tzinfo=UTC), required_token=TOKEN)
    city = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    world.post_status(city, "Debug output: PLANT (sorry)")
    world.post_status(city, "Snow routes are posted.")
    with FakeServer(Echo(world)) as server, structlog.testing.capture_logs() as logs:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, CITY_USERNAME, token_env="MASTO_TOKEN"),
        )
        assert harvest(config, "city").status == "succeeded"
    archive = config.parent / "archive"
    assert _leaks(archive) == []
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err and TOKEN not in repr(logs)
    assert any(e["event"] == "secret_masked" for e in logs)
    warcs = sorted(archive.rglob("*.warc.gz"))
    masked = []
    for warc in warcs:
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                note = rec.rec_headers.get_header(MASKED_HEADER)
                if note:
                    masked.append((note, rec.content_stream().read()))
    assert len(masked) == 1
    note, body = masked[0]
    assert "3 occurrence(s)" in note
    data = json.loads(body)
    assert "Debug output: " + " ".join("*" * len(f) for f in FORMS.values()) in str(data)
    check = warcio_check(warcs)
    assert check.returncode == 0, check.stdout + check.stderr
    # The masked text is what the catalog kept.
    assert "Snow routes" in (archive / "catalog.sqlite").read_bytes().decode("utf-8", "replace")


def test_a_token_in_a_gzip_body_is_stored_decoded_and_masked(tmp_path: Path) -> None:
    secret_body = json.dumps({"debug": {"request": f"GET /me?access_token={TOKEN}"}}).encode()

    class Gzipped:
        def handle(self, *_a: object) -> FakeResponse:
            return FakeResponse(
                200,
                gzip.compress(secret_body),
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )

    with FakeServer(Gzipped()) as server:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s", settings=HttpSettings(), sinks=lambda _c: sink, secrets=[TOKEN]
        )
        response = client.get(f"{server.url}/debug", record_class="posts")
        client.close()
        sink.close()
    assert response.masked == 1 and TOKEN not in response.text
    assert response.json()["debug"]["request"] == "GET /me?access_token=" + "*" * len(TOKEN)
    warc = tmp_path / "t-00000.warc.gz"
    assert TOKEN.encode() not in gzip.decompress(warc.read_bytes())
    with warc.open("rb") as fh:
        rec = next(r for r in ArchiveIterator(fh) if r.rec_type == "response")
        headers = {k.lower(): v for k, v in rec.http_headers.headers}
        assert rec.rec_headers.get_header(MASKED_HEADER)
        assert headers[(ORIG_PREFIX + "Content-Encoding").lower()] == "gzip"
        assert "content-encoding" not in headers
        stored = rec.content_stream().read()
    assert stored == secret_body.replace(TOKEN.encode(), b"*" * len(TOKEN))
    assert headers["content-length"] == str(len(stored))
    check = warcio_check([warc])
    assert check.returncode == 0, check.stdout + check.stderr


def test_masker_forms_and_short_values() -> None:
    masker = SecretMasker([TOKEN, "abc"])  # too short to mask without wrecking text
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(TOKEN, safe=""))
    body = f"x {TOKEN} y {quote(TOKEN, safe='')} z {lower_hex} abc".encode()
    masked, n = masker.mask(body)
    assert n == 3 and len(masked) == len(body) and masked.endswith(b"abc")
    assert TOKEN.encode() not in masked


def test_secret_query_values_are_learned_from_the_request(tmp_path: Path) -> None:
    key = "AIzaSyFAKEKEY0123456789"

    class Echoes:
        def handle(
            self, method: str, path: str, query: dict[str, list[str]], headers: object
        ) -> FakeResponse:
            return json_response({"error": {"message": f"API key {query['key'][0]} invalid"}})

    with FakeServer(Echoes()) as server:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(site_id="s", settings=HttpSettings(), sinks=lambda _c: sink)
        response = client.get(f"{server.url}/v3/videos", params={"key": key}, record_class="posts")
        client.close()
        sink.close()
    assert key not in response.text and response.masked == 1
    assert key.encode() not in gzip.decompress((tmp_path / "t-00000.warc.gz").read_bytes())
