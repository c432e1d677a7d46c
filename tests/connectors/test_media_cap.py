"""The media size cap (``[http] media_max_bytes``), for every connector that captures images.

An image over the cap is not downloaded: the version's ``media_json`` says why, the WARC holds
a ``metadata`` record naming the skipped address and the reason, and the image bytes are not
in the archive. Each platform runs a real harvest against its fake API on loopback.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.bluesky import BlueskyWorld
from fakeplatforms.meta import MetaWorld
from fakeplatforms.x import XWorld
from warcio.archiveiterator import ArchiveIterator

from tests.helpers import catalog_rows, harvest, site_toml, write_config

SITE = "capped"
TOKEN_ENV = "CAPPED_TOKEN"
TOKEN = "capped-site-test-token-0123456789"
PNG = b"\x89PNG\r\n\x1a\n"  # every fake serves its images as real PNGs
CAP = 16  # bytes: smaller than any PNG, larger than nothing the APIs return


@dataclass
class Platform:
    """One platform's world with a single post carrying one image."""

    app: Any
    site: Callable[[str], str]  # server url -> [[sites]] table


def _mastodon() -> Platform:
    world = MastodonWorld()
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    world.post_status(city, "Snow plow map", media=[{"description": "plow routes"}])
    return Platform(
        world, lambda url: site_toml(SITE, "mastodon", url, "cityofbozeman", token_env=TOKEN_ENV)
    )


def _facebook() -> Platform:
    world = MetaWorld(token=TOKEN)
    world.add_post("Snow plows are out on arterials tonight.", photos=1)
    return Platform(
        world,
        lambda url: site_toml(SITE, "facebook", f"{url}/v21.0", world.page_id, token_env=TOKEN_ENV),
    )


def _instagram() -> Platform:
    world = MetaWorld(token=TOKEN)
    world.add_post("Snow emergency routes", platform="instagram", photos=1)
    return Platform(
        world,
        lambda url: site_toml(
            SITE, "instagram", f"{url}/v21.0", world.ig_user_id, token_env=TOKEN_ENV
        ),
    )


def _bluesky() -> Platform:
    world = BlueskyWorld()
    did = world.add_actor("bozeman.gov", "City of Bozeman")["did"]
    world.add_post(did, "Water main break at Babcock and Willson.", images=["map"])
    return Platform(world, lambda url: site_toml(SITE, "bluesky", url, "bozeman.gov"))


def _x() -> Platform:
    world = XWorld(bearer_token=TOKEN)
    city = world.add_user("cityofbozeman", "City of Bozeman")
    world.post(city, "Water main break at Babcock and Willson.", media=1)
    return Platform(
        world, lambda url: site_toml(SITE, "x", url, "cityofbozeman", token_env=TOKEN_ENV)
    )


PLATFORMS: dict[str, Callable[[], Platform]] = {
    "mastodon": _mastodon,
    "facebook": _facebook,
    "instagram": _instagram,
    "bluesky": _bluesky,
    "x": _x,
}


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """A CLI test run earlier (CliRunner) can leave structlog printing to its closed stream."""
    structlog.reset_defaults()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    yield


def _warc_records(root: Path) -> list[tuple[str, str, bytes]]:
    """(record type, target URI, payload) of every record in the archive's WARCs."""
    out = []
    for path in sorted(root.rglob("*.warc.gz")):
        for record in ArchiveIterator(io.BytesIO(path.read_bytes())):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            out.append((record.rec_type, uri, record.content_stream().read()))
    return out


def _post_media(config: Path) -> list[dict[str, Any]]:
    rows = catalog_rows(
        config,
        "SELECT v.media_json FROM item_versions v JOIN items i ON i.id = v.item_id "
        "WHERE i.site_id = ? AND i.record_class = 'posts' AND v.media_json != '[]'",
        (SITE,),
    )
    return [m for r in rows for m in json.loads(r["media_json"])]


def _run(tmp_path: Path, name: str, head: str) -> Path:
    platform = PLATFORMS[name]()
    with FakeServer(platform.app) as server:
        config = write_config(tmp_path, platform.site(server.url), head=head)
        assert harvest(config, SITE, full=True).status == "succeeded"
    return config


@pytest.mark.usefixtures("token")
@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_media_over_the_cap_is_skipped_and_the_skip_recorded(tmp_path: Path, name: str) -> None:
    config = _run(tmp_path, name, f"media_max_bytes = {CAP}")

    media = _post_media(config)
    assert media, "the post's image was not listed"
    for m in media:
        assert m["skipped_reason"] and f"cap of {CAP} bytes" in m["skipped_reason"]

    records = _warc_records(config.parent / "archive")
    notes = [(uri, json.loads(payload)) for kind, uri, payload in records if kind == "metadata"]
    skipped = [(uri, note) for uri, note in notes if "skipped" in note]
    assert len(skipped) >= len(media)
    for m in media:
        path = urlsplit(str(m["url"])).path
        assert any(urlsplit(uri).path == path for uri, _ in skipped), m["url"]
    assert all("larger than the configured cap" in note["reason"] for _, note in skipped)
    # Neither a response record nor anything else in the archive holds the image bytes.
    assert not any(PNG in payload for _, _, payload in records)
    for file in (config.parent / "archive").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert PNG not in (gzip.decompress(data) if file.name.endswith(".gz") else data)


@pytest.mark.usefixtures("token")
@pytest.mark.parametrize("name", ["mastodon", "facebook", "bluesky"])
def test_without_the_cap_the_same_image_is_captured(tmp_path: Path, name: str) -> None:
    """The control: the default cap lets the image in, so the test above proves the cap."""
    config = _run(tmp_path, name, "")
    media = _post_media(config)
    assert media and all(m["skipped_reason"] is None and m["ref"] for m in media)
    records = _warc_records(config.parent / "archive")
    assert any(kind == "response" and payload.startswith(PNG) for kind, _, payload in records)
