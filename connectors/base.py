"""The connector contract: a platform's API in, a stream of normalized records out.

A connector knows its platform and nothing about storage: it makes requests through the
``RecordingClient`` it is given (which writes the WARC), and yields ``archiver.model`` records.
Bookmarks it yields are applied only after the run's bundles are sealed, so a crash re-fetches
and never skips.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar

import structlog

from archiver.config import SiteConfig
from archiver.model import (
    BookmarkUpdate,
    HarvestRecord,
    Item,
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, RecordingClient

K = TypeVar("K", int, str)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform's API lets us capture; reports say plainly what it does not."""

    posts: bool = True
    comments: bool = False
    replies: bool = False
    hidden_comments: bool = False
    edits: bool = False
    follower_identities: bool = False
    follower_count: bool = False
    media: bool = False
    notes: tuple[str, ...] = ()


@dataclass
class HarvestContext:
    site: SiteConfig
    http: RecordingClient
    bookmarks: Mapping[str, str]
    full_sweep: bool
    media_max_bytes: int
    token: str | None = None
    seen_uri: Callable[[str], bool] = field(default=lambda _uri: False)
    log: Any = field(default_factory=structlog.get_logger)


class Connector(Protocol):
    platform: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, ctx: HarvestContext) -> None: ...

    def harvest(self) -> Iterator[HarvestRecord]: ...


