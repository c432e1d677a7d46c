"""Policy compliance monitor (issue 17): the City's Social Media Use Policy, checked per site
after every harvest, with findings kept in the catalog and new failures e-mailed at once."""

from __future__ import annotations

from archiver.compliance.engine import StoredFinding, evaluate_site, site_findings
from archiver.compliance.run import ack, check_and_alert, expect_profile_change

__all__ = [
    "StoredFinding",
    "ack",
    "check_and_alert",
    "evaluate_site",
    "expect_profile_change",
    "site_findings",
]
