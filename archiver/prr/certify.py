"""What an export holds and what the archive knows it could not get: computed, not asserted.

``certification.txt`` used to end "a true and complete copy" whatever happened upstream. Here
the holdings are counted per site and record class (items the query matched, items added
because they belong to a matched conversation, items whose original was withheld for
redaction) and the **known gaps** are read from one function, :func:`known_gaps`, which today
reports what the catalog already records:

* degradations a harvest declared (a capability it could not exercise, e.g. a server that
  cut a thread at its reply limit),
* responses the harvester kept but could not parse (``unparseable``),
* harvest runs that failed or were abandoned while the exported records were being kept,
* conversations whose root post or a parent was never captured.

Capture-coverage rows (a platform's reported count beside the captured one) are to be added
to :func:`known_gaps` as one more source. The word "complete" is written only when the list
is empty (see :func:`is_complete`). The section is built by :func:`holdings_section` so other
parts of the certification (signatures, FRE 902(14) wording) compose with it.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, and_, func, or_, select

from archiver.catalog import schema as s
from archiver.catalog.sql import SAReader
from archiver.coverage import count_gaps
from archiver.timefmt import local_time

CHUNK: Final = 900
#: Degradation capabilities and the record class they can leave short.
_CAPABILITY_CLASS: Final = (
    ("follower", "followers"),
    ("repl", "comments"),
    ("comment", "comments"),
    ("media", "media"),
    ("post", "posts"),
)


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the archive knows it does not hold, in the scope of an export."""

    site_id: str
    record_class: str  # posts | comments | followers | media | "*" (any)
    scope: str  # "site", or "thread <root id>"
    source: str  # degradation | unparseable | failed-run | missing-root | missing-parent | coverage
    detail: str
    at: str | None = None

    def line(self, tz: str | None = None) -> str:
        """One line for people: times in the City's zone when ``tz`` is given."""
        at = local_time(self.at, tz) if (self.at and tz) else self.at
        when = f" [{at}]" if at else ""
        return (
            f"{self.site_id} {self.record_class} ({self.scope}, {self.source}){when}: {self.detail}"
        )


def is_complete(gaps: Sequence[Gap]) -> bool:
    return not gaps


def _class_of_capability(capability: str) -> str:
    for needle, rclass in _CAPABILITY_CLASS:
        if needle in capability:
            return rclass
    return "*"


def _items(conn: Connection, item_ids: Iterable[int]) -> list[dict[str, Any]]:
    i = s.items
    ids = sorted(set(item_ids))
    out: list[dict[str, Any]] = []
    for n in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(
                i.c.id,
                i.c.site_id,
                i.c.record_class,
                i.c.platform_id,
                i.c.parent_id,
                i.c.root_id,
                i.c.first_captured_at,
            ).where(i.c.id.in_(ids[n : n + CHUNK]))
        )
        out.extend(dict(r._mapping) for r in rows)
    return out


def _present(conn: Connection, site: str, pids: set[str]) -> set[str]:
    i = s.items
    have: set[str] = set()
    ordered = sorted(pids)
    for n in range(0, len(ordered), CHUNK):
        rows = conn.execute(
            select(i.c.platform_id).where(
                and_(i.c.site_id == site, i.c.platform_id.in_(ordered[n : n + CHUNK]))
            )
        )
        have.update(str(r[0]) for r in rows)
    return have


def _count_gaps(conn: Connection, site: str, roots: set[str]) -> list[Gap]:
    """Exported threads whose platform-reported reply count exceeds what was captured."""
    return [
        Gap(site, "comments", f"thread {g.thread_platform_id}", "coverage",
            f"thread {g.thread_platform_id}: platform reports {g.reported} replies, "
            f"{g.captured} captured: {(g.reported or 0) - (g.captured or 0)} {g.reason}",
            g.start.isoformat())
        for g in count_gaps(SAReader(conn), sites=[site], threads=roots)
        if g.scope == "thread"
    ]  # fmt: skip


