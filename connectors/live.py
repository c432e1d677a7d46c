"""Live sources for the fast lane (issue 13): what is new or deleted, cheaply, per platform.

A live source is a connector (same ``HarvestContext``, same ``harvest()`` contract) that reads
the platform's cheap "what changed" endpoint instead of walking everything, and yields the
items it reveals plus ``LiveRemoval`` records for deletions the platform reported. The
harvester runs it exactly like a sweep, so its small bundles are sealed, checked, cataloged
and deduplicated on the same path; its cursor is a bookmark, applied only once sealed, so a
restart resumes from the last event it kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archiver.errors import FetchError, NotFoundError
from archiver.model import (
    BookmarkUpdate,
    Degradation,
    HarvestRecord,
    Item,
    LiveRemoval,
    Unparseable,
    WarcRef,
)
from connectors.base import HarvestContext
from connectors.mastodon import MastodonConnector

# A stream chunk larger than this is cut (and says so in the WARC): events are small.
STREAM_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str | None
    event: str
    data: str


def parse_sse(text: str) -> list[SseEvent]:
    """Server-sent events (WHATWG ``text/event-stream``): blank-line separated blocks.

    Comment lines (``:``) are heartbeats; ``data`` lines join with newlines; an event without
    ``event:`` is ``message``. A block cut off at the end of the text is dropped (it will be
    sent again after ``Last-Event-ID``).
    """
    out: list[SseEvent] = []
    blocks = text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n")
    for block in blocks[:-1]:
        eid: str | None = None
        event = "message"
        data: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                eid = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if data or eid is not None:
            out.append(SseEvent(eid, event, "\n".join(data)))
    return out


@dataclass(frozen=True, slots=True)
class StreamSegment:
    """Bytes a long-lived stream delivered (whole SSE events), as the reader spooled them.

    ``head`` is the response's status line and headers as received (secret-named headers
    redacted), ``body`` the stream bytes exactly as they arrived after the previous segment.
    """

    name: str
    received_at: datetime
    uri: str
    head: bytes
    body: bytes

    def as_http(self) -> bytes:
        return self.head + self.body


@dataclass(frozen=True, slots=True)
class StreamInput:
    """What a long-lived stream reader hands one tick: the segments received since the last
    tick, whether notifications must be polled (the stream was not connected the whole time),
    and why the stream was lost, if it was (a coverage note)."""

    segments: list[StreamSegment]
    poll: bool
    lost: str | None = None


# How many statuses outside the City's threads are remembered, so that their deletions (the
# user stream also carries the home timeline of followed accounts) are not reported as gaps.
FOREIGN_KEEP = 500


class MastodonLive:
    """Mastodon: the user stream (``update``, ``status.update``, ``notification``, ``delete``),
    then ``/api/v1/notifications?since_id=`` (the fallback when the stream is refused).

    Without ``stream`` one tick reads the stream until the server ends the response; with it
    (the daemon's long-lived reader, ``archiver.fastlane.stream``) the tick records the
    segments the reader received into the WARC and polls notifications only when the stream
    was lost since the last tick, with a coverage note saying so.
    """

    platform = "mastodon"

    def __init__(self, ctx: HarvestContext, stream: StreamInput | None = None) -> None:
        self.ctx = ctx
        self.stream = stream
        self.api = f"{ctx.site.base_url}/api/v1"
        self.parser = MastodonConnector(ctx)
        self.parser.owner_id = ctx.bookmarks.get("account_id", "")
        self.roots: dict[str, str] = {}

    def harvest(self) -> Iterator[HarvestRecord]:
        statuses: dict[str, tuple[dict[str, Any], WarcRef]] = {}
        deletes: list[LiveRemoval] = []
        if self.stream is None:
            yield from self._stream(statuses, deletes)
            yield from self._notifications(statuses)
        else:
            yield from self._segments(self.stream, statuses, deletes)
            if self.stream.poll:
                yield from self._notifications(statuses)
        foreign = [f for f in self.ctx.bookmarks.get("live_foreign", "").split(" ") if f]
        for sid, (status, ref) in statuses.items():
            item = self._item(status, ref)
            if item is None:
                foreign.insert(0, sid)
            else:
                yield item
        # A deletion of a status outside the City's threads (an account the City follows) is
        # not a gap in the City's records: it is dropped, not reported.
        skip = set(foreign)
        for removal in deletes:
            if removal.platform_id not in skip:
                yield removal
        if foreign:
            yield BookmarkUpdate("live_foreign", " ".join(foreign[:FOREIGN_KEEP]))

    def _segments(
        self,
        stream: StreamInput,
        statuses: dict[str, tuple[dict[str, Any], WarcRef]],
        deletes: list[LiveRemoval],
    ) -> Iterator[HarvestRecord]:
        if stream.lost is not None:
            yield Degradation(
                "live_stream",
                f"user stream lost ({stream.lost}); polled /api/v1/notifications since_id "
                "to cover the gap",
            )
        last = ""
        for seg in stream.segments:
            ref = self.ctx.http.record_received(
                seg.uri,
                seg.as_http(),
                record_class="comments",
                content_type="application/http; msgtype=response",
            )
            text = seg.body.decode("utf-8", errors="replace")
            last = (
                yield from self._events(parse_sse(text), ref, seg.received_at, statuses, deletes)
            ) or last
        if last:
            yield BookmarkUpdate("live_stream_event", last)

    def _stream(
        self,
        statuses: dict[str, tuple[dict[str, Any], WarcRef]],
        deletes: list[LiveRemoval],
    ) -> Iterator[HarvestRecord]:
        endpoint = "GET /api/v1/streaming/user"
        last = self.ctx.bookmarks.get("live_stream_event", "")
        try:
            resp = self.ctx.http.get(
                f"{self.api}/streaming/user",
                record_class="comments",
                headers={"Last-Event-ID": last} if last else None,
                endpoint=endpoint,
                max_bytes=STREAM_MAX_BYTES,
                attempts=1,
            )
        except FetchError as exc:
            yield Degradation(
                "live_stream", f"user stream unavailable, polled notifications instead: {exc}"
            )
            return
        received = datetime.now(UTC)
        last = (
            yield from self._events(parse_sse(resp.text), resp.ref, received, statuses, deletes)
        ) or last
        if last:
            yield BookmarkUpdate("live_stream_event", last)

    def _events(
        self,
        events: list[SseEvent],
        ref: WarcRef,
        received: datetime,
        statuses: dict[str, tuple[dict[str, Any], WarcRef]],
        deletes: list[LiveRemoval],
    ) -> Generator[HarvestRecord, None, str]:
        """Statuses and deletions the events carry; returns the last event id seen."""
        endpoint = "GET /api/v1/streaming/user"
        last = ""
        for ev in events:
            if ev.id is not None:
                last = ev.id
            if ev.event == "delete":
                deletes.append(
                    LiveRemoval(
                        "comments",
                        ev.data.strip(),
                        received,
                        f"Mastodon user stream 'delete' event (event id {ev.id or 'none'})",
                        ref,
                    )
                )
                # A status created and deleted within one tick is still captured from the
                # ``update`` payload (the stream response is in the WARC); ingest adds items
                # before it applies removals, so it is then marked removed.
                continue
            if ev.event not in ("update", "status.update", "notification"):
                continue
            try:
                payload = json.loads(ev.data)
            except ValueError:
                yield Unparseable("comments", endpoint, f"event {ev.event}: not JSON", ref)
                continue
            status = (
                payload.get("status")
                if isinstance(payload, dict) and ev.event == "notification"
                else payload
            )
            if isinstance(payload, dict) and isinstance(status, dict) and "id" in status:
                statuses[str(status["id"])] = (status, ref)
            elif ev.event != "notification":
                yield Unparseable("comments", endpoint, f"event {ev.event}: no status", ref)
        return last

    def _notifications(
        self, statuses: dict[str, tuple[dict[str, Any], WarcRef]]
    ) -> Iterator[HarvestRecord]:
        since = self.ctx.bookmarks.get("live_notif_since", "")
        resp = self.ctx.http.get(
            f"{self.api}/notifications",
            params={"since_id": since, "limit": 40} if since else {"limit": 40},
            record_class="comments",
            endpoint="GET /api/v1/notifications",
        )
        data = resp.json()
        if not isinstance(data, list):
            yield Unparseable("comments", "GET /api/v1/notifications", "not a list", resp.ref)
            return
        newest = int(since) if since.isdigit() else 0
        for n in data:
            if not isinstance(n, dict):
                continue
            nid = str(n.get("id", ""))
            newest = max(newest, int(nid) if nid.isdigit() else 0)
            status = n.get("status")
            if isinstance(status, dict) and "id" in status:
                statuses.setdefault(str(status["id"]), (status, resp.ref))
        if newest:
            yield BookmarkUpdate("live_notif_since", str(newest))

    def _root_of(self, status: dict[str, Any]) -> tuple[str | None, str]:
        """A reply's thread root and its author, from ``statuses/:id/context`` (recorded)."""
        parent = status.get("in_reply_to_id")
        author = str((status.get("account") or {}).get("id", ""))
        if not parent:
            return None, author
        sid = str(status["id"])
        try:
            resp = self.ctx.http.get(
                f"{self.api}/statuses/{sid}/context",
                record_class="comments",
                endpoint="GET /api/v1/statuses/:id/context",
            )
            ancestors = resp.json().get("ancestors") or []
            root = ancestors[0]
            return str(root["id"]), str((root.get("account") or {}).get("id", ""))
        except (NotFoundError, AttributeError, IndexError, KeyError, TypeError):
            # Deleted meanwhile or unreadable: the parent is the best root we know.
            return str(parent), str(status.get("in_reply_to_account_id") or "")

    def _item(self, status: dict[str, Any], ref: WarcRef) -> Item | Unparseable | None:
        """The status as an item of the City's account, or None when it is not in its threads
        (the user stream also carries the home timeline of accounts the City follows)."""
        root, root_author = self._root_of(status)
        if self.parser.owner_id and root_author != self.parser.owner_id:
            return None
        return self.parser._status_item(status, ref, "live: Mastodon status", root_id=root)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery as the endpoint spooled it (already signature-checked)."""

    name: str
    received_at: datetime
    headers: list[tuple[str, str]]
    body: bytes

    def as_http(self, path: str) -> bytes:
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + self.body


class FacebookLive:
    """Facebook Page webhooks (``feed`` field): each delivery into the WARC as received, then
    every comment it names fetched from the Graph API; ``remove`` reports a deletion."""

    platform = "facebook"

    def __init__(self, ctx: HarvestContext, deliveries: list[Delivery]) -> None:
        from connectors._graph import GraphClient
        from connectors.facebook import COMMENT_FIELDS, FacebookConnector

        self.ctx = ctx
        self.deliveries = deliveries
        self.graph = GraphClient(ctx)
        self.parser = FacebookConnector(ctx)
        self.fields = COMMENT_FIELDS

    def harvest(self) -> Iterator[HarvestRecord]:
        for d in self.deliveries:
            ref = self.ctx.http.record_received(
                f"{self.ctx.site.base_url}/webhooks/{d.name}",
                d.as_http("/webhooks"),
                record_class="comments",
                content_type="application/http; msgtype=request",
            )
            try:
                payload = json.loads(d.body)
                entries = payload["entry"]
                changes = [(e, c) for e in entries for c in e.get("changes") or []]
            except (ValueError, KeyError, TypeError, AttributeError):
                yield Unparseable("comments", "webhook delivery", f"{d.name}: not a feed", ref)
                continue
            for entry, change in changes:
                yield from self._change(entry, change, d, ref)

    def _change(
        self, entry: Any, change: Any, d: Delivery, ref: WarcRef
    ) -> Iterator[HarvestRecord]:
        value = change.get("value") if isinstance(change, dict) else None
        if not isinstance(value, dict) or change.get("field") != "feed":
            return
        if value.get("item") != "comment" or not value.get("comment_id"):
            return
        cid, post_id = str(value["comment_id"]), str(value.get("post_id") or "")
        verb = str(value.get("verb") or "")
        if verb == "remove":
            when = entry.get("time") if isinstance(entry, dict) else None
            reported = (
                datetime.fromtimestamp(when, UTC)
                if isinstance(when, int | float)
                else d.received_at
            )
            yield LiveRemoval(
                "comments", cid, reported, f"Facebook webhook feed 'remove' ({d.name})", ref
            )
            return
        endpoint = "GET /{comment-id}"
        try:
            response, raw = self.graph.get(
                self.graph.url(cid),
                endpoint=endpoint,
                record_class="comments",
                params={"fields": self.fields},
            )
        except NotFoundError:
            yield Degradation(
                "live_fetch",
                f"comment {cid} announced by webhook {d.name} ({verb}) was gone when fetched; "
                "the delivery in the WARC holds what Meta sent",
            )
            return
        yield self.parser._comment_item(raw, post_id, response.ref, endpoint)


class InstagramLive:
    """Instagram webhooks (``comments`` field): each delivery into the WARC as received, then
    every comment it names read from the Graph API (``GET /{ig-comment-id}``). Instagram sends
    no deletion events (the sweeps find removals); ``mentions`` deliveries are kept in the WARC
    and noted, not fetched yet."""

    platform = "instagram"

    def __init__(self, ctx: HarvestContext, deliveries: list[Delivery]) -> None:
        from connectors._graph import GraphClient
        from connectors.instagram import InstagramConnector

        self.ctx = ctx
        self.deliveries = deliveries
        self.graph = GraphClient(ctx)
        self.parser = InstagramConnector(ctx)

    def harvest(self) -> Iterator[HarvestRecord]:
        from connectors.instagram import _COMMENT

        for d in self.deliveries:
            ref = self.ctx.http.record_received(
                f"{self.ctx.site.base_url}/webhooks/{d.name}",
                d.as_http("/webhooks"),
                record_class="comments",
                content_type="application/http; msgtype=request",
            )
            try:
                payload = json.loads(d.body)
                changes = [c for e in payload["entry"] for c in e.get("changes") or []]
            except (ValueError, KeyError, TypeError, AttributeError):
                yield Unparseable("comments", "webhook delivery", f"{d.name}: not a change", ref)
                continue
            for change in changes:
                field = change.get("field") if isinstance(change, dict) else None
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                if field == "mentions":
                    yield Degradation(
                        "live_fetch",
                        f"Instagram mention (media {value.get('media_id')}, comment "
                        f"{value.get('comment_id')}) in webhook {d.name} is kept as delivered; "
                        "mentions are not fetched by the fast lane yet",
                    )
                    continue
                if field not in ("comments", "live_comments") or not value.get("id"):
                    continue
                cid = str(value["id"])
                media = value.get("media")
                media_id = str(media.get("id") or "") if isinstance(media, dict) else ""
                endpoint = "GET /{ig-comment-id}"
                try:
                    response, raw = self.graph.get(
                        self.graph.url(cid),
                        endpoint=endpoint,
                        record_class="comments",
                        params={"fields": _COMMENT},
                    )
                except NotFoundError:
                    yield Degradation(
                        "live_fetch",
                        f"Instagram comment {cid} announced by webhook {d.name} was gone when "
                        "fetched; the delivery in the WARC holds what Meta sent",
                    )
                    continue
                yield self.parser._comment_item(raw, media_id, None, response.ref, endpoint)


class YouTubeLive:
    """YouTube: one ``commentThreads?allThreadsRelatedToChannelId=`` page per tick (newest
    first, 100 threads, 1 quota unit), keeping the threads (and their inline replies) newer
    than the newest seen before. YouTube reports no deletions; replies added later to an
    older thread and removals are the sweeps' work."""

    platform = "youtube"

    def __init__(self, ctx: HarvestContext) -> None:
        from connectors.youtube import YouTubeConnector

        self.ctx = ctx
        self.parser = YouTubeConnector(ctx)

    def harvest(self) -> Iterator[HarvestRecord]:
        from connectors.youtube import EP_THREADS

        channel = self.ctx.bookmarks.get("channel_id", "")
        if not channel:
            channel = str(self.parser._channel()[0]["id"])
            yield BookmarkUpdate("channel_id", channel)
        self.parser.channel_id = channel
        since = self.ctx.bookmarks.get("live_threads_newest", "")
        params: dict[str, str | int] = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": channel,
            "order": "time",
            "maxResults": 100,
            "textFormat": "plainText",
        }
        response = self.parser._get("commentThreads", params, record_class="comments")
        data = response.json()
        threads = data.get("items") if isinstance(data, dict) else None
        if not isinstance(threads, list):
            yield Unparseable("comments", EP_THREADS, "commentThreads without items", response.ref)
            return
        newest, kept = since, 0
        for thread in threads:
            snippet = thread.get("snippet") if isinstance(thread, dict) else None
            top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
            published = str(((top or {}).get("snippet") or {}).get("publishedAt") or "")
            if since and published <= since:
                continue
            kept += 1
            newest = max(newest, published)
            video_id = str(snippet.get("videoId") or "") if isinstance(snippet, dict) else ""
            yield self.parser._comment_item(top, video_id, "published", response.ref, EP_THREADS)
            for reply in (thread.get("replies") or {}).get("comments") or []:
                yield self.parser._comment_item(
                    reply, video_id, "published", response.ref, EP_THREADS
                )
        if since and kept == len(threads) and data.get("nextPageToken"):
            yield Degradation(
                "live_fetch",
                f"more than {len(threads)} new comment threads since the last tick; the fast "
                "lane read one page (quota), the next sweep captures the rest",
            )
        if newest:
            yield BookmarkUpdate("live_threads_newest", newest)


