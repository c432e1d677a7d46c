"""What the monthly retention report says, as plain frozen data.

The catalog layer fills these objects; the renderers and the mailer only read them. Keeping the
model free of database and template code lets the report be tested from hand-built data and lets
the catalog query change without touching the wording the City Clerk sees.

Conventions every producer must follow:

* Every ``datetime`` is timezone-aware. The renderers show all times in the zone of
  ``ReportData.generated_at`` (normally America/Denver), so a clerk never has to convert UTC.
* A section that is ``None`` means "this data does not exist yet" (for example disposition before
  retention schedules are configured). The renderers print "not yet available" for it instead of
  hiding it, so a missing feature is never mistaken for "nothing to report". An empty list means
  the data exists and there is nothing in it.
* ``city`` is the bare name ("Bozeman"); the renderers add "City of".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from archiver.coverage import CoverageGap
from archiver.errors import ReportError

TOKEN_WARNING_DAYS = 30
"""Tokens expiring within this many days are attention items: renewal often needs a department
administrator to log in, which takes more than a few days to arrange."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReportError(
            f"{what} has no timezone ({value.isoformat()})",
            hint="build report datetimes with tzinfo, e.g. datetime.now(UTC)",
        )


@dataclass(frozen=True)
class FailureLine:
    """One failed harvest run; ``cause`` is the one-line ArchiverError message."""

    at: datetime
    cause: str

    def __post_init__(self) -> None:
        _require_aware(self.at, "failure time")


@dataclass(frozen=True)
class FastLaneLine:
    """The fast lane (issue 13) for one site over the month: how long the comments it captured
    first took from posting to sealed (median, 95th percentile, seconds; None when it captured
    nothing) and how many comments a sweep captured first more than ``target`` seconds after
    they were posted (``misses``)."""

    captured: int
    p50: float | None
    p95: float | None
    misses: int
    target: float


@dataclass(frozen=True)
class SiteSection:
    """One social media account for the month.

    ``administrators`` are the people the platform lists as site administrators; the Social Media
    Use Policy requires one of them to be an IT Department employee, which ``has_it_admin`` records.

    ``follower_identities`` is False for platforms that give only a follower count (Facebook
    pages, for example). Then ``followers_gained`` and ``followers_lost`` are meaningless: the
    renderers ignore them and say plainly that only the count is known. ``follower_count`` is None
    when the platform gives not even a count.

    ``degradations`` are plain sentences about what could not be captured this month (an API that
    stopped returning comments, a rate limit that cut a run short) so the clerk knows the archive
    for this account is incomplete and why.
    """

    site_id: str
    platform: str
    account: str
    department: str
    administrators: list[str]
    has_it_admin: bool
    posts_captured: int
    comments_captured: int
    followers_gained: int
    followers_lost: int
    follower_count: int | None
    follower_identities: bool
    edits_detected: int
    removals_detected: int
    runs_ok: int
    runs_failed: int
    failures: list[FailureLine] = field(default_factory=list)
    token_expires: date | None = None
    degradations: list[str] = field(default_factory=list)
    # None when the fast lane does not follow this site.
    fastlane: FastLaneLine | None = None

    def __post_init__(self) -> None:
        counts = {
            "posts_captured": self.posts_captured,
            "comments_captured": self.comments_captured,
            "followers_gained": self.followers_gained,
            "followers_lost": self.followers_lost,
            "edits_detected": self.edits_detected,
            "removals_detected": self.removals_detected,
            "runs_ok": self.runs_ok,
            "runs_failed": self.runs_failed,
        }
        for name, value in counts.items():
            if value < 0:
                raise ReportError(f"site {self.site_id}: {name} is negative ({value})")
        if self.follower_count is not None and self.follower_count < 0:
            raise ReportError(f"site {self.site_id}: follower_count is negative")

    @property
    def captures(self) -> int:
        """Posts plus comments: the figure the monthly chart plots."""
        return self.posts_captured + self.comments_captured

    @property
    def label(self) -> str:
        """How the clerk recognises the site: platform, account and owning department."""
        return f"{self.platform} {self.account} ({self.department})"

    def token_days_left(self, today: date) -> int | None:
        """Days until the access token expires; negative once it has expired."""
        if self.token_expires is None:
            return None
        return (self.token_expires - today).days


@dataclass(frozen=True)
class Totals:
    """City-wide figures for the month.

    Build it with ``Totals.from_sites`` unless the catalog has a reason to differ; follower
    movement is summed only over sites that report follower identities.
    """

    sites: int
    posts_captured: int
    comments_captured: int
    followers_gained: int
    followers_lost: int
    edits_detected: int
    removals_detected: int
    runs_ok: int
    runs_failed: int
    bundles_sealed: int
    bytes_stored: int

    @classmethod
    def from_sites(
        cls, sites: Sequence[SiteSection], *, bundles_sealed: int, bytes_stored: int
    ) -> Totals:
        known = [s for s in sites if s.follower_identities]
        return cls(
            sites=len(sites),
            posts_captured=sum(s.posts_captured for s in sites),
            comments_captured=sum(s.comments_captured for s in sites),
            followers_gained=sum(s.followers_gained for s in known),
            followers_lost=sum(s.followers_lost for s in known),
            edits_detected=sum(s.edits_detected for s in sites),
            removals_detected=sum(s.removals_detected for s in sites),
            runs_ok=sum(s.runs_ok for s in sites),
            runs_failed=sum(s.runs_failed for s in sites),
            bundles_sealed=bundles_sealed,
            bytes_stored=bytes_stored,
        )


@dataclass(frozen=True)
class DueLine:
    """A sealed bundle whose retention minimum ends soon (eligible, never automatic)."""

    site_id: str
    bundle_id: str
    schedule_item: str
    eligible_on: date
    records: int


