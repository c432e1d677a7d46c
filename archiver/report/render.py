"""Turn ``ReportData`` into the text, HTML, CSV and chart the City Clerk receives.

Wording shared by the text and HTML versions (attention items, follower and token sentences) is
built here in Python, once, so the two parts of the e-mail can never disagree; the templates only
lay it out.
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2

from archiver.coverage import CoverageGap
from archiver.csvsafe import SafeWriter, cell
from archiver.errors import ReportError
from archiver.fsutil import atomic_write
from archiver.report.model import TOKEN_WARNING_DAYS, ReportData, SiteSection, iter_due
from archiver.timefmt import local_time

TEMPLATES = Path(__file__).parent / "templates"
CHART_MONTHS = 12
"""The chart shows at most a year so the bars stay readable on a laptop screen."""

AttentionKind = Literal[
    "failure", "no_it_admin", "token", "overdue_request", "integrity", "coverage"
]


@dataclass(frozen=True)
class AttentionItem:
    """Something a person must act on, shown before everything else in the report."""

    kind: AttentionKind
    heading: str
    subject: str
    detail: str
    action: str


def title(data: ReportData) -> str:
    return f"Monthly social media records report — {data.month} — City of {data.city}"


def _zone(data: ReportData) -> tzinfo | None:
    return data.generated_at.tzinfo


def _fmt_dt(value: datetime, zone: tzinfo | None) -> str:
    if isinstance(zone, ZoneInfo):
        return local_time(value, zone.key)
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def _fmt_num(value: int) -> str:
    return f"{value:,}"


def _fmt_bytes(value: int) -> str:
    size = float(value)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{value:,} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def followers_text(site: SiteSection) -> str:
    """Say plainly what the platform tells us about followers, including what it does not."""
    if site.follower_identities:
        moves = f"{site.followers_gained:,} new, {site.followers_lost:,} left"
        if site.follower_count is None:
            return f"{moves} (the platform does not give a total)"
        return f"{site.follower_count:,} ({moves})"
    if site.follower_count is None:
        return (
            f"not available: {site.platform} gives neither a follower count nor the list "
            "of followers"
        )
    return (
        f"{site.follower_count:,} (count only: {site.platform} gives the number of followers "
        "but not who they are, so new and departed followers cannot be listed)"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def fastlane_text(site: SiteSection) -> str:
    """The fast lane's month for one site: latency of what it captured first, and misses."""
    f = site.fastlane
    if f is None:
        return "not followed"
    if f.captured and f.p50 is not None and f.p95 is not None:
        head = (
            f"{_plural(f.captured, 'comment or post', 'comments and posts')} captured live, "
            f"posting to sealed: median {_duration(f.p50)}, 95th percentile {_duration(f.p95)}"
        )
    else:
        head = "nothing captured live this month"
    miss = _plural(f.misses, "fast-lane miss", "fast-lane misses")
    return (
        f"{head}; {miss} (comments the sweeps captured first, more than "
        f"{_duration(f.target)} after they were posted)"
    )


def token_text(site: SiteSection, today: date) -> str:
    left = site.token_days_left(today)
    if site.token_expires is None or left is None:
        return "no expiry date recorded"
    when = site.token_expires.isoformat()
    if left < 0:
        return f"EXPIRED on {when}"
    if left == 0:
        return f"expires TODAY ({when})"
    return f"expires {when} (in {_plural(left, 'day')})"


def _coverage_detail(gap: CoverageGap, zone: tzinfo | None) -> str:
    if gap.kind == "harvest":
        until = _fmt_dt(gap.end, zone) if gap.end else "the time of this report"
        return f"{gap.describe()}: from {_fmt_dt(gap.start, zone)} to {until}."
    return f"{gap.describe()} (seen {_fmt_dt(gap.start, zone)})."


