"""The connector contract: a platform's API in, a stream of normalized records out.

A connector knows its platform and nothing about storage: it makes requests through the
``RecordingClient`` it is given (which writes the WARC), and yields ``archiver.model`` records.
Bookmarks it yields are applied only after the run's bundles are sealed, so a crash re-fetches
and never skips.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from archiver.config import SiteConfig
from archiver.errors import FetchError
from archiver.log import get_logger
from archiver.model import HarvestRecord, Item, Media
from archiver.recorder import RecordingClient
from archiver.textclean import loads_lenient


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


# What a social platform's API usually gives: a connector declares what differs from it
# (``replace(SOCIAL, hidden_comments=True, notes=...)``), so the differences stand out.
SOCIAL = Capabilities(comments=True, replies=True, edits=True, follower_count=True, media=True)


@dataclass
class HarvestContext:
    site: SiteConfig
    http: RecordingClient
    bookmarks: Mapping[str, str]
    full_sweep: bool
    media_max_bytes: int
    token: str | None = None
    seen_uri: Callable[[str], bool] = field(default=lambda _uri: False)
    # Text and HTML of City posts of the *other* sites captured since a time (the website
    # connector follows their links to the City's own pages: issue 18 part 5).
    recent_owner_posts: Callable[[datetime], list[str]] = field(default=lambda _since: [])
    # Adaptive re-polling (issue 14): whether an incremental run should read a thread again,
    # given the root id, the reply count the platform shows for it now and the root's latest
    # post or edit time (None: unknown). A full sweep reads every thread whatever this says.
    thread_due: Callable[[str, int | None, datetime | None], bool] = field(
        default=lambda _root, _n, _at: True
    )
    # Whether this run reads the follower list (a site's ``followers_every``; always in a full
    # sweep). A run that does not read it concludes nothing about followers.
    followers_due: bool = True
    # How this run reads the follower list when it reads it: "full" (to the end: the only read
    # that may record who left) or "head" (between the site's complete reads,
    # ``follower_walk_every``: only those who followed since the last read, where the platform
    # lists followers newest first; a connector that cannot do that reads the whole list and
    # says nothing of it, a complete read is always allowed). See archiver.model.FollowersHead.
    followers_walk: str = "full"
    log: Any = field(default_factory=get_logger)


class Connector(Protocol):
    platform: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    Options: ClassVar[type]  # a frozen dataclass of the site's ``options`` (connectors._options)

    def __init__(self, ctx: HarvestContext) -> None: ...

    def harvest(self) -> Iterator[HarvestRecord]: ...


def bearer(token: str | None) -> str | None:
    return f"Bearer {token}" if token else None


def json_body(body: bytes | str) -> Any:
    """The JSON of an error body or header, read leniently like every page (``loads_lenient``),
    None when it is not JSON (an HTML error page, a truncated body): what a classify hook
    reads the platform's error envelope from."""
    try:
        return loads_lenient(body.encode() if isinstance(body, str) else body)
    except ValueError:
        return None


def dig(data: Any, *path: str | int) -> Any:
    """``data[a][b]...`` through JSON objects (str steps) and lists (int steps); None where a
    step is missing or of another type, so platform JSON is read without an isinstance chain."""
    for step in path:
        if isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        elif isinstance(step, int) and isinstance(data, list) and -len(data) <= step < len(data):
            data = data[step]
        else:
            return None
    return data


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


def capture_media(ctx: HarvestContext, media: list[Media]) -> tuple[Media, ...]:
    """Download media bytes into the WARC (once per URL), honouring the size cap."""
    out = []
    for m in media:
        if not m.url:
            out.append(m)
            continue
        if ctx.seen_uri(m.url):
            out.append(replace(m, ref=None, skipped_reason="captured in an earlier run"))
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
            out.append(replace(m, ref=None, skipped_reason=f"download failed: {exc}"))
            continue
        out.append(replace(m, ref=response.ref, skipped_reason=response.skipped_reason))
    return tuple(out)


def with_captured_media(ctx: HarvestContext, item: Item) -> Item:
    """``item`` with its media downloaded into the WARC (unchanged when it has none)."""
    media = capture_media(ctx, list(item.media))
    return replace(item, media=media) if media else item


def platform_words(exc: FetchError) -> str:
    """The error without the "site X: endpoint:" prefix a reason that names them already has."""
    return exc.message.rsplit(f"{exc.endpoint}: ", 1)[-1] if exc.endpoint else exc.message
