"""X (Twitter) API v2: the account's posts with edit chains, reply conversations, followers.

Endpoints: ``/2/users/by/username/:username`` resolves the handle; ``/2/users/:id/tweets``
lists posts newest first (``meta.next_token`` -> ``pagination_token``; the API reaches only the
3,200 newest); ``/2/tweets/search/recent`` finds replies (the last seven days only): first ``to:<account>``
lists every reply written to the account in the window *whatever the age of the post*, then
``conversation_id:<id>`` reads each conversation that had activity (and each post of the last
seven days) whole, so a reply deep in a chain under a two-week-old post is captured too
(``options.full_archive = true`` reads conversations through ``/2/tweets/search/all``, which
needs the Pro tier); ``/2/users/:id/followers``
lists followers (Enterprise tier per the docs; on a tier refusal the run keeps the
``public_metrics`` count, and records a degradation only if an earlier run did list followers:
the ``followers_listed`` bookmark).

Edits: X mints a new id for every edit and lists the whole chain in ``edit_history_tweet_ids``
(oldest first). Every id of a chain maps to the *first* id, so an edit becomes version 2 of
the same catalog item; the current id and the chain stay in ``extra``.

Deletions have no flag: a full sweep that walks the whole timeline marks missing posts removed,
and a conversation search known to cover the whole conversation (it started inside the search
window, or full-archive search) marks missing replies removed; an older conversation's replies
written in the window are captured but prove nothing about the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from archiver.errors import (
    FetchError,
    MalformedResponseError,
    NotFoundError,
    RetriableFetchError,
    SkippableFetchError,
)
from archiver.model import (
    Author,
    BookmarkUpdate,
    Degradation,
    FollowerCount,
    HarvestRecord,
    Item,
    ItemKind,
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, platform_message, status_classifier
from archiver.verdict import Skip, Verdict
from connectors._options import read_options
from connectors._paging import (
    PageGuard,
    UnreadablePage,
    bookmark_since,
    cursor,
    follower,
    followers_stream,
    listing,
    read_page,
    url_pages,
    walk_timeline,
)
from connectors._profile import profile_item
from connectors.base import (
    SOCIAL,
    Capabilities,
    HarvestContext,
    dig,
    json_body,
    parse_time,
    platform_words,
    with_captured_media,
)

TWITTER_EPOCH_MS = 1288834974657
TIMELINE_CAP = 3200
RECENT_SEARCH_DAYS = 7
TWEET_FIELDS = (
    "created_at,edit_history_tweet_ids,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "attachments,public_metrics,author_id,edit_controls"
)
EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id"
EXTRA_FIELDS: tuple[str, ...] = ("conversation_id", "in_reply_to_user_id", "referenced_tweets")
EXTRA_FIELDS += ("public_metrics", "edit_controls")  # kept with every version
Includes = dict[str, dict[str, dict[str, Any]]]
TWEET_PARAMS: dict[str, str | int] = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "user.fields": "username,name",
    "media.fields": "url,preview_image_url,type",
}
EP_LOOKUP = "GET /2/users/by/username/:username"
# The lookup also gives the profile (issue 17); requesting more user fields costs nothing.
PROFILE_FIELDS = (
    "public_metrics,username,name,created_at,description,profile_image_url,url,"
    "pinned_tweet_id,verified"
)
EP_USER = "GET /2/users/:id"
EP_TWEETS = "GET /2/users/:id/tweets"
EP_FOLLOWERS = "GET /2/users/:id/followers"
FOLLOWERS_LISTED = "followers_listed"  # bookmark: "1" once the follower list has worked
TIER_MARKERS = ("client-not-enrolled", "client-forbidden", "unsupported-authentication")


def snowflake_time(tweet_id: str) -> datetime | None:
    """When an X id was minted: ids carry milliseconds since X's epoch in their top bits."""
    if not tweet_id.isdigit():
        return None
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def classify(status: int, headers: httpx.Headers, body: bytes) -> Verdict:
    """X's own error shapes: a 403 that means "your access tier does not include this" costs
    only that capability (Skip); 401, 429 (``x-rate-limit-reset``, epoch) and 5xx follow the
    recorder's standard rules."""
    data = json_body(body) if status == 403 else None
    if not isinstance(data, dict):
        return status_classifier(status, headers, body)
    markers = " ".join(str(data.get(k, "")) for k in ("reason", "type", "title")).lower()
    errors = data.get("errors")
    if isinstance(errors, list):
        markers += " " + " ".join(json.dumps(e).lower() for e in errors)
    if any(m in markers for m in TIER_MARKERS):
        return Skip(platform_message(body))
    return status_classifier(status, headers, body)


