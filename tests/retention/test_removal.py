"""Removed comments stay retained until the City Attorney approves and the schedule allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archiver.catalog.sql import SAReader
from archiver.errors import RetentionError
from archiver.retention import disposition as d
from archiver.retention.eligibility import compute_eligibility, load_settings
from archiver.retention.removal import CATEGORIES, list_removals, record_removal, review
from tests.helpers import catalog_rows
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for


def _public_comment(config: Path) -> tuple[str, str, set[str]]:
    row = catalog_rows(
        config,
        "SELECT id, site_id, platform_id FROM items WHERE kind = 'comment' AND by_owner = 0 LIMIT 1",
    )[0]
    bundles = {
        r["bundle_id"]
        for r in catalog_rows(
            config, "SELECT bundle_id FROM item_versions WHERE item_id = ?", (row["id"],)
        )
    }
    return str(row["id"]), f"{row['site_id']}:{row['platform_id']}", bundles


def _eligible(config: Path) -> dict[str, object]:
    app = app_for(config)
    try:
        results, _ = compute_eligibility(app, load_settings(app.cfg), today=FAR_FUTURE)
    finally:
        app.close()
    return {k: v.eligible_on for k, v in results.items()}


def test_policy_has_ten_categories() -> None:
    assert sorted(CATEGORIES) == list(range(1, 11))


def test_removed_comment_kept_until_attorney_approves(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    item_id, ref, bundles = _public_comment(config)
    assert all(_eligible(config)[b] is not None for b in bundles)
    app = app_for(config)
    try:
        r = record_removal(app, item=ref, category=4, by="Melissa Communications", note="insult")
        assert r["item_id"] == int(item_id) and r["status"] == "awaiting City Attorney review"
        assert r["author_handle"] and r["posted_at"]  # the policy: identity, time and date
        with pytest.raises(RetentionError, match="already recorded"):
            record_removal(app, item=item_id, category=4, by="Melissa Communications")
    finally:
        app.close()
    assert all(_eligible(config)[b] is None for b in bundles)
    # Nothing with the removed comment in it is even due.
    app = app_for(config)
    try:
        due, _, _ = d.due(app, load_settings(app.cfg), as_of=FAR_FUTURE)
        assert not {x["bundle_id"] for x in due} & bundles
        review(
            app,
            item=item_id,
            attorney="Greg City Attorney",
            decision="reject",
            note="not a violation",
        )
        with pytest.raises(RetentionError, match="already reviewed"):
            review(app, item=item_id, attorney="Greg City Attorney", decision="approve", note="x")
    finally:
        app.close()
    assert all(_eligible(config)[b] is None for b in bundles)  # rejected: still retained


def test_approved_removal_follows_its_schedule_item(make_archive: ArchiveFactory) -> None:
    config = make_archive({"removed_comment": "TEST.2026-2"})  # permanent for removed comments
    item_id, _, bundles = _public_comment(config)
    app = app_for(config)
    try:
        record_removal(app, item=item_id, category=3, by="Melissa Communications")
        review(
            app, item=item_id, attorney="Greg City Attorney", decision="approve", note="profanity"
        )
        assert list_removals(app)[0]["status"] == "approve"
    finally:
        app.close()
    assert all(_eligible(config)[b] is None for b in bundles)  # approved, but item is permanent
    config2 = config  # same archive, removed comments now on a 1-year item
    text = config2.read_text().replace(
        'removed_comment = "TEST.2026-2"', 'removed_comment = "TEST.2026-1"'
    )
    config2.write_text(text)
    assert all(_eligible(config2)[b] is not None for b in bundles)
    actions = [
        r["action"]
        for r in catalog_rows(
            config, "SELECT action FROM audit_log WHERE action LIKE 'removal.%' ORDER BY seq"
        )
    ]
    assert actions == ["removal.record", "removal.review"]


def test_bad_category_and_unknown_item(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    item_id, _, _ = _public_comment(config)
    app = app_for(config)
    try:
        with pytest.raises(RetentionError, match="ten prohibited-content categories"):
            record_removal(app, item=item_id, category=11, by="X")
        with pytest.raises(RetentionError, match="no item 'city:nope'"):
            record_removal(app, item="city:nope", category=1, by="X")
        owner = catalog_rows(config, "SELECT id FROM items WHERE by_owner = 1 LIMIT 1")[0]["id"]
        with pytest.raises(RetentionError, match="posted by the City account"):
            record_removal(app, item=str(owner), category=1, by="X")
    finally:
        app.close()
    assert catalog_rows(config, "SELECT * FROM comment_removals") == []


def test_status_names_removals_awaiting_review(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    item_id, _, _ = _public_comment(config)
    app = app_for(config)

    def section_now() -> dict[str, Any]:
        with app.catalog.begin() as conn:
            return d.status_section(app.cfg, SAReader(conn))

    try:
        assert section_now()["retention"]["removals_awaiting_review"] == 0
        record_removal(app, item=item_id, category=2, by="Melissa Communications")
        section = section_now()
        assert section["retention"]["removals_awaiting_review"] == 1
        assert any("await City Attorney review" in n for n in section["notes"])
    finally:
        app.close()