# How many recently captured mentions X's fast lane re-reads each tick to see deletions.
X_WATCH = 100


class XLive:
    """X: ``/2/users/:id/mentions?since_id=`` for what is new; X reports no deletions, so the
    last ``X_WATCH`` captured mentions are re-read in one ``/2/tweets?ids=`` call each tick and
    one answered "not found" is reported removed at the time of that answer."""

    platform = "x"

    def __init__(self, ctx: HarvestContext) -> None:
        from connectors.x import XConnector

        self.ctx = ctx
        self.parser = XConnector(ctx)
        self.api = self.parser.api

    def harvest(self) -> Iterator[HarvestRecord]:
        from connectors.x import TWEET_PARAMS, _includes

        owner = self.ctx.bookmarks.get("user_id", "")
        if not owner:
            owner = str(self.parser._lookup()[0]["id"])
            yield BookmarkUpdate("user_id", owner)
        self.parser.owner_id = owner
        watch = [w for w in self.ctx.bookmarks.get("live_watch", "").split(",") if w]
        if watch:
            response, data = self.parser._get(
                "tweets", {"ids": ",".join(watch)}, "comments", "GET /2/tweets"
            )
            reported = datetime.now(UTC)
            for err in data.get("errors") or []:
                gone = str(err.get("value") or err.get("resource_id") or "")
                if gone in watch and "not-found" in str(err.get("type", "")):
                    watch.remove(gone)
                    yield LiveRemoval(
                        "comments",
                        gone,
                        reported,
                        f"X /2/tweets lookup answered not found: {err.get('detail', '')}",
                        response.ref,
                    )
        since = self.ctx.bookmarks.get("live_mentions_since", "")
        params: dict[str, str | int] = {**TWEET_PARAMS, "max_results": 100}
        if since:
            params["since_id"] = since
        endpoint = "GET /2/users/:id/mentions"
        response, data = self.parser._get(f"users/{owner}/mentions", params, "comments", endpoint)
        includes = _includes(data)
        newest = int(since) if since.isdigit() else 0
        for tweet in data.get("data") or []:
            if not isinstance(tweet, dict):
                continue
            root = str(tweet.get("conversation_id") or tweet.get("id"))
            item = self.parser._item(tweet, includes, response.ref, endpoint, root_id=root)
            yield item
            if isinstance(item, Item):
                newest = max(newest, int(str(tweet.get("id", "0"))))
                watch.insert(0, item.platform_id)
        if newest:
            yield BookmarkUpdate("live_mentions_since", str(newest))
        yield BookmarkUpdate("live_watch", ",".join(watch[:X_WATCH]))


