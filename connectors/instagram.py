"""Instagram (business/creator account linked to the Page): media, comments, replies, count.

Endpoints (Instagram Graph API, shared/platforms/README.md §6, field list partly
[unverified]): ``GET /{ig-user-id}`` for ``followers_count``/``media_count``,
``GET /{ig-user-id}/media`` newest first, ``GET /{ig-media-id}/comments`` (top-level comments
with their ``replies{...}`` nested) and ``GET /{ig-comment-id}/replies`` for further reply
pages. Instagram threads are one level deep: a reply to a reply is listed under the top
comment, so every reply's parent is its top-level comment.

What the API does not give is in ``capabilities.notes``; comments also need
``instagram_manage_comments``. ``hidden`` is returned to the account owner only [unverified: samples do not show it].
Media URLs are signed and expire within days, so they are downloaded on first sight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from archiver.model import Author, HarvestRecord, Item, Media, Unparseable, WarcRef
from archiver.recorder import RecordedResponse
from connectors._graph import (
    GraphClient,
    account_read,
    capture,
    graph_timeline,
    token_expiry,
)
from connectors._options import NoOptions
from connectors._paging import PageGuard
from connectors.base import SOCIAL, Capabilities, HarvestContext, dig, parse_time

# like_count and thumbnail_url: in the samples' request; children{...} subfields per §6.
MEDIA_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,username,comments_count,"
    "like_count,children{id,media_type,media_url}"
)
# ``from`` and ``hidden`` are [unverified] in the notes: samples show only id/text/timestamp.
_COMMENT = "id,text,timestamp,username,from,hidden,like_count,parent_id"
COMMENT_FIELDS = f"{_COMMENT},replies{{{_COMMENT}}}"
COMMENTS = "GET /{ig-media-id}/comments"
REPLIES = "GET /{ig-comment-id}/replies"
FOLLOWER_NOTE = "The Instagram Graph API does not list followers; only the count is available"


class InstagramConnector:
    Options: ClassVar[type] = NoOptions
    platform: ClassVar[str] = "instagram"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        hidden_comments=True,
        notes=(
            "The Instagram Graph API does not list followers; only followers_count.",
            "No edit history: a changed caption is seen at the next re-read only.",
            "Deleted media and comments are absent, not flagged: removals are found by sweeps.",
            "Threads are one level deep: replies to replies are attached to the top comment.",
            "Stories, live video comments and direct messages are not captured.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.graph = GraphClient(ctx)
        self.user_id = ctx.site.account
        self.username = ""

    def harvest(self) -> Iterator[HarvestRecord]:
        account = yield from account_read(
            self.graph,
            endpoint="GET /{ig-user-id}",
            fields="id,username,followers_count,media_count",
            what="Instagram user",
            hint="`account` must be the numeric IG user id linked to the Page",
            note=FOLLOWER_NOTE,
        )
        self.username = str(account.get("username") or "")
        yield from self._media()
        yield from token_expiry(self.graph, self.ctx.token)

    # -- media --------------------------------------------------------------------------------
    def _media(self) -> Iterator[HarvestRecord]:
        yield from graph_timeline(
            self.graph,
            f"{self.user_id}/media",
            endpoint="GET /{ig-user-id}/media",
            fields=MEDIA_FIELDS,
            noun="media",
            parse=self._media_item,
            comments_endpoint=COMMENTS,
            comment_params={"fields": COMMENT_FIELDS},
            comment=self._comment,
        )

    def _media_item(self, raw: Any, ref: WarcRef, endpoint: str) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("posts", endpoint, "media without an id", ref)
        mid = raw["id"]
        created = parse_time(raw.get("timestamp"))
        if created is None:
            return Unparseable("posts", endpoint, f"media {mid}: unreadable timestamp", ref)
        username = raw.get("username") if isinstance(raw.get("username"), str) else None
        return Item(
            record_class="posts",
            kind="post",
            platform_id=mid,
            author=Author(id=self.user_id, handle=username or self.username or None),
            text=str(raw.get("caption") or ""),
            ref=ref,
            posted_at=created,
            url=raw.get("permalink") if isinstance(raw.get("permalink"), str) else None,
            root_id=mid,
            media=capture(self.ctx, _media_list(raw)),
            by_owner=True,
            extra={
                k: raw[k]
                for k in ("media_type", "comments_count", "like_count")
                if raw.get(k) is not None
            },
        )

    # -- comments -----------------------------------------------------------------------------
    def _comment(
        self, raw: Any, media_id: str, page: RecordedResponse, guards: list[PageGuard]
    ) -> Iterator[HarvestRecord]:
        """A top comment, then its replies (one more PageGuard for their pages)."""
        item = self._comment_item(raw, media_id, None, page.ref, COMMENTS)
        yield item
        replies = raw.get("replies") if isinstance(raw, dict) else None
        if not isinstance(item, Item) or not isinstance(replies, dict):
            return
        guards.append(PageGuard(f"replies to comment {item.platform_id}"))
        for at, rows in self._reply_pages(page, replies, guards[-1]):
            for reply in rows:
                yield self._comment_item(reply, media_id, item.platform_id, at.ref, COMMENTS)

    def _reply_pages(
        self, page: RecordedResponse, replies: Any, guard: PageGuard
    ) -> Iterator[tuple[RecordedResponse, list[Any]]]:
        """A comment's replies: the first page inline in the comment, then ``paging.next``."""
        yield page, self.graph.listing(replies, REPLIES)
        if nxt := self.graph.next_url(replies):
            yield from self.graph.pages(nxt, endpoint=REPLIES, record_class="comments", guard=guard)

    def _comment_item(
        self, raw: Any, media_id: str, top_id: str | None, ref: WarcRef, endpoint: str
    ) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("comments", endpoint, f"comment on {media_id} without an id", ref)
        cid = raw["id"]
        created = parse_time(raw.get("timestamp"))
        if created is None:
            return Unparseable("comments", endpoint, f"comment {cid}: unreadable timestamp", ref)
        username = raw.get("username") or dig(raw, "from", "username")
        author_id = dig(raw, "from", "id")
        parent = top_id or (raw.get("parent_id") if isinstance(raw.get("parent_id"), str) else None)
        by_owner = (isinstance(author_id, str) and author_id == self.user_id) or (
            bool(self.username) and username == self.username
        )
        return Item(
            record_class="comments",
            kind="reply" if parent else "comment",
            platform_id=cid,
            author=Author(
                id=str(author_id or ""),
                handle=username if isinstance(username, str) else None,
                url=f"https://www.instagram.com/{username}/" if isinstance(username, str) else None,
            ),
            text=str(raw.get("text") or ""),
            ref=ref,
            posted_at=created,
            parent_id=parent or media_id,
            root_id=media_id,
            by_owner=by_owner,
            hidden=raw.get("hidden") is True,
            extra={"like_count": raw["like_count"]} if raw.get("like_count") is not None else {},
        )


def _media_list(raw: dict[str, Any]) -> list[Media]:
    """The image/video of a post, or every child of a carousel."""
    entries = dig(raw, "children", "data")
    sources = entries if isinstance(entries, list) and entries else [raw]
    out = []
    for i, child in enumerate(sources):
        url = dig(child, "media_url")
        if not isinstance(url, str):
            continue  # not an object, or e.g. copyrighted audio: Instagram omits media_url
        out.append(
            Media(
                id=str(child.get("id") or f"{raw.get('id')}/{i}"),
                type=str(child.get("media_type") or "unknown").lower(),
                url=url,
            )
        )
    return out