def bearer(token: str | None) -> str | None:
    return f"Bearer {token}" if token else None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (with Z) to an aware datetime; None for missing or unreadable values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_BREAKS = re.compile(r"<\s*(br|/p|/li|/div|/h\d)\s*/?\s*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def html_to_text(value: str | None) -> str:
    """Readable plain text from sanitized platform HTML (paragraphs become lines)."""
    if not value:
        return ""
    text = _BREAKS.sub("\n", value)
    text = html.unescape(_TAGS.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def follow_links(
    http: RecordingClient,
    url: str,
    *,
    record_class: RecordClass,
    params: Mapping[str, str | int] | None = None,
    endpoint: str,
    max_pages: int = 100_000,
) -> Iterator[RecordedResponse]:
    """RFC 8288 ``Link: rel="next"`` pagination, guarded against loops."""
    seen: set[str] = set()
    next_url: str | None = url
    next_params = params
    pages = 0
    while next_url and pages < max_pages:
        response = http.get(
            next_url, params=next_params, record_class=record_class, endpoint=endpoint
        )
        pages += 1
        yield response
        seen.add(response.url)
        candidate = response.links.get("next")
        next_url = candidate if candidate and candidate not in seen else None
        next_params = None


def cursor_pages(
    http: RecordingClient,
    url: str,
    *,
    record_class: RecordClass,
    params: Mapping[str, str | int],
    cursor_param: str,
    next_cursor: Callable[[Any], str | None],
    endpoint: str,
    max_pages: int = 100_000,
) -> Iterator[tuple[RecordedResponse, Any]]:
    """Cursor/token pagination (Bluesky ``cursor``, X ``pagination_token``, YouTube ``pageToken``)."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        query = dict(params)
        if cursor:
            query[cursor_param] = cursor
        response = http.get(url, params=query, record_class=record_class, endpoint=endpoint)
        data = response.json()
        yield response, data
        cursor = next_cursor(data)
        if not cursor or cursor in seen:
            return
        seen.add(cursor)


def capture_media(ctx: HarvestContext, media: list[Media]) -> tuple[Media, ...]:
    """Download media bytes into the WARC (once per URL), honouring the size cap."""
    out = []
    for m in media:
        if not m.url:
            out.append(m)
            continue
        if ctx.seen_uri(m.url):
            out.append(
                Media(m.id, m.type, m.url, m.description, None, "captured in an earlier run")
            )
            continue
        try:
            response = ctx.http.get(
                m.url,
                record_class="media",
                endpoint="media",
                max_bytes=ctx.media_max_bytes,
                attempts=2,
            )
        except Exception as exc:
            ctx.log.warning("media_failed", url=m.url, error=str(exc))
            out.append(Media(m.id, m.type, m.url, m.description, None, f"download failed: {exc}"))
            continue
        out.append(Media(m.id, m.type, m.url, m.description, response.ref, response.skipped_reason))
    return tuple(out)


def with_captured_media(ctx: HarvestContext, item: Item) -> Item:
    """``item`` with its media downloaded into the WARC (unchanged when it has none)."""
    media = capture_media(ctx, list(item.media))
    return replace(item, media=media) if media else item


@dataclass(slots=True)
class TimelineWalk:
    """What one timeline walk read: items kept, and entries that could not be parsed."""

    seen: int = 0
    unreadable: int = 0


def sweep_when_clean(walk: TimelineWalk) -> Iterator[HarvestRecord]:
    """The account's posts were all read: a post missing now was removed upstream. Not when an
    entry was unreadable: it may be a known post, and its absence from the sweep proves nothing."""
    if not walk.unreadable:
        yield Sweep("posts", "account")


def _keep(item: Item) -> Item:
    return item


def walk_timeline(
    pages: Iterable[tuple[WarcRef, Iterable[Any]]],
    *,
    parse: Callable[[Any, WarcRef], Item | Unparseable],
    key: Callable[[Item], K],
    children: Callable[[Item, Any], Iterable[HarvestRecord]],
    full: bool,
    since: K,
    start: K,
    window: int,
    bookmark: str,
    prepare: Callable[[Item], Item] = _keep,
    sweep: Callable[[TimelineWalk], Iterable[HarvestRecord]] = sweep_when_clean,
    distinct: bool = False,
) -> Iterator[HarvestRecord]:
    """Read an account's timeline newest first, as every incremental connector does.

    Why this shape: a run must not re-read everything, yet edits, new comments and deletions
    land on recent posts. So an incremental run (``full`` false) reads back until a page
    reaches the ``since`` bookmark (an id or a timestamp, compared through ``key``) *and* at
    least ``window`` (``recheck_recent``) items were seen, then stops; that run proves nothing
    about older posts, so it yields no Sweep. A full walk that read every page yields what
    ``sweep`` decides (by default a ``Sweep("posts", "account")`` only if every entry was
    readable: an unreadable one may be a known post, and must not be taken for a deleted one).
    Last comes the new bookmark, the newest key seen (never older than ``since``).

    ``pages`` gives ``(WarcRef, entries)`` newest first; it is not advanced past the page that
    stops the walk, so no request is made for the next one. ``parse(entry, ref)`` makes an Item
    or an Unparseable (yielded as is). ``distinct`` skips an item already seen in this walk (a
    pinned post listed twice) before it is counted. ``prepare`` turns a kept item into the one
    yielded (e.g. with its media downloaded), then ``children(item, entry)`` yields its
    comments. ``start`` is where the newest key starts: the key type's zero, so that a run
    that saw nothing yields no bookmark, or ``since`` to restate the bookmark anyway.
    """
    walk = TimelineWalk()
    ids: set[str] = set()
    newest = start
    complete = True
    for ref, entries in pages:
        oldest_on_page: K | None = None
        for entry in entries:
            item = parse(entry, ref)
            if isinstance(item, Unparseable):
                walk.unreadable += 1
                yield item
                continue
            if distinct:
                if item.platform_id in ids:
                    continue
                ids.add(item.platform_id)
            walk.seen += 1
            stamp = key(item)
            newest = max(newest, stamp)
            oldest_on_page = stamp if oldest_on_page is None else min(oldest_on_page, stamp)
            yield prepare(item)
            yield from children(item, entry)
        caught_up = bool(since) and oldest_on_page is not None and oldest_on_page <= since
        if not full and caught_up and walk.seen >= window:
            complete = False
            break
    if full and complete:
        yield from sweep(walk)
    if newest:
        yield BookmarkUpdate(bookmark, str(max(newest, since)))
