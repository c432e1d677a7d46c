"""Batches awaiting approval in the report come from real proposals over a real harvest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from archiver.report.build import build_report_data
from archiver.report.render import render_html, render_text
from archiver.retention import disposition as d
from archiver.retention.eligibility import load_settings
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for

DENVER = ZoneInfo("America/Denver")


def _month() -> str:
    return datetime.now(DENVER).strftime("%Y-%m")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _propose(config: Path) -> dict[str, object]:
    app = app_for(config)
    try:
        return d.propose(app, load_settings(app.cfg), by="Rita Records", as_of=FAR_FUTURE)
    finally:
        app.close()


def test_rm88_batch_awaiting_approval_has_real_totals(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    batch = _propose(config)
    bid = str(batch["id"])
    totals = batch["totals"]
    assert isinstance(totals, dict) and totals["bundles"] > 0 and totals["records"] > 0
    assert batch["path"] == "RM88"
    app = app_for(config)
    try:
        data = build_report_data(app, _month())
    finally:
        app.close()
    assert data.disposition is not None
    [line] = data.disposition.awaiting_approval
    assert line.batch_id == bid
    assert line.bundles == totals["bundles"]
    assert line.records == totals["records"]
    assert line.proposed_on == datetime.now(DENVER).date()
    assert "approving authority" in line.needs and "RM88" in line.needs
    assert "subcommittee" not in line.needs
    text = _flat(render_text(data))
    expected = (
        f"batch {bid}, proposed {line.proposed_on.isoformat()}: {totals['bundles']} bundle(s), "
        f"{totals['records']:,} records; needs approval by the City's approving authority"
    )
    assert expected in text
    assert "0 bundle(s), 0 records" not in text
    assert f"{totals['bundles']} bundle(s)" in render_html(data)

    # Once approved it no longer awaits approval.
    app = app_for(config)
    try:
        d.approve(app, batch_id=bid, by="Mia Mayor", title="City Manager")
        data = build_report_data(app, _month())
    finally:
        app.close()
    assert data.disposition is not None and data.disposition.awaiting_approval == []
    assert "Awaiting approval: none" in render_text(data)


def test_rm60_batch_needs_the_disposal_subcommittee(make_archive: ArchiveFactory) -> None:
    config = make_archive({"city_post": "TEST.2026-3"})
    batch = _propose(config)
    assert batch["path"] == "RM60"
    app = app_for(config)
    try:
        data = build_report_data(app, _month())
    finally:
        app.close()
    assert data.disposition is not None
    [line] = data.disposition.awaiting_approval
    assert line.batch_id == batch["id"]
    assert "disposal subcommittee" in line.needs and "RM60" in line.needs
    assert "disposal subcommittee" in _flat(render_text(data))


def test_classes_kept_more_than_ten_years_are_flagged_each_month(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive({"follower_list": "TEST.2026-2", "direct_message": "TEST.2026-2"})
    _propose(config)  # the disposition section exists once a batch is pending
    app = app_for(config)
    try:
        data = build_report_data(app, _month())
    finally:
        app.close()
    assert data.disposition is not None
    flags = [f for f in data.disposition.long_retention_flags if "ARM 44.14.202" in f]
    assert len(flags) == 1  # one sentence per schedule item, naming every class it covers
    assert "TEST.2026-2" in flags[0] and "follower list, direct message" in flags[0]
    assert "permanent" in flags[0]
    assert "Generally Accepted Recordkeeping Principles" in flags[0]
    assert "no paper or microfilm copy is required" in flags[0]
    assert "unconfirmed" not in flags[0] and "keep a paper" not in flags[0]
    assert not any("TEST.2026-1" in f for f in data.disposition.long_retention_flags)
    text = _flat(render_text(data))
    assert "Kept more than 10 years (ARM 44.14.202)" in text and "TEST.2026-2" in text


def test_no_flag_when_every_class_is_kept_ten_years_or_less(make_archive: ArchiveFactory) -> None:
    config = make_archive()  # every class on TEST.2026-1 (1 year)
    _propose(config)
    app = app_for(config)
    try:
        data = build_report_data(app, _month())
    finally:
        app.close()
    assert data.disposition is not None
    assert not any("ARM 44.14.202" in f for f in data.disposition.long_retention_flags)