# app.bsky.feed.getPosts answers at most 25 uris per call.
BSKY_BATCH = 25


class BlueskyLive:
    """Bluesky: ``app.bsky.notification.listNotifications`` (replies, mentions, quotes newer
    than the last ``indexedAt`` kept), each post then read with ``app.bsky.feed.getPosts``.
    Notifications report no deletions: the last ``BSKY_BATCH`` captured posts are re-read with
    the same call each tick, and one no longer answered is reported removed at that time."""

    platform = "bluesky"

    def __init__(self, ctx: HarvestContext) -> None:
        from connectors.bluesky import BlueskyConnector

        self.ctx = ctx
        self.parser = BlueskyConnector(ctx)

    def harvest(self) -> Iterator[HarvestRecord]:
        owner = self.ctx.bookmarks.get("did", "")
        if not owner:
            owner = str(self.parser._profile()[1]["did"])
            yield BookmarkUpdate("did", owner)
        self.parser.owner_did = owner
        watch = [w for w in self.ctx.bookmarks.get("live_watch", "").split(" ") if w]
        if watch:
            response, data = self.parser._get("app.bsky.feed.getPosts", {"uris": watch}, "comments")  # type: ignore[dict-item]
            present = {str(p.get("uri")) for p in data.get("posts") or [] if isinstance(p, dict)}
            reported = datetime.now(UTC)
            for uri in [w for w in watch if w not in present]:
                watch.remove(uri)
                yield LiveRemoval(
                    "comments",
                    uri,
                    reported,
                    "Bluesky app.bsky.feed.getPosts no longer returns the post",
                    response.ref,
                )
        since = self.ctx.bookmarks.get("live_notif_indexed", "")
        response, data = self.parser._get(
            "app.bsky.notification.listNotifications", {"limit": 50}, "comments"
        )
        newest = since
        uris: list[str] = []
        for n in data.get("notifications") or []:
            if not isinstance(n, dict) or n.get("reason") not in ("reply", "mention", "quote"):
                continue
            indexed = str(n.get("indexedAt") or "")
            if since and indexed <= since:
                continue
            newest = max(newest, indexed)
            uris.append(str(n.get("uri")))
        for i in range(0, len(uris), BSKY_BATCH):
            resp, posts = self.parser._get(
                "app.bsky.feed.getPosts",
                {"uris": uris[i : i + BSKY_BATCH]},  # type: ignore[dict-item]
                "comments",
            )
            for post in posts.get("posts") or []:
                record = post.get("record") if isinstance(post, dict) else None
                reply = record.get("reply") if isinstance(record, dict) else None
                root = (
                    str((reply.get("root") or {}).get("uri")) if isinstance(reply, dict) else None
                )
                item = self.parser._post_item(
                    post, resp.ref, "GET app.bsky.feed.getPosts", "comments", root_id=root
                )
                yield item
                if isinstance(item, Item):
                    watch.insert(0, item.platform_id)
        if newest:
            yield BookmarkUpdate("live_notif_indexed", newest)
        yield BookmarkUpdate("live_watch", " ".join(watch[:BSKY_BATCH]))


