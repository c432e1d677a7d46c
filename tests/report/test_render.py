"""The report must put problems first and say plainly what is unknown."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archiver.errors import ReportError
from archiver.report import (
    FailureLine,
    FixityLine,
    RequestsSection,
    Totals,
    attention_items,
    render_chart_png,
    render_csv,
    render_html,
    render_text,
    write_report,
)
from tests.report.helpers import (
    GENERATED,
    HOSTILE,
    PNG_SIGNATURE,
    TODAY,
    sample_report,
    sample_sites,
)


def attention_block(text: str) -> str:
    start = text.index("NEEDS ATTENTION")
    return text[start : text.index("SUMMARY", start)]


def test_text_lists_every_attention_item_before_the_summary() -> None:
    text = render_text(sample_report())
    block = attention_block(text)
    assert "Capture failures: Mastodon @bozeman@mastodon.example" in block
    assert "2 of 31 harvest runs failed" in block
    assert "connection reset by peer" in block  # the latest failure's cause
    assert "No IT administrator: Facebook Bozeman Fire Department (Fire)" in block
    assert "Access token expiring: Mastodon" in block
    assert "(in 10 days)" in block
    assert "PRR-2026-041" in block
    flat = " ".join(block.split())
    assert (
        "Received 2026-09-20, City target 2026-10-04: All Fire Department posts about the "
        "Bridger fire" in flat
    )
    assert "assigned to" not in text
    assert (
        "- PRR-2026-041, received 2026-09-20, target 2026-10-04: All Fire Department posts "
        "about the Bridger fire" in " ".join(text.split())
    )
    assert "sha256 does not match" in block
    # The Facebook token (55 days) is not an attention item.
    assert "Access token expiring: Facebook" not in block
    kinds = [item.kind for item in attention_items(sample_report())]
    assert kinds == ["failure", "no_it_admin", "token", "overdue_request", "integrity"]


def test_text_says_plainly_when_only_a_follower_count_is_known() -> None:
    text = render_text(sample_report())
    assert "8,400 (count only: Facebook gives the number of followers" in " ".join(text.split())
    assert "1,204 (15 new, 3 left)" in text


def test_html_has_the_same_attention_items_first_and_escapes_hostile_text() -> None:
    html = render_html(sample_report(notes=[HOSTILE]))
    assert html.index("Needs attention") < html.index("Summary")
    attention = html[html.index("Needs attention") : html.index("Summary")]
    for needle in (
        "Capture failures",
        "No IT administrator",
        "Access token expiring",
        "PRR-2026-041",
        "sha256 does not match",
        "in 10 days",
    ):
        assert needle in attention
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "City Manager&#39;s Office" in html


def test_missing_sections_print_not_yet_available_instead_of_vanishing() -> None:
    data = sample_report(disposition=None, holds=None, fixity=None, requests=None)
    text = render_text(data)
    html = render_html(data)
    for rendered in (text, html):
        assert rendered.count("not yet available") == 6  # + AUTHENTICITY (12), COMPLIANCE (17)
    for heading in ("DISPOSITION", "LEGAL HOLDS", "INTEGRITY (FIXITY) CHECK", "PUBLIC-RECORDS"):
        section = text[text.index(heading) :]
        assert "not yet available" in section.split("\n\n")[0]
    # Empty is not the same as unknown.
    empty = render_text(sample_report(holds=[]))
    assert "No legal holds are in force." in empty


def test_clean_month_says_nothing_needs_attention() -> None:
    sites = [
        replace(s, runs_failed=0, failures=[], has_it_admin=True, token_expires=None)
        for s in sample_sites()
    ]
    data = sample_report(
        sites=sites,
        totals=Totals.from_sites(sites, bundles_sealed=1, bytes_stored=10),
        fixity=FixityLine(GENERATED, 62, []),
        requests=RequestsSection(open=0, overdue=[]),
    )
    assert attention_items(data) == []
    assert "Nothing needs attention this month." in render_text(data)
    assert "Nothing needs attention this month." in render_html(data)


def test_csv_has_one_row_per_site_per_figure_and_totals() -> None:
    data = sample_report()
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    by_key = {(r["site_id"], r["figure"]): r["value"] for r in rows}
    assert len([r for r in rows if r["site_id"] == "city-mastodon"]) == 9
    assert len([r for r in rows if r["site_id"] == "fire-facebook"]) == 9
    assert by_key["city-mastodon", "posts_captured"] == "42"
    assert by_key["city-mastodon", "followers_gained"] == "15"
    assert by_key["city-mastodon", "runs_failed"] == "2"
    # Facebook gives no identities: gained/lost are blank (unknown), not a false 0.
    assert by_key["fire-facebook", "followers_gained"] == ""
    assert by_key["fire-facebook", "follower_count"] == "8400"
    assert by_key["ALL", "posts_captured"] == "60"
    assert by_key["ALL", "comments_captured"] == "405"
    assert by_key["ALL", "followers_gained"] == "15"
    assert by_key["ALL", "sites"] == "2"
    assert by_key["ALL", "bytes_stored"] == "3500000000"
    assert all(r["month"] == "2026-10" for r in rows)


def test_csv_neutralises_spreadsheet_formulas_from_account_names() -> None:
    site = replace(sample_sites()[1], account='=HYPERLINK("http://evil.example","x")')
    data = sample_report(
        sites=[site], totals=Totals.from_sites([site], bundles_sealed=0, bytes_stored=0)
    )
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert rows[0]["account"].startswith("'=HYPERLINK")


def test_chart_is_a_png_with_and_without_history() -> None:
    data = sample_report()
    assert render_chart_png(data).startswith(PNG_SIGNATURE)
    history = {
        f"2026-{m:02d}": {"city-mastodon": 300 + m, "fire-facebook": 90} for m in range(1, 10)
    }
    with_history = render_chart_png(data, history)
    assert with_history.startswith(PNG_SIGNATURE)
    assert with_history != render_chart_png(data)
    empty = sample_report(sites=[], totals=Totals.from_sites([], bundles_sealed=0, bytes_stored=0))
    assert render_chart_png(empty).startswith(PNG_SIGNATURE)


def test_write_report_writes_four_files_atomically(tmp_path: Path) -> None:
    data = sample_report()
    out = tmp_path / "reports" / "2026"
    paths = write_report(data, out)
    assert [p.name for p in paths] == [
        "report-2026-10.html",
        "report-2026-10.txt",
        "report-2026-10.csv",
        "report-2026-10.png",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temp left
    assert paths[1].read_text(encoding="utf-8") == render_text(data)
    assert paths[3].read_bytes().startswith(PNG_SIGNATURE)


def test_write_report_into_an_unwritable_place_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ReportError, match="cannot write the report into"):
        write_report(sample_report(), blocker / "sub")


def test_tokens_expiring_includes_expired_and_excludes_later_ones() -> None:
    mastodon, facebook = sample_sites()
    sites = [
        replace(mastodon, token_expires=TODAY - timedelta(days=1)),
        replace(facebook, token_expires=TODAY + timedelta(days=31)),
    ]
    data = sample_report(sites=sites)
    assert [s.site_id for s in data.tokens_expiring()] == ["city-mastodon"]
    assert "EXPIRED on 2026-10-31" in render_text(data)


def test_times_are_shown_in_the_report_zone() -> None:
    text = render_text(sample_report())
    assert "2026-10-15 03:00 MDT" in text  # 09:00 UTC failure
    assert "Generated: 2026-11-01 06:00 MST" in text  # DST ended that night


def test_model_rejects_bad_month_and_naive_times() -> None:
    with pytest.raises(ReportError, match="not YYYY-MM"):
        sample_report(month="2026-13")
    with pytest.raises(ReportError, match="no timezone"):
        sample_report(generated_at=datetime(2026, 11, 1, 6, 0))
    with pytest.raises(ReportError, match="no timezone"):
        FailureLine(datetime(2026, 10, 1), "x")
    with pytest.raises(ReportError, match="appears twice"):
        sample_report(sites=sample_sites() * 2)


def test_chart_ignores_history_after_the_report_month() -> None:
    data = sample_report()
    later = {"2026-12": {"city-mastodon": 5000}}
    assert render_chart_png(data, later) == render_chart_png(data)
    earlier = {"2026-09": {"city-mastodon": 5000}}
    assert render_chart_png(data, earlier) != render_chart_png(data)


def test_platform_without_any_follower_figure() -> None:
    site = replace(sample_sites()[1], follower_count=None, platform="Instagram")
    data = sample_report(sites=[site])
    assert "Instagram gives neither a follower count nor the list" in " ".join(
        render_text(data).split()
    )
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert {r["figure"]: r["value"] for r in rows if r["site_id"] == site.site_id}[
        "follower_count"
    ] == ""
