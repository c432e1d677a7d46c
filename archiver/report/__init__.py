"""The monthly retention report: data model, renderers and mail delivery.

The catalog layer builds a ``ReportData``; ``write_report`` keeps a copy on disk and
``build_message`` + ``send_report`` deliver it to the City Clerk, the IT Director and each
department's site administrators.
"""

from __future__ import annotations

from archiver.report.mailer import SmtpSettings, build_message, send_report
from archiver.report.model import (
    BatchLine,
    DispositionSection,
    DueLine,
    FailureLine,
    FixityLine,
    HoldLine,
    ReportData,
    RequestLine,
    RequestsSection,
    SiteSection,
    Totals,
)
from archiver.report.render import (
    attention_items,
    render_chart_png,
    render_csv,
    render_html,
    render_text,
    write_report,
)

__all__ = [
    "BatchLine",
    "DispositionSection",
    "DueLine",
    "FailureLine",
    "FixityLine",
    "HoldLine",
    "ReportData",
    "RequestLine",
    "RequestsSection",
    "SiteSection",
    "SmtpSettings",
    "Totals",
    "attention_items",
    "build_message",
    "render_chart_png",
    "render_csv",
    "render_html",
    "render_text",
    "send_report",
    "write_report",
]
