"""The City website crawl (issue 18 parts 4-5): real harvests of a fake site on loopback with
a redirect loop, an off-host redirect and link, a calendar trap, a robots.txt disallow and a
page that changes between runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakeplatforms import FakeServer, FeedWorld
from fakeplatforms.website import WebsiteWorld

from tests.helpers import catalog_rows, harvest, site_toml, write_config

OPTS = {"delay_seconds": 0, "max_per_path": 4, "max_pages": 40}


@dataclass
class Site:
    world: WebsiteWorld
    feed: FeedWorld
    server: FakeServer
    tmp: Path

    @property
    def base(self) -> str:
        return self.server.url.rstrip("/")

    def config(self, **options: object) -> Path:
        port = self.base.rsplit(":", 1)[-1]
        return write_config(
            self.tmp,
            site_toml("website", "web", self.base, "/", options={**OPTS, **options}),
            site_toml("news", "rss", f"http://localhost:{port}", "/feed/rss.xml"),
        )

    def pages(self, config: Path) -> dict[str, int]:
        rows = catalog_rows(
            config,
            "SELECT platform_id, current_version FROM items WHERE site_id = 'website'",
        )
        return {r["platform_id"].removeprefix(self.base): r["current_version"] for r in rows}

    def gaps(self, config: Path) -> list[str]:
        rows = catalog_rows(config, "SELECT capability, reason FROM degradations")
        return [f"{r['capability']}: {r['reason']}" for r in rows]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    world = WebsiteWorld()
    world.calendar = world.loop = world.away = True
    world.disallow = ["/private"]
    feed = FeedWorld(prefix="/feed")
    with FakeServer(feed, world) as server:
        port = server.url.rstrip("/").rsplit(":", 1)[-1]
        world.set_page(
            "/",
            "City of Bozeman",
            "Welcome",
            [
                "/news",
                "/calendar?month=1",
                "/loop-a",
                "/away",
                "/private/minutes",
                f"http://localhost:{port}/offsite-page",
                "#top",
            ],
        )
        world.set_page("/news", "News", "All news", ["/news/council", "/"])
        world.set_page("/news/council", "Council", "Council meets Monday at 6 pm.")
        world.set_page("/private/minutes", "Minutes", "Draft minutes")
        world.set_page("/notices/linked", "Road closure", "Main Street closed for paving.")
        yield Site(world, feed, server, tmp_path)


def test_crawl_captures_in_scope_pages_and_reports_the_bounded_ones(site: Site) -> None:
    config = site.config()
    result = harvest(config, "website", full=True)
    pages = site.pages(config)
    assert {"/", "/news", "/news/council"} <= set(pages)
    calendar = [p for p in pages if p.startswith("/calendar")]
    assert len(calendar) == 4, f"calendar trap not capped at 4 pages per path: {calendar}"
    assert site.server.requests_to("/private") == [], "robots.txt Disallow was not respected"
    assert site.server.requests_to("/offsite-page") == [], "an off-host link was followed"
    assert site.server.requests_to("/elsewhere") == [], "an off-host redirect was followed"
    loop_hops = len(site.server.requests_to("/loop-"))
    assert 0 < loop_hops < 100, f"{loop_hops} requests into a redirect loop"
    gaps = " | ".join(site.gaps(config))
    assert "/calendar" in gaps and "calendar or search trap" in gaps
    assert "robots.txt disallows" in gaps and "/private/minutes" in gaps
    assert "/away redirects off the site to http://localhost:" in gaps
    assert "/loop-a was not captured" in gaps and "redirects" in gaps
    assert not any(p.startswith(("/away", "/loop")) for p in pages)
    assert result.run_id


def test_a_changed_page_gets_a_second_version_and_unchanged_ones_do_not(site: Site) -> None:
    config = site.config()
    harvest(config, "website", full=True)
    site.world.set_page("/news/council", "Council", "Council meets TUESDAY at 6 pm.")
    harvest(config, "website", full=True)
    pages = site.pages(config)
    assert pages["/news/council"] == 2
    assert pages["/news"] == 1 and pages["/"] == 1
    texts = [
        r["text"]
        for r in catalog_rows(
            config,
            "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ? ORDER BY v.version",
            (f"{site.base}/news/council",),
        )
    ]
    assert "Monday" in texts[0] and "TUESDAY" in texts[1]
    assert "rotating-token" not in texts[0], "script text was taken as page text"


def test_robots_can_be_ignored_when_configured(site: Site) -> None:
    config = site.config(ignore_robots=True)
    harvest(config, "website", full=True)
    assert "/private/minutes" in site.pages(config)


def test_pages_city_posts_link_to_are_captured(site: Site) -> None:
    """Part 5: a news item of another site links to a page the website itself does not."""
    port = site.base.rsplit(":", 1)[-1]
    site.feed.add_entry(
        "n1",
        "Paving",
        f'<p>Details on <a href="{site.base}/notices/linked">our website</a>, and '
        f"http://localhost:{port}/not-ours elsewhere.</p>",
        published=datetime(2026, 11, 1, tzinfo=UTC),
    )
    config = site.config()
    harvest(config, "news", full=True)
    harvest(config, "website", full=True)
    assert "/notices/linked" in site.pages(config)
    assert site.server.requests_to("/not-ours") == []
    assert site.server.requests_to("/notices/linked")


def test_page_cap_stops_the_crawl_and_says_so(site: Site) -> None:
    config = site.config(max_pages=2)
    harvest(config, "website", full=True)
    assert len(site.pages(config)) == 2
    assert any("cap of 2 pages" in g for g in site.gaps(config))


def test_sections_and_prefixes_limit_the_crawl(site: Site) -> None:
    config = site.config(
        sections=["/notices/linked"], allow_prefixes=["/news", "/notices"], linked_pages=False
    )
    site.world.set_page("/", "City of Bozeman", "Welcome", ["/news", "/calendar?month=1"])
    harvest(config, "website", full=True)
    assert set(site.pages(config)) == {"/", "/news", "/news/council", "/notices/linked"}
    assert site.server.requests_to("/calendar") == []


def test_a_section_given_as_one_string_is_a_clear_config_error(site: Site) -> None:
    from archiver.errors import ConfigError

    config = site.config(sections="/news")
    with pytest.raises(ConfigError, match="option 'sections' must be a list"):
        harvest(config, "website", full=True)


def test_removals_need_a_complete_crawl_and_a_real_start_page(site: Site) -> None:
    site.world.calendar = site.world.loop = site.world.away = False
    site.world.set_page("/", "City of Bozeman", "Welcome", ["/news"])
    config = site.config(detect_removals=True)
    harvest(config, "website", full=True)
    site.world.set_page("/news", "News", "All news", ["/"])
    site.world.remove_page("/news/council")
    # robots.txt, then the home page, are answered with a maintenance page (prefix "/")
    site.server.inject("/", "html_page", times=2)
    harvest(config, "website", full=True)
    removed = catalog_rows(config, "SELECT platform_id FROM items WHERE removal_state IS NOT NULL")
    assert removed == [], "a maintenance start page led to removals"
    harvest(config, "website", full=True)
    removed = catalog_rows(config, "SELECT platform_id FROM items WHERE removal_state IS NOT NULL")
    assert [r["platform_id"] for r in removed] == [f"{site.base}/news/council"]