def known_gaps(
    conn: Connection, item_ids: Iterable[int], *, sites: Iterable[str] = ()
) -> list[Gap]:
    """The known gaps that touch the exported items (and the sites the query named).

    A site's gaps count from the first capture of its earliest exported item: a failed run
    before that cannot have lost anything of these conversations. A site named by the query
    but with nothing exported counts all of its gaps (they may be why nothing matched).
    """
    items = _items(conn, item_ids)
    since: dict[str, str | None] = {}
    classes: dict[str, set[str]] = defaultdict(set)
    for it in items:
        site = str(it["site_id"])
        first = str(it["first_captured_at"])
        prev = since.get(site)
        since[site] = first if prev is None else min(prev, first)
        classes[site].add(str(it["record_class"]))
    for site in sites:
        since.setdefault(site, None)
    gaps: list[Gap] = []

    # Conversations with a root or parent the archive never captured.
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        by_site[str(it["site_id"])].append(it)
    for site, rows in sorted(by_site.items()):
        wanted = {str(r["root_id"]) for r in rows if r["root_id"]} | {
            str(r["parent_id"]) for r in rows if r["parent_id"]
        }
        have = _present(conn, site, wanted)
        missing_roots = sorted({str(r["root_id"]) for r in rows if r["root_id"]} - have)
        for root in missing_roots:
            n = sum(1 for r in rows if r["root_id"] == root)
            gaps.append(
                Gap(site, "posts", f"thread {root}", "missing-root",
                    f"the post {root} that {n} exported repl(y/ies) answer was never captured "
                    "(gone or unreachable before the first capture); its replies are included")
            )  # fmt: skip
        for r in rows:
            parent = r["parent_id"]
            if parent and parent not in have and parent not in missing_roots:
                gaps.append(
                    Gap(site, str(r["record_class"]), f"thread {r['root_id'] or parent}",
                        "missing-parent",
                        f"{r['platform_id']} answers {parent}, which was never captured")
                )  # fmt: skip
        gaps.extend(_count_gaps(conn, site, {str(r["root_id"]) for r in rows if r["root_id"]}))

    d, u, b, runs = s.degradations, s.unparseable, s.bundles, s.runs
    for site, start in sorted(since.items()):
        wanted_classes = classes.get(site) or set()

        def relevant(rclass: str, _w: set[str] = wanted_classes) -> bool:
            return rclass == "*" or not _w or rclass in _w

        # A run that ended after the first capture may have missed part of these records.
        ended = func.coalesce(runs.c.finished_at, runs.c.started_at)
        stmt = (
            select(d.c.capability, d.c.reason, d.c.at)
            .select_from(d.outerjoin(runs, runs.c.id == d.c.run_id))
            .where(d.c.site_id == site)
        )
        if start:
            stmt = stmt.where(or_(ended >= start, runs.c.id.is_(None)))
        seen: dict[tuple[str, str], str] = {}
        for cap, reason, at in conn.execute(stmt.order_by(d.c.at)):
            seen[(str(cap), str(reason))] = str(at)
        for (cap, reason), at in seen.items():
            rclass = _class_of_capability(cap)
            if relevant(rclass):
                gaps.append(Gap(site, rclass, "site", "degradation", f"{cap}: {reason}", at))

        ustmt = (
            select(
                u.c.endpoint,
                u.c.reason,
                u.c.bundle_id,
                u.c.warc_file,
                u.c.warc_offset,
                b.c.record_class,
                b.c.started_at,
            )
            .select_from(u.join(b, b.c.id == u.c.bundle_id))
            .where(u.c.site_id == site)
        )
        if start:
            ustmt = ustmt.where(b.c.sealed_at >= start)
        for ur in conn.execute(ustmt.order_by(b.c.started_at)):
            if relevant(str(ur.record_class)):
                where = f"original kept in bundle {ur.bundle_id}"
                if ur.warc_file:
                    where += f", {ur.warc_file}@{ur.warc_offset}"
                gaps.append(
                    Gap(site, str(ur.record_class), "site", "unparseable",
                        f"{ur.endpoint or '?'}: {ur.reason or 'not readable'} ({where})",
                        str(ur.started_at))
                )  # fmt: skip

        rstmt = select(runs.c.id, runs.c.status, runs.c.started_at, runs.c.error).where(
            and_(runs.c.site_id == site, runs.c.status.in_(("failed", "abandoned")))
        )
        if start:
            rstmt = rstmt.where(ended >= start)
        for rr in conn.execute(rstmt.order_by(runs.c.started_at)):
            gaps.append(
                Gap(site, "*", "site", "failed-run",
                    f"harvest run {rr.id} {rr.status}: {rr.error or 'no error recorded'}",
                    str(rr.started_at))
            )  # fmt: skip
    return gaps


