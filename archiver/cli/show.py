"""``archiver show ITEM``: one record's full story (see :mod:`archiver.story`)."""

from __future__ import annotations

from typing import Any

import typer

from archiver.cli.common import ConfigOption, JsonOption, app_context, clerk_errors, console, esc


def show(
    item: str = typer.Argument(
        ..., help="Catalog id, site:platform_id, or the platform URL of the post or comment."
    ),
    at: str | None = typer.Option(
        None, "--at", help="Say whether and how it was visible then (YYYY-MM-DD or ISO time)."
    ),
    config: str | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Every version, the four times, where the originals lie, removal, holds, requests."""
    from archiver.story import item_story, parse_at, resolve_item

    with app_context(config) as app:
        tz = app.cfg.timezone
        moment = parse_at(at, tz) if at else None
        story = item_story(app, resolve_item(app, item), at=moment)
    if as_json:
        from archiver.cli.common import print_json

        print_json(story)
        return
    _print(story, tz)


def _when(value: str | None, tz: str) -> str:
    from archiver.timefmt import local_time

    return local_time(value, tz) or "-"


def _print(st: dict[str, Any], tz: str) -> None:
    p = console.print
    who = st["author_handle"] or "?"
    p(
        f"[bold]{esc(st['site_id'])} {esc(st['kind'])} {esc(st['platform_id'])}[/] "
        f"(item {st['item_id']}, {esc(st['platform'])}) by @{esc(who)}",
        highlight=False,
    )
    if st["permalink"]:
        p(f"  {esc(st['permalink'])}", highlight=False)
    if st["parent_id"]:
        p(f"  in reply to {esc(st['parent_id'])} (thread {esc(st['root_id'])})", highlight=False)
    t = st["times"]
    p(
        f"  posted {esc(_when(t['posted'], tz))}; first captured {esc(_when(t['first_captured'], tz))}; "
        f"last seen {esc(_when(t['last_seen'], tz))}; disappeared {esc(_when(t['disappeared'], tz))}",
        highlight=False,
    )
    if st["removal_state"]:
        p(
            f"  [yellow]{esc('[' + st['removal_state'].replace('_', ' ') + ']')}[/]",
            highlight=False,
        )
    for v in st["versions"]:
        label = f"[version {v['version']} of {st['current_version']}" + (
            ", current]" if v["current"] else ", earlier version]"
        )
        if v["hidden"]:
            label += " [hidden upstream]"
        p(
            f"  [bold]{esc(label)}[/] captured {esc(_when(v['captured_at'], tz))}"
            + (f", edited {esc(_when(v['edited_at'], tz))}" if v["edited_at"] else ""),
            highlight=False,
        )
        p("    " + " ".join((v["text"] or "").split()), highlight=False, markup=False)
        o = v["original"]
        p(
            f"    [dim]original: bundle {esc(o['bundle_id'])}, {esc(o['warc_file'])} offset "
            f"{o['offset']} length {o['length']} ({esc(o['record_type'])} {esc(o['record_id'])})[/]",
            highlight=False,
        )
    rm = st["city_removal"]
    if rm:
        p(
            f"  City removal: category {rm['category']} ({esc(rm['category_name'])}) recorded by "
            f"{esc(rm['recorded_by'])} at {esc(_when(rm['recorded_at'], tz))}"
            + (f"; note: {esc(rm['note'])}" if rm["note"] else ""),
            highlight=False,
        )
        rv = rm["attorney_review"]
        p(
            "  City Attorney review: "
            + (
                f"{esc(rv['attorney'])} {esc(rv['decision'])} at {esc(_when(rv['reviewed_at'], tz))}"
                + (f"; note: {esc(rv['note'])}" if rv["note"] else "")
                if rv
                else "not yet reviewed"
            ),
            highlight=False,
        )
    p(
        "  holds: " + (esc(", ".join(st["holds"])) if st["holds"] else "none"),
        highlight=False,
    )
    reqs = st["requests"]
    p(
        "  records requests: "
        + (
            esc(
                ", ".join(
                    f"{r['request_id']} (exported {_when(r['exported_at'], tz)})" for r in reqs
                )
            )
            if reqs
            else "none"
        ),
        highlight=False,
    )
    found = st["compliance"]
    p("  policy compliance: " + ("no findings" if not found else ""), highlight=False)
    for f in found:
        state = (
            f["status"] if not f["acked_by"] else f"{f['status']}, acknowledged by {f['acked_by']}"
        )
        p(
            f"    finding {f['id']} {f['rule']} [{state}]: {f['message']} "
            f"(first seen {_when(f['first_seen'], tz)})",
            highlight=False,
            markup=False,
        )
    if "at" in st:
        a = st["at"]
        sure = "" if a["proven"] else " [not proven by a capture]"
        ver = f", version {a['version']}" if a["version"] else ""
        p(f"  at {esc(a['label'])}: [bold]{esc(a['state'] + ver + sure)}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("show")(clerk_errors(show))
