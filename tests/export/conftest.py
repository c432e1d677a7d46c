"""A small real archive for the export tests: two harvests of a fake Mastodon account.

Between the harvests one city post is edited and one resident's reply is deleted, so the
archive holds two versions of a post, a reply removed upstream, and revisit records (the
second harvest re-reads unchanged threads). Built once per session: harvesting is the slow
part, exports are cheap.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer

from tests.helpers import harvest, site_toml, write_config

SITE = "bozeman-mastodon"
FB_SITE = "bozeman-fb"
FB_TOKEN_ENV = "BOZEMAN_FB_TOKEN"
FB_TOKEN = "EAAGm0PX4ZCpsBAFakeBozemanPageToken9f8e7d6c5b4a"
PHONE_TEXT = "Snow desk questions? Call Dana at 406-555-0199 or dana.snow@example.org today."


@dataclass(frozen=True)
class Archive:
    config: Path
    root: Path
    edited_id: str
    old_text: str
    new_text: str
    deleted_id: str
    deleted_text: str
    phone_id: str


def build_archive(base: Path, catalog_url: str | None = None) -> Archive:
    world, city_id = build_demo_world(statuses=24, followers=25)
    world.rate_limit = 1_000_000
    phone = world.post_status(city_id, PHONE_TEXT)
    with FakeServer(world) as server:
        config = write_config(
            base, site_toml(SITE, "mastodon", server.url, "cityofbozeman"), catalog_url=catalog_url
        )
        text = config.read_text()
        config.write_text(text.replace("[archive]\n", '[archive]\ncity = "City of Bozeman"\n', 1))
        harvest(config, SITE)
        edited = deleted = deleted_text = ""
        with httpx.Client(base_url=server.url) as client:
            for sid in world.status_ids(city_id)[:30]:
                ctx = client.get(f"/api/v1/statuses/{sid}/context").json()
                replies = [d for d in ctx["descendants"] if d["account"]["id"] != city_id]
                if replies:
                    edited, deleted = sid, replies[-1]["id"]
                    deleted_text = world.status_text(deleted)
                    break
        assert edited, "demo world has no city post with a resident reply"
        old = world.status_text(edited)
        new = old + " UPDATE: the closure now ends Friday at 5 p.m."
        world.edit_status(edited, new)
        world.delete_status(deleted)
        world.post_status(city_id, "Snow emergency declared: park on the odd-numbered side.")
        harvest(config, SITE)
    return Archive(
        config=config,
        root=base / "archive",
        edited_id=edited,
        old_text=old,
        new_text=new,
        deleted_id=deleted,
        deleted_text=deleted_text,
        phone_id=str(phone["id"]),
    )


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    base = tmp_path_factory.mktemp("prr")
    yield build_archive(base)
    shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class FbArchive:
    """A Facebook Page harvested twice: it gives only a follower count, and has photos."""

    config: Path
    root: Path
    album_id: str  # a post with two photos, edited between the harvests
    photo_comment_id: str  # a comment with one photo


def build_fb_archive(base: Path) -> FbArchive:
    from fakeplatforms.meta import MetaWorld

    world = MetaWorld(token=FB_TOKEN)
    album = world.add_post("Snow plows are out on arterials tonight.", photos=2)
    world.add_post("City Commission meets Tuesday at 6 pm.")
    comment = world.add_comment(album, "Here is my street right now", photo=True)
    world.set_follower_count(4210, fan_count=3900)
    with FakeServer(world) as server:
        config = write_config(
            base,
            site_toml(
                FB_SITE, "facebook", f"{server.url}/v21.0", world.page_id, token_env=FB_TOKEN_ENV
            ),
        )
        harvest(config, FB_SITE)
        # The second run sees the photos again: already captured, so no new media records.
        world.edit_post(album, "Snow plows are out on arterials and collectors tonight.")
        harvest(config, FB_SITE)
    return FbArchive(config, base / "archive", album, comment)


@pytest.fixture(scope="session")
def fb_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FbArchive]:
    base = tmp_path_factory.mktemp("prr-fb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(FB_TOKEN_ENV, FB_TOKEN)
        yield build_fb_archive(base)
    shutil.rmtree(base, ignore_errors=True)


def copy_archive(src: Archive, dest: Path) -> Archive:
    """An independent copy (config, catalog, bundles) a test may damage."""
    shutil.copytree(src.root, dest / "archive", symlinks=True)
    text = src.config.read_text().replace(str(src.root), str(dest / "archive"))
    config = dest / "archiver.toml"
    config.write_text(text)
    for p in (dest / "archive").rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    return Archive(**{**src.__dict__, "config": config, "root": dest / "archive"})
