"""Montana retention: schedules as data, the records manager's class mapping, disposition dates.

``schedules`` loads and checks ``retention_schedules/*.toml``; ``mapping`` says which item
governs each record class; ``dates`` computes when a record or bundle may first go. Holds,
approvals and the disposal itself live elsewhere and always get the last word.
"""

from __future__ import annotations

from archiver.retention.dates import (
    DENVER,
    add_years,
    bundle_eligible_on,
    clock_start,
    eligible_on,
    long_retention_flag,
    needs_historical_offer,
    propagate_revisits,
)
from archiver.retention.mapping import RECORD_CLASSES, ClassMapping, load_mapping
from archiver.retention.schedules import (
    Disposal,
    Problem,
    Retention,
    Schedule,
    ScheduleItem,
    ScheduleSet,
    Trigger,
    check_schedules,
    load_schedules,
)

__all__ = [
    "DENVER",
    "RECORD_CLASSES",
    "ClassMapping",
    "Disposal",
    "Problem",
    "Retention",
    "Schedule",
    "ScheduleItem",
    "ScheduleSet",
    "Trigger",
    "add_years",
    "bundle_eligible_on",
    "check_schedules",
    "clock_start",
    "eligible_on",
    "load_mapping",
    "load_schedules",
    "long_retention_flag",
    "needs_historical_offer",
    "propagate_revisits",
]