@dataclass(frozen=True)
class BatchLine:
    """A proposed disposal batch waiting for a human decision.

    ``needs`` says what approval the batch's disposal path requires before it can be executed:
    the approving authority by name and title (RM88), and for RM60 first the Local Government
    Records Committee's disposal subcommittee.
    """

    batch_id: str
    proposed_on: date
    bundles: int
    records: int
    needs: str


@dataclass(frozen=True)
class DispositionSection:
    """Upcoming disposal eligibility and pending approvals.

    ``due_30`` holds bundles eligible within 30 days, ``due_60`` within 31-60 days, ``due_90``
    within 61-90 days (disjoint, so counts can be added). ``long_retention_flags`` are sentences
    about records that need special handling before disposal, such as records over 50 years old
    that must first be offered to the historical society (MCA 2-6-1205).
    """

    due_30: list[DueLine]
    due_60: list[DueLine]
    due_90: list[DueLine]
    awaiting_approval: list[BatchLine]
    long_retention_flags: list[str]


@dataclass(frozen=True)
class HoldLine:
    """A legal hold in force; nothing it covers may be disposed of."""

    name: str
    matter: str
    placed_at: datetime
    placed_by: str

    def __post_init__(self) -> None:
        _require_aware(self.placed_at, f"hold {self.name} placed_at")


@dataclass(frozen=True)
class FixityLine:
    """The latest integrity check; ``failures`` are one-line messages naming the bundle."""

    checked_at: datetime
    bundles_checked: int
    failures: list[str]

    def __post_init__(self) -> None:
        _require_aware(self.checked_at, "fixity checked_at")


@dataclass(frozen=True)
class AuthenticityLine:
    """What lets a reader check the archive from outside the server: the audit log's head
    (a copy of it now lives in every recipient's mailbox), the newest sealed checkpoint,
    the signing key's fingerprint, quarantined bundles and timestamps still waiting."""

    audit_seq: int
    audit_hash: str
    checkpoint: str | None
    signing_keys: list[str]
    quarantined: list[str]
    timestamps_pending: int


@dataclass(frozen=True)
class RequestLine:
    """A public-records request past the City's own response target.

    Montana asks local governments only to respond "in a timely manner" (MCA 2-6-1006(2)), so
    ``target_on`` is the City's internal target, not a statutory deadline. No requester name is
    carried: the report goes to several people and need not identify members of the public.
    ``summary`` is the request's description of the records sought.
    """

    request_id: str
    received_on: date
    target_on: date
    summary: str


@dataclass(frozen=True)
class RequestsSection:
    """Public-records requests touching social media content."""

    open: int
    overdue: list[RequestLine]


@dataclass(frozen=True)
class ComplianceLine:
    """A policy-compliance finding open at report time (``archiver.compliance``)."""

    finding_id: int
    site_id: str
    rule: str
    status: str
    subject: str
    message: str
    first_seen: str


@dataclass(frozen=True)
class ComplianceSection:
    """Open findings, and how many were opened and acknowledged during the month."""

    open: list[ComplianceLine]
    opened_in_month: int
    acked_in_month: int


@dataclass(frozen=True)
class ReportData:
    """Everything one monthly report contains."""

    month: str
    generated_at: datetime
    city: str
    sites: list[SiteSection]
    totals: Totals
    disposition: DispositionSection | None
    holds: list[HoldLine] | None
    fixity: FixityLine | None
    requests: RequestsSection | None
    notes: list[str] = field(default_factory=list)
    # The store failed its WORM self-check (archiver.catalog.worm_state): a needs-attention item.
    storage_warnings: list[str] = field(default_factory=list)
    authenticity: AuthenticityLine | None = None
    compliance: ComplianceSection | None = None
    # Threads short of their reported count and sites without a harvest for over twice their
    # interval during the month (archiver.coverage): needs-attention items.
    coverage: list[CoverageGap] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _MONTH.match(self.month):
            raise ReportError(
                f"report month {self.month!r} is not YYYY-MM", hint="use e.g. '2026-10'"
            )
        _require_aware(self.generated_at, "report generated_at")
        seen: set[str] = set()
        for site in self.sites:
            if site.site_id in seen:
                raise ReportError(f"site {site.site_id} appears twice in the report data")
            seen.add(site.site_id)

    @property
    def today(self) -> date:
        """The report's reference date, in the zone the report is shown in."""
        return self.generated_at.date()

    def tokens_expiring(self, within_days: int = TOKEN_WARNING_DAYS) -> list[SiteSection]:
        """Sites whose token has expired or expires within ``within_days``, soonest first."""
        due = [
            s
            for s in self.sites
            if (left := s.token_days_left(self.today)) is not None and left <= within_days
        ]
        return sorted(due, key=lambda s: (s.token_expires, s.site_id))

    def sites_missing_it_admin(self) -> list[SiteSection]:
        """Sites breaking the policy rule that an IT Department employee be an administrator."""
        return [s for s in self.sites if not s.has_it_admin]

    def sites_with_failures(self) -> list[SiteSection]:
        return [s for s in self.sites if s.runs_failed > 0 or s.failures]

    def overdue_requests(self) -> list[RequestLine]:
        return [] if self.requests is None else list(self.requests.overdue)

    def integrity_failures(self) -> list[str]:
        return [] if self.fixity is None else list(self.fixity.failures)

    def captures_by_site(self) -> dict[str, int]:
        return {s.site_id: s.captures for s in self.sites}


def iter_due(section: DispositionSection) -> Iterable[tuple[str, list[DueLine]]]:
    """The three eligibility windows with the labels the renderers print."""
    yield "within 30 days", section.due_30
    yield "in 31-60 days", section.due_60
    yield "in 61-90 days", section.due_90