@dataclass
class ClassCounts:
    matched: int = 0
    conversation: int = 0
    withheld: int = 0


def holdings(
    rows: Iterable[Mapping[str, Any]],
    classes: Mapping[int, str],
    without_original: set[int],
) -> dict[tuple[str, str], ClassCounts]:
    """Items per (site, record class): matched, added by conversation, original withheld."""
    kind: dict[int, tuple[str, str, bool]] = {}
    withheld_items: set[int] = set()
    for r in rows:
        iid = int(r["item_id"])
        matched = r.get("included_as", "match") == "match"
        prev = kind.get(iid)
        key = (str(r["site_id"]), classes.get(iid, "?"))
        kind[iid] = (key[0], key[1], matched or bool(prev and prev[2]))
        if int(r["version_id"]) in without_original:
            withheld_items.add(iid)
    out: dict[tuple[str, str], ClassCounts] = defaultdict(ClassCounts)
    for iid, (site, rclass, matched) in kind.items():
        c = out[(site, rclass)]
        if matched:
            c.matched += 1
        else:
            c.conversation += 1
        if iid in withheld_items:
            c.withheld += 1
    return dict(sorted(out.items()))


def holdings_section(
    counts: Mapping[tuple[str, str], ClassCounts],
    gaps: Sequence[Gap],
    *,
    tz: str | None = None,
    matches_only: bool,
    bounded_by_dates: bool,
    withheld_lines: Sequence[str] = (),
) -> str:
    """The "WHAT THIS PACKAGE HOLDS" and "KNOWN GAPS" sections of certification.txt."""
    buf = io.StringIO()
    w = buf.write
    w("WHAT THIS PACKAGE HOLDS (per site and record class)\n")
    if matches_only:
        w(
            "  --matches-only: only the records the query matched are included, without the\n"
            "  rest of their conversations.\n"
        )
    else:
        w(
            "  Each record the query matched is included with its whole conversation as\n"
            "  captured: the root post, the chain of parents and every reply at any depth,\n"
            "  each with all its versions and its removal and review trail.\n"
        )
        if bounded_by_dates:
            w(
                "  --since/--until bound the MATCHING only: replies and parents of a matched\n"
                "  record are included whatever their dates.\n"
            )
    if not counts:
        w("  nothing\n")
    for (site, rclass), c in counts.items():
        w(
            f"  {site} / {rclass}: {c.matched} item(s) matched the query; "
            f"{c.conversation} included because they belong to a matching conversation; "
            f"{c.withheld} with their original withheld (redaction)\n"
        )
    for line in withheld_lines:
        w(f"    withheld: {line}\n")
    w("\nKNOWN GAPS\n")
    if not gaps:
        w(
            "  None recorded. The archive holds no record of a failed or degraded capture, an\n"
            "  unreadable response, or a missing post or parent for these conversations: the\n"
            "  records above are complete as far as the archive can prove.\n"
        )
    else:
        w(
            f"  {len(gaps)} known gap(s): the archive records that it could not capture\n"
            "  everything in scope, so this package is NOT certified as complete.\n"
        )
        for g in gaps:
            w(f"  - {g.line(tz)}\n")
    return buf.getvalue()
