"""Facebook Page: the Page's posts, every comment and reply (hidden ones too), the fan count.

Endpoints (Graph API, shared/platforms/README.md §5): ``GET /{page-id}`` for name and counts,
``GET /{page-id}/posts`` (or ``/feed`` with ``options.edge = "feed"`` to include visitor posts),
``GET /{post-id}/comments?filter=stream`` which lists comments *and* replies at any depth flat,
each reply naming its ``parent``, and ``GET /debug_token`` for the token's expiry.

What the API does not give (follower list, edit history, deletion flags, hidden comments
without MODERATE) is in ``capabilities.notes``. ``updated_time`` also moves when someone
comments, so it is kept as metadata only, never taken for an edit.

Incremental runs read newest-first back to the ``since`` bookmark (unix time of the newest
post seen) and always re-read the ``recheck_recent`` newest posts with their threads, where
edits, new comments, hiding and deletions happen; a full sweep reads everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from archiver.model import Author, Degradation, HarvestRecord, Item, Media, Unparseable, WarcRef
from archiver.recorder import RecordedResponse
from connectors._graph import (
    GraphClient,
    GraphPermissionError,
    account_read,
    capture,
    graph_timeline,
    token_expiry,
)
from connectors._options import read_options
from connectors._paging import PageGuard
from connectors._profile import profile_item
from connectors.base import SOCIAL, Capabilities, HarvestContext, dig, parse_time

PROFILE_FIELDS = (
    "id,name,username,about,website,link,picture{url},cover{source},verification_status"
)
POST_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,from,"
    "attachments{media_type,media,url,title,description,target,subattachments},status_type,is_hidden"
)
COMMENT_FIELDS = (
    "id,message,created_time,from,parent{id},is_hidden,attachment,permalink_url,like_count,"
    "comment_count"
)
COMMENTS = "GET /{post-id}/comments"
FOLLOWER_NOTE = "The Graph API does not list a Page's followers; only the count is available"


@dataclass(frozen=True, slots=True)
class FacebookOptions:
    """``options`` a Facebook Page site may set."""

    # posts: the Page's own posts; feed: with visitor posts; published_posts
    edge: Literal["posts", "feed", "published_posts"] = "posts"


class FacebookConnector:
    Options: ClassVar[type] = FacebookOptions
    platform: ClassVar[str] = "facebook"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        hidden_comments=True,
        notes=(
            "The Graph API does not list a Page's followers; only followers_count/fan_count.",
            "No edit history: an edit is seen as changed text at the next re-read; "
            "earlier wording between two runs is not available.",
            "Deleted posts and comments are absent, not flagged: removals are found by sweeps.",
            "Hidden comments and commenter identities need a Page token with the MODERATE "
            "task (pages_read_user_content / pages_manage_engagement); without it they are "
            "missing.",
            "Comments removed before the first harvest, and Messenger conversations, are not "
            "captured.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.graph = GraphClient(ctx)
        self.page_id = ctx.site.account
        self.edge = read_options(FacebookOptions, ctx.site).edge
        self.warned_ids = False

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        yield from account_read(
            self.graph,
            endpoint="GET /{page-id}",
            fields="id,name,followers_count,fan_count",
            what="Page",
            hint="`account` must be the numeric Page id",
            note=FOLLOWER_NOTE,
        )
        yield from self._profile()
        yield from self._posts()
        yield from token_expiry(self.graph, self.ctx.token)

    # -- profile ------------------------------------------------------------------------------
    def _profile(self) -> Iterator[HarvestRecord]:
        """The Page's name, about text, picture, cover and website as a versioned record."""
        endpoint = "GET /{page-id} (profile)"
        try:
            response, data = self.graph.get(
                self.graph.url(self.page_id),
                params={"fields": PROFILE_FIELDS},
                record_class="posts",
                endpoint=endpoint,
            )
        except GraphPermissionError as exc:
            yield Degradation("profile", str(exc))
            return
        if not isinstance(data, dict):
            yield Unparseable("posts", endpoint, "the Page read did not return an object")
            return
        yield profile_item(
            self.ctx,
            ref=response.ref,
            account_id=str(data.get("id") or self.page_id),
            handle=data.get("username"),
            display_name=data.get("name"),
            bio=data.get("about"),
            avatar_url=dig(data, "picture", "data", "url"),
            banner_url=dig(data, "cover", "source"),
            website=data.get("website"),
            verified=data.get("verification_status") in ("blue_verified", "gray_verified"),
            url=data.get("link"),
        )

    # -- posts --------------------------------------------------------------------------------
    def _posts(self) -> Iterator[HarvestRecord]:
        yield from graph_timeline(
            self.graph,
            f"{self.page_id}/{self.edge}",
            endpoint=f"GET /{{page-id}}/{self.edge}",
            fields=POST_FIELDS,
            noun="posts",
            parse=self._post_item,
            comments_endpoint=COMMENTS,
            comment_params={"filter": "stream", "order": "chronological", "fields": COMMENT_FIELDS},
            comment=self._comment,
        )

    def _post_item(self, raw: Any, ref: WarcRef, endpoint: str) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("posts", endpoint, "post without an id", ref)
        pid = raw["id"]
        created = parse_time(raw.get("created_time"))
        if created is None:
            return Unparseable("posts", endpoint, f"post {pid}: unreadable created_time", ref)
        author = _author(raw.get("from"))
        media = capture(self.ctx, _attachments(raw.get("attachments")))
        extra = {k: raw[k] for k in ("status_type", "updated_time") if raw.get(k) is not None}
        return Item(
            record_class="posts",
            kind="post",
            platform_id=pid,
            author=author or Author(id=self.page_id),
            text=str(raw.get("message") or ""),
            ref=ref,
            posted_at=created,
            url=raw.get("permalink_url") if isinstance(raw.get("permalink_url"), str) else None,
            root_id=pid,
            media=media,
            by_owner=author is None or author.id == self.page_id,
            # A Page post hidden from the timeline is still a record; it is kept, flagged.
            hidden=raw.get("is_hidden") is True,
            extra=extra,
        )

    # -- comments -----------------------------------------------------------------------------
    def _comment(
        self, raw: Any, post_id: str, page: RecordedResponse, _guards: list[PageGuard]
    ) -> Iterator[HarvestRecord]:
        """One entry of a post's whole thread (``filter=stream``: replies at any depth, flat)."""
        yield self._comment_item(raw, post_id, page.ref, COMMENTS)
        if isinstance(raw, dict) and "id" not in raw and not self.warned_ids:
            self.warned_ids = True
            yield Degradation(
                "comments",
                f"site {self.ctx.site.id}: {COMMENTS}: comments came without ids; "
                "since Graph API v11 that means the token cannot MODERATE the Page",
            )

    def _comment_item(
        self, raw: Any, post_id: str, ref: WarcRef, endpoint: str
    ) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            # Since v11 the id is returned only to a token that can MODERATE the Page.
            return Unparseable("comments", endpoint, f"comment on {post_id} without an id", ref)
        cid = raw["id"]
        created = parse_time(raw.get("created_time"))
        if created is None:
            return Unparseable("comments", endpoint, f"comment {cid}: unreadable created_time", ref)
        parent_id = dig(raw, "parent", "id")
        author = _author(raw.get("from"))
        attachment = raw.get("attachment")
        media = capture(self.ctx, _attachments({"data": [attachment]} if attachment else None))
        extra: dict[str, Any] = {
            k: raw[k] for k in ("like_count", "comment_count") if raw.get(k) is not None
        }
        if author is None:
            extra["author_withheld"] = "the Graph API returned no `from` for this comment"
        return Item(
            record_class="comments",
            kind="reply" if parent_id else "comment",
            platform_id=cid,
            author=author or Author(id=""),
            text=str(raw.get("message") or ""),
            ref=ref,
            posted_at=created,
            url=raw.get("permalink_url") if isinstance(raw.get("permalink_url"), str) else None,
            parent_id=str(parent_id) if parent_id else post_id,
            root_id=post_id,
            media=media,
            by_owner=author is not None and author.id == self.page_id,
            hidden=raw.get("is_hidden") is True,
            extra=extra,
        )


def _author(value: Any) -> Author | None:
    if not isinstance(value, dict) or not value.get("id"):
        return None
    name = value.get("name")
    return Author(id=str(value["id"]), display_name=name if isinstance(name, str) else None)


def _attachments(value: Any) -> list[Media]:
    """Photos/videos of ``attachments{...}`` (albums via ``subattachments``), as Media."""
    out: list[Media] = []
    entries = dig(value, "data")
    for att in entries if isinstance(entries, list) else []:  # a non-object has no src below
        sub_entries = dig(att, "subattachments", "data")
        if isinstance(sub_entries, list) and sub_entries:
            out.extend(_attachments(att["subattachments"]))
            continue
        # The video file when there is one, else the image.
        src = dig(att, "media", "source") or dig(att, "media", "image", "src")
        if not isinstance(src, str):
            continue
        mid = dig(att, "target", "id")
        desc = att.get("description") or att.get("title")
        out.append(
            Media(
                id=str(mid or src.split("?", 1)[0]),
                type=str(att.get("media_type") or att.get("type") or "unknown"),
                url=src,
                description=desc if isinstance(desc, str) else None,
            )
        )
    return out
