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
(``options.token_url``, default ``https://oauth2.googleapis.com/token``) for an access token.
That exchange is not recorded: its answer is a live credential, not a record of the City's.

Edits: videos have no edit timestamp, so a changed title or description is a new version;
comments carry ``updatedAt`` (the only edit signal; there is no history). Deleted or newly
private videos disappear from the uploads list and are marked removed by a full sweep. The API
offers no way to download video files; thumbnails are captured instead.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn
from zoneinfo import ZoneInfo

import httpx

from archiver.errors import (
    AuthError,
    ConfigError,
    FetchError,
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
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, retry_after_seconds
from archiver.secrets import read_secret
from connectors.base import Capabilities, HarvestContext, capture_media, parse_time

TOKEN_URL = "https://oauth2.googleapis.com/token"
EP_CHANNELS = "GET /youtube/v3/channels"
EP_PLAYLIST = "GET /youtube/v3/playlistItems"
EP_VIDEOS = "GET /youtube/v3/videos"
EP_THREADS = "GET /youtube/v3/commentThreads"
EP_COMMENTS = "GET /youtube/v3/comments"
EP_SUBSCRIPTIONS = "GET /youtube/v3/subscriptions"
AUTH_REASONS = {
    "authError",
    "loginRequired",
    "authorizationRequired",
    "keyInvalid",
    "keyExpired",
    "API_KEY_INVALID",
    "forbidden",
    "insufficientPermissions",
    "accessNotConfigured",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
PACIFIC = ZoneInfo("America/Los_Angeles")
_TAGS = re.compile(r"<[^>]+>")


def google_error(body: bytes) -> tuple[list[str], str]:
    """(reasons, message) from Google's error envelope; the message is made one plain line.

    Reasons come from ``errors[].reason`` and ``details[].reason``: an invalid API key is
    ``badRequest`` in the first and ``API_KEY_INVALID`` only in the second."""
    try:
        data = json.loads(body)
    except ValueError:
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


class YouTubeConnector:
    platform: ClassVar[str] = "youtube"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        comments=True,
        replies=True,
        hidden_comments=True,
        edits=True,
        follower_identities=True,
        follower_count=True,
        media=True,
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
        options = ctx.site.options
        self.auth = str(options.get("auth", "key"))
        if self.auth not in ("key", "oauth"):
            raise ConfigError(
                f"site {ctx.site.id}: unknown auth {self.auth!r}",
                key="options.auth",
                hint='use "key" (API key in token_env) or "oauth" (owner access token)',
            )
        self.moderation = bool(options.get("moderation", False))
        self.channel_id = ""
        self.comments_disabled: set[str] = set()
        self.moderation_refused = False
        if self.auth == "key":
            # The harvester sends ``Bearer <token_env>``; Google rejects an API key sent that
            # way, so the key travels only as ``key=`` (redacted in the WARC by the recorder).
            ctx.http.drop_auth_header()
        elif options.get("refresh", False) is True:
            ctx.http.use_auth_header(f"Bearer {self._access_token_from_refresh(options)}")

    def _access_token_from_refresh(self, options: Mapping[str, Any]) -> str:
        """Exchange the owner's refresh token for a one-hour access token (RFC 6749 §6)."""
        site = self.ctx.site.id
        endpoint = "POST oauth2/token"
        names: dict[str, str] = {}
        for key in ("client_id_env", "client_secret_env"):
            value = options.get(key)
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"site {site}: options.refresh needs options.{key}",
                    key=f"options.{key}",
                    hint=f"name the variable or systemd credential holding the OAuth client's "
                    f'{key.removesuffix("_env").replace("_", " ")}, e.g. {key} = "YT_CLIENT_'
                    f'{"ID" if "id" in key else "SECRET"}"',
                )
            names[key] = value
        if not self.ctx.token:
            raise ConfigError(
                f"site {site}: options.refresh needs the owner's refresh token in token_env",
                key="token_env",
                hint="set token_env to the variable holding the refresh token",
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.ctx.token,
            "client_id": read_secret(names["client_id_env"], purpose=f"OAuth client id of {site}")
            or "",
            "client_secret": read_secret(
                names["client_secret_env"], purpose=f"OAuth client secret of {site}"
            )
            or "",
        }
        url = str(options.get("token_url", TOKEN_URL))
        try:
            answer = httpx.post(url, data=form, timeout=30.0)
        except httpx.HTTPError as exc:
            raise RetriableFetchError(
                f"cannot reach the OAuth token endpoint {url}: {type(exc).__name__}",
                site=site,
                endpoint=endpoint,
                hint="check the network; the next scheduled run will try again",
            ) from None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.status_code != 200 or not isinstance(data, dict):
            words = ""
            if isinstance(data, dict):
                words = ": ".join(
                    str(data[k]) for k in ("error", "error_description") if data.get(k)
                )
            raise AuthError(
                f"Google refused the refresh token (HTTP {answer.status_code}"
                f"{': ' + words if words else ''})",
                site=site,
                endpoint=endpoint,
                hint="the channel owner must authorize again (a new refresh token) and the "
                "variable named by token_env be updated; a Google Cloud app left in 'Testing' "
                "issues refresh tokens that expire after 7 days, so publish it to production",
            )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(
                "the token endpoint answered without an access_token",
                site=site,
                endpoint=endpoint,
            )
        return token

    # -- requests -----------------------------------------------------------------------------
    def _get(
        self,
        resource: str,
        params: Mapping[str, str | int],
        *,
        record_class: RecordClass,
        endpoint: str,
        allow: frozenset[str] = frozenset(),
    ) -> tuple[RecordedResponse, str]:
        """GET ``resource``; returns (response, "") or (response, reason) for allowed refusals.

        Google signals most conditions in a 4xx body reason, so the status alone cannot say
        whether to fail the run (bad key, quota) or carry on (comments disabled)."""
        query = dict(params)
        if self.auth == "key":
            if not self.ctx.token:
                raise AuthError(
                    "no API key: the site has no token_env",
                    site=self.ctx.site.id,
                    endpoint=endpoint,
                    hint="set token_env to the variable holding the YouTube API key",
                )
            query["key"] = self.ctx.token
        http = self.ctx.http
        attempts = max(1, http.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            response = http.get(
                f"{self.api}/{resource}",
                params=query,
                record_class=record_class,
                endpoint=endpoint,
                ok_statuses=(400, 401, 403, 404),
            )
            status = response.status_code
            if status < 300:
                return response, ""
            reasons, message = google_error(response.content)
            allowed = [r for r in reasons if r in allow]
            if allowed:
                return response, allowed[0]
            text = f"HTTP {status}: {message} ({', '.join(reasons) or 'no reason given'})"
            kw: dict[str, Any] = {"site": self.ctx.site.id, "endpoint": endpoint, "status": status}
            if QUOTA_REASONS.intersection(reasons):
                # The daily quota: retrying before it resets only spends more requests.
                wait = seconds_until_pacific_midnight()
                raise RetriableFetchError(
                    f"{text}; the daily YouTube API quota is used up and resets at midnight "
                    f"Pacific time (in about {wait / 3600:.1f} h)",
                    retry_after=wait,
                    hint="the next run after midnight Pacific continues from the bookmarks; "
                    "ask Google for a higher quota if this recurs",
                    **kw,
                )
            if RATE_REASONS.intersection(reasons):
                # A short-term limit (requests per 100 seconds, per user): back off and retry.
                if attempt < attempts:
                    wait = self._backoff(response, attempt)
                    self.ctx.log.warning(
                        "youtube_rate_limited",
                        endpoint=endpoint,
                        reasons=reasons,
                        attempt=attempt,
                        wait=round(wait, 2),
                    )
                    http.sleep(wait)
                    continue
                raise RetriableFetchError(
                    f"still rate limited after {attempts} attempts: {text}",
                    hint="YouTube is rate-limiting this project (a short-term limit, not the "
                    "daily quota); the next run retries",
                    **kw,
                )
            self._refuse(text, reasons, kw)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, response: RecordedResponse, attempt: int) -> float:
        """Retry-After if Google sent one (it does not document it), else exponential with
        jitter; never longer than ``[http] max_retry_wait``."""
        cap = self.ctx.http.settings.max_retry_wait
        after = retry_after_seconds(response.headers, time.time())
        if after is not None:
            return float(min(cap, after))
        return float(min(cap, 2.0 ** (attempt + 1) * random.uniform(0.5, 1.0)))

    @staticmethod
    def _refuse(text: str, reasons: list[str], kw: dict[str, Any]) -> NoReturn:
        """Raise the typed error for a refusal that is neither allowed nor worth retrying."""
        status = kw["status"]
        if status == 401 or AUTH_REASONS.intersection(reasons):
            raise AuthError(
                text,
                hint="the API key or OAuth token is missing, expired, revoked or lacks the "
                "youtube.readonly scope; renew it and update the variable named by token_env",
                **kw,
            )
        if status == 404:
            raise NotFoundError(text, **kw)
        raise FetchError(text, **kw)

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        if self.moderation and self.auth != "oauth":
            yield Degradation(
                "hidden_comments",
                'options.moderation needs options.auth = "oauth" (the channel owner\'s token); '
                "held-for-review and likely-spam comments were not captured",
            )
        channel = self._channel()
        self.channel_id = str(channel["id"])
        yield BookmarkUpdate("channel_id", self.channel_id)
        uploads = (channel.get("contentDetails") or {}).get("relatedPlaylists", {}).get("uploads")
        if not isinstance(uploads, str) or not uploads:
            raise MalformedResponseError(
                "channel has no contentDetails.relatedPlaylists.uploads",
                site=self.ctx.site.id,
                endpoint=EP_CHANNELS,
            )
        yield from self._videos(uploads, channel)
        yield from self._subscribers(channel)

    def _channel(self) -> dict[str, Any]:
        account = self.ctx.site.account.strip()
        params: dict[str, str | int] = {"part": "snippet,contentDetails,statistics"}
        if account.startswith("UC") and len(account) == 24:
            params["id"] = account
        else:
            params["forHandle"] = account if account.startswith("@") else f"@{account}"
        response, _ = self._get("channels", params, record_class="posts", endpoint=EP_CHANNELS)
        data = response.json()
        items = data.get("items") if isinstance(data, dict) else None
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
        return channel

    # -- videos -------------------------------------------------------------------------------
    def _videos(self, uploads: str, channel: Mapping[str, Any]) -> Iterator[HarvestRecord]:
        since = None if self.ctx.full_sweep else parse_time(self.ctx.bookmarks.get("newest_video"))
        window = self.ctx.site.recheck_recent
        newest = since
        seen = 0
        unreadable = 0
        complete = True
        token: str | None = None
        tokens: set[str] = set()
        while True:
            params: dict[str, str | int] = {
                "part": "snippet,contentDetails",
                "maxResults": 50,
                "playlistId": uploads,
            }
            if token:
                params["pageToken"] = token
            page, _ = self._get("playlistItems", params, record_class="posts", endpoint=EP_PLAYLIST)
            data = page.json()
            entries = data.get("items") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise MalformedResponseError(
                    "expected an items list", site=self.ctx.site.id, endpoint=EP_PLAYLIST
                )
            ids: list[str] = []
            oldest_on_page: datetime | None = None
            for entry in entries:
                details = entry.get("contentDetails") if isinstance(entry, dict) else None
                vid = details.get("videoId") if isinstance(details, dict) else None
                if not isinstance(vid, str) or not vid:
                    unreadable += 1
                    yield Unparseable(
                        "posts", EP_PLAYLIST, "playlist item without a videoId", page.ref
                    )
                    continue
                ids.append(vid)
                published = parse_time(details.get("videoPublishedAt")) if details else None
                if published is not None:
                    oldest_on_page = (
                        published if oldest_on_page is None else min(oldest_on_page, published)
                    )
                    newest = published if newest is None else max(newest, published)
            if ids:
                for record in self._video_details(ids, channel):
                    if isinstance(record, Item) and record.kind == "post":
                        seen += 1
                    elif isinstance(record, Unparseable) and record.record_class == "posts":
                        unreadable += 1
                    yield record
            token = data.get("nextPageToken")
            caught_up = since is not None and oldest_on_page is not None and oldest_on_page <= since
            if not self.ctx.full_sweep and caught_up and seen >= window:
                complete = False
                break
            if not isinstance(token, str) or not token or token in tokens:
                break
            tokens.add(token)
        if self.ctx.full_sweep and complete:
            if unreadable:
                # An unreadable video is not a deleted one; without its id no sweep is safe.
                yield Degradation(
                    "deletion_detection",
                    f"{unreadable} uploads could not be read; videos were not checked for "
                    "deletion this run",
                )
            else:
                yield Sweep("posts", "account")
        if newest is not None:
            yield BookmarkUpdate("newest_video", newest.isoformat())

    def _video_details(self, ids: list[str], channel: Mapping[str, Any]) -> Iterator[HarvestRecord]:
        response, _ = self._get(
            "videos",
            {
                "part": "snippet,statistics,status",
                "id": ",".join(ids[:50]),
            },  # no maxResults with id
            record_class="posts",
            endpoint=EP_VIDEOS,
        )
        data = response.json()
        videos = data.get("items") if isinstance(data, dict) else None
        if not isinstance(videos, list):
            yield Unparseable("posts", EP_VIDEOS, "videos.list without an items list", response.ref)
            return
        returned = set()
        for video in videos:
            item = self._video_item(video, channel, response.ref)
            if isinstance(item, Unparseable):
                yield item
                continue
            returned.add(item.platform_id)
            # Comments first, so the video's own record can say whether they are disabled.
            comments = list(self._comments(item.platform_id))
            if item.platform_id in self.comments_disabled:
                item = replace(item, extra={**item.extra, "comments_disabled": True})
            yield _with_media(item, capture_media(self.ctx, list(item.media)))
            yield from comments
        missing = [i for i in ids if i not in returned]
        if missing:
            # Private, deleted or still processing: the uploads list names them, videos.list
            # does not return them to this caller.
            self.ctx.log.info("youtube_videos_not_returned", ids=missing)

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
        thumbs = snippet.get("thumbnails") or {}
        media: list[Media] = []
        for size in ("maxres", "standard", "high", "medium", "default"):
            thumb = thumbs.get(size) if isinstance(thumbs, dict) else None
            if isinstance(thumb, dict) and thumb.get("url"):
                media.append(Media(f"{vid}:thumbnail:{size}", "image", str(thumb["url"])))
                break
        status = video.get("status") if isinstance(video.get("status"), dict) else {}
        ch_snippet = channel.get("snippet") or {}
        handle = ch_snippet.get("customUrl")
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
                id=str(snippet.get("channelId") or self.channel_id),
                handle=handle,
                display_name=snippet.get("channelTitle"),
                url=f"https://www.youtube.com/channel/{snippet.get('channelId') or self.channel_id}",
            ),
            text=f"{title}\n\n{description}".strip(),
            ref=ref,
            posted_at=published,
            url=f"https://www.youtube.com/watch?v={vid}",
            root_id=vid,
            media=tuple(media),
            by_owner=str(snippet.get("channelId") or self.channel_id) == self.channel_id,
            extra={k: v for k, v in extra.items() if v is not None},
        )

    # -- comments -----------------------------------------------------------------------------
    def _comments(self, video_id: str) -> Iterator[HarvestRecord]:
        statuses = ["published"]
        if self.moderation and self.auth == "oauth" and not self.moderation_refused:
            statuses += ["heldForReview", "likelySpam"]
        complete = True
        for status in statuses:
            token: str | None = None
            tokens: set[str] = set()
            while True:
                params: dict[str, str | int] = {
                    "part": "snippet,replies",
                    "videoId": video_id,
                    "maxResults": 100,
                    "textFormat": "plainText",
                }
                if status != "published":
                    params["moderationStatus"] = status
                if token:
                    params["pageToken"] = token
                allow = {"commentsDisabled", "videoNotFound"}
                if status != "published":
                    allow |= {"forbidden", "insufficientPermissions"}
                page, refusal = self._get(
                    "commentThreads",
                    params,
                    record_class="comments",
                    endpoint=EP_THREADS,
                    allow=frozenset(allow),
                )
                if refusal == "commentsDisabled":
                    self.comments_disabled.add(video_id)  # not an error: nothing to archive
                    return
                if refusal == "videoNotFound":
                    return  # the video went away between listing and reading; no sweep
                if refusal:
                    # The token is not the channel owner's (or lacks youtube.force-ssl).
                    self.moderation_refused = True
                    yield Degradation(
                        "hidden_comments",
                        f"{EP_THREADS} with moderationStatus={status} was refused "
                        f"({google_error(page.content)[1]}); held and spam comments were not "
                        "captured",
                    )
                    return  # no sweep: hidden comments captured earlier were not re-checked
                try:
                    data = page.json()
                except MalformedResponseError as exc:
                    # One unreadable page costs this video's thread only, and no sweep of it.
                    yield Unparseable(
                        "comments", EP_THREADS, f"video {video_id}: {exc.message}", page.ref
                    )
                    return
                threads = data.get("items") if isinstance(data, dict) else None
                if not isinstance(threads, list):
                    yield Unparseable(
                        "comments",
                        EP_THREADS,
                        f"video {video_id}: expected an items list",
                        page.ref,
                    )
                    return
                for thread in threads:
                    for record in self._thread(thread, video_id, status, page.ref):
                        complete = complete and not isinstance(record, Unparseable)
                        yield record
                token = data.get("nextPageToken")
                if not isinstance(token, str) or not token or token in tokens:
                    break
                tokens.add(token)
        moderated_run = not self.moderation or self.auth != "oauth" or not self.moderation_refused
        if complete and moderated_run:
            yield Sweep("comments", video_id)

    def _thread(
        self, thread: Any, video_id: str, status: str, ref: WarcRef
    ) -> Iterator[HarvestRecord]:
        snippet = thread.get("snippet") if isinstance(thread, dict) else None
        top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
        item = self._comment_item(top, video_id, status, ref, EP_THREADS)
        yield item
        if isinstance(item, Unparseable) or not isinstance(snippet, dict):
            return
        inline = (thread.get("replies") or {}).get("comments") or []
        total = snippet.get("totalReplyCount")
        if isinstance(total, int) and total > len(inline):
            yield from self._replies(item.platform_id, video_id, status)
            return
        for reply in inline:
            yield self._comment_item(reply, video_id, status, ref, EP_THREADS)

    def _replies(self, parent_id: str, video_id: str, status: str) -> Iterator[HarvestRecord]:
        token: str | None = None
        tokens: set[str] = set()
        while True:
            params: dict[str, str | int] = {
                "part": "snippet",
                "parentId": parent_id,
                "maxResults": 100,
                "textFormat": "plainText",
            }
            if token:
                params["pageToken"] = token
            page, _ = self._get("comments", params, record_class="comments", endpoint=EP_COMMENTS)
            where = f"video {video_id}, replies to comment {parent_id}"
            try:
                data = page.json()
            except MalformedResponseError as exc:
                yield Unparseable("comments", EP_COMMENTS, f"{where}: {exc.message}", page.ref)
                return
            replies = data.get("items") if isinstance(data, dict) else None
            if not isinstance(replies, list):
                yield Unparseable(
                    "comments", EP_COMMENTS, f"{where}: expected an items list", page.ref
                )
                return
            for reply in replies:
                yield self._comment_item(reply, video_id, status, page.ref, EP_COMMENTS)
            token = data.get("nextPageToken")
            if not isinstance(token, str) or not token or token in tokens:
                return
            tokens.add(token)

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
    def _subscribers(self, channel: Mapping[str, Any]) -> Iterator[HarvestRecord]:
        if self.auth == "oauth":
            # mySubscribers answers for whoever owns the token: make sure that is this channel.
            mine, _ = self._get(
                "channels",
                {"part": "id", "mine": "true"},
                record_class="followers",
                endpoint=EP_CHANNELS,
            )
            data = mine.json()
            owned = [
                str(c.get("id"))
                for c in (data.get("items") or [] if isinstance(data, dict) else [])
                if isinstance(c, dict)
            ]
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
        response, _ = self._get(
            "channels",
            {"part": "statistics", "id": self.channel_id},
            record_class="followers",
            endpoint=EP_CHANNELS,
        )
        data = response.json()
        items = data.get("items") if isinstance(data, dict) else None
        stats = items[0].get("statistics") if isinstance(items, list) and items else None
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
        token: str | None = None
        tokens: set[str] = set()
        total = 0
        last_ref: WarcRef | None = None
        while True:
            params: dict[str, str | int] = {
                "part": "subscriberSnippet",
                "mySubscribers": "true",
                "maxResults": 50,
            }
            if token:
                params["pageToken"] = token
            page, refusal = self._get(
                "subscriptions",
                params,
                record_class="followers",
                endpoint=EP_SUBSCRIPTIONS,
                allow=frozenset({"subscriptionForbidden", "forbidden", "insufficientPermissions"}),
            )
            if refusal:
                yield Degradation(
                    "follower_identities",
                    f"{EP_SUBSCRIPTIONS} refused ({google_error(page.content)[1]}); only the "
                    "public count was recorded",
                )
                yield from self._subscriber_count(f"subscriber list refused: {refusal}")
                return
            last_ref = page.ref
            data = page.json()
            subs = data.get("items") if isinstance(data, dict) else None
            if not isinstance(subs, list):
                raise MalformedResponseError(
                    "expected an items list", site=self.ctx.site.id, endpoint=EP_SUBSCRIPTIONS
                )
            for sub in subs:
                snip = sub.get("subscriberSnippet") if isinstance(sub, dict) else None
                cid = snip.get("channelId") if isinstance(snip, dict) else None
                if not isinstance(cid, str) or not cid:
                    yield Unparseable(
                        "followers", EP_SUBSCRIPTIONS, "subscriber without a channelId", page.ref
                    )
                    continue
                total += 1
                assert isinstance(snip, dict)
                yield Follower(
                    platform_id=cid,
                    ref=page.ref,
                    display_name=snip.get("title"),
                    url=f"https://www.youtube.com/channel/{cid}",
                )
            token = data.get("nextPageToken")
            if not isinstance(token, str) or not token or token in tokens:
                break
            tokens.add(token)
        yield FollowerCount(
            total,
            last_ref,
            identities_available=True,
            note="subscribers listed by subscriptions?mySubscribers=true (public subscriptions only)",
        )
        yield Sweep("followers", "followers")


def _with_media(item: Item, media: tuple[Media, ...]) -> Item:
    return replace(item, media=media) if media else item
