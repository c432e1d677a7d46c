"""Approved disposition over real harvests and real local storage.

Each test checks what the store and the catalog show afterwards: a bundle that must survive is
still listed by the storage, one that went has a tombstone with its digests, and the RM88
record exists as HTML and PDF and in the catalog.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fakeplatforms.mastodon import MastodonWorld
from sqlalchemy import func, select

from archiver.audit import verify
from archiver.catalog import schema
from archiver.errors import ConfigError, RetentionError
from archiver.retention import disposition as d
from archiver.retention import tables
from archiver.retention.confirmations import confirm
from archiver.retention.eligibility import compute_eligibility, load_settings
from archiver.retention.holds import add_hold, held_bundles, release_hold
from archiver.search import SearchFilters, search
from tests.helpers import catalog_rows, harvest
from tests.pdfcheck import assert_pdf_a_2b, page_text
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for


def _stored(config: Path) -> set[str]:
    app = app_for(config)
    try:
        return set(app.storage.list_bundles())
    finally:
        app.close()


def _a_word_of_a_post(config: Path) -> str:
    text = catalog_rows(config, "SELECT text FROM item_versions ORDER BY id LIMIT 1")[0]["text"]
    words: list[str] = re.findall(r"[A-Za-z]+", text)
    return max(words, key=len)


def _search(config: Path, word: str) -> list[Any]:
    app = app_for(config)
    try:
        return search(app.catalog, word, SearchFilters(all_versions=True))
    finally:
        app.close()


def _propose(config: Path, as_of: date = FAR_FUTURE) -> dict[str, Any]:
    app = app_for(config)
    try:
        return d.propose(app, load_settings(app.cfg), by="Rita Records", as_of=as_of)
    finally:
        app.close()


def _approve(config: Path, batch: str, **kw: Any) -> None:
    app = app_for(config)
    try:
        d.approve(app, batch_id=batch, by="Mia Mayor", title="City Manager", **kw)
    finally:
        app.close()


def _execute(config: Path, batch: str, today: date = FAR_FUTURE) -> d.ExecuteResult:
    app = app_for(config)
    try:
        return d.execute(app, load_settings(app.cfg), batch_id=batch, by="Ed Executor", today=today)
    finally:
        app.close()


def test_approved_batch_executes_once_with_tombstones_and_rm88(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive()
    before = _stored(config)
    word = _a_word_of_a_post(config)
    assert _search(config, word)
    batch = _propose(config)
    bid = str(batch["id"])
    assert batch["path"] == "RM88" and batch["status"] == "proposed"
    keys = {b["key"] for b in batch["bundles"]}
    assert keys == before
    _approve(config, bid, authority="Commission Resolution 5555")
    with pytest.raises(RetentionError, match="already approved"):
        _approve(config, bid)
    result = _execute(config, bid)
    assert result.status == "executed" and len(result.disposed) == len(keys)
    assert _stored(config) == set()
    tombs = catalog_rows(config, "SELECT * FROM tombstones")
    assert {t["key"] for t in tombs} == keys
    for t in tombs:
        files = json.loads(t["files_json"])
        expected = catalog_rows(
            config,
            "SELECT relpath, sha256 FROM bundle_files WHERE bundle_id = ?",
            (t["bundle_id"],),
        )
        assert files == {r["relpath"]: r["sha256"] for r in expected} and files
        assert len(t["tagmanifest_sha256"]) == 64
        assert json.loads(t["approvals_json"])["approved_by"] == "Mia Mayor"
        assert json.loads(t["schedule_items_json"]) == ["TEST.2026-1"]
    statuses = {r["status"] for r in catalog_rows(config, "SELECT status FROM bundles")}
    assert statuses == {"disposed"}
    # Destroyed means destroyed: the catalog's copy of the records went with the bundles.
    assert _search(config, word) == []
    for table in ("item_versions", "items", "followers", "follower_snapshots"):
        assert catalog_rows(config, f"SELECT count(*) AS n FROM {table}")[0]["n"] == 0, table
    fts = catalog_rows(
        config, "SELECT count(*) AS n FROM item_versions_fts WHERE text MATCH ?", (f'"{word}"',)
    )
    assert fts[0]["n"] == 0
    records = catalog_rows(config, "SELECT * FROM disposal_records WHERE batch_id = ?", (bid,))
    assert [r["form"] for r in records] == ["RM88"]
    html = Path(records[0]["html_path"]).read_text()
    assert "RM88" in html and "Mia Mayor" in html and tombs[0]["tagmanifest_sha256"] in html
    # The printed record is archival (PDF/A-2b), headed with the disposition and numbered.
    pdf_path = Path(records[0]["pdf_path"])
    pages = assert_pdf_a_2b(pdf_path)
    first = page_text(pdf_path, 1)
    assert f"page 1 of {pages}" in first
    assert f"Records disposal record (RM88 equivalent), disposition {bid}" in first
    assert "Mia Mayor" in first
    assert (
        records[0]["keep_until"]
        == f"{int(records[0]['created_at'][:4]) + 30}{records[0]['created_at'][4:10]}"
    )
    seq_before = catalog_rows(config, "SELECT max(seq) AS m FROM audit_log")[0]["m"]
    again = _execute(config, bid)
    assert again.already_done and again.disposed == []
    assert catalog_rows(config, "SELECT max(seq) AS m FROM audit_log")[0]["m"] == seq_before
    app = app_for(config)
    try:
        with app.catalog.begin() as conn:
            assert verify(conn, anchor_path=app.cfg.root / "audit-head.json").ok
    finally:
        app.close()
    actions = [r["action"] for r in catalog_rows(config, "SELECT action FROM audit_log")]
    assert actions.count("disposition.execute") == len(keys) + 1


def test_the_proposer_cannot_approve_their_own_batch_unless_the_city_allows_it(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive()
    bid = str(_propose(config)["id"])  # proposed by Rita Records
    app = app_for(config)
    try:
        with pytest.raises(RetentionError, match="another person must approve") as err:
            d.approve(app, batch_id=bid, by="  rita   RECORDS ", title="Records Manager")
        assert "allow_self_approval" in (err.value.hint or "")
    finally:
        app.close()
    assert catalog_rows(config, "SELECT status FROM disposition_batches")[0]["status"] == "proposed"

    text = config.read_text()
    bad = text.replace("schedules_dir =", 'allow_self_approval = "yes"\nschedules_dir =', 1)
    config.write_text(bad)
    app = app_for(config)
    try:
        with pytest.raises(ConfigError, match="allow_self_approval must be true or false"):
            d.approve(app, batch_id=bid, by="Rita Records", title="Records Manager")
    finally:
        app.close()
    config.write_text(
        text.replace("schedules_dir =", "allow_self_approval = true\nschedules_dir =", 1)
    )
    app = app_for(config)
    try:
        d.approve(app, batch_id=bid, by="Rita Records", title="Records Manager")
    finally:
        app.close()
    batch = catalog_rows(config, "SELECT * FROM disposition_batches")[0]
    assert batch["status"] == "approved" and batch["approved_by"] == batch["proposed_by"]


def test_unapproved_batch_never_deletes(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    before = _stored(config)
    bid = str(_propose(config)["id"])
    with pytest.raises(RetentionError, match="not approved"):
        _execute(config, bid)
    assert _stored(config) == before
    assert catalog_rows(config, "SELECT * FROM tombstones") == []


def test_not_yet_eligible_never_deleted(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    before = _stored(config)
    bid = str(_propose(config)["id"])
    _approve(config, bid)
    result = _execute(config, bid, today=date(2026, 1, 1))
    assert result.disposed == [] and len(result.skipped) == len(before)
    assert all("not eligible on 2026-01-01" in why for why in result.skipped.values())
    assert _stored(config) == before
    assert {r["status"] for r in catalog_rows(config, "SELECT status FROM bundles")} == {"sealed"}
    assert result.status == "executed" and result.records == []  # nothing destroyed: no RM88
    assert catalog_rows(config, "SELECT * FROM disposal_records") == []


def test_held_bundle_never_deleted(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    before = _stored(config)
    bid = str(_propose(config)["id"])
    _approve(config, bid)
    app = app_for(config)
    try:
        add_hold(app, name="late-hold", matter="Smith v. City", query="snow", by="Clerk")
    finally:
        app.close()
    held_keys = {
        r["key"]
        for r in catalog_rows(
            config,
            "SELECT DISTINCT b.key FROM bundles b JOIN item_versions v ON v.bundle_id = b.id "
            "WHERE v.text LIKE '%snow%'",
        )
    }
    assert held_keys
    result = _execute(config, bid)
    assert held_keys <= _stored(config)
    assert all("late-hold" in result.skipped[b] for b in result.skipped)
    assert _stored(config) == held_keys | (
        before - held_keys - {t["key"] for t in catalog_rows(config, "SELECT key FROM tombstones")}
    )
    # Held bundles are not "due" either, until the hold is released.
    app = app_for(config)
    try:
        due, blocked, _ = d.due(app, load_settings(app.cfg), as_of=FAR_FUTURE)
        assert due == [] and {b["key"] for b in blocked} >= held_keys
        release_hold(app, name="late-hold", reason="settled", by="Clerk")
        due, _, _ = d.due(app, load_settings(app.cfg), as_of=FAR_FUTURE)
        assert {b["key"] for b in due} == _stored(config)
    finally:
        app.close()


@pytest.mark.parametrize("delete", ["complete", "partial"])
def test_crash_between_delete_and_tombstone_resumes(
    make_archive: ArchiveFactory, delete: str
) -> None:
    config = make_archive()
    batch = _propose(config)
    bid = str(batch["id"])
    _approve(config, bid)
    victim = batch["bundles"][0]
    # Reproduce the state a crash leaves: intent row written, bytes deleted, no tombstone.
    app = app_for(config)
    try:
        with app.catalog.begin() as conn:
            conn.execute(
                tables.batch_bundles.update()
                .where(tables.batch_bundles.c.bundle_id == victim["bundle_id"])
                .values(state="executing")
            )
            conn.execute(
                tables.disposition_batches.update()
                .where(tables.disposition_batches.c.id == bid)
                .values(status="executing")
            )
        path = app.storage.local_path(victim["key"])
        assert path is not None
        trash = path.with_name(path.name + ".deleting")
        if delete == "complete":
            app.storage.delete(victim["key"])
        else:  # killed after the rename out of sight, before the files were removed
            path.rename(trash)
    finally:
        app.close()
    result = _execute(config, bid)
    assert not trash.exists() and not path.exists()
    assert victim["bundle_id"] in result.disposed and result.status == "executed"
    tomb = catalog_rows(
        config, "SELECT * FROM tombstones WHERE bundle_id = ?", (victim["bundle_id"],)
    )
    assert len(tomb) == 1
    assert len(catalog_rows(config, "SELECT * FROM tombstones")) == len(batch["bundles"])


def test_rm60_path_needs_subcommittee_date_and_unverified_needs_confirmation(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive({"city_post": "TEST.2026-3", "public_comment": "TEST.2026-4"})
    app = app_for(config)
    try:
        settings = load_settings(app.cfg)
        due, blocked, _ = d.due(app, settings, as_of=FAR_FUTURE)
        assert blocked and all("TEST.2026-4" in " ".join(b["blocked"]) for b in blocked)
        assert any(b["disposal"] == "RM60" for b in due)
        confirm(app, settings, ref="TEST.2026-4", by="Rita Records", note="read page 12")
        due, blocked, _ = d.due(app, settings, as_of=FAR_FUTURE)
        assert blocked == []
    finally:
        app.close()
    batch = _propose(config)
    bid = str(batch["id"])
    assert batch["path"] == "RM60"
    assert [r["form"] for r in batch["records"]] == ["RM60"]
    with pytest.raises(RetentionError, match="rm60-approved"):
        _approve(config, bid)
    _approve(config, bid, rm60_approved=date(2030, 6, 1))
    assert _execute(config, bid).status == "executed"


def test_records_over_fifty_years_wait_for_the_offer(
    make_archive: ArchiveFactory, world: tuple[MastodonWorld, str]
) -> None:
    w, city = world
    old = w.add_account("oldtimer", "Old Timer")
    w.post_status(
        str(old["id"]),
        "Remember the 1970 flood on Main Street",
        in_reply_to_id=w.status_ids(city)[0],
        created_at=datetime(1970, 5, 1, 12, 0, tzinfo=UTC),
    )
    config = make_archive()
    old_bundles = {
        r["bundle_id"]
        for r in catalog_rows(
            config,
            "SELECT v.bundle_id FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.posted_at < '1971'",
        )
    }
    assert old_bundles
    batch = _propose(config)
    bid = str(batch["id"])
    flagged = {b["bundle_id"] for b in batch["bundles"] if b["oldest_record_at"] < "1971"}
    assert flagged == old_bundles
    _approve(config, bid)
    first = _execute(config, bid)
    assert set(first.waiting) == old_bundles and first.status == "executing"
    assert all("MCA 2-6-1205" in why for why in first.waiting.values())
    keys = {b["key"] for b in batch["bundles"] if b["bundle_id"] in old_bundles}
    assert keys <= _stored(config)
    app = app_for(config)
    try:
        d.offer(
            app,
            batch_id=bid,
            to="Montana Historical Society",
            notified=date(2030, 12, 20),
            by="Rita",
        )
    finally:
        app.close()
    second = _execute(config, bid)  # FAR_FUTURE is 12 days after the notice: still waiting
    assert set(second.waiting) == old_bundles and "notice runs until 2031-01-19" in next(
        iter(second.waiting.values())
    )
    assert keys <= _stored(config)
    third = _execute(config, bid, today=date(2031, 1, 19))
    assert set(third.disposed) == old_bundles and third.status == "executed"
    assert not keys & _stored(config)
    assert len(catalog_rows(config, "SELECT * FROM disposal_records WHERE form = 'RM88'")) == 1


@pytest.mark.postgres
def test_hold_and_disposition_on_postgresql(make_archive: ArchiveFactory, pg_url: str) -> None:
    config = make_archive(catalog_url=pg_url)
    before = _stored(config)
    app = app_for(config)
    try:
        add_hold(app, name="pg-hold", matter="Doe v. City", query="snow", by="Clerk")
        held = set(held_bundles(app))
        assert held
        with app.catalog.begin() as conn:
            held_keys = {
                r.key
                for r in conn.execute(
                    select(schema.bundles.c.key).where(schema.bundles.c.id.in_(held))
                )
            }
    finally:
        app.close()
    bid = str(_propose(config)["id"])
    _approve(config, bid)
    result = _execute(config, bid)
    assert result.status == "executed"
    assert _stored(config) == held_keys and held_keys < before
    app = app_for(config)
    try:
        with app.catalog.begin() as conn:
            tombs = conn.execute(select(func.count()).select_from(tables.tombstones)).scalar_one()
            assert tombs == len(before) - len(held_keys)
            assert verify(conn, anchor_path=app.cfg.root / "audit-head.json").ok
    finally:
        app.close()


def test_revisit_original_not_due_before_its_referrer(
    make_archive: ArchiveFactory, world: tuple[MastodonWorld, str]
) -> None:
    config = make_archive()
    w, city = world
    late = w.add_account("latecomer", "Late Comer")
    w.post_status(
        str(late["id"]),
        "A late reply that keeps the first run's bytes needed",
        in_reply_to_id=w.status_ids(city)[0],
        created_at=datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
    )
    assert harvest(config, "city", full=True).status == "succeeded"
    pairs = catalog_rows(config, "SELECT bundle_id, refers_to_bundle_id FROM revisit_refs")
    app = app_for(config)
    try:
        settings = load_settings(app.cfg)
        results, _ = compute_eligibility(app, settings, today=FAR_FUTURE)
        pair = next(
            p
            for p in pairs
            if (own := results[p["refers_to_bundle_id"]].own_eligible_on) is not None
            and (later := results[p["bundle_id"]].eligible_on) is not None
            and own < later
        )
        own = results[pair["refers_to_bundle_id"]].own_eligible_on
        assert own is not None
        due, _, _ = d.due(app, settings, as_of=own)
        assert pair["refers_to_bundle_id"] not in {r["bundle_id"] for r in due}
        later_date = results[pair["bundle_id"]].eligible_on
        assert later_date is not None
        due, _, _ = d.due(app, settings, as_of=later_date)
        assert {pair["refers_to_bundle_id"], pair["bundle_id"]} <= {r["bundle_id"] for r in due}
    finally:
        app.close()


def test_confidential_old_records_are_never_offered(
    make_archive: ArchiveFactory, world: tuple[MastodonWorld, str]
) -> None:
    w, city = world
    old = w.add_account("oldtimer", "Old Timer")
    w.post_status(
        str(old["id"]),
        "My medical history, posted by mistake in 1970",
        in_reply_to_id=w.status_ids(city)[0],
        created_at=datetime(1970, 5, 1, 12, 0, tzinfo=UTC),
    )
    config = make_archive()
    batch = _propose(config)
    bid = str(batch["id"])
    old_ids = [b["bundle_id"] for b in batch["bundles"] if b["oldest_record_at"] < "1971"]
    assert old_ids
    _approve(config, bid)
    app = app_for(config)
    try:
        with pytest.raises(RetentionError, match="not in batch"):
            d.mark_confidential(app, batch_id=bid, bundle_ids=["nope"], by="Rita", reason="x")
        d.mark_confidential(
            app, batch_id=bid, bundle_ids=old_ids, by="Greg City Attorney", reason="health data"
        )
    finally:
        app.close()
    result = _execute(config, bid)
    assert result.status == "executed" and set(old_ids) <= set(result.disposed)
    html = Path(
        catalog_rows(config, "SELECT html_path FROM disposal_records WHERE form = 'RM88'")[0][
            "html_path"
        ]
    ).read_text()
    assert "(confidential)" in html
