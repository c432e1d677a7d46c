"""Bluesky: the account's posts, every reply thread (with hidden replies), and its followers.

Reads the public AppView (``https://public.api.bsky.app``), which needs no authentication:
``app.bsky.actor.getProfile`` resolves the handle to a DID and gives ``followersCount``;
``app.bsky.feed.getAuthorFeed`` (``filter=posts_with_replies``, newest first, ``cursor``
pagination) lists posts; ``app.bsky.feed.getPostThread`` (``depth=1000``, ``parentHeight=0``)
gives the whole reply tree under each post plus the root's threadgate, whose
``hiddenReplies`` are replies the city hid; ``app.bsky.graph.getFollowers`` lists followers.

Rules that a records officer may ask about:

* ``platform_id`` is the post's ``at://`` uri. Posts cannot be edited in the Bluesky app; a
  record rewritten through the protocol (same uri, new ``cid``) becomes a new version when what
  a reader sees (text, images, hidden) changed; ``cid`` is kept with every version.
* Reposts by the city are recorded as posts of their own (the repost record's uri, text of the
  reposted post, ``extra.repost_of``); their threads belong to the original author and are not
  walked.
* Threads are walked for the city's top-level posts and for its replies in other people's
  threads; the city's replies inside its own threads are already in the root's thread.
* A deletion has no flag: a post missing from a full sweep, a thread root answering
  ``NotFound``, or a reply missing from (or ``notFoundPost`` in) its thread is removed upstream.
* A reply by an account in a block relation shows as ``blockedPost`` (no content); the thread
  is then not treated as complete, so nothing in it is wrongly marked removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from archiver.errors import AuthError, FetchError, MalformedResponseError, NotFoundError
from archiver.model import (
    Author,
    BookmarkUpdate,
    Follower,
    HarvestRecord,
    Item,
    ItemKind,
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse
from connectors._options import NoOptions
from connectors._paging import (
    Gap,
    PageGuard,
    UnreadablePage,
    cursor,
    follower,
    follower_head_marks,
    followers_head,
    followers_stream,
    listing,
    noting_newest,
    read_page,
    url_pages,
    walk_thread,
    walk_timeline,
)
from connectors._profile import profile_item
from connectors.base import (
    SOCIAL,
    Capabilities,
    HarvestContext,
    dig,
    parse_time,
    platform_words,
    with_captured_media,
)

FEED = "app.bsky.feed.getAuthorFeed"
THREAD = "app.bsky.feed.getPostThread"
PROFILE = "app.bsky.actor.getProfile"
FOLLOWERS = "app.bsky.graph.getFollowers"
PAGE = 100  # the lexicons' maximum for getAuthorFeed and getFollowers
THREAD_DEPTH = 1000  # getPostThread's maximum depth


class BlueskyConnector:
    Options: ClassVar[type] = NoOptions
    platform: ClassVar[str] = "bluesky"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        hidden_comments=True,
        edits=False,
        follower_identities=True,
        notes=(
            "Bluesky posts cannot be edited, so there is no edit history; a record rewritten "
            "through the protocol (new cid, same uri) is kept as a new version.",
            "Deleted posts and replies leave no trace upstream: they are detected by absence "
            "during a full sweep or a NotFound thread.",
            "Replies hidden by the city (threadgate hiddenReplies) are captured and marked hidden.",
            "Replies from accounts in a block relation show as blockedPost with no content.",
            "Videos are HLS streams: the playlist address is recorded, the video is not downloaded.",
            "Likes and reposts by others are counts only.",
            "Threads are read to depth 1000, the API's maximum.",
            "createdAt is set by the posting app; the AppView's indexedAt is kept alongside.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.xrpc = f"{ctx.site.base_url.rstrip('/')}/xrpc"
        self.owner_did = ""

    # -- XRPC ---------------------------------------------------------------------------------
    def _get(
        self,
        nsid: str,
        params: dict[str, str | int],
        record_class: RecordClass,
        context: str | None = None,
    ) -> tuple[RecordedResponse, dict[str, Any]]:
        """One XRPC query, its JSON object; the 400 envelope ``{"error", "message"}`` becomes a
        typed error. With a ``context`` an unreadable answer costs that thread only
        (UnreadablePage), otherwise it fails the run."""
        endpoint = f"GET {nsid}"
        response = self.ctx.http.get(
            f"{self.xrpc}/{nsid}",
            params=params,
            record_class=record_class,
            endpoint=endpoint,
            ok_statuses=(400,),
        )
        data, _ = read_page(response, context=context)
        if response.status_code == 400:
            error, message = data.get("error"), data.get("message")
            text = f"HTTP 400 {error or 'error'}: {message or '(no message)'}"
            kind = NotFoundError if error == "NotFound" or _not_found(message) else FetchError
            raise kind(text, site=self.ctx.site.id, endpoint=endpoint, status=400)
        return response, data

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        profile_response, profile = self._profile()
        self.owner_did = str(profile["did"])
        yield BookmarkUpdate("did", self.owner_did)
        yield self._profile_item(profile_response, profile)
        yield from self._posts()
        yield from self._followers(profile_response, profile)

    def _profile(self) -> tuple[RecordedResponse, dict[str, Any]]:
        actor = self.ctx.site.account.lstrip("@")
        try:
            response, data = self._get(PROFILE, {"actor": actor}, "posts")
        except NotFoundError as exc:
            raise NotFoundError(
                f"account {actor!r} does not exist on {self.ctx.site.base_url} ({platform_words(exc)})",
                site=self.ctx.site.id,
                endpoint=f"GET {PROFILE}",
                hint="check `account` (the handle, e.g. bozeman.gov, or a did:plc) in the config",
            ) from exc
        if not isinstance(data.get("did"), str):
            raise MalformedResponseError(
                "profile without a did", site=self.ctx.site.id, endpoint=f"GET {PROFILE}"
            )
        return response, data

    def _profile_item(self, response: RecordedResponse, data: dict[str, Any]) -> Item:
        """getProfile already holds the whole profile; keep it as a versioned record."""
        status = dig(data, "verification", "verifiedStatus")
        return profile_item(
            self.ctx,
            ref=response.ref,
            account_id=self.owner_did,
            handle=data.get("handle"),
            display_name=data.get("displayName"),
            bio=data.get("description"),
            avatar_url=data.get("avatar"),
            banner_url=data.get("banner"),
            pinned=dig(data, "pinnedPost", "uri"),
            verified=status == "valid" if isinstance(data.get("verification"), dict) else None,
            url=_profile_url(data.get("handle")),
        )

    # -- posts --------------------------------------------------------------------------------
    def _pages(
        self, nsid: str, params: dict[str, str | int], record_class: RecordClass, key: str
    ) -> tuple[PageGuard, Iterator[tuple[WarcRef, list[Any]]]]:
        """``cursor`` pages of ``nsid`` with their ``key`` list; an empty page is the end."""
        guard = PageGuard(nsid)
        pages = url_pages(
            lambda _, query: self._get(nsid, dict(query or {}), record_class),
            nsid,
            params,
            next_url=lambda data: cursor("cursor", data.get("cursor")),
            guard=guard,
            empty=lambda data: not data.get(key),
        )
        endpoint = f"GET {nsid}"
        site = self.ctx.site.id
        return guard, (
            (page.ref, listing(data, key, site=site, endpoint=endpoint)) for page, data in pages
        )

    def _posts(self) -> Iterator[HarvestRecord]:
        endpoint = f"GET {FEED}"
        params: dict[str, str | int] = {
            "actor": self.owner_did,
            "limit": PAGE,
            "filter": "posts_with_replies",
        }
        guard, pages = self._pages(FEED, params, "posts", "feed")
        yield from walk_timeline(
            self.ctx,
            pages,
            parse=lambda entry, ref: self._feed_item(entry, ref, endpoint),
            key=lambda item: item.posted_at.isoformat() if item.posted_at else "",
            prepare=lambda item: with_captured_media(self.ctx, item),
            children=lambda item, entry: (
                self._thread(item.platform_id) if self._walk_thread(entry) else iter(())
            ),
            start="",
            bookmark="newest_created_at",
            guard=guard,
            distinct=True,
        )

    def _walk_thread(self, entry: Any) -> bool:
        """Top-level posts and the city's replies in other people's threads have threads of
        their own to walk; reposts and replies inside the city's own threads do not."""
        reason = entry.get("reason")
        if isinstance(reason, dict) and reason.get("$type") == "app.bsky.feed.defs#reasonRepost":
            return False
        reply = (entry["post"].get("record") or {}).get("reply")
        if not isinstance(reply, dict):
            return True
        root_uri = str((reply.get("root") or {}).get("uri", ""))
        return not root_uri.startswith(f"at://{self.owner_did}/")

    def _feed_item(self, entry: Any, ref: WarcRef, endpoint: str) -> Item | Unparseable:
        if not isinstance(entry, dict) or not isinstance(entry.get("post"), dict):
            return Unparseable("posts", endpoint, "feed entry without a post", ref)
        item = self._post_item(entry["post"], ref, endpoint, "posts")
        reason = entry.get("reason")
        if isinstance(item, Unparseable) or not isinstance(reason, dict):
            return item
        if reason.get("$type") != "app.bsky.feed.defs#reasonRepost":
            return item  # reasonPin and future reasons: the post itself
        by = reason.get("by") or {}
        original = item.author
        repost_uri = reason.get("uri") or f"{self.owner_did}#repost:{item.platform_id}"
        return replace(
            item,
            platform_id=str(repost_uri),
            kind="post",
            author=Author(
                id=str(by.get("did", self.owner_did)),
                handle=by.get("handle"),
                display_name=by.get("displayName"),
                url=_profile_url(by.get("handle")),
            ),
            text=f"Reposted @{original.handle}: {item.text}",
            posted_at=parse_time(reason.get("indexedAt")) or item.posted_at,
            parent_id=None,
            root_id=str(repost_uri),
            by_owner=True,
            extra=dict(item.extra) | {"repost_of": item.platform_id, "repost_of_url": item.url},
        )

    def _post_item(
        self,
        post: dict[str, Any],
        ref: WarcRef,
        endpoint: str,
        record_class: RecordClass,
        *,
        root_id: str | None = None,
        hidden: bool = False,
    ) -> Item | Unparseable:
        try:
            uri = str(post["uri"])
            author = post["author"]
            did = str(author["did"])
            record = post["record"]
            text = record.get("text", "")
            created = parse_time(record["createdAt"])
        except (KeyError, TypeError, AttributeError) as exc:
            return Unparseable(record_class, endpoint, f"post without required field {exc}", ref)
        if created is None or not isinstance(text, str):
            return Unparseable(record_class, endpoint, f"post {uri}: unreadable createdAt", ref)
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else None
        parent = str((reply.get("parent") or {}).get("uri", "")) if reply else ""
        kind: ItemKind = "post"
        if root_id is not None:
            kind = "comment" if parent == root_id else "reply"
        handle = author.get("handle")
        extra: dict[str, Any] = {
            k: post[k]
            for k in ("cid", "replyCount", "repostCount", "likeCount", "quoteCount", "indexedAt")
            if k in post
        }
        if record.get("langs"):
            extra["langs"] = record["langs"]
        if post.get("labels"):
            extra["labels"] = [lb.get("val") for lb in post["labels"] if isinstance(lb, dict)]
        if reply:
            extra["reply_root"] = (reply.get("root") or {}).get("uri")
        media, embed_extra = _embed(post.get("embed"))
        extra |= embed_extra
        return Item(
            record_class=record_class,
            kind=kind,
            platform_id=uri,
            author=Author(
                id=did,
                handle=handle,
                display_name=author.get("displayName"),
                url=_profile_url(handle),
            ),
            text=text,
            ref=ref,
            posted_at=created,
            url=_post_url(handle or did, uri),
            parent_id=parent or None,
            root_id=root_id if root_id is not None else uri,
            media=tuple(media),
            by_owner=did == self.owner_did,
            hidden=hidden,
            extra=extra,
        )

    # -- threads ------------------------------------------------------------------------------
    def _thread(self, root_uri: str) -> Iterator[HarvestRecord]:
        endpoint = f"GET {THREAD}"
        params: dict[str, str | int] = {"uri": root_uri, "depth": THREAD_DEPTH, "parentHeight": 0}
        try:
            response, data = self._get(THREAD, params, "comments", f"thread of {root_uri}")
        except NotFoundError:
            yield Sweep("comments", root_uri)  # the post vanished between listing and reading
            return
        except UnreadablePage as exc:
            # One unreadable thread must not cost the run: kept raw, counted, and not swept
            # (its replies may be in the answer we could not read).
            yield Unparseable("comments", endpoint, exc.words, exc.ref)
            return
        thread = data.get("thread")
        if not isinstance(thread, dict):
            why = f"thread of {root_uri}: getPostThread without a thread"
            yield Unparseable("comments", endpoint, why, response.ref)
            return
        kind = thread.get("$type", "")
        if kind.endswith("#notFoundPost") or thread.get("notFound") is True:
            yield Sweep("comments", root_uri)
            return
        if kind.endswith("#blockedPost") or not isinstance(thread.get("post"), dict):
            return
        gate = data.get("threadgate") or thread["post"].get("threadgate") or {}
        hidden = set((gate.get("record") or {}).get("hiddenReplies") or [])

        def parse(node: Any) -> Item | Unparseable | Gap | None:
            node_type = str(node.get("$type", "")) if isinstance(node, dict) else ""
            if node_type.endswith("#notFoundPost") or node.get("notFound") is True:
                return None  # deleted: not seen, so the sweep marks it removed
            if node_type.endswith("#blockedPost") or node.get("blocked") is True:
                return Gap("blocked")  # content withheld: nothing under it is known gone
            post = node.get("post")
            if not isinstance(post, dict):
                return Unparseable("comments", endpoint, "thread node without a post", response.ref)
            item = self._post_item(
                post,
                response.ref,
                endpoint,
                "comments",
                root_id=root_uri,
                hidden=str(post.get("uri")) in hidden,
            )
            return with_captured_media(self.ctx, item) if isinstance(item, Item) else item

        yield from walk_thread(
            root_uri,
            (n for n in thread.get("replies") or [] if isinstance(n, dict)),
            parse=parse,
            children=lambda node, _item: (
                n for n in node.get("replies") or [] if isinstance(n, dict)
            ),
        )

    # -- followers ----------------------------------------------------------------------------
    def _followers(
        self, profile_response: RecordedResponse, profile: dict[str, Any]
    ) -> Iterator[HarvestRecord]:
        endpoint = f"GET {FOLLOWERS}"
        params: dict[str, str | int] = {"actor": self.owner_did, "limit": PAGE}

        def parse(acc: Any, ref: WarcRef) -> Follower | Unparseable:
            return follower(
                acc,
                ref,
                endpoint,
                key="did",
                handle="handle",
                name="displayName",
                url=lambda _, h: _profile_url(h),
            )

        def did(entry: Any) -> str | None:
            value = entry.get("did") if isinstance(entry, dict) else None
            return value if isinstance(value, str) else None

        declared = profile.get("followersCount")
        if self.ctx.followers_walk == "head":
            # getFollowers lists the newest follow first (the fake does too; unverified for
            # the AppView in shared/platforms, so the declared count checks every head walk).
            _, top = self._pages(FOLLOWERS, params, "followers", "followers")
            head = followers_head(
                self.ctx,
                top,
                key=did,
                parse=parse,
                declared=declared,
                declared_ref=profile_response.ref,
                note="from the profile's followersCount (newest followers read)",
            )
            if head is not None:
                yield from head
                return
        guard, pages = self._pages(FOLLOWERS, params, "followers", "followers")
        newest: list[str] = []
        yield from followers_stream(
            noting_newest(pages, did, newest),
            parse=parse,
            guard=guard,
            declared=declared,
            declared_ref=profile_response.ref,
            refused=_refused,
            endpoint=endpoint,
            note="from the profile's followersCount",
        )
        yield from follower_head_marks(guard, newest, declared)


