"""YouTube Data API v3: the channel's uploads, their comment threads, and subscribers.

Endpoints (1 quota unit each; ``search.list`` at 100 units is avoided): ``channels`` resolves
the channel (``forHandle=@x`` or ``id=UC…``) and gives the uploads playlist; ``playlistItems``
walks it newest first (``nextPageToken`` -> ``pageToken``); ``videos`` reads up to 50 uploads
per call; ``commentThreads`` lists a video's threads with a few replies inline, and
``comments?parentId=`` fetches the rest when ``totalReplyCount`` says more exist;
``subscriptions?mySubscribers=true`` lists subscribers (owner OAuth only).

Authentication (``options.auth``): ``"key"`` (default) sends the API key as the ``key`` query
parameter, which the recorder redacts; ``"oauth"`` sends the channel owner's bearer token and
unlocks the subscriber list and, with ``options.moderation = true``, the comments held for
review or flagged as likely spam (archived as hidden). Google refuses a request whose
``Authorization`` header is not a valid OAuth token even when the key is valid, so in key mode
the connector drops the header the harvester sets from ``token_env``.

Unattended owner OAuth (``options.refresh = true``): an access token lives one hour, so
``token_env`` then names the owner's *refresh* token and ``options.client_id_env`` /
``options.client_secret_env`` name the variables (or systemd credentials) holding the OAuth
client. Each run first exchanges the refresh token at Google's token endpoint
(``options.token_url``, default ``https://oauth2.googleapis.com/token``) for an access token
(``archiver.secrets.refreshed_access_token``: not recorded, the answer is a live credential).

What the API does not give (video files, edit history) is in ``capabilities.notes``. Deleted
or newly private videos disappear from the uploads list and are marked removed by a full sweep.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import httpx

from archiver.errors import (
    AuthError,
    ConfigError,
    FetchError,
    MalformedResponseError,
    NotFoundError,
    SkippableFetchError,
)
from archiver.model import (
    Author,
    BookmarkUpdate,
    Degradation,
    FollowerCount,
    HarvestRecord,
    Item,
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, retry_after_seconds, status_classifier
from archiver.secrets import refreshed_access_token
from archiver.verdict import Fatal, Retry, Skip, Verdict
from connectors._options import read_options
from connectors._paging import (
    PageGuard,
    cursor,
    follower,
    followers_stream,
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
    json_body,
    parse_time,
    platform_words,
    with_captured_media,
)

TOKEN_URL = "https://oauth2.googleapis.com/token"
EP_CHANNELS = "GET /youtube/v3/channels"
EP_PLAYLIST = "GET /youtube/v3/playlistItems"
EP_VIDEOS = "GET /youtube/v3/videos"
EP_THREADS = "GET /youtube/v3/commentThreads"
EP_COMMENTS = "GET /youtube/v3/comments"
EP_SUBSCRIPTIONS = "GET /youtube/v3/subscriptions"
# A key or token a person must fix: refused, invalid or expired key, token without the scope.
AUTH_REASONS = {"authError", "loginRequired", "authorizationRequired", "forbidden"}
AUTH_REASONS |= {"keyInvalid", "keyExpired", "API_KEY_INVALID", "accessNotConfigured"}
AUTH_REASONS |= {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
PACIFIC = ZoneInfo("America/Los_Angeles")
COMMENT_PARAMS: dict[str, str | int] = {"maxResults": 100, "textFormat": "plainText"}
_TAGS = re.compile(r"<[^>]+>")


def google_error(body: bytes) -> tuple[list[str], str]:
    """(reasons, message) from Google's error envelope; the message is made one plain line.

    Reasons come from ``errors[].reason`` and ``details[].reason``: an invalid API key is
    ``badRequest`` in the first and ``API_KEY_INVALID`` only in the second."""
    data = json_body(body)
    if data is None:
        return [], " ".join(body[:200].decode("utf-8", "replace").split()) or "(empty body)"
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return [], json.dumps(data)[:200]
    reasons = [
        str(e.get("reason"))
        for key in ("errors", "details")
        for e in err.get(key) or []
        if isinstance(e, dict) and e.get("reason")
    ]
    if not reasons and err.get("status"):
        reasons.append(str(err["status"]))
    message = " ".join(_TAGS.sub("", str(err.get("message") or err.get("status") or "")).split())
    return list(dict.fromkeys(reasons)), message


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    """YouTube quotas reset at midnight Pacific time."""
    here = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = (here + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(0.0, (midnight - here).total_seconds())


def classify(status: int, headers: httpx.Headers, body: bytes, allow: frozenset[str]) -> Verdict:
    """Google says most things in a 4xx body ``reason``: the daily quota (wait for midnight
    Pacific: retrying sooner only spends requests), a short-term rate limit (back off), a bad
    key or token (a person must act), or a refusal the caller expects (``allow``: comments
    disabled, the video gone, moderation refused), which costs that call only."""
    if status < 400:
        return status_classifier(status, headers, body)
    reasons, message = google_error(body)
    text = f"HTTP {status}: {message} ({', '.join(reasons) or 'no reason given'})"
    allowed = [r for r in reasons if r in allow]
    if allowed:
        return Skip(f"{allowed[0]}: {message}")
    if QUOTA_REASONS.intersection(reasons):
        wait = seconds_until_pacific_midnight()
        return Retry(
            f"{text}; the daily YouTube API quota is used up and resets at midnight Pacific "
            f"time (in about {wait / 3600:.1f} h)",
            after=wait,
        )
    if RATE_REASONS.intersection(reasons):
        return Retry(
            f"{text}; still rate limited: YouTube is rate-limiting this project (a short-term "
            "limit, not the daily quota)",
            after=retry_after_seconds(headers, time.time()),
        )
    if status == 401 or AUTH_REASONS.intersection(reasons):
        return Fatal(
            text,
            "the API key or OAuth token is missing, expired, revoked or lacks the "
            "youtube.readonly scope; renew it and update the variable named by token_env",
            auth=True,
        )
    return status_classifier(status, headers, body)


@dataclass(frozen=True, slots=True)
class YouTubeOptions:
    """``options`` a YouTube site may set (see the module docstring)."""

    auth: Literal["key", "oauth"] = "key"
    moderation: bool = False
    refresh: bool = False
    client_id_env: str = ""
    client_secret_env: str = ""
    token_url: str = TOKEN_URL


class YouTubeConnector:
    Options: ClassVar[type] = YouTubeOptions
    platform: ClassVar[str] = "youtube"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        hidden_comments=True,
        follower_identities=True,
        notes=(
            "Video files cannot be downloaded through the YouTube Data API; the archive keeps "
            "each video's metadata, description and thumbnail, not the video itself.",
            "Subscriber identities need the channel owner's OAuth token (options.auth = "
            '"oauth"); the API lists only subscribers whose subscriptions are public and may '
            "limit the list. With an API key only the public count (rounded to three "
            "significant figures) is recorded.",
            "Held-for-review and likely-spam comments need owner OAuth and options.moderation "
            "= true; they are archived as hidden.",
            "Comment edits are detected from updatedAt only; YouTube keeps no edit history, "
            "and video edits (title, description) carry no timestamp at all.",
            "YouTube threads are two levels deep: a reply to a reply is stored under the top "
            "comment, so parent_id always names the thread's top comment.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.api = ctx.site.base_url.rstrip("/")
        self.options = options = read_options(YouTubeOptions, ctx.site)
        self.channel_id = ""
        self.comments_disabled: set[str] = set()
        self.moderation_refused = False
        self.pending: dict[str, list[HarvestRecord]] = {}  # a video's comments, read first
        if self.options.auth == "key":
            # The harvester sends ``Bearer <token_env>``; Google rejects an API key sent that
            # way, so the key travels only as ``key=`` (redacted in the WARC by the recorder).
            ctx.http.drop_auth_header()
        elif options.refresh:
            ctx.http.use_auth_header(f"Bearer {self._access_token_from_refresh(options)}")

    def _access_token_from_refresh(self, options: YouTubeOptions) -> str:
        site = self.ctx.site.id
        for key in ("client_id_env", "client_secret_env"):
            if not getattr(options, key):
                raise ConfigError(
                    f"site {site}: options.refresh needs options.{key}",
                    key=f"options.{key}",
                    hint=f"name the variable or systemd credential holding the OAuth client's "
                    f'{key.removesuffix("_env").replace("_", " ")}, e.g. {key} = "YT_CLIENT_'
                    f'{"ID" if "id" in key else "SECRET"}"',
                )
        if not self.ctx.token:
            raise ConfigError(
                f"site {site}: options.refresh needs the owner's refresh token in token_env",
                key="token_env",
                hint="set token_env to the variable holding the refresh token",
            )
        return refreshed_access_token(
            options.token_url,
            self.ctx.token,
            client_id_env=options.client_id_env,
            client_secret_env=options.client_secret_env,
            site=site,
            issuer="Google",
            hint="the channel owner must authorize again (a new refresh token) and the "
            "variable named by token_env be updated; a Google Cloud app left in 'Testing' "
            "issues refresh tokens that expire after 7 days, so publish it to production",
        )

    # -- requests -----------------------------------------------------------------------------
    def _get(
        self,
        resource: str,
        params: Mapping[str, str | int],
        *,
        record_class: RecordClass,
        allow: frozenset[str] = frozenset(),
    ) -> RecordedResponse:
        """GET ``resource`` with the API key (key mode); ``classify`` reads Google's reasons,
        an ``allow``ed refusal raises SkippableFetchError whose text starts with the reason."""
        endpoint = f"GET /youtube/v3/{resource}"
        query = dict(params)
        if self.options.auth == "key":
            if not self.ctx.token:
                raise AuthError(
                    "no API key: the site has no token_env",
                    site=self.ctx.site.id,
                    endpoint=endpoint,
                    hint="set token_env to the variable holding the YouTube API key",
                )
            query["key"] = self.ctx.token
        return self.ctx.http.get(
            f"{self.api}/{resource}",
            params=query,
            record_class=record_class,
            endpoint=endpoint,
            classify=partial(classify, allow=allow),
        )

    def _pages(
        self,
        resource: str,
        params: Mapping[str, str | int],
        *,
        record_class: RecordClass,
        guard: PageGuard,
        allow: frozenset[str] = frozenset(),
        context: str | None = None,
    ) -> Iterator[tuple[RecordedResponse, Any]]:
        """Pages with their ``items``; with a ``context``, an unreadable page costs only the
        thread it belongs to (UnreadablePage), otherwise it fails the run."""

        def get(_: str, query: Mapping[str, str | int] | None) -> tuple[RecordedResponse, Any]:
            page = self._get(resource, query or {}, record_class=record_class, allow=allow)
            return page, read_page(page, "items", context)[0]

        next_url = lambda data: cursor("pageToken", data.get("nextPageToken"))  # noqa: E731
        return url_pages(get, resource, params, next_url=next_url, guard=guard)

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        if self.options.moderation and self.options.auth != "oauth":
            yield Degradation(
                "hidden_comments",
                'options.moderation needs options.auth = "oauth" (the channel owner\'s token); '
                "held-for-review and likely-spam comments were not captured",
            )
        channel, channel_ref = self._channel()
        self.channel_id = str(channel["id"])
        yield BookmarkUpdate("channel_id", self.channel_id)
        yield self._profile(channel, channel_ref)
        uploads = dig(channel, "contentDetails", "relatedPlaylists", "uploads")
        if not isinstance(uploads, str) or not uploads:
            raise MalformedResponseError(
                "channel has no contentDetails.relatedPlaylists.uploads",
                site=self.ctx.site.id,
                endpoint=EP_CHANNELS,
            )
        yield from self._videos(uploads, channel)
        yield from self._subscribers()

    def _channel(self) -> tuple[dict[str, Any], WarcRef]:
        account = self.ctx.site.account.strip()
        # brandingSettings (the banner) costs no extra quota: channels.list is 1 unit.
        params: dict[str, str | int] = {
            "part": "snippet,contentDetails,statistics,brandingSettings"
        }
        if account.startswith("UC") and len(account) == 24:
            params["id"] = account
        else:
            params["forHandle"] = account if account.startswith("@") else f"@{account}"
        response, items = self._channels(params, "posts")
        if not items:
            raise NotFoundError(
                f"channel {account!r} not found (the API returned no items)",
                site=self.ctx.site.id,
                endpoint=EP_CHANNELS,
                hint="check `account`: the channel handle (@name) or its UC… id",
            )
        if not isinstance(items, list) or not isinstance(items[0], dict) or "id" not in items[0]:
            raise MalformedResponseError(
                "channels.list items are not channels", site=self.ctx.site.id, endpoint=EP_CHANNELS
            )
        channel: dict[str, Any] = items[0]
        return channel, response.ref

    def _profile(self, channel: Mapping[str, Any], ref: WarcRef) -> Item:
        """The channel answer holds the profile; keep it as a versioned record."""
        snippet = channel.get("snippet") or {}
        sizes = ("high", "medium", "default")
        avatars = [u for k in sizes if (u := dig(snippet, "thumbnails", k, "url"))]
        return profile_item(
            self.ctx,
            ref=ref,
            account_id=self.channel_id,
            handle=snippet.get("customUrl"),
            display_name=snippet.get("title"),
            bio=snippet.get("description"),
            avatar_url=avatars[0] if avatars else None,
            banner_url=dig(channel, "brandingSettings", "image", "bannerExternalUrl"),
            url=f"https://www.youtube.com/channel/{self.channel_id}",
        )

    # -- videos -------------------------------------------------------------------------------
    def _videos(self, uploads: str, channel: Mapping[str, Any]) -> Iterator[HarvestRecord]:
        guard = PageGuard("uploads")
        yield from walk_timeline(
            self.ctx,
            self._video_pages(uploads, guard),
            parse=lambda entry, _ref: (
                entry
                if isinstance(entry, Unparseable)
                else self._video_item(entry[0], channel, entry[1])
            ),
            key=lambda item: item.posted_at.astimezone(UTC).isoformat() if item.posted_at else "",
            prepare=self._with_comments,
            children=lambda item, _entry: self.pending.pop(item.platform_id, []),
            start="",
            bookmark="newest_video",
            guard=guard,
            noun="uploads",
        )

    def _video_pages(self, uploads: str, guard: PageGuard) -> Iterator[tuple[WarcRef, list[Any]]]:
        """The uploads playlist newest first, each page's videos read through ``videos.list``
        (50 per call): entries are (video, ref) or an Unparseable."""
        params: dict[str, str | int] = {
            "part": "snippet,contentDetails",
            "maxResults": 50,
            "playlistId": uploads,
        }
        for page, data in self._pages("playlistItems", params, record_class="posts", guard=guard):
            ids: list[str] = []
            entries: list[Any] = []
            for entry in data["items"]:
                vid = dig(entry, "contentDetails", "videoId")
                if isinstance(vid, str) and vid:
                    ids.append(vid)
                else:
                    why = "playlist item without a videoId"
                    entries.append(Unparseable("posts", EP_PLAYLIST, why, page.ref))
            if ids:
                entries += self._video_details(ids)
            yield page.ref, entries

    def _video_details(self, ids: list[str]) -> list[Any]:
        response = self._get(
            "videos",
            {"part": "snippet,statistics,status", "id": ",".join(ids[:50])},  # no maxResults
            record_class="posts",
        )
        videos = dig(response.json(), "items")
        if not isinstance(videos, list):
            why = "videos.list without an items list"
            return [Unparseable("posts", EP_VIDEOS, why, response.ref)]
        returned = {v.get("id") for v in videos if isinstance(v, dict)}
        if missing := [i for i in ids if i not in returned]:
            # Private, deleted or still processing: the uploads list names them, videos.list
            # does not return them to this caller.
            self.ctx.log.info("youtube_videos_not_returned", ids=missing)
        return [(video, response.ref) for video in videos]

    def _with_comments(self, item: Item) -> Item:
        """Comments first, so the video's own record can say whether they are disabled."""
        self.pending[item.platform_id] = list(self._comments(item.platform_id))
        if item.platform_id in self.comments_disabled:
            item = replace(item, extra={**item.extra, "comments_disabled": True})
        return with_captured_media(self.ctx, item)

    def _video_item(
        self, video: Any, channel: Mapping[str, Any], ref: WarcRef
    ) -> Item | Unparseable:
        try:
            vid = str(video["id"])
            snippet = video["snippet"]
            title = str(snippet["title"])
            published = parse_time(snippet["publishedAt"])
        except (KeyError, TypeError) as exc:
            return Unparseable("posts", EP_VIDEOS, f"video without required field {exc}", ref)
        if published is None:
            return Unparseable("posts", EP_VIDEOS, f"video {vid}: unreadable publishedAt", ref)
        description = str(snippet.get("description") or "")
        sizes = ("maxres", "standard", "high", "medium", "default")
        thumbs = [(s, u) for s in sizes if (u := dig(snippet, "thumbnails", s, "url"))]
        media = [Media(f"{vid}:thumbnail:{s}", "image", str(u)) for s, u in thumbs[:1]]
        status = video.get("status") if isinstance(video.get("status"), dict) else {}
        owner = str(snippet.get("channelId") or self.channel_id)
        extra: dict[str, Any] = {
            "title": title,
            "privacy_status": status.get("privacyStatus"),
            "statistics": video.get("statistics"),
            "tags": snippet.get("tags"),
            "video_file": "not downloadable through the YouTube Data API",
        }
        return Item(
            record_class="posts",
            kind="post",
            platform_id=vid,
            author=Author(
                id=owner,
                handle=(channel.get("snippet") or {}).get("customUrl"),
                display_name=snippet.get("channelTitle"),
                url=f"https://www.youtube.com/channel/{owner}",
            ),
            text=f"{title}\n\n{description}".strip(),
            ref=ref,
            posted_at=published,
            url=f"https://www.youtube.com/watch?v={vid}",
            root_id=vid,
            media=tuple(media),
            by_owner=owner == self.channel_id,
            extra={k: v for k, v in extra.items() if v is not None},
        )

    # -- comments -----------------------------------------------------------------------------
    def _comments(self, video_id: str) -> Iterator[HarvestRecord]:
        """Every thread of the video (and, for the owner with ``moderation``, the held and
        likely-spam ones), each reply list read to its end. A Sweep only when all of it was
        read: not when moderation was refused (hidden comments were not re-checked)."""
        statuses = ["published"]
        if self.options.moderation and self.options.auth == "oauth" and not self.moderation_refused:
            statuses += ["heldForReview", "likelySpam"]
        guards: list[PageGuard] = []
        refused: list[tuple[str, str]] = []  # (moderation status, Google's reason)
        nodes = chain.from_iterable(
            self._threads(video_id, status, guards, refused) for status in statuses
        )
        for record in walk_thread(
            video_id,
            nodes,
            parse=lambda node: self._comment_item(node[0], *node[2:]),
            children=lambda node, item: self._replies(node, item, guards),
            guards=guards,
        ):
            if not (isinstance(record, Sweep) and (refused or self.moderation_refused)):
                yield record
        for status, reason in refused:
            if status != "published" and not reason.startswith("videoNotFound"):
                yield Degradation(
                    "hidden_comments",
                    f"{EP_THREADS} with moderationStatus={status} was refused ({reason}); "
                    "held and spam comments were not captured",
                )

    def _threads(
        self, video_id: str, status: str, guards: list[PageGuard], refused: list[tuple[str, str]]
    ) -> Iterator[tuple[Any, ...]]:
        """Nodes ``(top comment, thread, video, status, ref, endpoint)`` of one moderation
        status; an expected refusal (comments disabled, video gone, moderation refused) ends them."""
        params = {"part": "snippet,replies", "videoId": video_id, **COMMENT_PARAMS}
        allow = {"commentsDisabled", "videoNotFound"}
        if refused or (status != "published" and self.moderation_refused):
            return  # comments disabled, video gone, or moderation refused: not asked again
        if status != "published":
            params["moderationStatus"] = status
            allow |= {"forbidden", "insufficientPermissions"}
        guard = PageGuard(f"comment threads of video {video_id}")
        guards.append(guard)
        pages = self._pages(
            "commentThreads",
            params,
            record_class="comments",
            guard=guard,
            allow=frozenset(allow),
            context=f"video {video_id}",
        )
        try:
            for page, data in pages:
                for thread in data["items"]:
                    top = dig(thread, "snippet", "topLevelComment")
                    yield top, thread, video_id, status, page.ref, EP_THREADS
        except SkippableFetchError as exc:
            reason = platform_words(exc)
            refused.append((status, reason))
            if reason.startswith("commentsDisabled"):
                self.comments_disabled.add(video_id)  # not an error: nothing to archive
            elif status != "published":
                # The token is not the channel owner's (or lacks youtube.force-ssl).
                self.moderation_refused = True

    def _replies(
        self, node: tuple[Any, ...], item: Item, guards: list[PageGuard]
    ) -> Iterator[tuple[Any, ...]]:
        """A top comment's replies: inline when the thread carries all of them, else read
        through ``comments?parentId=`` (a reply has no replies of its own on YouTube)."""
        _, thread, video_id, status, ref, endpoint = node
        snippet = dig(thread, "snippet")  # a reply node has no thread: no replies of its own
        if not isinstance(snippet, dict):
            return
        inline = (thread.get("replies") or {}).get("comments") or []
        total = snippet.get("totalReplyCount")
        if not (isinstance(total, int) and total > len(inline)):
            yield from ((r, None, video_id, status, ref, endpoint) for r in inline)
            return
        guard = PageGuard(f"replies to comment {item.platform_id}")
        guards.append(guard)
        params = {"part": "snippet", "parentId": item.platform_id, **COMMENT_PARAMS}
        for page, data in self._pages(
            "comments",
            params,
            record_class="comments",
            guard=guard,
            context=f"video {video_id}, replies to comment {item.platform_id}",
        ):
            yield from ((r, None, video_id, status, page.ref, EP_COMMENTS) for r in data["items"])

    def _comment_item(
        self, comment: Any, video_id: str, status: str, ref: WarcRef, endpoint: str
    ) -> Item | Unparseable:
        try:
            cid = str(comment["id"])
            snippet = comment["snippet"]
            text = snippet.get("textDisplay")
            if text is None:
                text = snippet["textOriginal"]
            published = parse_time(snippet["publishedAt"])
        except (KeyError, TypeError, AttributeError) as exc:
            return Unparseable("comments", endpoint, f"comment without required field {exc}", ref)
        if published is None:
            return Unparseable("comments", endpoint, f"comment {cid}: unreadable publishedAt", ref)
        updated = parse_time(snippet.get("updatedAt"))
        author_id = str((snippet.get("authorChannelId") or {}).get("value") or "")
        parent = snippet.get("parentId")
        moderation = str(snippet.get("moderationStatus") or status)
        extra: dict[str, Any] = {
            "moderation_status": moderation,
            "like_count": snippet.get("likeCount"),
        }
        if snippet.get("textOriginal") not in (None, text):
            extra["text_original"] = snippet.get("textOriginal")
        name = snippet.get("authorDisplayName")
        return Item(
            record_class="comments",
            kind="reply" if parent else "comment",
            platform_id=cid,
            author=Author(
                id=author_id,
                handle=name if isinstance(name, str) and name.startswith("@") else None,
                display_name=name,
                url=snippet.get("authorChannelUrl"),
            ),
            text=str(text),
            ref=ref,
            posted_at=published,
            edited_at=updated if updated is not None and updated != published else None,
            url=f"https://www.youtube.com/watch?v={video_id}&lc={cid}",
            parent_id=str(parent) if parent else video_id,
            root_id=video_id,
            by_owner=author_id == self.channel_id,
            hidden=moderation != "published",
            extra=extra,
        )

    # -- subscribers --------------------------------------------------------------------------
    def _channels(
        self, params: Mapping[str, str | int], record_class: RecordClass
    ) -> tuple[RecordedResponse, Any]:
        """``channels.list`` and its ``items`` (None when the answer has none)."""
        response = self._get("channels", params, record_class=record_class)
        return response, dig(response.json(), "items")

    def _subscribers(self) -> Iterator[HarvestRecord]:
        if self.options.auth == "oauth":
            # mySubscribers answers for whoever owns the token: make sure that is this channel.
            _, mine = self._channels({"part": "id", "mine": "true"}, "followers")
            owned = [str(c.get("id")) for c in mine or [] if isinstance(c, dict)]
            if self.channel_id in owned:
                yield from self._subscriber_list()
                return
            yield Degradation(
                "follower_identities",
                f"the OAuth token belongs to channel {', '.join(owned) or '(none)'}, not "
                f"{self.channel_id}; subscribers were not listed, only the public count recorded",
            )
        yield from self._subscriber_count(
            "subscriber identities need the channel owner's OAuth token; "
            "YouTube rounds the public count to three significant figures"
        )

    def _subscriber_count(self, note: str) -> Iterator[HarvestRecord]:
        response, items = self._channels({"part": "statistics", "id": self.channel_id}, "followers")
        stats = dig(items, 0, "statistics")
        if not isinstance(stats, dict):
            yield Unparseable("followers", EP_CHANNELS, "channel without statistics", response.ref)
            return
        if stats.get("hiddenSubscriberCount") is True or "subscriberCount" not in stats:
            yield Degradation(
                "follower_count",
                "the channel hides its subscriber count (hiddenSubscriberCount); no count recorded",
            )
            return
        try:
            count = int(stats["subscriberCount"])
        except (TypeError, ValueError):
            yield Unparseable("followers", EP_CHANNELS, "unreadable subscriberCount", response.ref)
            return
        yield FollowerCount(count, response.ref, identities_available=False, note=note)

    def _subscriber_list(self) -> Iterator[HarvestRecord]:
        guard = PageGuard("subscribers")
        pages = self._pages(
            "subscriptions",
            {"part": "subscriberSnippet", "mySubscribers": "true", "maxResults": 50},
            record_class="followers",
            guard=guard,
            allow=frozenset({"subscriptionForbidden", "forbidden", "insufficientPermissions"}),
        )
        yield from followers_stream(
            ((page.ref, data["items"]) for page, data in pages),
            parse=lambda sub, ref: follower(
                sub.get("subscriberSnippet") if isinstance(sub, dict) else None,
                ref,
                EP_SUBSCRIPTIONS,
                key="channelId",
                name="title",
                url=lambda cid, _: f"https://www.youtube.com/channel/{cid}",
            ),
            guard=guard,
            refused=lambda exc: isinstance(exc, SkippableFetchError),
            endpoint=EP_SUBSCRIPTIONS,
            note="subscribers listed by subscriptions?mySubscribers=true (public subscriptions only)",
            on_refusal=self._subscribers_refused,
        )

    def _subscribers_refused(self, exc: FetchError) -> Iterator[HarvestRecord]:
        reason = platform_words(exc)
        yield Degradation(
            "follower_identities",
            f"{EP_SUBSCRIPTIONS} refused ({reason}); only the public count was recorded",
        )
        yield from self._subscriber_count(f"subscriber list refused: {reason}")
