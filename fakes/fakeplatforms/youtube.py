"""A stateful fake YouTube Data API v3 that answers the read endpoints the connector uses.

Shapes follow the real API (python-youtube test data in shared/platforms/samples/youtube_*.json
and the API reference): ``youtube#...ListResponse`` envelopes with ``etag``, ``pageInfo`` and
``nextPageToken``; ``part=`` decides which sections appear; numbers in ``statistics`` are
strings; comment threads carry at most a few replies inline and ``totalReplyCount`` says how
many exist. Errors use Google's envelope ``{"error": {"code", "message", "errors": [{"reason"}],
"status"}}`` with the real reasons: ``quotaExceeded``, ``commentsDisabled``, ``authError``,
``API_KEY_INVALID`` (a 400, not a 401), ``forbidden``.

Authentication is checked the way Google does it: an ``Authorization`` header that is not a
valid OAuth token is refused even when a valid ``key`` parameter is present, owner-only
requests (``mySubscribers``, ``moderationStatus``) need the channel owner's OAuth token, and
private videos are visible only to the owner.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fakeplatforms.mastodon import png_bytes
from fakeplatforms.server import FakeResponse, header, json_response

__all__ = ["YouTubeWorld"]

DEFAULT_CLOCK_START = datetime(2026, 11, 1, 16, 0, 0, tzinfo=UTC)
QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)


def _google_error(
    code: int,
    message: str,
    reason: str,
    domain: str = "global",
    status: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> FakeResponse:
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    if status:
        body["error"]["status"] = status
    if details:
        body["error"]["details"] = details
    return json_response(body, code)


def _iso(dt: datetime) -> str:
    """YouTube's timestamps: seconds, ``Z`` (``2019-04-20T01:03:39Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(prefix: str, *parts: object, length: int = 22) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    text = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return prefix + text[:length]


@dataclass
class _Channel:
    id: str
    handle: str
    title: str
    hidden_subscriber_count: bool = False
    extra_subscribers: int = 0
    video_ids: list[str] = field(default_factory=list)  # upload order, oldest first
    subscribers: list[str] = field(default_factory=list)  # channel ids, oldest first
    description: str = ""
    avatar_rev: int = 0  # a new channel picture gets a new URL, as on YouTube


@dataclass
class _Comment:
    id: str
    video_id: str
    author_id: str
    text: str
    published: datetime
    updated: datetime
    parent_id: str | None = None
    moderation: str = "published"
    deleted: bool = False
    reply_ids: list[str] = field(default_factory=list)
    likes: int = 0


@dataclass
class _Video:
    id: str
    channel_id: str
    title: str
    description: str
    published: datetime
    privacy: str = "public"
    comments_disabled: bool = False
    deleted: bool = False
    thread_ids: list[str] = field(default_factory=list)  # oldest first
    raw: dict[str, Any] | None = None