class ItemRecapture:
    """Re-read one known item from its platform (``removal record`` captures before removal).

    Yields the item as the platform shows it now; a platform that no longer has it raises the
    typed ``NotFoundError`` of its client, which the caller reports.
    """

    def __init__(
        self, ctx: HarvestContext, *, platform_id: str, root_id: str | None, is_comment: bool
    ) -> None:
        self.ctx = ctx
        self.pid = platform_id
        self.root = root_id if is_comment else None

    def harvest(self) -> Iterator[HarvestRecord]:
        platform = self.ctx.site.platform
        if platform == "mastodon":
            m = MastodonLive(self.ctx)
            resp = self.ctx.http.get(
                f"{m.api}/statuses/{self.pid}",
                record_class="comments",
                endpoint="GET /api/v1/statuses/:id",
            )
            yield m.parser._status_item(resp.json(), resp.ref, "recapture", root_id=self.root)
        elif platform == "facebook":
            f = FacebookLive(self.ctx, [])
            response, raw = f.graph.get(
                f.graph.url(self.pid),
                endpoint="GET /{comment-id}",
                record_class="comments",
                params={"fields": f.fields},
            )
            yield f.parser._comment_item(raw, self.root or "", response.ref, "recapture")
        elif platform == "bluesky":
            b = BlueskyLive(self.ctx)
            b.parser.owner_did = self.ctx.bookmarks.get("did", "")
            resp, data = b.parser._get(
                "app.bsky.feed.getPosts",
                {"uris": self.pid},
                "comments",
            )
            posts = data.get("posts") or []
            if not posts:
                raise NotFoundError(
                    f"post {self.pid} is no longer on Bluesky",
                    site=self.ctx.site.id,
                    endpoint="GET app.bsky.feed.getPosts",
                )
            yield b.parser._post_item(
                posts[0], resp.ref, "recapture", "comments", root_id=self.root
            )
        elif platform == "x":
            from connectors.x import TWEET_PARAMS, _includes

            x = XLive(self.ctx)
            x.parser.owner_id = self.ctx.bookmarks.get("user_id", "")
            resp, data = x.parser._get(
                "tweets", {**TWEET_PARAMS, "ids": self.pid}, "comments", "GET /2/tweets"
            )
            tweets = data.get("data") or []
            if not tweets:
                raise NotFoundError(
                    f"post {self.pid} is no longer on X",
                    site=self.ctx.site.id,
                    endpoint="GET /2/tweets",
                )
            yield x.parser._item(
                tweets[0], _includes(data), resp.ref, "recapture", root_id=self.root
            )
        else:
            raise NotFoundError(
                f"re-capturing one {platform} item is not supported yet",
                site=self.ctx.site.id,
                endpoint="recapture",
            )


def rss_live(ctx: HarvestContext) -> Any:
    """RSS/Atom: the feed connector itself, always incremental, so each tick is one
    conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last answer) that costs
    a ``304 Not Modified`` while nothing changed."""
    from connectors.rss import RssConnector

    return RssConnector(ctx)


LIVE_SOURCES: dict[str, Callable[[HarvestContext], Any]] = {
    "mastodon": MastodonLive,
    "x": XLive,
    "bluesky": BlueskyLive,
    "rss": rss_live,
    "youtube": YouTubeLive,
}