@dataclass(frozen=True, slots=True)
class XOptions:
    """``options`` an X site may set."""

    full_archive: bool = False  # read conversations through /2/tweets/search/all (Pro tier)


class XConnector:
    Options: ClassVar[type] = XOptions
    platform: ClassVar[str] = "x"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        notes=(
            "Replies come from recent search, which sees the last 7 days: every reply written "
            "in that window is captured whatever the age of the post (to: search, then each "
            "active conversation). Replies older than 7 days need options.full_archive = true "
            "(the Pro tier's /2/tweets/search/all); without it a deleted reply is marked "
            "removed only in conversations that started inside the window.",
            "Follower identities need the Enterprise tier per the X docs; each run tries and, "
            "when refused, records the public follower count with a note saying why; a "
            "degradation is recorded only if the list worked in an earlier run.",
            "The timeline endpoint reaches only the 3,200 newest posts.",
            "Hidden replies cannot be listed through the API; they are archived as ordinary "
            "replies.",
            "Video bytes are not offered by these endpoints; photos and video preview images "
            "are captured.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.api = f"{ctx.site.base_url.rstrip('/')}/2"
        self.owner_id = ""
        self.username = ctx.site.account.lstrip("@")
        self.options = read_options(XOptions, ctx.site)
        self.search_refused = self.followers_refused = False
        self.chains: dict[str, str] = {}  # any version id -> first id of its edit chain
        self.young_posts: list[str] = []  # conversations the window covers from their start

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        user, lookup_ref = self._lookup()
        self.owner_id = str(user["id"])
        yield BookmarkUpdate("user_id", self.owner_id)
        yield self._profile(user, lookup_ref)
        yield from self._posts()
        yield from self._replies()
        yield from self._followers()

    def _profile(self, user: dict[str, Any], ref: WarcRef) -> Item:
        """The lookup answer holds the profile (API v2 has no banner); keep it versioned."""
        return profile_item(
            self.ctx,
            ref=ref,
            account_id=self.owner_id,
            handle=user.get("username"),
            display_name=user.get("name"),
            bio=user.get("description"),
            avatar_url=user.get("profile_image_url"),
            website=user.get("url"),
            pinned=user.get("pinned_tweet_id"),
            verified=user.get("verified"),
            url=f"https://x.com/{self.username}",
        )

    def _get(
        self,
        path: str,
        params: Mapping[str, str | int],
        record_class: RecordClass,
        endpoint: str,
        *,
        context: str | None = None,
    ) -> tuple[RecordedResponse, Any]:
        """One call, decoded; with a ``context`` (a search) an unreadable page costs that
        conversation only (UnreadablePage), otherwise it fails the run."""
        response = self.ctx.http.get(
            f"{self.api}/{path}",
            params=params,
            record_class=record_class,
            endpoint=endpoint,
            classify=classify,
        )
        data, _ = read_page(response, "data" if context else None, context)
        return response, data

    def _lookup(self) -> tuple[dict[str, Any], WarcRef]:
        response, data = self._get(
            f"users/by/username/{self.username}",
            {"user.fields": PROFILE_FIELDS},
            "posts",
            EP_LOOKUP,
        )
        user = data.get("data")
        if isinstance(user, dict) and "id" in user:
            return user, response.ref
        if isinstance(data.get("errors"), list):
            raise NotFoundError(
                f"account {self.username!r}: {platform_message(response.content)}",
                site=self.ctx.site.id,
                endpoint=EP_LOOKUP,
                hint="check `account` (the handle without @) in the config",
            )
        raise MalformedResponseError(
            "user lookup did not return a user with an id",
            site=self.ctx.site.id,
            endpoint=EP_LOOKUP,
        )

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        token: str,
        record_class: RecordClass,
        endpoint: str,
        guard: PageGuard,
        context: str | None = None,
    ) -> Iterator[tuple[WarcRef, list[tuple[Any, Includes]]]]:
        """(ref, [(entry, includes)]) per page: every entry carries its page's ``includes``."""
        for page, data in url_pages(
            lambda _, query: self._get(path, query or {}, record_class, endpoint, context=context),
            path,
            params,
            next_url=lambda data: cursor(token, (data.get("meta") or {}).get("next_token")),
            guard=guard,
        ):
            rows = listing(data, "data", site=self.ctx.site.id, endpoint=endpoint)
            includes = _includes(data)
            yield page.ref, [(row, includes) for row in rows]

    # -- posts --------------------------------------------------------------------------------
    def _posts(self) -> Iterator[HarvestRecord]:
        since = bookmark_since(self.ctx, "since_id", 0)
        params: dict[str, str | int] = {**TWEET_PARAMS, "max_results": 100}
        if since and self.ctx.site.recheck_recent == 0:
            params["since_id"] = str(since)  # nothing to re-check: let X skip what we have
        guard = PageGuard("timeline")
        pages = self._pages(
            f"users/{self.owner_id}/tweets",
            params,
            token="pagination_token",
            record_class="posts",
            endpoint=EP_TWEETS,
            guard=guard,
        )
        yield from walk_timeline(
            self.ctx,
            pages,
            parse=lambda entry, ref: self._item(entry[0], entry[1], ref, EP_TWEETS),
            key=lambda item: int(item.extra["current_id"]),
            prepare=lambda item: with_captured_media(self.ctx, item),
            children=self._note_young,
            start=0,
            bookmark="since_id",
            guard=guard,
            cap=TIMELINE_CAP,
        )

    def _note_young(self, post: Item, entry: Any) -> Iterator[HarvestRecord]:
        """A post of the search window that starts a conversation is worth reading whole."""
        conversation = entry[0].get("conversation_id", post.platform_id)
        if conversation == post.platform_id and self._covered(post.platform_id):
            self.young_posts.append(post.platform_id)
        return iter(())

    def _covered(self, conversation_id: str, margin: timedelta = timedelta(0)) -> bool:
        """Whether the conversation search sees all of ``conversation_id``: full-archive
        search does; recent search only if the conversation started inside its window (with
        ``margin`` to spare: a reply posted just after the post may already be out of reach)."""
        if self.options.full_archive:
            return True
        started = snowflake_time(conversation_id)
        horizon = datetime.now(UTC) - timedelta(days=RECENT_SEARCH_DAYS) + margin
        return started is not None and started >= horizon

    def _item(
        self,
        tweet: Any,
        includes: Includes,
        ref: WarcRef,
        endpoint: str,
        *,
        root_id: str | None = None,
    ) -> Item | Unparseable:
        cls: RecordClass = "posts" if root_id is None else "comments"
        try:
            current = str(tweet["id"])
            text = tweet["text"]
            chain = [str(i) for i in tweet.get("edit_history_tweet_ids") or [current]]
        except (KeyError, TypeError) as exc:
            return Unparseable(cls, endpoint, f"post without required field {exc}", ref)
        if not isinstance(text, str) or not current.isdigit() or not chain:
            return Unparseable(cls, endpoint, f"post {current}: unreadable id or text", ref)
        created = parse_time(tweet.get("created_at"))
        if created is None:
            return Unparseable(cls, endpoint, f"post {current}: unreadable created_at", ref)
        first = chain[0]
        for version in [*chain, current]:
            self.chains[version] = first
        edited = len(chain) > 1
        author_id = str(tweet.get("author_id") or "")
        author = includes["users"].get(author_id, {})
        handle = author.get("username")
        replied_to = None
        for r in tweet.get("referenced_tweets") or []:
            if isinstance(r, dict) and r.get("type") == "replied_to" and r.get("id"):
                replied_to = str(r["id"])
        parent = self._first_id(replied_to, includes) if replied_to else None
        kind: ItemKind = "post"
        if root_id is not None:
            kind = "comment" if parent == root_id else "reply"
        media = []
        for key in (tweet.get("attachments") or {}).get("media_keys") or []:
            m = includes["media"].get(str(key), {})
            url = m.get("url") or m.get("preview_image_url")
            media.append(Media(str(key), str(m.get("type", "unknown")), url, m.get("alt_text")))
        extra = {"current_id": current, "edit_history_tweet_ids": chain}
        extra |= {k: tweet[k] for k in EXTRA_FIELDS if k in tweet}
        return Item(
            record_class=cls,
            kind=kind,
            platform_id=first,
            author=Author(
                id=author_id,
                handle=handle,
                display_name=author.get("name"),
                url=f"https://x.com/{handle}" if handle else None,
            ),
            text=text,
            ref=ref,
            posted_at=(snowflake_time(first) or created) if edited else created,
            edited_at=created if edited else None,
            url=f"https://x.com/{handle or 'i/web'}/status/{current}",
            parent_id=parent,
            root_id=root_id if root_id is not None else first,
            media=tuple(media),
            by_owner=author_id == self.owner_id,
            extra=extra,
        )

    def _first_id(self, tweet_id: str, includes: Includes) -> str:
        """Map any version id to its chain's first id (from what we saw, or ``includes.tweets``)."""
        if tweet_id in self.chains:
            return self.chains[tweet_id]
        chain = dig(includes["tweets"].get(tweet_id), "edit_history_tweet_ids")
        return str(chain[0]) if isinstance(chain, list) and chain else tweet_id

    # -- replies ------------------------------------------------------------------------------
    def _replies(self) -> Iterator[HarvestRecord]:
        """Every reply written in the search window: the conversations of the window's own
        posts, and of every reply addressed to the account (``to:``) whatever the post's age."""
        conversations = dict.fromkeys(self.young_posts)

        def take(tweet: Any, _includes: Includes, _ref: WarcRef) -> Iterable[HarvestRecord]:
            conv = tweet.get("conversation_id") if isinstance(tweet, dict) else None
            if isinstance(conv, str) and conv.isdigit():
                conversations[conv] = None
            return ()

        yield from self._search(
            "recent", f"to:{self.username}", f"replies to {self.username}", take
        )
        for conversation in conversations:
            if self.search_refused:
                return
            yield from self._conversation(conversation)

    def _conversation(self, conversation: str) -> Iterator[HarvestRecord]:
        found: list[Item] = []
        unreadable: list[Unparseable] = []

        def take(tweet: Any, includes: Includes, ref: WarcRef) -> Iterable[HarvestRecord]:
            item = self._item(tweet, includes, ref, endpoint, root_id=conversation)
            if isinstance(item, Unparseable):
                unreadable.append(item)  # an unreadable reply must not be taken for a deleted one
                return (item,)
            if item.platform_id != conversation:
                found.append(item)
            return ()

        kind = "all" if self.options.full_archive else "recent"
        endpoint = f"GET /2/tweets/search/{kind}"
        what = f"replies to post {conversation}"
        complete = yield from self._search(kind, f"conversation_id:{conversation}", what, take)
        for item in found:
            # Parents may have been listed after their replies; map late edit ids now.
            if item.parent_id and item.parent_id in self.chains:
                parent = self.chains[item.parent_id]
                kind_now: ItemKind = "comment" if parent == conversation else "reply"
                item = replace(item, parent_id=parent, kind=kind_now)
            yield with_captured_media(self.ctx, item)
        if complete and not unreadable and self._covered(conversation, timedelta(hours=1)):
            yield Sweep("comments", conversation)

    def _search(
        self,
        kind: str,
        query: str,
        what: str,
        take: Callable[[Any, Includes, WarcRef], Iterable[HarvestRecord]],
    ) -> Generator[HarvestRecord, None, bool]:
        """Every page of one search, each tweet handed to ``take``; whether all were read."""
        endpoint = f"GET /2/tweets/search/{kind}"
        guard = PageGuard(what)
        pages = self._pages(
            f"tweets/search/{kind}",
            {**TWEET_PARAMS, "query": query, "max_results": 100},
            token="next_token",
            record_class="comments",
            endpoint=endpoint,
            guard=guard,
            context=what,
        )
        try:
            for ref, entries in pages:
                for tweet, includes in entries:
                    yield from take(tweet, includes, ref)
        except UnreadablePage as exc:  # costs that conversation only: kept raw, not swept
            yield Unparseable("comments", endpoint, exc.words, exc.ref)
            return False
        except (SkippableFetchError, RetriableFetchError) as exc:
            # A tier refusal or a rate limit that outlasts the retries stops searching for
            # this run, without costing the posts and followers.
            if isinstance(exc, RetriableFetchError) and exc.status != 429:
                raise
            self.search_refused = True
            if isinstance(exc, SkippableFetchError):
                why = f"refused by the API access tier ({platform_words(exc)})"
            else:
                why = f"stayed rate-limited ({exc.message})"
            yield Degradation(
                "replies",
                f"{endpoint} {why}; the remaining conversations were not searched this run",
            )
            return False
        if not guard.complete:
            yield Degradation("replies", f"{guard.stopped}; {what} were not all read")
        return guard.complete

    # -- followers ----------------------------------------------------------------------------
    def _followers(self) -> Iterator[HarvestRecord]:
        guard = PageGuard("followers")
        pages = self._pages(
            f"users/{self.owner_id}/followers",
            {"max_results": 1000, "user.fields": "username,name"},
            token="pagination_token",
            record_class="followers",
            endpoint=EP_FOLLOWERS,
            guard=guard,
        )
        yield from followers_stream(
            pages,
            parse=lambda entry, ref: follower(
                entry[0], ref, EP_FOLLOWERS, handle="username", url=_x_url
            ),
            guard=guard,
            refused=lambda exc: isinstance(exc, SkippableFetchError),
            endpoint=EP_FOLLOWERS,
            on_refusal=self._tier_refused,
        )
        if not self.followers_refused:
            yield BookmarkUpdate(FOLLOWERS_LISTED, "1")

    def _tier_refused(self, exc: FetchError) -> Iterator[HarvestRecord]:
        self.followers_refused = True
        refusal = platform_words(exc)
        if self.ctx.bookmarks.get(FOLLOWERS_LISTED) == "1":
            # The list worked in an earlier run: a capability the site had is lost.
            yield Degradation(
                "follower_identities",
                f"{EP_FOLLOWERS} refused by the API access tier ({refusal}); only the "
                "follower count was recorded",
            )
        # Otherwise the tier never allowed it: the count and its note say so plainly,
        # without making every run look degraded.
        response, data = self._get(
            f"users/{self.owner_id}", {"user.fields": "public_metrics"}, "followers", EP_USER
        )
        count = dig(data, "data", "public_metrics", "followers_count")
        if not isinstance(count, int):
            yield Unparseable(
                "followers", EP_USER, "no public_metrics.followers_count", response.ref
            )
            return
        yield FollowerCount(
            count,
            response.ref,
            identities_available=False,
            note="follower identities are not available on this X API access tier (the "
            f"follower list needs Enterprise per the X docs); public count only. X said: {refusal}",
        )


def _x_url(_id: str, handle: Any) -> str | None:
    return f"https://x.com/{handle}" if handle else None


def _includes(data: Mapping[str, Any]) -> Includes:
    """``includes`` indexed by id / media_key; entries that are not objects are ignored."""
    inc = data.get("includes")
    if not isinstance(inc, dict):
        inc = {}
    out: Includes = {"users": {}, "media": {}, "tweets": {}}
    for name, key in (("users", "id"), ("media", "media_key"), ("tweets", "id")):
        for entry in inc.get(name) or []:
            if isinstance(entry, dict) and key in entry:
                out[name][str(entry[key])] = entry
    return out
