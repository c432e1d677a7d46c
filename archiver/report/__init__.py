"""The monthly retention report: data model, renderers and mail delivery.

The catalog layer builds a ``ReportData``; ``write_report`` keeps a copy on disk and
``build_message`` + ``send_report`` deliver it to the City Clerk, the IT Director and each
department's site administrators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archiver.report.mailer import build_message, send_report
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
    from archiver.settings.smtp import SmtpSettings

# Loaded on first use (PEP 562): `archiver status` reads report settings without loading the
# renderers and the mail code (issue 14 part 2).
_WHERE = {
    "BatchLine": "archiver.report.model",
    "DispositionSection": "archiver.report.model",
    "DueLine": "archiver.report.model",
    "FailureLine": "archiver.report.model",
    "FixityLine": "archiver.report.model",
    "HoldLine": "archiver.report.model",
    "ReportData": "archiver.report.model",
    "RequestLine": "archiver.report.model",
    "RequestsSection": "archiver.report.model",
    "SiteSection": "archiver.report.model",
    "SmtpSettings": "archiver.settings.smtp",
    "Totals": "archiver.report.model",
    "attention_items": "archiver.report.render",
    "build_message": "archiver.report.mailer",
    "render_chart_png": "archiver.report.render",
    "render_csv": "archiver.report.render",
    "render_html": "archiver.report.render",
    "render_text": "archiver.report.render",
    "send_report": "archiver.report.mailer",
    "write_report": "archiver.report.render",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
