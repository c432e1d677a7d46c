"""X (Twitter) API v2: the account's posts with edit chains, reply conversations, followers.

Endpoints: ``/2/users/by/username/:username`` resolves the handle; ``/2/users/:id/tweets``
lists posts newest first (``meta.next_token`` -> ``pagination_token``; the API reaches only the
3,200 newest); ``/2/tweets/search/recent?query=conversation_id:<id>`` finds replies (the last
seven days only, so posts older than that get no search; ``options.full_archive = true``
switches to ``/2/tweets/search/all``, which needs the Pro tier); ``/2/users/:id/followers``
lists followers (Enterprise tier per the docs; on a tier refusal the run keeps the
``public_metrics`` count, and records a degradation only if an earlier run did list followers:
the ``followers_listed`` bookmark).

Edits: X mints a new id for every edit and lists the whole chain in ``edit_history_tweet_ids``
(oldest first). Every id of a chain maps to the *first* id, so an edit becomes version 2 of
the same catalog item; the current id and the chain stay in ``extra``.

Deletions have no flag: a full sweep that walks the whole timeline marks missing posts removed,
and a reply search that is known to cover a whole conversation marks missing replies removed.
Hidden replies cannot be listed by any read endpoint, so they are captured as ordinary replies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from archiver.errors import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RetriableFetchError,
)
from archiver.model import (
    Author,
    BookmarkUpdate,
    Degradation,
    Follower,
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
from archiver.recorder import RecordedResponse, platform_message
from connectors.base import Capabilities, HarvestContext, capture_media, parse_time

TWITTER_EPOCH_MS = 1288834974657
TIMELINE_CAP = 3200
RECENT_SEARCH_DAYS = 7
TWEET_FIELDS = (
    "created_at,edit_history_tweet_ids,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "attachments,public_metrics,author_id,edit_controls"
)
EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id"
EP_LOOKUP = "GET /2/users/by/username/:username"
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


def tier_refusal(response: RecordedResponse) -> str | None:
    """The platform's message when a 403 means "your access tier does not include this"."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    markers = " ".join(str(data.get(k, "")) for k in ("reason", "type", "title")).lower()
    errors = data.get("errors")
    if isinstance(errors, list):
        markers += " " + " ".join(json.dumps(e).lower() for e in errors)
    if any(m in markers for m in TIER_MARKERS):
        return platform_message(response.content)
    return None