def attention_items(data: ReportData) -> list[AttentionItem]:
    """Attention items in the order the clerk should read them."""
    zone = _zone(data)
    items: list[AttentionItem] = []
    for site in data.sites_with_failures():
        runs = site.runs_ok + site.runs_failed
        detail = f"{site.runs_failed:,} of {_plural(runs, 'harvest run')} failed this month."
        if site.failures:
            last = max(site.failures, key=lambda f: f.at)
            detail += f" Last failure {_fmt_dt(last.at, zone)}: {last.cause}"
        items.append(
            AttentionItem(
                "failure",
                "Capture failures",
                site.label,
                detail,
                "Posts and comments from the failed runs may be missing from the archive; "
                "ask IT to fix the cause so the next run can catch up.",
            )
        )
    for gap in data.coverage:
        items.append(
            AttentionItem(
                "coverage",
                "Coverage gap" if gap.kind == "count" else "No harvest for too long",
                gap.site_id,
                _coverage_detail(gap, zone),
                gap.fix,
            )
        )
    for site in data.sites_missing_it_admin():
        admins = ", ".join(site.administrators) or "nobody"
        items.append(
            AttentionItem(
                "no_it_admin",
                "No IT administrator",
                site.label,
                f"Site administrators: {admins}. The Social Media Use Policy requires an "
                "employee of the IT Department to be listed as an administrator of every site.",
                "Ask the department to add an IT Department employee as an administrator.",
            )
        )
    for site in data.tokens_expiring(TOKEN_WARNING_DAYS):
        items.append(
            AttentionItem(
                "token",
                "Access token expiring",
                site.label,
                f"The archiver's access token {token_text(site, data.today)}.",
                "A site administrator must renew the token before then, or captures stop.",
            )
        )
    for req in data.overdue_requests():
        items.append(
            AttentionItem(
                "overdue_request",
                "Overdue public-records request",
                f"Request {req.request_id}",
                f"Received {req.received_on.isoformat()}, City target "
                f"{req.target_on.isoformat()}: {req.summary}",
                "Montana requires a response in a timely manner (MCA 2-6-1006); respond or "
                "send the requester a time estimate.",
            )
        )
    for warning in data.storage_warnings:
        items.append(
            AttentionItem(
                "integrity",
                "Archive storage is NOT write-once (WORM)",
                "Archive storage",
                warning,
                "Ask IT to move the archive to storage with Object Lock in COMPLIANCE mode; "
                "until then records can be altered or destroyed early.",
            )
        )
    for q in [] if data.authenticity is None else data.authenticity.quarantined:
        items.append(
            AttentionItem(
                "integrity",
                "Bundle QUARANTINED (failed its seal check)",
                "Archive storage",
                q,
                "It was not cataloged and is never exported; ask IT and the records manager "
                "to find out who placed it there (see the audit log).",
            )
        )
    for failure in data.integrity_failures():
        items.append(
            AttentionItem(
                "integrity",
                "Integrity check failed",
                "Archive storage",
                failure,
                "Do not dispose of or export the affected bundle; ask IT to restore it from "
                "the replica and re-run the fixity check.",
            )
        )
    return items


def _wrap(text: str, indent: int = 0, width: int = 78) -> str:
    """Wrap one paragraph; the first line is already indented by the template."""
    pad = " " * indent
    return textwrap.fill(str(text), width=width, initial_indent=pad, subsequent_indent=pad).lstrip(
        " "
    )


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _fmt_num
    env.filters["size"] = _fmt_bytes
    env.filters["wrap"] = _wrap
    env.filters["followers"] = followers_text
    env.filters["fastlane"] = fastlane_text
    return env


@cache
def _text_env() -> jinja2.Environment:
    return _environment(autoescape=False)


@cache
def _html_env() -> jinja2.Environment:
    return _environment(autoescape=True)


def _context(data: ReportData) -> dict[str, Any]:
    zone = _zone(data)
    dt: Callable[[datetime], str] = lambda value: _fmt_dt(value, zone)  # noqa: E731
    token: Callable[[SiteSection], str] = lambda site: token_text(site, data.today)  # noqa: E731
    return {
        "data": data,
        "title": title(data),
        "attention": attention_items(data),
        "dt": dt,
        "token": token,
        "due_windows": list(iter_due(data.disposition)) if data.disposition else [],
        "unavailable": "This section is not yet available.",
    }


def _render(env: jinja2.Environment, name: str, data: ReportData, **extra: object) -> str:
    try:
        return env.get_template(name).render({**_context(data), **extra})
    except jinja2.TemplateError as exc:
        raise ReportError(
            f"report template {name} failed: {exc}",
            hint=f"check {TEMPLATES / name}",
        ) from exc


def render_text(data: ReportData) -> str:
    """The plain-text part: what a clerk sees in a text-only mail client or a printout."""
    return _render(_text_env(), "report.txt.j2", data)


def render_html(data: ReportData, *, chart_src: str | None = None) -> str:
    """The HTML part, with inline CSS because many mail clients drop <style> blocks.

    ``chart_src`` shows the chart in the body: ``cid:...`` in the e-mail (the image travels as
    a related part, so no client fetches anything remotely), the PNG's file name on disk.
    """
    return _render(_html_env(), "report.html.j2", data, chart_src=chart_src)


CSV_HEADER = ("month", "site_id", "platform", "account", "department", "figure", "value")
TOTAL_SITE_ID = "ALL"