class YouTubeWorld:
    """One fake YouTube: channels, videos, comment threads, subscriptions. A ``FakeApp``."""

    def __init__(
        self,
        *,
        api_key: str = "AIzaSyFakeKeyForTests0000000000000000",
        oauth_token: str = "ya29.a0AfakeOwnerToken",
        owner_channel: str | None = None,
        clock_start: datetime | None = None,
        page_cap: int | None = None,
        inline_replies: int = 5,
    ) -> None:
        self.api_key = api_key
        self.oauth_token = oauth_token
        self.owner_channel = owner_channel  # whose OAuth token ``oauth_token`` is
        self.page_cap = page_cap
        self.inline_replies = inline_replies
        self.token_expired = False
        self.key_revoked = False
        self.quota_exhausted = False
        self._rate_limited: list[tuple[str, int, str]] = []  # (resource, times, reason)
        self._lock = threading.RLock()
        self._clock = (clock_start or DEFAULT_CLOCK_START).astimezone(UTC)
        self._seq = 0
        self._channels: dict[str, _Channel] = {}
        self._videos: dict[str, _Video] = {}
        self._comments: dict[str, _Comment] = {}

    # -- clock ---------------------------------------------------------------------------
    def now(self) -> datetime:
        with self._lock:
            self._clock += timedelta(minutes=1)
            return self._clock

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # -- mutation API --------------------------------------------------------------------
    def add_channel(
        self,
        handle: str,
        title: str,
        *,
        hidden_subscriber_count: bool = False,
        extra_subscribers: int = 0,
        owner: bool = False,
    ) -> str:
        with self._lock:
            cid = _uid("UC", "channel", handle)
            self._channels[cid] = _Channel(
                cid, handle.lstrip("@"), title, hidden_subscriber_count, extra_subscribers
            )
            if owner:
                self.owner_channel = cid
            return cid

    def set_channel_profile(
        self, channel_id: str, *, description: str | None = None, new_avatar: bool = False
    ) -> None:
        with self._lock:
            ch = self._channels[channel_id]
            if description is not None:
                ch.description = description
            if new_avatar:
                ch.avatar_rev += 1

    def add_video(
        self,
        channel_id: str,
        title: str,
        description: str = "",
        *,
        privacy: str = "public",
        published_at: datetime | None = None,
    ) -> str:
        with self._lock:
            vid = _uid("", "video", self._next(), length=11)
            when = (published_at or self.now()).astimezone(UTC)
            self._videos[vid] = _Video(vid, channel_id, title, description, when, privacy)
            self._channels[channel_id].video_ids.append(vid)
            return vid

    def add_raw_video(self, channel_id: str, raw: dict[str, Any]) -> str:
        """An upload whose ``videos`` resource is served exactly as given."""
        vid = self.add_video(channel_id, "raw")
        with self._lock:
            self._videos[vid].raw = {**raw, "id": raw.get("id", vid)}
            return vid

    def edit_video(
        self, video_id: str, *, title: str | None = None, description: str | None = None
    ) -> None:
        with self._lock:
            v = self._videos[video_id]
            v.title = title if title is not None else v.title
            v.description = description if description is not None else v.description

    def delete_video(self, video_id: str) -> None:
        with self._lock:
            v = self._videos[video_id]
            v.deleted = True
            self._channels[v.channel_id].video_ids.remove(video_id)

    def set_privacy(self, video_id: str, privacy: str) -> None:
        with self._lock:
            self._videos[video_id].privacy = privacy

    def disable_comments(self, video_id: str) -> None:
        with self._lock:
            self._videos[video_id].comments_disabled = True

    def add_comment(
        self, video_id: str, author_channel_id: str, text: str, *, moderation: str = "published"
    ) -> str:
        """A top-level comment (its id is also the thread id); ``moderation`` is
        ``published``, ``heldForReview`` or ``likelySpam``."""
        with self._lock:
            when = self.now()
            cid = _uid("Ugx", "comment", self._next(), length=20) + "4AaABAg"
            self._comments[cid] = _Comment(
                cid, video_id, author_channel_id, text, when, when, moderation=moderation
            )
            self._videos[video_id].thread_ids.append(cid)
            return cid

    def add_reply(self, parent_comment_id: str, author_channel_id: str, text: str) -> str:
        """YouTube threads are two levels: a reply to a reply is stored under the top comment
        (the UI prefixes ``@handle``); ``parentId`` always names the thread's top comment."""
        with self._lock:
            parent = self._comments[parent_comment_id]
            top = self._comments[parent.parent_id] if parent.parent_id else parent
            when = self.now()
            rid = f"{top.id}.{_uid('', 'reply', self._next(), length=22)}"
            self._comments[rid] = _Comment(
                rid, top.video_id, author_channel_id, text, when, when, parent_id=top.id
            )
            top.reply_ids.append(rid)
            return rid

    def edit_comment(self, comment_id: str, text: str) -> None:
        with self._lock:
            c = self._comments[comment_id]
            c.text = text
            c.updated = max(self.now(), c.updated + timedelta(seconds=1))

    def delete_comment(self, comment_id: str) -> None:
        with self._lock:
            self._comments[comment_id].deleted = True

    def set_moderation(self, comment_id: str, status: str) -> None:
        with self._lock:
            self._comments[comment_id].moderation = status

    def subscribe(self, channel_id: str, subscriber_channel_id: str) -> None:
        with self._lock:
            subs = self._channels[channel_id].subscribers
            if subscriber_channel_id not in subs:
                subs.append(subscriber_channel_id)

    def unsubscribe(self, channel_id: str, subscriber_channel_id: str) -> None:
        with self._lock:
            subs = self._channels[channel_id].subscribers
            if subscriber_channel_id in subs:
                subs.remove(subscriber_channel_id)

    def expire_token(self) -> None:
        with self._lock:
            self.token_expired = True

    def revoke_key(self) -> None:
        with self._lock:
            self.key_revoked = True

    def exhaust_quota(self) -> None:
        with self._lock:
            self.quota_exhausted = True

    def rate_limit_next(
        self, resource: str, times: int = 1, reason: str = "rateLimitExceeded"
    ) -> None:
        """The next ``times`` calls to ``resource`` (e.g. "commentThreads") fail as Google's
        short-term limits do: HTTP 403 with ``reason`` rateLimitExceeded or
        userRateLimitExceeded (domain usageLimits), unlike the daily ``quotaExceeded``."""
        with self._lock:
            self._rate_limited.append((resource, times, reason))

    def _take_rate_limit(self, resource: str) -> FakeResponse | None:
        for i, (name, times, reason) in enumerate(self._rate_limited):
            if name != resource:
                continue
            if times <= 1:
                del self._rate_limited[i]
            else:
                self._rate_limited[i] = (name, times - 1, reason)
            message = (
                "User Rate Limit Exceeded" if reason.startswith("user") else ("Rate Limit Exceeded")
            )
            return _google_error(403, message, reason, "usageLimits")
        return None

    # -- JSON ----------------------------------------------------------------------------
    def _subscriber_count(self, ch: _Channel) -> int:
        return len(ch.subscribers) + ch.extra_subscribers

    def _channel_json(self, ch: _Channel, parts: set[str], base: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "youtube#channel", "etag": _etag(ch.id), "id": ch.id}
        if "snippet" in parts:
            out["snippet"] = {
                "title": ch.title,
                "description": ch.description or f"Official channel of the {ch.title}.",
                "customUrl": f"@{ch.handle.lower()}",
                "publishedAt": "2012-05-01T15:00:00Z",
                "thumbnails": {"default": {"url": f"{base}/ch/{ch.id}/s88-{ch.avatar_rev}.png"}},
                "country": "US",
            }
        if "brandingSettings" in parts:
            out["brandingSettings"] = {
                "channel": {"title": ch.title},
                "image": {"bannerExternalUrl": f"{base}/ch/{ch.id}/banner.png"},
            }
        if "contentDetails" in parts:
            out["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": "UU" + ch.id[2:]}}
        if "statistics" in parts:
            stats: dict[str, Any] = {
                "viewCount": "48211",
                "hiddenSubscriberCount": ch.hidden_subscriber_count,
                "videoCount": str(len(ch.video_ids)),
            }
            if not ch.hidden_subscriber_count:
                stats["subscriberCount"] = str(_round3(self._subscriber_count(ch)))
            out["statistics"] = stats
        return out

    def _video_json(self, v: _Video, parts: set[str], base: str) -> dict[str, Any]:
        if v.raw is not None:
            return dict(v.raw)
        ch = self._channels[v.channel_id]
        out: dict[str, Any] = {"kind": "youtube#video", "etag": _etag(v.id, v.title), "id": v.id}
        if "snippet" in parts:
            out["snippet"] = {
                "publishedAt": _iso(v.published),
                "channelId": ch.id,
                "title": v.title,
                "description": v.description,
                "thumbnails": _thumbs(base, v.id),
                "channelTitle": ch.title,
                "categoryId": "25",
                "liveBroadcastContent": "none",
                "localized": {"title": v.title, "description": v.description},
            }
        if "statistics" in parts:
            comments = sum(
                1 for c in self._comments.values() if c.video_id == v.id and not c.deleted
            )
            out["statistics"] = {
                "viewCount": "120",
                "likeCount": "4",
                "favoriteCount": "0",
                "commentCount": str(comments),
            }
        if "status" in parts:
            out["status"] = {
                "uploadStatus": "processed",
                "privacyStatus": v.privacy,
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                "madeForKids": False,
            }
        return out

    def _comment_json(self, c: _Comment, owner: bool) -> dict[str, Any]:
        author = self._channels.get(c.author_id)
        name = author.title if author else "Resident"
        snippet: dict[str, Any] = {
            "channelId": self._videos[c.video_id].channel_id,
            "videoId": c.video_id,
            "textDisplay": c.text,
            "textOriginal": c.text,
            "authorDisplayName": f"@{author.handle}" if author else name,
            "authorProfileImageUrl": "https://yt3.ggpht.com/ytc/fake=s48-c-k-c0x00ffffff-no-rj",
            "authorChannelUrl": f"http://www.youtube.com/@{author.handle if author else 'x'}",
            "authorChannelId": {"value": c.author_id},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": c.likes,
            "publishedAt": _iso(c.published),
            "updatedAt": _iso(c.updated),
        }
        if c.parent_id:
            snippet["parentId"] = c.parent_id
        if owner:
            snippet["moderationStatus"] = c.moderation
        return {
            "kind": "youtube#comment",
            "etag": _etag(c.id, c.text),
            "id": c.id,
            "snippet": snippet,
        }

    # -- HTTP ----------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        host = header(headers, "Host") or "i.ytimg.example"
        base = f"http://{host}"
        with self._lock:
            if path.startswith("/ch/") and path.endswith(".png"):
                digest = hashlib.sha1(path.encode()).digest()
                rgb = (digest[0], digest[1], digest[2])
                return FakeResponse(200, png_bytes(88, 88, rgb), {"Content-Type": "image/png"})
            if path.startswith("/vi/") and path.endswith(".jpg"):
                vid = path.split("/")[2]
                if vid not in self._videos:
                    return None
                digest = hashlib.sha1(vid.encode()).digest()
                rgb = (digest[0], digest[1], digest[2])
                return FakeResponse(200, png_bytes(48, 27, rgb), {"Content-Type": "image/jpeg"})
            if not path.startswith("/youtube/v3/"):
                return None
            auth = header(headers, "Authorization")
            owner = False
            if auth is not None:
                if self.token_expired or auth != f"Bearer {self.oauth_token}":
                    return _google_error(
                        401,
                        "Request had invalid authentication credentials. Expected OAuth 2 "
                        "access token, login cookie or other valid authentication credential. "
                        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                        "authError",
                        status="UNAUTHENTICATED",
                    )
                owner = True
            else:
                key = _q(query, "key")
                if key is None:
                    return _google_error(
                        403,
                        "Method doesn't allow unregistered callers (callers without established "
                        "identity). Please use API Key or other form of API consumer identity "
                        "to call this API.",
                        "forbidden",
                        status="PERMISSION_DENIED",
                    )
                if self.key_revoked or key != self.api_key:
                    return _google_error(
                        400,
                        "API key not valid. Please pass a valid API key.",
                        "badRequest",
                        status="INVALID_ARGUMENT",
                        details=[
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "API_KEY_INVALID",
                                "domain": "googleapis.com",
                                "metadata": {"service": "youtube.googleapis.com"},
                            }
                        ],
                    )
            if self.quota_exhausted:
                return _google_error(403, QUOTA_MESSAGE, "quotaExceeded", "youtube.quota")
            resource = path[len("/youtube/v3/") :].rstrip("/")
            limited = self._take_rate_limit(resource)
            if limited is not None:
                return limited
            route = {
                "channels": self._channels_list,
                "playlistItems": self._playlist_items,
                "videos": self._videos_list,
                "commentThreads": self._comment_threads,
                "comments": self._comments_list,
                "subscriptions": self._subscriptions,
            }.get(resource)
            if route is None:
                return None
            return route(query, base, owner)

    def _paginate(
        self, rows: list[Any], query: dict[str, list[str]], default: int, cap: int
    ) -> tuple[list[Any], dict[str, Any]]:
        raw = _q(query, "maxResults")
        limit = min(int(raw), cap) if raw and raw.isdigit() else default
        if self.page_cap:
            limit = min(limit, self.page_cap)
        token = _q(query, "pageToken")
        start = _untoken(token) if token else 0
        page = rows[start : start + limit]
        extra: dict[str, Any] = {}
        if start + limit < len(rows):
            extra["nextPageToken"] = _token(start + limit)
        if start > 0:
            extra["prevPageToken"] = _token(max(0, start - limit))
        extra["pageInfo"] = {"totalResults": len(rows), "resultsPerPage": limit}
        return page, extra

    def _envelope(self, kind: str, items: list[Any], extra: dict[str, Any]) -> FakeResponse:
        body: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": _etag(kind)}
        body.update(extra)
        body["items"] = items
        return json_response(body)

    def _channels_list(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        parts = _set(query, "part")
        found: list[_Channel] = []
        if _q(query, "mine") == "true":
            if not owner:
                return _google_error(401, "Login Required.", "required", status="UNAUTHENTICATED")
            if self.owner_channel in self._channels:
                found = [self._channels[self.owner_channel]]
        elif _q(query, "id"):
            found = [self._channels[c] for c in _set(query, "id") if c in self._channels]
        elif _q(query, "forHandle"):
            want = (_q(query, "forHandle") or "").lstrip("@").lower()
            found = [c for c in self._channels.values() if c.handle.lower() == want]
        body: dict[str, Any] = {
            "kind": "youtube#channelListResponse",
            "etag": _etag("channels"),
            "pageInfo": {"totalResults": len(found), "resultsPerPage": 5},
        }
        if found:  # the real API omits ``items`` when nothing matched
            body["items"] = [self._channel_json(c, parts, base) for c in found]
        return json_response(body)

    def _playlist_items(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        playlist = _q(query, "playlistId") or ""
        ch = self._channels.get("UC" + playlist[2:]) if playlist.startswith("UU") else None
        if ch is None:
            return _google_error(
                404,
                "The playlist identified with the request's <code>playlistId</code> parameter "
                "cannot be found.",
                "playlistNotFound",
                "youtube.playlistItem",
            )
        parts = _set(query, "part")
        rows = list(reversed(ch.video_ids))  # newest upload first, as the uploads list is
        page, extra = self._paginate(rows, query, 5, 50)
        items = []
        for vid in page:
            v = self._videos[vid]
            private = v.privacy == "private" and not owner
            item: dict[str, Any] = {
                "kind": "youtube#playlistItem",
                "etag": _etag("pi", vid),
                "id": _uid("", "playlistItem", playlist, vid, length=40),
            }
            if "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": _iso(v.published),
                    "channelId": ch.id,
                    "title": "Private video" if private else v.title,
                    "description": "This video is private." if private else v.description,
                    "thumbnails": {} if private else _thumbs(base, vid),
                    "channelTitle": ch.title,
                    "playlistId": playlist,
                    "position": rows.index(vid),
                    "resourceId": {"kind": "youtube#video", "videoId": vid},
                    "videoOwnerChannelTitle": ch.title,
                    "videoOwnerChannelId": ch.id,
                }
            if "contentDetails" in parts:
                details: dict[str, Any] = {"videoId": vid}
                if not private:
                    details["videoPublishedAt"] = _iso(v.published)
                item["contentDetails"] = details
            items.append(item)
        return self._envelope("playlistItem", items, extra)

    def _videos_list(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        ids = [i for i in (_q(query, "id") or "").split(",") if i]
        if len(ids) > 50:
            return _google_error(
                400,
                "The request specifies an invalid filter parameter.",
                "invalidFilters",
                "youtube.parameter",
            )
        parts = _set(query, "part")
        items = []
        for vid in ids:
            v = self._videos.get(vid)
            if v is None or v.deleted or (v.privacy == "private" and not owner):
                continue
            items.append(self._video_json(v, parts, base))
        return self._envelope(
            "video", items, {"pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}}
        )

    def _comment_threads(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        channel = _q(query, "allThreadsRelatedToChannelId")
        if channel:
            # Every public thread on the channel's videos, newest first (``order=time``).
            rows = sorted(
                (
                    self._comments[t]
                    for vv in self._videos.values()
                    if vv.channel_id == channel and not vv.deleted and vv.privacy == "public"
                    for t in vv.thread_ids
                    if not self._comments[t].deleted and self._comments[t].moderation == "published"
                ),
                key=lambda c: c.published,
                reverse=True,
            )
            page, extra = self._paginate(rows, query, 20, 100)
            return self._envelope("commentThread", self._threads_json(page, query, False), extra)
        vid = _q(query, "videoId") or ""
        v = self._videos.get(vid)
        if v is None or v.deleted or (v.privacy == "private" and not owner):
            return _google_error(
                404,
                'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/'
                'list#videoId">videoId</a></code> parameter could not be found.',
                "videoNotFound",
                "youtube.commentThread",
            )
        if v.comments_disabled:
            return _google_error(
                403,
                'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/'
                'list#videoId">videoId</a></code> parameter has disabled comments.',
                "commentsDisabled",
                "youtube.commentThread",
            )
        status = _q(query, "moderationStatus") or "published"
        if status != "published" and not (owner and self.owner_channel == v.channel_id):
            return _google_error(
                403,
                "The request is not properly authorized to retrieve the specified comment threads.",
                "forbidden",
                "youtube.commentThread",
            )
        rows = [
            self._comments[t]
            for t in reversed(v.thread_ids)
            if not self._comments[t].deleted and self._comments[t].moderation == status
        ]
        page, extra = self._paginate(rows, query, 20, 100)
        show_status = owner and self.owner_channel == v.channel_id
        return self._envelope("commentThread", self._threads_json(page, query, show_status), extra)

    def _threads_json(
        self, page: list[_Comment], query: dict[str, list[str]], show_status: bool
    ) -> list[dict[str, Any]]:
        items = []
        for c in page:
            v = self._videos[c.video_id]
            replies = [self._comments[r] for r in c.reply_ids if not self._comments[r].deleted]
            thread: dict[str, Any] = {
                "kind": "youtube#commentThread",
                "etag": _etag("t", c.id),
                "id": c.id,
                "snippet": {
                    "channelId": v.channel_id,
                    "videoId": v.id,
                    "topLevelComment": self._comment_json(c, show_status),
                    "canReply": True,
                    "totalReplyCount": len(replies),
                    "isPublic": True,
                },
            }
            if replies and "replies" in _set(query, "part"):
                inline = replies[: self.inline_replies]
                thread["replies"] = {
                    "comments": [self._comment_json(r, show_status) for r in inline]
                }
            items.append(thread)
        return items

    def _comments_list(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        parent = self._comments.get(_q(query, "parentId") or "")
        if parent is None or parent.deleted:
            return self._envelope("comment", [], {"pageInfo": {"resultsPerPage": 20}})
        v = self._videos[parent.video_id]
        rows = [self._comments[r] for r in parent.reply_ids if not self._comments[r].deleted]
        page, extra = self._paginate(rows, query, 20, 100)
        extra["pageInfo"] = {"resultsPerPage": extra["pageInfo"]["resultsPerPage"]}
        show = owner and self.owner_channel == v.channel_id
        return self._envelope("comment", [self._comment_json(c, show) for c in page], extra)

    def _subscriptions(self, query: dict[str, list[str]], base: str, owner: bool) -> FakeResponse:
        if _q(query, "mySubscribers") != "true":
            return _google_error(
                400,
                "No filter selected. Expected one of: mySubscribers, mine, id, channelId",
                "missingRequiredParameter",
                "youtube.parameter",
            )
        if not owner or self.owner_channel is None:
            return _google_error(
                401,
                "The request uses the <code>mine</code> parameter but is not properly authorized.",
                "authorizationRequired",
                "youtube.subscription",
            )
        ch = self._channels[self.owner_channel]
        rows = list(reversed(ch.subscribers))
        page, extra = self._paginate(rows, query, 5, 50)
        items = []
        for sub_id in page:
            sub = self._channels.get(sub_id)
            items.append(
                {
                    "kind": "youtube#subscription",
                    "etag": _etag("s", sub_id),
                    "id": _uid("", "subscription", ch.id, sub_id, length=43),
                    "subscriberSnippet": {
                        "title": sub.title if sub else "Subscriber",
                        "description": "",
                        "channelId": sub_id,
                        "thumbnails": {"default": {"url": f"{base}/ch/{sub_id}/s88.png"}},
                    },
                }
            )
        return self._envelope("subscription", items, extra)


def _thumbs(base: str, vid: str) -> dict[str, Any]:
    return {
        "default": {"url": f"{base}/vi/{vid}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{base}/vi/{vid}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{base}/vi/{vid}/hqdefault.jpg", "width": 480, "height": 360},
    }


def _round3(n: int) -> int:
    """YouTube shows subscriber counts rounded down to three significant figures."""
    if n < 1000:
        return n
    digits = len(str(n)) - 3
    scale: int = 10**digits
    return (n // scale) * scale


def _etag(*parts: object) -> str:
    return base64.urlsafe_b64encode(
        hashlib.sha1("|".join(map(str, parts)).encode()).digest()
    ).decode()[:27]


def _q(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key)
    return vals[0] if vals else None


def _set(query: Mapping[str, list[str]], key: str) -> set[str]:
    return {v.strip() for v in (_q(query, key) or "").split(",") if v.strip()}


def _token(offset: int) -> str:
    """Opaque like YouTube's (``CAoQAA``)."""
    return base64.urlsafe_b64encode(f"CA{offset:06d}QAA".encode()).decode().rstrip("=")


def _untoken(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw[2:8])
    except (ValueError, UnicodeDecodeError):
        return 0