class XConnector:
    platform: ClassVar[str] = "x"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        comments=True,
        replies=True,
        hidden_comments=False,
        edits=True,
        follower_identities=False,
        follower_count=True,
        media=True,
        notes=(
            "Replies come from recent search: only the last 7 days unless the site sets "
            "options.full_archive = true (needs the Pro tier for /2/tweets/search/all). "
            "Without it, conversations of posts older than 7 days are not searched at all, "
            "so a late reply to an older post is not captured.",
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
        self.full_archive = bool(ctx.site.options.get("full_archive", False))
        self.search_refused = False
        self.chains: dict[str, str] = {}  # any version id -> first id of its edit chain

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        user = self._lookup()
        self.owner_id = str(user["id"])
        yield BookmarkUpdate("user_id", self.owner_id)
        yield from self._posts()
        yield from self._followers()

    def _get(
        self,
        url: str,
        *,
        record_class: RecordClass,
        endpoint: str,
        params: Mapping[str, str | int] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> RecordedResponse:
        return self.ctx.http.get(
            url,
            params=params,
            record_class=record_class,
            endpoint=endpoint,
            ok_statuses=ok_statuses,
        )

    def _lookup(self) -> dict[str, Any]:
        username = self.ctx.site.account.lstrip("@")
        response = self._get(
            f"{self.api}/users/by/username/{username}",
            params={"user.fields": "public_metrics,username,name,created_at"},
            record_class="posts",
            endpoint=EP_LOOKUP,
        )
        data = response.json()
        user = data.get("data") if isinstance(data, dict) else None
        if isinstance(user, dict) and "id" in user:
            return user
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            raise NotFoundError(
                f"account {username!r}: {platform_message(response.content)}",
                site=self.ctx.site.id,
                endpoint=EP_LOOKUP,
                hint="check `account` (the handle without @) in the config",
            )
        raise MalformedResponseError(
            "user lookup did not return a user with an id",
            site=self.ctx.site.id,
            endpoint=EP_LOOKUP,
        )

    # -- posts --------------------------------------------------------------------------------
    def _posts(self) -> Iterator[HarvestRecord]:
        since = "" if self.ctx.full_sweep else self.ctx.bookmarks.get("since_id", "")
        since_num = int(since) if since.isdigit() else 0
        window = self.ctx.site.recheck_recent
        params: dict[str, str | int] = {
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": "username,name",
            "media.fields": "url,preview_image_url,type",
            "max_results": 100,
        }
        if since_num and window == 0:
            params["since_id"] = since  # nothing to re-check: let X skip what we have
        newest = 0
        seen = 0
        unreadable = 0
        complete = True
        token: str | None = None
        tokens: set[str] = set()
        while True:
            query = dict(params)
            if token:
                query["pagination_token"] = token
            page = self._get(
                f"{self.api}/users/{self.owner_id}/tweets",
                params=query,
                record_class="posts",
                endpoint=EP_TWEETS,
            )
            data = page.json()
            if not isinstance(data, dict) or not isinstance(data.get("meta", {}), dict):
                raise MalformedResponseError(
                    "expected an object with data and meta",
                    site=self.ctx.site.id,
                    endpoint=EP_TWEETS,
                )
            tweets = data.get("data") or []
            if not isinstance(tweets, list):
                raise MalformedResponseError(
                    "data is not a list of posts", site=self.ctx.site.id, endpoint=EP_TWEETS
                )
            includes = _includes(data)
            oldest_on_page: int | None = None
            for tweet in tweets:
                item = self._item(tweet, includes, page.ref, EP_TWEETS)
                if isinstance(item, Unparseable):
                    unreadable += 1
                    yield item
                    continue
                seen += 1
                current = int(item.extra["current_id"])
                newest = max(newest, current)
                oldest_on_page = current if oldest_on_page is None else min(oldest_on_page, current)
                yield _with_media(item, capture_media(self.ctx, list(item.media)))
                if tweet.get("conversation_id", item.platform_id) == item.platform_id:
                    yield from self._replies(item)
            token = data.get("meta", {}).get("next_token")
            caught_up = since_num and oldest_on_page is not None and oldest_on_page <= since_num
            if not self.ctx.full_sweep and caught_up and seen >= window:
                complete = False
                break
            if not isinstance(token, str) or not token or token in tokens:
                break
            tokens.add(token)
        if self.ctx.full_sweep and complete:
            if unreadable:
                # An unreadable post is not a deleted one; without its id no sweep is safe.
                yield Degradation(
                    "deletion_detection",
                    f"{unreadable} posts could not be read; posts were not checked for "
                    "deletion this run",
                )
            elif seen + unreadable < TIMELINE_CAP:
                yield Sweep("posts", "account")
            else:
                yield Degradation(
                    "deletion_detection",
                    f"the X timeline reaches only the {TIMELINE_CAP} newest posts; posts older "
                    "than that were not re-checked for deletion this run",
                )
        if newest:
            yield BookmarkUpdate("since_id", str(max(newest, since_num)))

    def _item(
        self,
        tweet: Any,
        includes: Mapping[str, dict[str, dict[str, Any]]],
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
            media.append(
                Media(
                    id=str(key),
                    type=str(m.get("type", "unknown")),
                    url=m.get("url") or m.get("preview_image_url"),
                    description=m.get("alt_text"),
                )
            )
        extra: dict[str, Any] = {
            "current_id": current,
            "edit_history_tweet_ids": chain,
        }
        for key in (
            "conversation_id",
            "in_reply_to_user_id",
            "referenced_tweets",
            "public_metrics",
            "edit_controls",
        ):
            if key in tweet:
                extra[key] = tweet[key]
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

    def _first_id(self, tweet_id: str, includes: Mapping[str, dict[str, dict[str, Any]]]) -> str:
        """Map any version id to its chain's first id (from what we saw, or ``includes.tweets``)."""
        if tweet_id in self.chains:
            return self.chains[tweet_id]
        ref = includes["tweets"].get(tweet_id)
        if ref is not None:
            chain = ref.get("edit_history_tweet_ids")
            if isinstance(chain, list) and chain:
                return str(chain[0])
        return tweet_id

    # -- replies ------------------------------------------------------------------------------
    def _within_recent_search(self, post: Item, *, margin: timedelta = timedelta(0)) -> bool:
        """Whether ``post`` is young enough (by ``margin`` to spare) that recent search, which
        sees the last ``RECENT_SEARCH_DAYS`` only, covers its whole conversation."""
        posted = post.posted_at or snowflake_time(post.platform_id)
        horizon = datetime.now(UTC) - timedelta(days=RECENT_SEARCH_DAYS) + margin
        return posted is not None and posted >= horizon

    def _replies(self, post: Item) -> Iterator[HarvestRecord]:
        if self.search_refused:
            return
        if not self.full_archive and not self._within_recent_search(post):
            # Recent search cannot reach a conversation this old: asking would spend paid
            # calls and rate limit for replies it cannot return, and prove nothing (no sweep).
            return
        kind = "all" if self.full_archive else "recent"
        endpoint = f"GET /2/tweets/search/{kind}"
        params: dict[str, str | int] = {
            "query": f"conversation_id:{post.platform_id}",
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": "username,name",
            "media.fields": "url,preview_image_url,type",
            "max_results": 100,
        }
        token: str | None = None
        tokens: set[str] = set()
        found: list[Item] = []
        complete = True
        while True:
            query = dict(params)
            if token:
                query["next_token"] = token
            try:
                page = self._get(
                    f"{self.api}/tweets/search/{kind}",
                    params=query,
                    record_class="comments",
                    endpoint=endpoint,
                    ok_statuses=(403,),
                )
            except RetriableFetchError as exc:
                if exc.status != 429:
                    raise
                # Search has its own, small rate limit: losing replies must not lose the
                # posts and followers of this run.
                self.search_refused = True
                complete = False
                yield Degradation(
                    "replies",
                    f"{endpoint} stayed rate-limited ({exc.message}); the remaining "
                    "conversations were not searched this run",
                )
                break
            if page.status_code == 403:
                refusal = tier_refusal(page)
                if refusal is None:
                    raise AuthError(
                        f"HTTP 403: {platform_message(page.content)}",
                        site=self.ctx.site.id,
                        endpoint=endpoint,
                        status=403,
                    )
                self.search_refused = True
                yield Degradation(
                    "replies",
                    f"{endpoint} refused by the API access tier ({refusal}); replies were not "
                    "captured this run",
                )
                return
            reason = None
            try:
                data = page.json()
            except MalformedResponseError as exc:
                reason = exc.message
            else:
                if not isinstance(data, dict) or not isinstance(data.get("data") or [], list):
                    reason = "search result without a data list"
            if reason is not None:
                # One unreadable conversation must not cost the run: kept raw, counted, and
                # the thread is not swept (its replies may be on the page we could not read).
                complete = False
                yield Unparseable(
                    "comments", endpoint, f"replies to post {post.platform_id}: {reason}", page.ref
                )
                break
            includes = _includes(data)
            for tweet in data.get("data") or []:
                item = self._item(tweet, includes, page.ref, endpoint, root_id=post.platform_id)
                if isinstance(item, Unparseable):
                    complete = False  # an unreadable reply must not be taken for a deleted one
                    yield item
                    continue
                found.append(item)
            token = (data.get("meta") or {}).get("next_token")
            if not isinstance(token, str) or not token or token in tokens:
                break
            tokens.add(token)
        for item in found:
            # Parents may have been listed after their replies; map late edit ids now.
            if item.parent_id and item.parent_id in self.chains:
                item = replace(item, parent_id=self.chains[item.parent_id])
                kind_now: ItemKind = "comment" if item.parent_id == post.platform_id else "reply"
                item = replace(item, kind=kind_now)
            yield _with_media(item, capture_media(self.ctx, list(item.media)))
        # An hour to spare: a reply posted just after the post may already be out of reach.
        if complete and (
            self.full_archive or self._within_recent_search(post, margin=timedelta(hours=1))
        ):
            yield Sweep("comments", post.platform_id)

    # -- followers ----------------------------------------------------------------------------
    def _followers(self) -> Iterator[HarvestRecord]:
        token: str | None = None
        tokens: set[str] = set()
        total = 0
        last_ref: WarcRef | None = None
        while True:
            params: dict[str, str | int] = {"max_results": 1000, "user.fields": "username,name"}
            if token:
                params["pagination_token"] = token
            page = self._get(
                f"{self.api}/users/{self.owner_id}/followers",
                params=params,
                record_class="followers",
                endpoint=EP_FOLLOWERS,
                ok_statuses=(403,),
            )
            if page.status_code == 403:
                refusal = tier_refusal(page)
                if refusal is None:
                    raise AuthError(
                        f"HTTP 403: {platform_message(page.content)}",
                        site=self.ctx.site.id,
                        endpoint=EP_FOLLOWERS,
                        status=403,
                    )
                if self.ctx.bookmarks.get(FOLLOWERS_LISTED) == "1":
                    # The list worked in an earlier run: a capability the site had is lost.
                    yield Degradation(
                        "follower_identities",
                        f"{EP_FOLLOWERS} refused by the API access tier ({refusal}); only the "
                        "follower count was recorded",
                    )
                # Otherwise the tier never allowed it: the count and its note say so plainly,
                # without making every run look degraded.
                yield from self._follower_count(refusal)
                return
            last_ref = page.ref
            data = page.json()
            if not isinstance(data, dict) or not isinstance(data.get("data") or [], list):
                raise MalformedResponseError(
                    "expected an object with a data list",
                    site=self.ctx.site.id,
                    endpoint=EP_FOLLOWERS,
                )
            for user in data.get("data") or []:
                if not isinstance(user, dict) or "id" not in user:
                    yield Unparseable("followers", EP_FOLLOWERS, "follower without an id", page.ref)
                    continue
                total += 1
                handle = user.get("username")
                yield Follower(
                    platform_id=str(user["id"]),
                    ref=page.ref,
                    handle=handle,
                    display_name=user.get("name"),
                    url=f"https://x.com/{handle}" if handle else None,
                )
            token = (data.get("meta") or {}).get("next_token")
            if not isinstance(token, str) or not token or token in tokens:
                break
            tokens.add(token)
        if last_ref is not None:
            yield FollowerCount(total, last_ref, identities_available=True)
            yield Sweep("followers", "followers")
            yield BookmarkUpdate(FOLLOWERS_LISTED, "1")

    def _follower_count(self, refusal: str) -> Iterator[HarvestRecord]:
        response = self._get(
            f"{self.api}/users/{self.owner_id}",
            params={"user.fields": "public_metrics"},
            record_class="followers",
            endpoint=EP_USER,
        )
        data = response.json()
        user = data.get("data") if isinstance(data, dict) else None
        metrics = user.get("public_metrics") if isinstance(user, dict) else None
        count = metrics.get("followers_count") if isinstance(metrics, dict) else None
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


def _includes(data: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """``includes`` indexed by id / media_key; entries that are not objects are ignored."""
    inc = data.get("includes")
    if not isinstance(inc, dict):
        inc = {}
    out: dict[str, dict[str, dict[str, Any]]] = {"users": {}, "media": {}, "tweets": {}}
    for name, key in (("users", "id"), ("media", "media_key"), ("tweets", "id")):
        for entry in inc.get(name) or []:
            if isinstance(entry, dict) and key in entry:
                out[name][str(entry[key])] = entry
    return out


def _with_media(item: Item, media: tuple[Media, ...]) -> Item:
    return replace(item, media=media) if media else item
