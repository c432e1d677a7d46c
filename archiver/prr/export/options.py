"""What an export is asked for, what it reports, and the run every phase reads.

Kept apart from the phases so each phase module imports these types without importing the
others; the query is described here once (JSON and words) because the WARC's warcinfo
record, the readable copy, the certification and the custody row must all say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from archiver.parts import ArchiveParts
from archiver.prr.redact import Rule
from archiver.prr.requests import RecordsRequest
from archiver.search import SearchFilters

WARC_NAME: Final = "export-00000.warc.gz"

Step = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    request_id: str
    query: str
    filters: SearchFilters
    out: Path
    zip: bool = False
    rules: tuple[Rule, ...] = ()
    withhold_redacted_originals: bool = False
    include_followers: bool = False
    #: Only the records the query matched, without their conversations (the old behaviour).
    matches_only: bool = False


@dataclass
class ExportResult:
    request_id: str
    path: Path
    package_sha256: str
    counts: dict[str, int]
    export_id: int
    zip_sha256: str | None = None
    bundles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


@dataclass(frozen=True, slots=True)
class Job:
    """One export run: the collaborators and the fixed facts every phase reads.

    ``started`` and ``actor`` are taken once so the WARC, the readable copy, the
    certification and the custody row name the same moment and the same person.
    """

    app: ArchiveParts
    opts: ExportOptions
    req: RecordsRequest
    actor: str
    started: datetime
    step: Step

    @property
    def tz(self) -> str:
        return self.opts.filters.tz


def query_dict(opts: ExportOptions) -> dict[str, Any]:
    """The query exactly as run, for machines (warcinfo, certification, custody row)."""
    f = opts.filters
    return {
        "query": opts.query,
        "site": f.site,
        "platform": f.platform,
        "kinds": list(f.kinds),
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "author": f.author,
        "all_versions": f.all_versions,
        "include_removed": f.include_removed,
        "timezone": f.tz,
        "include_followers": opts.include_followers,
        "redact": [r.name for r in opts.rules],
        "withhold_redacted_originals": opts.withhold_redacted_originals,
        "matches_only": opts.matches_only,
    }


def query_text(opts: ExportOptions) -> str:
    """The query exactly as run, in words (readable copy and certification)."""
    f = opts.filters
    parts = [f'words "{opts.query}"' if opts.query.strip() else "all words (no text query)"]
    if f.site:
        parts.append(f"site {f.site}")
    if f.platform:
        parts.append(f"platform {f.platform}")
    if f.kinds:
        parts.append("kinds " + ", ".join(f.kinds))
    if f.since:
        parts.append(f"posted on or after {f.since} ({f.tz})")
    if f.until:
        parts.append(f"posted on or before {f.until} ({f.tz})")
    if f.author:
        parts.append(f"author {f.author}")
    parts.append("every captured version" if f.all_versions else "current versions only")
    parts.append(
        "matched records only (--matches-only)"
        if opts.matches_only
        else "each match with its whole conversation (dates bound the matching, not the thread)"
    )
    parts.append(
        "items removed upstream included"
        if f.include_removed
        else "items removed upstream excluded"
    )
    return "; ".join(parts)
