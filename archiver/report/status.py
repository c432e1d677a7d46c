"""``archiver status``: the monthly report's last delivery attempts, failures as notes.

Its own module, not ``archiver.report.build``: status reads one table and should not load
the report's builder (PRR deadlines, retention dates, coverage) to do so, nor SQLAlchemy
(``archiver.catalog.sql``; issue 14 part 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archiver.catalog.sql import Reader

if TYPE_CHECKING:
    from archiver.config import Config

#: The newest delivery attempt of each of the last twelve months (table ``report_deliveries``).
LAST_DELIVERIES = (
    "SELECT month, attempted_at, ok, recipients, endpoint, out_dir, error "
    "FROM report_deliveries WHERE id IN (SELECT max(id) FROM report_deliveries GROUP BY month) "
    "ORDER BY month DESC LIMIT 12"
)


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    """``archiver status``: the last delivery attempt per month, failures as notes."""
    deliveries = [
        {
            "month": r["month"],
            "attempted_at": r["attempted_at"],
            "ok": bool(r["ok"]),
            "recipients": r["recipients"],
            "endpoint": r["endpoint"],
            "out_dir": r["out_dir"],
            "error": r["error"],
        }
        for r in db.rows(LAST_DELIVERIES)
    ]
    notes = [
        f"report {d['month']} was NOT delivered ({d['attempted_at'][:19]} UTC): {d['error']}; "
        f"the files are in {d['out_dir']}; resend with `archiver report --month {d['month']} --send`"
        for d in deliveries
        if not d["ok"]
    ]
    return {"report_deliveries": deliveries, "notes": notes}
