"""The monthly report's figures come from a real harvested archive, not hand-built data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from archiver.report.build import (
    build_report_data,
    capture_history,
    month_bounds,
    produce_report,
    report_dir,
)
from archiver.report.render import render_text
from archiver.verify import verify_archive
from tests.helpers import open_test_app, write_config
from tests.report.helpers import DENVER, SITE, harvested_archive, this_month


def test_figures_from_a_real_archive(tmp_path: Path) -> None:
    archive = harvested_archive(tmp_path)
    app = open_test_app(archive.config)
    try:
        data = build_report_data(app, this_month())
        [site] = data.sites
        assert site.site_id == SITE
        assert site.posts_captured == 5
        assert site.comments_captured == 2  # a comment and a reply to it
        assert site.followers_gained == 2  # the first list is the baseline, not "new"
        assert site.followers_lost == 1
        assert site.follower_count == 4
        assert site.follower_identities is True
        assert site.edits_detected == 1
        assert site.removals_detected == 1
        assert site.runs_ok == 2
        assert site.runs_failed == 1
        assert "401" in site.failures[0].cause or "token" in site.failures[0].cause.lower()
        assert site.has_it_admin is True
        assert [s.site_id for s in data.tokens_expiring()] == [SITE]
        assert str(site.token_expires) == archive.token_expires
        assert data.totals.posts_captured == 5
        assert data.totals.bundles_sealed >= 4
        assert data.totals.bytes_stored > 0
        assert data.fixity is None  # nothing verified yet: "not yet available", not "all fine"
        assert data.disposition is None or not (
            data.disposition.due_30 or data.disposition.due_60 or data.disposition.due_90
        )
        assert data.generated_at.utcoffset() is not None

        verify_archive(app.catalog, app.storage)
        data = build_report_data(app, this_month())
        assert data.fixity is not None
        assert data.fixity.bundles_checked == data.totals.bundles_sealed
        assert data.fixity.failures == []

        # Last month has none of this: the month window is real.
        start, _ = month_bounds(this_month(), app.cfg.timezone)
        earlier = (start - timedelta(days=1)).strftime("%Y-%m")
        old = build_report_data(app, earlier)
        assert old.sites[0].posts_captured == 0 and old.sites[0].runs_ok == 0
        history = capture_history(app, this_month())
        assert len(history) == 11 and history[earlier] == {}

        # Once the retention refresh has dated bundles, they fall into the 30/60/90-day windows.
        from sqlalchemy import update

        from archiver.catalog import schema

        today = data.generated_at.date()
        ids = [b["id"] for b in app.catalog.bundles(site_id=SITE)]
        with app.catalog.begin() as conn:
            for bid, days in zip(ids, (10, 45, 80, 400), strict=False):
                conn.execute(
                    update(schema.bundles)
                    .where(schema.bundles.c.id == bid)
                    .values(eligible_on=(today + timedelta(days=days)).isoformat())
                )
        data = build_report_data(app, this_month())
        assert data.disposition is not None
        assert [d.bundle_id for d in data.disposition.due_30] == ids[:1]
        assert [d.bundle_id for d in data.disposition.due_60] == ids[1:2]
        assert [d.bundle_id for d in data.disposition.due_90] == ids[2:3]

        text = render_text(data)
        assert "bozeman-mastodon" in text or "cityofbozeman" in text
    finally:
        app.close()


def test_produce_report_keeps_files_under_the_archive_root(tmp_path: Path) -> None:
    archive = harvested_archive(tmp_path)
    app = open_test_app(archive.config)
    try:
        extra = tmp_path / "copy"
        outcome = produce_report(app, this_month(), send=False, out_dir=extra)
        keep = report_dir(app, this_month())
    finally:
        app.close()
    stem = f"report-{this_month()}"
    for folder in (keep, extra):
        for ext in ("html", "txt", "csv", "png"):
            assert (folder / f"{stem}.{ext}").stat().st_size > 0
    assert (keep / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
    assert outcome.sent is False and outcome.error is None
    assert keep == archive.config.parent / "archive" / "reports" / this_month()


def test_unharvested_site_and_overdue_records_request_are_reported(tmp_path: Path) -> None:
    from archiver.prr.deadlines import targets
    from archiver.prr.requests import open_request
    from archiver.settings.requests import RequestPolicy

    parks = (
        "[[sites]]\n"
        'id = "bozeman-parks"\n'
        'platform = "mastodon"\n'
        'base_url = "http://127.0.0.1:9"\n'
        'account = "bozemanparks"\n'
        'department = "Parks and Recreation"\n'
        'administrators = [{ name = "Dana Ortiz", role = "Communications" }]\n'
    )
    config = write_config(tmp_path, parks)
    app = open_test_app(config)
    try:
        today = datetime.now(DENVER).date()
        open_request(
            app.catalog,
            requester="A. Resident",
            received=today - timedelta(days=40),
            description="Every comment on the snow plow post",
            policy=RequestPolicy(),
            today=today,
            anchor_path=tmp_path / "audit.anchor",
        )
        data = build_report_data(app, this_month())
    finally:
        app.close()
    [site] = data.sites
    assert site.site_id == "bozeman-parks" and site.captures == 0
    assert [s.site_id for s in data.sites_missing_it_admin()] == ["bozeman-parks"]
    assert any("never harvested" in n for n in data.notes)
    assert data.requests is not None and data.requests.open == 1
    [overdue] = data.requests.overdue
    assert overdue.summary == "Every comment on the snow plow post"
    received = today - timedelta(days=40)
    assert overdue.received_on == received
    assert overdue.target_on == targets(received, RequestPolicy()).respond_by
    text = render_text(data)
    assert "A. Resident" not in text  # requesters are not named in the report
    assert "assigned to" not in text
    flat = " ".join(text.split())
    line = (
        f"- {overdue.request_id}, received {received.isoformat()}, target "
        f"{overdue.target_on.isoformat()}: Every comment on the snow plow post"
    )
    assert line in flat
    attention = (
        f"Received {received.isoformat()}, City target {overdue.target_on.isoformat()}: "
        "Every comment on the snow plow post"
    )
    assert attention in flat


def test_overdue_is_decided_by_the_deadlines_module(tmp_path: Path) -> None:
    """A request whose target is today is not overdue yet; one day later it is."""
    from archiver.prr.deadlines import is_overdue, targets
    from archiver.prr.requests import open_request
    from archiver.settings.requests import RequestPolicy

    config = write_config(tmp_path)
    app = open_test_app(config)
    try:
        today = datetime.now(DENVER).date()
        received = today - timedelta(days=30)
        respond_by = targets(received, RequestPolicy()).respond_by
        open_request(
            app.catalog,
            requester="B. Resident",
            received=received,
            description="Posts about the parade",
            policy=RequestPolicy(),
            today=today,
            anchor_path=tmp_path / "audit.anchor",
        )
        on_target = datetime.combine(respond_by, datetime.min.time(), DENVER).replace(hour=12)
        data = build_report_data(app, this_month(), now=on_target)
        assert data.requests is not None and data.requests.open == 1
        assert not is_overdue(respond_by, respond_by) and data.requests.overdue == []
        data = build_report_data(app, this_month(), now=on_target + timedelta(days=1))
        assert data.requests is not None
        assert [r.summary for r in data.requests.overdue] == ["Posts about the parade"]
    finally:
        app.close()
