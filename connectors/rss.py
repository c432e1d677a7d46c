"""The city website's news feed (RSS 2.0 or Atom): each entry is a post.

The raw XML goes into the WARC through the recording client; feedparser only reads it. A feed
shows only its latest entries, so an entry falling off the end is *not* a deletion: removal
detection is enabled only when the site sets ``options.complete_feed = true`` (a feed that
lists everything). Conditional GET (ETag / Last-Modified) keeps unchanged polls cheap.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser

from archiver.errors import MalformedResponseError
from archiver.model import Author, BookmarkUpdate, HarvestRecord, Item, Media, Sweep, Unparseable
from connectors._options import read_options
from connectors.base import Capabilities, HarvestContext, capture_media, html_to_text


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _published_updated(entry: Any) -> tuple[datetime | None, datetime | None]:
    """Publication and *real* update time. ``entry.get("updated_parsed")`` returns the
    publication time when there is no update (feedparser's deprecated issue-310 fallback), so
    every RSS item looked edited at its publication time; an Atom entry whose ``updated``
    equals ``published`` was never edited either."""
    published = _time(entry.get("published_parsed"))
    updated = _time(entry["updated_parsed"]) if "updated_parsed" in entry else None
    return published, updated


@dataclass(frozen=True, slots=True)
class RssOptions:
    """``options`` a feed site may set."""

    complete_feed: bool = False  # the feed lists every entry: a missing one was removed


class RssConnector:
    Options: ClassVar[type] = RssOptions
    platform: ClassVar[str] = "rss"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        edits=True,
        media=True,
        notes=("A feed has no comments or followers.",),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.options = read_options(RssOptions, ctx.site)

    def _url(self) -> str:
        account = self.ctx.site.account
        if account.startswith(("http://", "https://")):
            return account
        return f"{self.ctx.site.base_url}/{account.lstrip('/')}"

    def harvest(self) -> Iterator[HarvestRecord]:
        headers = {}
        if not self.ctx.full_sweep:
            if etag := self.ctx.bookmarks.get("etag"):
                headers["If-None-Match"] = etag
            if modified := self.ctx.bookmarks.get("last_modified"):
                headers["If-Modified-Since"] = modified
        endpoint = "GET feed"
        response = self.ctx.http.get(
            self._url(), headers=headers, record_class="posts", endpoint=endpoint
        )
        if response.status_code == 304:
            return
        feed = feedparser.parse(response.content)
        # feedparser reads any HTML without complaint: no recognised format means no feed.
        if not feed.get("entries") and (feed.get("bozo") or not feed.get("version")):
            reason = feed.get("bozo_exception") or "no RSS or Atom document in the answer"
            raise MalformedResponseError(
                f"not a readable RSS/Atom feed: {reason}",
                site=self.ctx.site.id,
                endpoint=self._url(),
                hint="check that `account` points at the feed URL, not the news web page",
            )
        for entry in feed.entries:
            published, updated = _published_updated(entry)
            guid = entry.get("id") or entry.get("link")
            if not guid:
                yield Unparseable("posts", endpoint, "entry without guid/id or link", response.ref)
                continue
            content = ""
            if entry.get("content"):
                content = entry["content"][0].get("value", "")
            content = content or entry.get("summary", "")
            title = entry.get("title", "")
            media = [
                Media(
                    id=str(enc.get("href")), type=str(enc.get("type", "file")), url=enc.get("href")
                )
                for enc in entry.get("enclosures", [])
                if enc.get("href")
            ]
            yield Item(
                record_class="posts",
                kind="post",
                platform_id=str(guid),
                author=Author(
                    id=entry.get("author") or feed.feed.get("title", "feed"),
                    display_name=entry.get("author") or feed.feed.get("title"),
                ),
                text=f"{title}\n{html_to_text(content)}".strip(),
                html=content,
                ref=response.ref,
                posted_at=published or updated,
                edited_at=updated if published and updated and updated > published else None,
                url=entry.get("link"),
                root_id=str(guid),
                media=capture_media(self.ctx, media) if media else (),
                by_owner=True,
                extra={"title": title},
            )
        if self.options.complete_feed:
            yield Sweep("posts", "account")
        if etag := response.headers.get("etag"):
            yield BookmarkUpdate("etag", etag)
        if modified := response.headers.get("last-modified"):
            yield BookmarkUpdate("last_modified", modified)
