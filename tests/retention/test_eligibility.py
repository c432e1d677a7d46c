"""Eligibility from real harvests: record classes, revisit propagation, unknowable dates.

The shared fixtures and helpers live in ``tests/retention_kit.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeResponse, FakeServer, json_response

from archiver.retention.eligibility import compute_eligibility, load_settings, record_class_for
from tests.helpers import catalog_rows, harvest, site_toml, write_config
from tests.retention_kit import (
    DENVER,
    FAR_FUTURE,
    ArchiveFactory,
    app_for,
    retention_head,
)


def test_record_classes() -> None:
    assert record_class_for("post", True) == "city_post"
    assert record_class_for("comment", False) == "public_comment"
    assert record_class_for("comment", True) == "city_reply"
    assert record_class_for("reply", False) == "comment_reply"
    assert record_class_for("reply", True) == "city_reply"
    assert record_class_for("comment", False, removed=True) == "removed_comment"


def test_bundle_date_is_latest_record_plus_retention(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    app = app_for(config)
    try:
        results, warnings = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    assert warnings == []
    posts = [r for r in results.values() if r.record_class == "posts"]
    assert posts
    for res in posts:
        latest = catalog_rows(
            config,
            "SELECT max(i.posted_at) AS m FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE v.bundle_id = ?",
            (res.bundle_id,),
        )[0]["m"]
        local = datetime.fromisoformat(latest).astimezone(DENVER).date()
        assert res.own_eligible_on == local.replace(year=local.year + 1)
        assert res.refs == ["TEST.2026-1"]
    stored = catalog_rows(config, "SELECT id, eligible_on FROM bundles")
    assert all(r["eligible_on"] == str(results[r["id"]].eligible_on) for r in stored)
    followers = [r for r in results.values() if r.record_class == "followers"]
    assert followers and all(r.eligible_on is not None for r in followers)


def test_permanent_item_means_never(make_archive: ArchiveFactory) -> None:
    config = make_archive({"city_post": "TEST.2026-2"})
    app = app_for(config)
    try:
        results, _ = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    posts = [r for r in results.values() if r.record_class == "posts"]
    assert posts and all(r.eligible_on is None for r in posts)
    assert any("TEST.2026-2 is permanent" in "; ".join(r.reasons) for r in posts)
    rows = catalog_rows(config, "SELECT eligible_on FROM bundles WHERE record_class = 'posts'")
    assert all(r["eligible_on"] is None for r in rows)


def test_missing_mapping_means_nothing_eligible(tmp_path: Path, server: FakeServer) -> None:
    config = write_config(
        tmp_path,
        site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
    )
    os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
    harvest(config, "city")
    app = app_for(config)
    try:
        settings = load_settings(app.cfg)
        results, _ = compute_eligibility(app, settings, today=FAR_FUTURE)
    finally:
        app.close()
    assert settings.mapping is None
    assert results and all(r.eligible_on is None for r in results.values())


def test_revisit_original_not_eligible_before_referrer(
    make_archive: ArchiveFactory, world: tuple[MastodonWorld, str]
) -> None:
    config = make_archive()
    w, city = world
    # A resident replies, dated later than everything in the first run: the second run's
    # comments bundle (which holds revisits of the first run's records) gets a later date.
    resident = w.add_account("latecomer", "Late Comer")
    post = w.status_ids(city)[0]
    w.post_status(
        str(resident["id"]),
        "Thanks for the update on snow removal",
        in_reply_to_id=post,
        created_at=datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
    )
    assert harvest(config, "city", full=True).status == "succeeded"
    refs = catalog_rows(config, "SELECT bundle_id, refers_to_bundle_id FROM revisit_refs")
    assert refs, "the second run should have revisit records pointing at the first"
    app = app_for(config)
    try:
        results, _ = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    raised = 0
    for r in refs:
        referrer, original = results[r["bundle_id"]], results[r["refers_to_bundle_id"]]
        if referrer.eligible_on is None:
            assert original.eligible_on is None
            continue
        assert original.eligible_on is not None
        assert original.eligible_on >= referrer.eligible_on
        if original.own_eligible_on is not None and original.own_eligible_on < referrer.eligible_on:
            raised += 1
            assert original.eligible_on == referrer.eligible_on
    assert raised >= 1, "no original was held back by a later referrer"


class _DropCreatedAt:
    """The fake instance, except the first status of each timeline page loses created_at."""

    def __init__(self, world: MastodonWorld) -> None:
        self.world = world

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        answer = self.world.handle(method, path, query, headers)
        if answer is not None and path.endswith("/statuses") and answer.status == 200:
            data = json.loads(answer.body)
            if data:
                del data[0]["created_at"]
            return json_response(data, answer.status, answer.headers)
        return answer


def test_bundle_with_unparseable_records_is_kept(
    tmp_path: Path, world: tuple[MastodonWorld, str]
) -> None:
    with FakeServer(_DropCreatedAt(world[0])) as srv:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", srv.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
            head=retention_head(tmp_path),
        )
        os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
        assert harvest(config, "city").status == "succeeded"
    raw = {r["bundle_id"] for r in catalog_rows(config, "SELECT bundle_id FROM unparseable")}
    assert raw
    app = app_for(config)
    try:
        results, _ = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    for bid in raw:
        assert results[bid].eligible_on is None
        assert "unparseable" in "; ".join(results[bid].reasons)
    assert any(r.eligible_on is not None for b, r in results.items() if b not in raw)


def test_revisit_only_bundle_is_dated_by_what_it_revisits(make_archive: ArchiveFactory) -> None:
    config = make_archive(runs=2)  # the second run finds nothing new: revisits only
    refs = catalog_rows(config, "SELECT bundle_id, refers_to_bundle_id FROM revisit_refs")
    app = app_for(config)
    try:
        results, _ = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    revisit_only = [r for r in results.values() if r.empty and r.own_eligible_on is not None]
    assert revisit_only, "expected a bundle holding only revisit records"
    for r in revisit_only:
        originals = [
            results[p["refers_to_bundle_id"]] for p in refs if p["bundle_id"] == r.bundle_id
        ]
        dates = [o.own_eligible_on for o in originals]
        assert all(dt is not None for dt in dates)
        assert r.own_eligible_on == max(dt for dt in dates if dt is not None)
        assert r.refs == ["TEST.2026-1"]
    # Nothing is kept forever merely because a later run found nothing new.
    assert all(
        r.eligible_on is not None
        for b, r in results.items()
        if any(p["refers_to_bundle_id"] == b for p in refs)
    )