def _csv_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: account names come from the public platforms."""
    return str(cell(value))


def _site_figures(site: SiteSection) -> Iterable[tuple[str, int | None]]:
    yield "posts_captured", site.posts_captured
    yield "comments_captured", site.comments_captured
    # Blank, not 0, when the platform does not say who followed: 0 would be a false statement.
    yield "followers_gained", site.followers_gained if site.follower_identities else None
    yield "followers_lost", site.followers_lost if site.follower_identities else None
    yield "follower_count", site.follower_count
    yield "edits_detected", site.edits_detected
    yield "removals_detected", site.removals_detected
    yield "runs_ok", site.runs_ok
    yield "runs_failed", site.runs_failed
    if site.fastlane is not None:
        f = site.fastlane
        yield "fastlane_captured", f.captured
        yield "fastlane_p50_seconds", None if f.p50 is None else round(f.p50)
        yield "fastlane_p95_seconds", None if f.p95 is None else round(f.p95)
        yield "fastlane_misses", f.misses


def render_csv(data: ReportData) -> str:
    """One row per site per figure (long format, easy to pivot), then the city-wide totals."""
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for site in data.sites:
        for figure, value in _site_figures(site):
            writer.writerow(
                [
                    data.month,
                    _csv_cell(site.site_id),
                    _csv_cell(site.platform),
                    _csv_cell(site.account),
                    _csv_cell(site.department),
                    figure,
                    "" if value is None else str(value),
                ]
            )
    t = data.totals
    totals = {
        "sites": t.sites,
        "posts_captured": t.posts_captured,
        "comments_captured": t.comments_captured,
        "followers_gained": t.followers_gained,
        "followers_lost": t.followers_lost,
        "edits_detected": t.edits_detected,
        "removals_detected": t.removals_detected,
        "runs_ok": t.runs_ok,
        "runs_failed": t.runs_failed,
        "bundles_sealed": t.bundles_sealed,
        "bytes_stored": t.bytes_stored,
    }
    for figure, total in totals.items():
        writer.writerow([data.month, TOTAL_SITE_ID, "", "", "", figure, str(total)])
    return out.getvalue()


def render_chart_png(
    data: ReportData, history: Mapping[str, Mapping[str, int]] | None = None
) -> bytes:
    """Bar chart of posts + comments captured per site per month.

    ``history`` maps earlier months ("YYYY-MM") to {site_id: captures}; this month's figures come
    from ``data`` and win over any entry for the same month. Only the last 12 months are drawn.
    """
    # Figure + FigureCanvasAgg instead of pyplot: no global state, no GUI backend, thread-safe.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Later months would contradict "through <month>" (e.g. when re-sending an old report).
    months: dict[str, Mapping[str, int]] = {
        month: figures for month, figures in (history or {}).items() if month < data.month
    }
    months[data.month] = data.captures_by_site()
    shown = sorted(months)[-CHART_MONTHS:]
    site_ids = sorted({site for m in shown for site in months[m]})

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if site_ids:
        width = 0.8 / len(site_ids)
        for i, site_id in enumerate(site_ids):
            xs = [m + (i - (len(site_ids) - 1) / 2) * width for m in range(len(shown))]
            ys = [months[m].get(site_id, 0) for m in shown]
            ax.bar(xs, ys, width=width, label=site_id)
        ax.set_xticks(range(len(shown)), shown, rotation=45 if len(shown) > 6 else 0)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.text(0.5, 0.5, "No sites archived", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("posts + comments captured")
    ax.set_title(f"Captures per site — City of {data.city}, through {data.month}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_report(
    data: ReportData,
    out_dir: Path,
    history: Mapping[str, Mapping[str, int]] | None = None,
) -> list[Path]:
    """Write report-YYYY-MM.{html,txt,csv,png} into ``out_dir``; returns the paths in that order."""
    stem = f"report-{data.month}"
    # Render everything first: a template error must not leave a half-replaced set of files.
    payloads = {
        f"{stem}.html": render_html(data, chart_src=f"{stem}.png").encode("utf-8"),
        f"{stem}.txt": render_text(data).encode("utf-8"),
        f"{stem}.csv": render_csv(data).encode("utf-8"),
        f"{stem}.png": render_chart_png(data, history),
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, payload in payloads.items():
            path = out_dir / name
            atomic_write(path, payload, mode=0o640)  # owner and group: reports name requesters
            paths.append(path)
        dir_fd = os.open(out_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        from archiver.resources import RESOURCE_ERRNOS, describe, hint_for

        if exc.errno in RESOURCE_ERRNOS:
            raise ReportError(
                f"cannot write the report into {out_dir}: {describe(exc.errno)}",
                hint=hint_for(exc.errno, out_dir),
            ) from exc
        raise ReportError(
            f"cannot write the report into {out_dir}: {exc.strerror or exc}",
            hint="check that the report directory exists and the archiver user can write it",
        ) from exc
    return paths
