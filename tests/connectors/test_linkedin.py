"""LinkedIn organization page (issue 18 part 3): real harvests of the fake Community Management
API (fakes/fakeplatforms/linkedin.py): posts and nested comments with LinkedIn's headers and
encoded URNs, the follower count with the list recorded as a coverage gap, scopes and the API
version named in every refusal, and paging without links."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fakeplatforms import FakeServer
from fakeplatforms.linkedin import LinkedInWorld

from archiver.errors import AuthError, ConfigError, FatalFetchError
from tests.helpers import catalog_rows, harvest, site_toml, write_config

TOKEN = "AQVlinkedinFakeMemberToken0123456789"
ENV = "BOZEMAN_LINKEDIN_TOKEN"


@dataclass
class Page:
    world: LinkedInWorld
    server: FakeServer
    tmp: Path
    config: Path

    def configure(self, **options: object) -> None:
        self.config = write_config(
            self.tmp,
            site_toml(
                "li",
                "linkedin",
                f"{self.server.url}/rest",
                self.world.org_id,
                token_env=ENV,
                options=dict(options) or None,
            ),
        )

    def items(self) -> dict[str, dict[str, object]]:
        rows = catalog_rows(
            self.config,
            "SELECT i.platform_id, i.kind, i.parent_id, i.root_id, i.by_owner, i.removal_state,"
            " i.current_version, v.text FROM items i JOIN item_versions v ON v.item_id = i.id"
            " AND v.version = i.current_version",
        )
        return {str(r["platform_id"]): dict(r) for r in rows}

    def gaps(self) -> list[str]:
        rows = catalog_rows(self.config, "SELECT capability, reason FROM degradations")
        return [f"{r['capability']}: {r['reason']}" for r in rows]


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    monkeypatch.setenv(ENV, TOKEN)
    world = LinkedInWorld(token=TOKEN, page_size=2)
    with FakeServer(world) as server:
        p = Page(world, server, tmp_path, tmp_path / "archiver.toml")
        p.configure()
        yield p


def test_posts_and_nested_comments_with_linkedins_headers(page: Page) -> None:
    w = page.world
    post = w.post("Apply for the Citizen Advisory Board by Friday.")
    others = [w.post(f"notice {n}") for n in range(3)]
    question = w.comment(post, "Is it open to renters?")
    answer = w.comment(question, "Yes, every resident.", member=w.org_urn)
    deeper = w.comment(answer, "Thanks!")
    more = [w.comment(post, f"comment {n}") for n in range(3)]
    harvest(page.config, "li", full=True)
    items = page.items()
    assert {post, *others, question, answer, deeper, *more} <= set(items)
    assert items[post]["kind"] == "post" and items[post]["by_owner"]
    assert items[question]["kind"] == "comment" and items[question]["parent_id"] == post
    assert items[answer]["kind"] == "reply" and items[answer]["parent_id"] == question
    assert items[answer]["by_owner"] and not items[question]["by_owner"]
    assert items[deeper]["parent_id"] == answer and items[deeper]["root_id"] == post
    reqs = [r for r in page.server.requests if r.path.startswith("/rest/")]
    assert all(r.headers.get("x-restli-protocol-version") == "2.0.0" for r in reqs)
    assert all(r.headers.get("linkedin-version") == "202611" for r in reqs)
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in reqs)
    # URNs travel percent-encoded, in the path and in the query (Rest.li 2.0).
    assert any(r.path == f"/rest/socialActions/{quote(question, safe='')}/comments" for r in reqs)
    posts = [r for r in reqs if r.path == "/rest/posts"]
    assert len(posts) == 2 and posts[0].query["author"] == [w.org_urn]
    assert not page.gaps()


def test_follower_count_is_kept_and_the_list_is_a_recorded_coverage_gap(page: Page) -> None:
    page.world.post("A notice")
    harvest(page.config, "li", full=True)
    snaps = catalog_rows(page.config, "SELECT count, identities, note FROM follower_snapshots")
    assert [(r["count"], r["identities"]) for r in snaps] == [(page.world.followers, 0)]
    cov = catalog_rows(page.config, "SELECT scope, reported, captured, reason FROM coverage")
    assert [(r["scope"], r["reported"], r["captured"]) for r in cov] == [
        ("followers", page.world.followers, 0)
    ]
    assert "never the list" in cov[0]["reason"]
    stats = [r for r in page.server.requests if "FollowerStatistics" in r.path]
    assert stats and stats[0].query["organizationalEntity"] == [page.world.org_urn]


def test_follower_statistics_without_their_scope_are_a_named_gap(page: Page) -> None:
    w = page.world
    w.granted.discard("rw_organization_admin")
    post = w.post("A notice")
    harvest(page.config, "li", full=True)
    assert post in page.items()
    gaps = page.gaps()
    assert any(g.startswith("follower_count:") and "rw_organization_admin" in g for g in gaps)


def test_missing_social_scope_is_fatal_and_names_it(page: Page) -> None:
    page.world.post("A notice")
    page.world.granted.discard("r_organization_social")
    with pytest.raises(AuthError, match="r_organization_social") as caught:
        harvest(page.config, "li", full=True)
    assert "\n" not in str(caught.value) and "r_organization_social" in (caught.value.hint or "")


def test_expired_token_is_fatal_and_names_the_scopes(page: Page) -> None:
    page.world.post("A notice")
    page.world.expire_token()
    with pytest.raises(AuthError) as caught:
        harvest(page.config, "li", full=True)
    text, hint = str(caught.value), caught.value.hint or ""
    assert "site li" in text and "token" in text and "\n" not in text
    assert "r_organization_social" in hint and "rw_organization_admin" in hint and ENV in hint


def test_a_retired_api_version_is_fatal_and_names_the_option(page: Page) -> None:
    page.world.post("A notice")
    page.configure(api_version="202401")
    with pytest.raises(FatalFetchError, match="202401") as caught:
        harvest(page.config, "li", full=True)
    assert "api_version" in (caught.value.hint or "")


def test_a_malformed_api_version_is_a_config_error(page: Page) -> None:
    page.configure(api_version="2026-11")
    with pytest.raises(ConfigError, match="api_version") as caught:
        harvest(page.config, "li", full=True)
    assert "\n" not in str(caught.value)


def test_paging_by_total_without_links_reads_every_page(page: Page) -> None:
    w = page.world
    w.send_links = False
    posts = [w.post(f"notice {n}") for n in range(5)]
    harvest(page.config, "li", full=True)
    assert set(posts) <= set(page.items())
    starts = [r.query.get("start") for r in page.server.requests if r.path == "/rest/posts"]
    assert starts == [None, ["2"], ["4"]], starts


def test_edits_and_deletions_are_found_by_recapture(page: Page) -> None:
    w = page.world
    post = w.post("Budget hearing on the 4th.")
    gone = w.post("Wrong date posted")
    comment = w.comment(post, "What time?")
    harvest(page.config, "li", full=True)
    w.edit(post, "Budget hearing moved to the 5th.")
    w.edit(comment, "What time, and where?")
    w.delete(gone)
    harvest(page.config, "li", full=True)
    items = page.items()
    assert items[post]["current_version"] == 2 and "5th" in str(items[post]["text"])
    assert items[comment]["current_version"] == 2
    assert items[gone]["removal_state"] == "removed_upstream"
    assert items[post]["removal_state"] is None


def test_a_looping_comment_list_is_bounded_and_recorded(page: Page) -> None:
    w = page.world
    post = w.post("A busy post")
    comments = [w.comment(post, f"comment {n}") for n in range(5)]
    path = f"/rest/socialActions/{quote(post, safe='')}/comments"
    page.server.inject(path, "loop_cursor", times=10_000)
    harvest(page.config, "li", full=True)
    assert len(page.server.requests_to(path)) < 10
    assert comments[0] in page.items()
    assert any("looped" in g for g in page.gaps() if g.startswith("comments:"))
    assert catalog_rows(page.config, "SELECT * FROM items WHERE removal_state IS NOT NULL") == []


def test_a_lone_surrogate_in_a_comment_is_stored_replaced(page: Page) -> None:
    from fakeplatforms.server import SURROGATE_MARKER

    w = page.world
    post = w.post("Fireworks tonight")
    bad = w.comment(post, f"great {SURROGATE_MARKER}")
    page.server.inject("/", "lone_surrogate", times=100)
    harvest(page.config, "li", full=True)
    assert "\ufffd" in str(page.items()[bad]["text"])
    extra = catalog_rows(page.config, "SELECT extra_json FROM item_versions")
    assert any(json.loads(r["extra_json"]).get("unicode_replaced") for r in extra)
