"""``archiver status``: the monthly report's last delivery attempts, failures as notes.

Its own module, not ``archiver.report.build``: status reads one table and should not load
the report's builder (PRR deadlines, retention dates, coverage) to do so (issue 14 part 2).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from archiver.report.tables import report_deliveries


def status_section(app: Any) -> dict[str, Any]:
    """``archiver status``: the last delivery attempt per month, failures as notes."""
    with app.catalog.begin() as conn:
        latest = select(func.max(report_deliveries.c.id)).group_by(report_deliveries.c.month)
        rows = conn.execute(
            select(report_deliveries)
            .where(report_deliveries.c.id.in_(latest))
            .order_by(report_deliveries.c.month.desc())
            .limit(12)
        ).all()
    deliveries = [
        {
            "month": r.month,
            "attempted_at": r.attempted_at,
            "ok": bool(r.ok),
            "recipients": r.recipients,
            "endpoint": r.endpoint,
            "out_dir": r.out_dir,
            "error": r.error,
        }
        for r in rows
    ]
    notes = [
        f"report {d['month']} was NOT delivered ({d['attempted_at'][:19]} UTC): {d['error']}; "
        f"the files are in {d['out_dir']}; resend with `archiver report --month {d['month']} --send`"
        for d in deliveries
        if not d["ok"]
    ]
    return {"report_deliveries": deliveries, "notes": notes}