def _refused(exc: FetchError) -> bool:
    """401/403 (or an XRPC 400 saying auth is needed) on the followers list only."""
    return isinstance(exc, AuthError) or (exc.status == 400 and "auth" in exc.message.lower())


def _not_found(message: Any) -> bool:
    text = str(message or "").lower()
    return "not found" in text or "unable to resolve" in text


def _profile_url(handle: Any) -> str | None:
    return f"https://bsky.app/profile/{handle}" if isinstance(handle, str) and handle else None


def _post_url(actor: str, uri: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{uri.rsplit('/', 1)[-1]}"


def _embed(embed: Any) -> tuple[list[Media], dict[str, Any]]:
    """Images (``#view`` fullsize), video (playlist only), links and quotes from an embed view."""
    media: list[Media] = []
    extra: dict[str, Any] = {}
    if not isinstance(embed, dict):
        return media, extra
    kind = str(embed.get("$type", ""))
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        inner, more = _embed(embed.get("media"))
        if quoted := dig(embed, "record", "record", "uri"):
            more["quote_of"] = quoted
        return inner, more
    if kind.startswith("app.bsky.embed.images"):
        for i, img in enumerate(embed.get("images") or []):
            if isinstance(img, dict):
                url = img.get("fullsize") or img.get("thumb")
                media.append(Media(str(url or i), "image", url, img.get("alt") or None))
    elif kind.startswith("app.bsky.embed.video"):
        media.append(
            Media(
                str(embed.get("cid") or embed.get("playlist")),
                "video",
                None,
                embed.get("alt") or None,
                skipped_reason=f"HLS video stream not downloaded: {embed.get('playlist')}",
            )
        )
    elif kind.startswith("app.bsky.embed.external"):
        ext = embed.get("external") or {}
        extra["link"] = {k: ext.get(k) for k in ("uri", "title", "description")}
    elif kind.startswith("app.bsky.embed.record") and (quoted := dig(embed, "record", "uri")):
        extra["quote_of"] = quoted
    return media, extra
