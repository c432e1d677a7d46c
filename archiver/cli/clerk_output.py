"""Sentences and tables a clerk reads (harvest, recover, followers); ``--json`` for machines.

Python reprs (``captured {'post': 303}``) are not an answer a clerk can forward; these helpers
say the same numbers in words, with times in the archive's zone and the zone named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from archiver.followers import FollowerReport

from archiver.cli.common import ConfigOption, JsonOption, app_context, clerk_errors, console

_PLURALS = {"reply": "replies", "media": "media files", "person": "people"}
_SINGULARS = {"media": "media file"}


def count_phrase(n: int, noun: str) -> str:
    """``1 post``, ``3 replies``, ``0 media files``."""
    word = _SINGULARS.get(noun, noun) if n == 1 else _PLURALS.get(noun, f"{noun}s")
    return f"{n:,} {word}"


def counts_phrase(counts: Mapping[str, int], *, empty: str = "nothing") -> str:
    parts = [count_phrase(int(v), k.replace("_", " ")) for k, v in counts.items() if v]
    return ", ".join(parts) if parts else empty


def harvest_sentence(
    site_id: str,
    run_id: str,
    *,
    full_sweep: bool,
    bundles: int,
    captured: Mapping[str, int],
    changes: Mapping[str, int],
) -> str:
    kind = "full sweep" if full_sweep else "incremental run"
    news = [
        count_phrase(changes.get("new_items", 0), "new item"),
        count_phrase(changes.get("new_versions", 0), "edited version"),
        f"{changes.get('removed_upstream', 0):,} removed upstream",
        f"{changes.get('followed', 0):,} followed",
        f"{changes.get('unfollowed', 0):,} unfollowed",
    ]
    return (
        f"{site_id}: {kind} {run_id} captured {counts_phrase(captured)}; "
        f"{'; '.join([', '.join(news[:3]), ', '.join(news[3:])])}; "
        f"{count_phrase(bundles, 'bundle')} sealed."
    )


def recover_sentence(report: Mapping[str, Any]) -> str:
    bundles = {k: report.get(k, 0) for k in ("published", "cataloged", "discarded")}
    if not any(bundles.values()):
        text = "Nothing to recover: no bundle was left half-done by an earlier run."
    else:
        text = (
            f"Recovered: {count_phrase(bundles['published'], 'sealed bundle')} published, "
            f"{count_phrase(bundles['cataloged'], 'bundle')} cataloged, "
            f"{count_phrase(bundles['discarded'], 'unsealed bundle')} discarded "
            "(never complete; the next harvest fetches that data again)."
        )
    stamped, waiting = report.get("timestamps_stamped", 0), report.get("timestamps_waiting", 0)
    if stamped:
        text += f" {count_phrase(stamped, 'seal')} timestamped now."
    if waiting:
        text += (
            f" {count_phrase(waiting, 'seal')} still waiting for a trusted timestamp "
            "(the timestamp authority was not reachable; run recover again later)."
        )
    interrupted = int(report.get("runs_interrupted") or 0)
    if interrupted:
        text += (
            f" {count_phrase(interrupted, 'run')} whose process was gone marked "
            "abandoned (the next harvest fetches its data again)."
        )
    finished = report.get("disposals_finished") or []
    if finished:
        text += f" {count_phrase(len(finished), 'interrupted disposal')} finished."
    return text


def print_followers(report: FollowerReport, tz: str) -> None:
    from rich.table import Table

    from archiver.timefmt import local_time

    span = []
    if report.since is not None:
        span.append(f"from {report.since.astimezone(ZoneInfo(tz)):%Y-%m-%d}")
    if report.until is not None:
        span.append(f"through {report.until.astimezone(ZoneInfo(tz)):%Y-%m-%d}")
    period = " ".join(span) or "since the first harvest"
    say = console.print
    if report.latest_at is None:
        say(escape(f"{report.site_id}: no follower list has been captured yet."), soft_wrap=True)
        return
    if not report.identities:
        say(
            escape(
                f"{report.site_id}: the platform gives only the follower count, not who follows: "
                f"{report.latest_count:,} at {local_time(report.latest_at, tz)}. "
                "Nobody can be listed as followed or left."
            ),
            soft_wrap=True,
        )
        return
    say(
        escape(
            f"{report.site_id}, {period}: {count_phrase(report.followed, 'person')} followed, "
            f"{count_phrase(report.unfollowed, 'person')} left. Times are when a harvest first "
            f"saw the change (times in {tz})."
        ),
        soft_wrap=True,
        highlight=False,
    )
    if report.events:
        table = Table("detected", "change", "handle", "name")
        for e in report.events:
            table.add_row(
                local_time(e.at, tz),
                "followed" if e.event == "followed" else "left",
                escape(e.handle or e.platform_id),
                escape(e.display_name or ""),
            )
        say(table)
    if report.baseline_at is not None:
        say(
            escape(
                f"The first follower list ({report.baseline_count:,} people, "
                f"{local_time(report.baseline_at, tz)}) is the baseline and is not counted as "
                f"followed. Latest list: {report.latest_count:,} people at "
                f"{local_time(report.latest_at, tz)}."
            ),
            soft_wrap=True,
            highlight=False,
        )


@clerk_errors
def followers(
    site: str = typer.Argument(..., help="Site id (see `archiver sites`)."),
    since: str | None = typer.Option(None, "--since", help="From this day (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Through this day (YYYY-MM-DD)."),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Who followed and who left a site in a period, with times in the City's time zone."""
    from archiver.followers import day_bounds, follower_report
    from archiver.search import parse_date

    with app_context(config) as app:
        lo, hi = day_bounds(
            parse_date(since, option="--since"),
            parse_date(until, option="--until"),
            app.cfg.timezone,
        )
        report = follower_report(app.catalog, site, since=lo, until=hi)
        tz = app.cfg.timezone
    if as_json:
        from archiver.cli.common import print_json

        print_json(report.as_dict())
        return
    print_followers(report, tz)


def register(app: typer.Typer) -> None:
    app.command("followers")(followers)
