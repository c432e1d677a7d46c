"""Refuse filter values that name nothing: one check for every command that filters.

A misspelled ``--site``, ``--platform``, ``--kind`` or ``--author`` would otherwise match
nothing, and "no matches", "0 bundle(s) OK" or an export certifying that nothing matched is
true of the typo and false of the records the clerk asked about. Each check names the value,
and lists what exists (sites, platforms, kinds) or the nearest known authors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from sqlalchemy import distinct, func, or_, select

from archiver.catalog import schema as s
from archiver.errors import ArchiverError
from archiver.parts import ArchiveParts
from archiver.search import KINDS
from connectors.registry import platforms as registered_platforms


class UnknownFilterError(ArchiverError):
    """A filter value names no site, platform, kind or author this archive knows."""

    exit_code = 2


def known_sites(app: ArchiveParts) -> list[str]:
    """Configured sites and sites the catalog holds records of (a retired site stays)."""
    with app.catalog.begin() as conn:
        cataloged = {str(r[0]) for r in conn.execute(select(s.sites.c.id))}
    return sorted({c.id for c in app.cfg.sites} | cataloged)


def known_platforms(app: ArchiveParts) -> list[str]:
    with app.catalog.begin() as conn:
        cataloged = {str(r[0]) for r in conn.execute(select(s.sites.c.platform))}
    return sorted(registered_platforms() | cataloged)


def check_site(app: ArchiveParts, site: str | None) -> None:
    if site is None:
        return
    sites = known_sites(app)
    if site not in sites:
        raise UnknownFilterError(
            f"--site {site!r} is neither a configured site nor in the catalog",
            hint="sites: " + (", ".join(sites) or "none"),
        )


def check_platform(app: ArchiveParts, platform: str | None) -> None:
    if platform is None:
        return
    plats = known_platforms(app)
    if platform not in plats:
        raise UnknownFilterError(
            f"--platform {platform!r} is not a known platform",
            hint="platforms: " + ", ".join(plats),
        )


def check_kinds(kinds: Iterable[str]) -> None:
    """No catalog needed: the record kinds are fixed (runs before the config is read)."""
    for k in kinds:
        if k not in KINDS:
            raise UnknownFilterError(
                f"--kind {k!r} is not a record kind", hint=f"use one of {', '.join(KINDS)}"
            )


def check_author(app: ArchiveParts, author: str | None) -> None:
    """An author is known when some item has it as handle, id, or ``handle@instance``."""
    if author is None:
        return
    a = author.lstrip("@")
    i = s.items
    with app.catalog.begin() as conn:
        found = conn.execute(
            select(i.c.id)
            .where(
                or_(i.c.author_handle == a, i.c.author_id == a, i.c.author_handle.like(f"{a}@%"))
            )
            .limit(1)
        ).first()
        if found is not None:
            return
        total = int(conn.execute(select(func.count(distinct(i.c.author_handle)))).scalar() or 0)
        handles = [
            str(r[0]) for r in conn.execute(select(distinct(i.c.author_handle))) if r[0] is not None
        ]
    near = difflib.get_close_matches(a, handles, n=5, cutoff=0.6)
    hint = (f"did you mean {', '.join('@' + h for h in near)}? " if near else "") + (
        f"{total} author(s) in the catalog; `archiver search --json` shows their handles"
    )
    raise UnknownFilterError(f"--author {author!r} wrote nothing in the archive", hint=hint)


def check_filters(
    app: ArchiveParts,
    *,
    site: str | None = None,
    platform: str | None = None,
    kinds: Iterable[str] = (),
    author: str | None = None,
) -> None:
    """Every given filter value must name something; raises :class:`UnknownFilterError`."""
    check_kinds(kinds)
    check_site(app, site)
    check_platform(app, platform)
    check_author(app, author)
