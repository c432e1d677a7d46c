"""Threads (Meta's Threads API, ``graph.threads.net/v1.0``): posts, replies, follower count.

Endpoints (Threads API reference, "Retrieve Threads Media", "Reply Management", "Insights"):
``GET /{user-id}`` (the first call, so a bad token fails the run before anything else),
``GET /{user-id}/threads`` newest first, ``GET /{media-id}/conversation`` (every reply under a
post at any depth, flattened: ``replied_to`` names each one's parent) and
``GET /{user-id}/threads_insights?metric=followers_count``. Lists page with
``paging.next`` (followed, never to another host) or, when a page has only
``paging.cursors.after``, with ``after=``; an empty page ends the list. Option
``reply_walk = "tree"`` reads ``GET /{media-id}/replies`` of the post and then of every reply
that ``has_replies`` instead (more calls; for a profile where the flattened conversation
turns out to leave replies out).

The API speaks the Graph error shape (``_graph.GraphError``): code 190 (expired token) is fatal
with the scopes to grant; code 10 (a scope missing) is fatal for the posts
(``threads_basic``), a ``comments`` degradation for replies (``threads_read_replies``) and a
``follower_count`` degradation for the insight (``threads_manage_insights``).

What the API does not give: the follower list (a count from insights, when granted), edit
history (a changed text is seen at the next read and becomes a new version), deletion flags
(removals are found by full sweeps), replies the owner *removed* (gone) and replies of other
people's posts. Replies the owner *hid* (``hide_status: HIDDEN``) are still listed to the
owner: they are kept and marked hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Literal

from archiver.errors import (
    FatalFetchError,
    FetchError,
    NotFoundError,
    RetriableFetchError,
)
from archiver.model import (
    Author,
    Degradation,
    FollowerCount,
    HarvestRecord,
    Item,
    Media,
    RecordClass,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse
from connectors._graph import (
    GraphClient,
    GraphPermissionError,
    capture,
    classify,
    comment_thread,
)
from connectors._options import read_options
from connectors._paging import PageGuard, cursor, walk_timeline
from connectors.base import Capabilities, HarvestContext, dig, parse_time, platform_words

POST_FIELDS = (
    "id,media_product_type,media_type,media_url,text,permalink,timestamp,username,shortcode,"
    "is_quote_post"
)
REPLY_FIELDS = "id,text,username,timestamp,hide_status,has_replies,root_post,replied_to,is_reply"
PAGE_LIMIT = 100
SCOPES = "threads_basic, threads_read_replies and threads_manage_insights"
FOLLOWER_NOTE = "The Threads API does not list followers; only the count (threads_insights)"
# Which scope each endpoint needs (Threads API permissions reference).
SCOPE = {
    "GET /{user-id}": "threads_basic",
    "GET /{user-id}/threads": "threads_basic",
    "GET /{media-id}/conversation": "threads_read_replies",
    "GET /{media-id}/replies": "threads_read_replies",
    "GET /{user-id}/threads_insights": "threads_manage_insights",
}


class ThreadsClient(GraphClient):
    """GraphClient for ``graph.threads.net``: its own fix for an expired token, the scope a
    refused endpoint needs, and cursor-or-next paging (an empty page ends a list)."""

    stop_on_empty = True

    def __init__(self, ctx: HarvestContext) -> None:
        super().__init__(ctx)
        self._classify = partial(
            classify,
            token_env=ctx.site.token_env or "token_env",
            token=f"the Threads user access token (scopes {SCOPES}; long-lived tokens last 60 days)",
            what="the Threads token is not valid: ",
        )

    def get(
        self,
        url: str,
        *,
        endpoint: str,
        record_class: RecordClass,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[RecordedResponse, Any]:
        try:
            return super().get(url, endpoint=endpoint, record_class=record_class, params=params)
        except GraphPermissionError as exc:
            scope = SCOPE.get(endpoint, "the Threads scopes")
            raise GraphPermissionError(
                f"the token lacks the {scope} permission ({platform_words(exc)}); grant it "
                "to the Threads app",
                site=self.site,
                endpoint=endpoint,
                status=exc.status,
                hint=f"re-authorize the Threads app with {scope} and update the variable "
                f"named by token_env ({self.ctx.site.token_env or 'token_env'})",
            ) from None

    def next_url(self, data: Any) -> str | None:
        """``paging.next``, else ``after=`` the ``paging.cursors.after`` cursor."""
        return super().next_url(data) or cursor("after", dig(data, "paging", "cursors", "after"))


@dataclass(frozen=True, slots=True)
class ThreadsOptions:
    """``options`` for a Threads profile (``account`` is the Threads user id)."""

    # "conversation": one flattened, paged list per post (fewest calls); "tree": /replies of
    # the post, then of each reply that has_replies (one list per reply with replies).
    reply_walk: Literal["conversation", "tree"] = "conversation"


class ThreadsConnector:
    Options: ClassVar[type] = ThreadsOptions
    platform: ClassVar[str] = "threads"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        comments=True,
        replies=True,
        hidden_comments=True,
        edits=True,
        follower_identities=False,
        follower_count=True,
        media=True,
        notes=(
            "The Threads API does not list followers; the count comes from threads_insights "
            "when threads_manage_insights is granted (otherwise a recorded gap).",
            "No edit history or edit flag: a changed text is seen at the next read only.",
            "Deleted posts and replies are absent, not flagged: removals are found by sweeps.",
            "Replies the owner hid (hide_status HIDDEN) are kept and marked hidden.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.options = read_options(ThreadsOptions, ctx.site)
        self.client = ThreadsClient(ctx)
        self.user_id = ctx.site.account
        self.username = ""

    def harvest(self) -> Iterator[HarvestRecord]:
        self.username = self._profile()
        yield from self._followers()
        yield from self._posts()

    # -- profile and followers ----------------------------------------------------------------
    def _profile(self) -> str:
        endpoint = "GET /{user-id}"
        try:
            _, data = self.client.get(
                self.client.url(self.user_id),
                params={"fields": "id,username,name"},
                record_class="posts",
                endpoint=endpoint,
            )
        except NotFoundError as exc:
            raise NotFoundError(
                f"Threads user {self.user_id!r} not found: {platform_words(exc)}",
                site=self.client.site,
                endpoint=endpoint,
                hint="`account` must be the numeric Threads user id (or me)",
            ) from exc
        name = data.get("username") if isinstance(data, dict) else None
        return name if isinstance(name, str) else ""

    def _followers(self) -> Iterator[HarvestRecord]:
        endpoint = "GET /{user-id}/threads_insights"
        try:
            response, data = self.client.get(
                self.client.url(f"{self.user_id}/threads_insights"),
                params={"metric": "followers_count"},
                record_class="followers",
                endpoint=endpoint,
            )
        except GraphPermissionError as exc:
            yield Degradation("follower_count", f"no follower count: {platform_words(exc)}")
            return
        except (RetriableFetchError, FatalFetchError):
            raise  # an outage, a rate limit or a dead token concerns the whole run
        except FetchError as exc:  # the insight alone refused or unreadable: a gap
            yield Degradation("follower_count", f"no follower count: {platform_words(exc)}")
            return
        count = _followers_count(data)
        if count is None:
            yield Degradation(
                "follower_count", "threads_insights returned no followers_count total_value"
            )
            return
        yield FollowerCount(count, response.ref, identities_available=False, note=FOLLOWER_NOTE)

    # -- posts ------------------------------------------------------------------------------
    def _posts(self) -> Iterator[HarvestRecord]:
        endpoint = "GET /{user-id}/threads"
        guard = PageGuard("posts")
        pages = self.client.pages(
            f"{self.user_id}/threads",
            params={"fields": POST_FIELDS, "limit": PAGE_LIMIT},
            record_class="posts",
            endpoint=endpoint,
            guard=guard,
        )
        yield from walk_timeline(
            self.ctx,
            ((page.ref, rows) for page, rows in pages),
            guard=guard,
            parse=lambda raw, ref: self._post(raw, ref, endpoint),
            key=lambda item: int(item.posted_at.timestamp()) if item.posted_at else 0,
            children=lambda item, _raw: self._replies(item.platform_id),
            start=0,
            bookmark="since",
        )

    def _post(self, raw: Any, ref: WarcRef, endpoint: str) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("posts", endpoint, "thread without an id", ref)
        mid = raw["id"]
        created = parse_time(raw.get("timestamp"))
        if created is None:
            return Unparseable("posts", endpoint, f"thread {mid}: unreadable timestamp", ref)
        username = _str(raw.get("username")) or self.username or None
        url = raw.get("media_url")
        media = (
            [Media(id=mid, type=str(raw.get("media_type") or "image").lower(), url=url)]
            if isinstance(url, str) and url
            else []
        )
        return Item(
            record_class="posts",
            kind="post",
            platform_id=mid,
            author=_author(self.user_id, username),
            text=_str(raw.get("text")),
            ref=ref,
            posted_at=created,
            url=_str(raw.get("permalink")) or None,
            root_id=mid,
            media=capture(self.ctx, media),
            by_owner=True,
            extra={
                k: raw[k]
                for k in ("media_product_type", "media_type", "shortcode", "is_quote_post")
                if raw.get(k) is not None
            },
        )

    # -- replies ----------------------------------------------------------------------------
    def _replies(self, post_id: str) -> Iterator[HarvestRecord]:
        if self.options.reply_walk == "tree":
            endpoint = "GET /{media-id}/replies"
            read: Callable[[list[PageGuard]], Iterator[HarvestRecord]] = partial(
                self._tree, post_id, endpoint
            )
        else:
            endpoint = "GET /{media-id}/conversation"
            read = lambda guards: self._conversation(post_id, endpoint, guards[0])  # noqa: E731
        yield from comment_thread(
            self.client, read, root_id=post_id, noun="post", endpoint=endpoint
        )

    def _tree(
        self, post_id: str, endpoint: str, guards: list[PageGuard]
    ) -> Iterator[HarvestRecord]:
        """``/{id}/replies`` of the post, then of every reply that ``has_replies``, any
        depth, with a stack (no recursion) and one PageGuard per list."""
        stack = [post_id]
        while stack:
            node = stack.pop()
            guard = guards[0] if node == post_id else PageGuard(f"replies to {node}")
            if node != post_id:
                guards.append(guard)
            for page, rows in self.client.pages(
                f"{node}/replies",
                params={"fields": REPLY_FIELDS, "reverse": "false", "limit": PAGE_LIMIT},
                record_class="comments",
                endpoint=endpoint,
                guard=guard,
            ):
                for raw in rows:
                    item = self._reply(raw, post_id, page.ref, endpoint, parent=node)
                    yield item
                    if isinstance(item, Item) and raw.get("has_replies") is True:
                        stack.append(item.platform_id)

    def _conversation(
        self, post_id: str, endpoint: str, guard: PageGuard
    ) -> Generator[HarvestRecord, None, None]:
        for page, rows in self.client.pages(
            f"{post_id}/conversation",
            params={"fields": REPLY_FIELDS, "reverse": "false", "limit": PAGE_LIMIT},
            record_class="comments",
            endpoint=endpoint,
            guard=guard,
        ):
            for raw in rows:
                yield self._reply(raw, post_id, page.ref, endpoint)

    def _reply(
        self, raw: Any, post_id: str, ref: WarcRef, endpoint: str, parent: str | None = None
    ) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("comments", endpoint, f"reply under {post_id} without an id", ref)
        rid = raw["id"]
        created = parse_time(raw.get("timestamp"))
        if created is None:
            return Unparseable("comments", endpoint, f"reply {rid}: unreadable timestamp", ref)
        parent = _ref_id(raw.get("replied_to")) or parent or post_id
        username = _str(raw.get("username")) or None
        status = raw.get("hide_status")
        return Item(
            record_class="comments",
            kind="comment" if parent == post_id else "reply",
            platform_id=rid,
            author=_author("", username),
            text=_str(raw.get("text")),
            ref=ref,
            posted_at=created,
            parent_id=parent,
            root_id=_ref_id(raw.get("root_post")) or post_id,
            by_owner=bool(self.username) and username == self.username,
            hidden=status == "HIDDEN",
            extra={"hide_status": status} if isinstance(status, str) else {},
        )


def _followers_count(data: Any) -> int | None:
    rows = data.get("data") if isinstance(data, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or row.get("name") != "followers_count":
            continue
        total = row.get("total_value")
        value = total.get("value") if isinstance(total, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _author(uid: str, username: str | None) -> Author:
    url = f"https://www.threads.net/@{username}" if username else None
    return Author(id=uid or (username or ""), handle=username, url=url)


def _ref_id(value: Any) -> str | None:
    rid = value.get("id") if isinstance(value, dict) else None
    return rid if isinstance(rid, str) and rid else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
