"""A stateful fake X (Twitter) API v2 that answers the read endpoints the X connector uses.

Shapes follow the real API (tweepy cassettes in shared/platforms/samples/x_*.json and the X
docs): snowflake ids, ``edit_history_tweet_ids`` (oldest first, the last one is current),
``conversation_id``, ``referenced_tweets``, ``includes.users/media/tweets`` only for the
expansions asked for, ``meta.next_token`` pagination, ``x-rate-limit-*`` headers with an epoch
reset, and the three error shapes X really sends: RFC 7807 problems for 401/403/429, and HTTP
200 with an ``errors`` array for an unknown user. Access-tier refusals (followers need
Enterprise, full-archive search needs Pro) are switches, because the city's tier decides them.

Time: recent search only sees the last seven *real* days, so the world's clock starts two days
before the real now and advances a minute per object; ``created_at`` can push a post back.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fakeplatforms.mastodon import png_bytes
from fakeplatforms.server import FakeResponse, header, iso_ms, json_response

__all__ = ["TWITTER_EPOCH_MS", "XWorld", "snowflake_time"]

TWITTER_EPOCH_MS = 1288834974657
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}
CLIENT_NOT_ENROLLED = {
    "client_id": "28716470",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
    "and tokens from a Twitter developer App that is attached to a Project. You can create a "
    "project via the developer portal.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")


def snowflake_time(tweet_id: str) -> datetime:
    """When a snowflake id was minted (X ids carry milliseconds since 2010-11-04)."""
    ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class _User:
    id: str
    username: str
    name: str
    extra_followers: int = 0  # followers the count shows beyond the listed ones
    description: str = ""
    avatar_rev: int = 0  # ``set_profile(new_avatar=True)``: new image bytes under a new URL


@dataclass
class _Media:
    key: str
    type: str
    rgb: tuple[int, int, int]


@dataclass
class _Tweet:
    ids: list[str]  # edit chain, oldest first
    author_id: str
    texts: list[str]
    created: list[datetime]
    conversation_id: str
    in_reply_to_user_id: str | None
    replied_to: str | None  # the id (any version) this replies to
    media: list[_Media]
    deleted: bool = False
    likes: int = 0
    raw: dict[str, Any] | None = None  # served verbatim (malformed-entry tests)


@dataclass
class _Limits:
    count: int = 0
    window: int = -1
    forced_429: list[str] = field(default_factory=list)


class XWorld:
    """One fake X: users, tweets with edit chains, follows, media. Implements ``FakeApp``."""

    def __init__(
        self,
        *,
        bearer_token: str = "x-test-bearer-token",
        clock_start: datetime | None = None,
        followers_allowed: bool = False,
        search_allowed: bool = True,
        full_archive: bool = False,
        page_cap: int | None = None,
        rate_limit: int = 900,
    ) -> None:
        self.bearer_token = bearer_token
        self.followers_allowed = followers_allowed
        self.search_allowed = search_allowed
        self.full_archive = full_archive
        self.page_cap = page_cap  # shrink max_results so tests see several pages
        self.rate_limit = rate_limit
        self.token_expired = False
        self._lock = threading.RLock()
        self._clock = (clock_start or datetime.now(UTC) - timedelta(days=2)).astimezone(UTC)
        self._seq = 0
        self._users: dict[str, _User] = {}
        self._by_username: dict[str, str] = {}
        self._tweets: list[_Tweet] = []
        self._by_id: dict[str, _Tweet] = {}
        self._follows: dict[str, list[str]] = {}  # target -> follower ids, oldest first
        self._media: dict[str, _Media] = {}
        self._limits: dict[str, _Limits] = {}
        self._forced: list[tuple[str, int]] = []  # (path prefix, remaining 429s)

    # -- clock and ids -------------------------------------------------------------------
    def now(self) -> datetime:
        with self._lock:
            self._clock += timedelta(minutes=1)
            return self._clock

    def _snowflake(self, when: datetime) -> str:
        self._seq += 1
        ms = int(when.timestamp() * 1000) - TWITTER_EPOCH_MS
        return str((ms << 22) | (self._seq & 0x3FFFFF))

    # -- mutation API --------------------------------------------------------------------
    def add_user(self, username: str, name: str, *, extra_followers: int = 0) -> str:
        with self._lock:
            uid = str(10_000_000 + len(self._users) * 7919)
            self._users[uid] = _User(uid, username, name, extra_followers)
            self._by_username[username.lower()] = uid
            self._follows[uid] = []
            return uid

    def set_profile(
        self, uid: str, *, description: str | None = None, new_avatar: bool = False
    ) -> None:
        with self._lock:
            u = self._users[uid]
            if description is not None:
                u.description = description
            if new_avatar:
                u.avatar_rev += 1

    def post(
        self,
        author_id: str,
        text: str,
        *,
        reply_to: str | None = None,
        media: int = 0,
        created_at: datetime | None = None,
    ) -> str:
        """A new tweet (``media`` = number of photos); returns its id."""
        with self._lock:
            when = (created_at or self.now()).astimezone(UTC)
            tid = self._snowflake(when)
            parent = self._by_id.get(reply_to) if reply_to else None
            if reply_to and (parent is None or parent.deleted):
                raise KeyError(f"tweet {reply_to} does not exist")
            items = []
            for i in range(media):
                key = f"3_{tid}{i}"
                digest = hashlib.sha1(key.encode()).digest()
                m = _Media(key, "photo", (digest[0], digest[1], digest[2]))
                self._media[key] = m
                items.append(m)
            tw = _Tweet(
                ids=[tid],
                author_id=author_id,
                texts=[text],
                created=[when],
                conversation_id=parent.conversation_id if parent else tid,
                in_reply_to_user_id=parent.author_id if parent else None,
                replied_to=reply_to,
                media=items,
            )
            self._tweets.append(tw)
            self._by_id[tid] = tw
            return tid

    def edit(self, tweet_id: str, new_text: str) -> str:
        """X edits mint a new id; the chain keeps every id, the last one is current."""
        with self._lock:
            tw = self._live(tweet_id)
            when = max(self.now(), tw.created[-1] + timedelta(seconds=1))
            new_id = self._snowflake(when)
            tw.ids.append(new_id)
            tw.texts.append(new_text)
            tw.created.append(when)
            self._by_id[new_id] = tw
            return new_id

    def delete(self, tweet_id: str) -> None:
        with self._lock:
            self._live(tweet_id).deleted = True

    def add_raw_tweet(self, author_id: str, raw: dict[str, Any]) -> None:
        """A timeline entry served exactly as given (to test unreadable entries)."""
        with self._lock:
            when = self.now()
            tid = self._snowflake(when)
            tw = _Tweet([tid], author_id, [""], [when], tid, None, None, [], raw=raw)
            self._tweets.append(tw)
            self._by_id[tid] = tw

    def follow(self, target_id: str, follower_id: str) -> None:
        with self._lock:
            if follower_id not in self._follows[target_id]:
                self._follows[target_id].append(follower_id)

    def unfollow(self, target_id: str, follower_id: str) -> None:
        with self._lock:
            if follower_id in self._follows[target_id]:
                self._follows[target_id].remove(follower_id)

    def expire_token(self) -> None:
        with self._lock:
            self.token_expired = True

    def rate_limit_next(self, path_prefix: str, times: int = 1) -> None:
        """The next ``times`` requests under ``path_prefix`` get X's 429 with an epoch reset."""
        with self._lock:
            self._forced.append((path_prefix, times))

    # -- read helpers for tests ----------------------------------------------------------
    def current_id(self, tweet_id: str) -> str:
        with self._lock:
            return self._by_id[tweet_id].ids[-1]

    def follower_count(self, user_id: str) -> int:
        with self._lock:
            return len(self._follows[user_id]) + self._users[user_id].extra_followers

    # -- internals -----------------------------------------------------------------------
    def _live(self, tweet_id: str) -> _Tweet:
        tw = self._by_id.get(tweet_id)
        if tw is None or tw.deleted:
            raise KeyError(f"tweet {tweet_id} does not exist")
        return tw

    def _user_json(self, u: _User, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": u.id, "name": u.name, "username": u.username}
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "followers_count": len(self._follows[u.id]) + u.extra_followers,
                "following_count": 0,
                "tweet_count": sum(
                    1 for t in self._tweets if t.author_id == u.id and not t.deleted
                ),
                "listed_count": 0,
            }
        if "created_at" in fields:
            out["created_at"] = "2011-03-01T17:00:00.000Z"
        return out

    def _tweet_json(self, tw: _Tweet, fields: set[str]) -> dict[str, Any]:
        if tw.raw is not None:
            return dict(tw.raw)
        full: dict[str, Any] = {
            "id": tw.ids[-1],
            "text": tw.texts[-1],
            "edit_history_tweet_ids": list(tw.ids),
            "created_at": iso_ms(tw.created[-1]),
            "author_id": tw.author_id,
            "conversation_id": tw.conversation_id,
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": sum(1 for t in self._tweets if t.replied_to in tw.ids),
                "like_count": tw.likes,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 40,
            },
            "edit_controls": {
                "edits_remaining": 5 - len(tw.ids) + 1,
                "is_edit_eligible": True,
                "editable_until": iso_ms(tw.created[0] + timedelta(hours=1)),
            },
        }
        if tw.in_reply_to_user_id:
            full["in_reply_to_user_id"] = tw.in_reply_to_user_id
        if tw.replied_to:
            full["referenced_tweets"] = [{"type": "replied_to", "id": tw.replied_to}]
        if tw.media:
            full["attachments"] = {"media_keys": [m.key for m in tw.media]}
        return {k: v for k, v in full.items() if k in fields or k in DEFAULT_TWEET_FIELDS}

    def _rate(self, path: str) -> dict[str, str]:
        bucket = path.split("/")[2] if path.count("/") >= 2 else path
        lim = self._limits.setdefault(bucket, _Limits())
        window = int(time.time() // 900)
        if window != lim.window:
            lim.window, lim.count = window, 0
        lim.count += 1
        return {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(max(self.rate_limit - lim.count, 1)),
            "x-rate-limit-reset": str((window + 1) * 900),
        }

    def _take_forced(self, path: str) -> bool:
        for i, (prefix, left) in enumerate(self._forced):
            if path.startswith(prefix):
                if left <= 1:
                    self._forced.pop(i)
                else:
                    self._forced[i] = (prefix, left - 1)
                return True
        return False

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        with self._lock:
            if path.startswith("/media/"):
                m = self._media.get(path[len("/media/") :].removesuffix(".png"))
                if m is None:
                    return None
                return FakeResponse(200, png_bytes(32, 24, m.rgb), {"Content-Type": "image/png"})
            if not path.startswith("/2/"):
                return None
            rate = self._rate(path)
            auth = header(headers, "Authorization") or ""
            if self.token_expired or auth != f"Bearer {self.bearer_token}":
                return json_response(UNAUTHORIZED, 401, rate)
            if self._take_forced(path):
                reset = str(int(time.time()) + 1)
                rate.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
                return json_response(TOO_MANY, 429, rate)
            host = header(headers, "Host") or "pbs.twimg.example"
            resp = self._route(path, query, f"http://{host}")
            if resp is not None:
                resp.headers.update(rate)
            return resp

    def _route(self, path: str, query: dict[str, list[str]], base: str) -> FakeResponse | None:
        parts = path.rstrip("/").split("/")[2:]
        user_fields = _set(query, "user.fields")
        if parts[:3] == ["users", "by", "username"] and len(parts) == 4:
            uid = self._by_username.get(parts[3].lower())
            if uid is None:
                return json_response({"errors": [_not_found_user(parts[3])]})
            data = self._user_json(self._users[uid], user_fields)
            u = self._users[uid]
            if "description" in user_fields:
                data["description"] = u.description
            if "profile_image_url" in user_fields:
                key = f"avatar-{uid}-{u.avatar_rev}"
                self._media.setdefault(
                    key, _Media(key, "photo", (60, 80 + 30 * u.avatar_rev % 170, 140))
                )
                data["profile_image_url"] = f"{base}/media/{key}.png"
            return json_response({"data": data})
        if len(parts) == 2 and parts[0] == "users":
            found = self._users.get(parts[1])
            if found is None:
                return json_response({"errors": [_not_found_user(parts[1])]})
            return json_response({"data": self._user_json(found, user_fields)})
        if len(parts) == 3 and parts[0] == "users" and parts[1] in self._users:
            user = self._users[parts[1]]
            if parts[2] == "tweets":
                return self._timeline(user, query, base)
            if parts[2] == "followers":
                if not self.followers_allowed:
                    return json_response(CLIENT_NOT_ENROLLED, 403)
                return self._followers(user, query, user_fields)
            return None
        if parts[:2] == ["tweets", "search"] and len(parts) == 3:
            if parts[2] == "all" and not self.full_archive:
                return json_response(CLIENT_NOT_ENROLLED, 403)
            if parts[2] not in ("recent", "all") or not self.search_allowed:
                return json_response(CLIENT_NOT_ENROLLED, 403)
            return self._search(query, base, full=parts[2] == "all")
        return None

    def _page(
        self, rows: list[Any], query: dict[str, list[str]], token_param: str, cap: int, lo: int
    ) -> tuple[list[Any], str | None] | FakeResponse:
        raw_max = _q(query, "max_results")
        limit = int(raw_max) if raw_max and raw_max.isdigit() else min(cap, 100)
        if limit < lo or limit > cap:
            return json_response(
                {
                    "errors": [
                        {
                            "parameters": {"max_results": [raw_max]},
                            "message": f"The `max_results` query parameter value [{raw_max}] "
                            f"is not between {lo} and {cap}",
                        }
                    ],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
                400,
            )
        if self.page_cap:
            limit = min(limit, self.page_cap)
        token = _q(query, token_param) or _q(query, "pagination_token")
        start = _untoken(token) if token else 0
        page = rows[start : start + limit]
        nxt = _token(start + limit) if start + limit < len(rows) else None
        return page, nxt

    def _expand(
        self, tweets: list[_Tweet], query: dict[str, list[str]], base: str
    ) -> dict[str, Any]:
        expansions = _set(query, "expansions")
        user_fields = _set(query, "user.fields")
        includes: dict[str, Any] = {}
        if "author_id" in expansions:
            seen: dict[str, dict[str, Any]] = {}
            for t in tweets:
                if t.raw is None and t.author_id in self._users:
                    seen[t.author_id] = self._user_json(self._users[t.author_id], user_fields)
            if seen:
                includes["users"] = list(seen.values())
        if "attachments.media_keys" in expansions:
            media_fields = _set(query, "media.fields")
            media = []
            for t in tweets:
                for m in t.media:
                    entry: dict[str, Any] = {"media_key": m.key, "type": m.type}
                    if "url" in media_fields:
                        entry["url"] = f"{base}/media/{m.key}.png"
                    media.append(entry)
            if media:
                includes["media"] = media
        if "referenced_tweets.id" in expansions:
            fields = _set(query, "tweet.fields")
            refs = []
            for t in tweets:
                target = self._by_id.get(t.replied_to or "")
                if target is not None and not target.deleted:
                    refs.append(self._tweet_json(target, fields))
            if refs:
                includes["tweets"] = refs
        return includes

    def _body(
        self, page: list[_Tweet], nxt: str | None, query: dict[str, list[str]], base: str
    ) -> FakeResponse:
        fields = _set(query, "tweet.fields")
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0].ids[-1]
            meta["oldest_id"] = page[-1].ids[-1]
        if nxt:
            meta["next_token"] = nxt
        body: dict[str, Any] = {}
        if page:
            body["data"] = [self._tweet_json(t, fields) for t in page]
            includes = self._expand(page, query, base)
            if includes:
                body["includes"] = includes
        body["meta"] = meta
        return json_response(body)

    def _timeline(self, user: _User, query: dict[str, list[str]], base: str) -> FakeResponse:
        since = _q(query, "since_id")
        rows = [
            t
            for t in sorted(self._tweets, key=lambda t: int(t.ids[-1]), reverse=True)
            if t.author_id == user.id
            and not t.deleted
            and (not since or int(t.ids[-1]) > int(since))
        ][:3200]  # the timeline endpoint only reaches the 3,200 newest posts
        paged = self._page(rows, query, "pagination_token", 100, 5)
        if isinstance(paged, FakeResponse):
            return paged
        return self._body(paged[0], paged[1], query, base)

    def _search(self, query: dict[str, list[str]], base: str, *, full: bool) -> FakeResponse:
        q = _q(query, "query") or ""
        horizon = datetime.now(UTC) - timedelta(days=7)
        if q.startswith("to:"):
            # Replies addressed to the account (in reply to one of its posts), any post age.
            uid = self._by_username.get(q.split(":", 1)[1].strip().lower(), "")

            def wanted(t: _Tweet) -> bool:
                return bool(uid) and t.in_reply_to_user_id == uid
        elif q.startswith("conversation_id:"):
            conv = q.split(":", 1)[1].strip()

            def wanted(t: _Tweet) -> bool:
                return t.conversation_id == conv and t.ids[0] != conv
        else:
            return json_response({"errors": [{"message": "unsupported query in fake"}]}, 400)
        rows = [
            t
            for t in sorted(self._tweets, key=lambda t: int(t.ids[-1]), reverse=True)
            if wanted(t) and not t.deleted and (full or t.created[-1] >= horizon)
        ]
        paged = self._page(rows, query, "next_token", 100, 10)
        if isinstance(paged, FakeResponse):
            return paged
        return self._body(paged[0], paged[1], query, base)

    def _followers(
        self, user: _User, query: dict[str, list[str]], user_fields: set[str]
    ) -> FakeResponse:
        rows = [self._users[f] for f in reversed(self._follows[user.id])]
        paged = self._page(rows, query, "pagination_token", 1000, 1)
        if isinstance(paged, FakeResponse):
            return paged
        page, nxt = paged
        meta: dict[str, Any] = {"result_count": len(page)}
        if nxt:
            meta["next_token"] = nxt
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self._user_json(u, user_fields) for u in page]
        return json_response(body)


def _not_found_user(username: str) -> dict[str, Any]:
    return {
        "value": username,
        "detail": f"Could not find user with username: [{username}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "username",
        "resource_id": username,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _q(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key)
    return vals[0] if vals else None


def _set(query: Mapping[str, list[str]], key: str) -> set[str]:
    return {v for v in (_q(query, key) or "").split(",") if v}


def _token(offset: int) -> str:
    """Opaque like X's (``7140dibdnow9c7btw4232poeq0wapgnwgwqwvuwn3peex``)."""
    return base64.b32encode(f"o{offset:08d}".encode()).decode().rstrip("=").lower()


def _untoken(token: str) -> int:
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        return 0
