"""A stateful fake Bluesky AppView answering the public XRPC reads the harvester uses.

Shapes follow the ``app.bsky`` lexicons (``feed.defs`` postView / feedViewPost /
threadViewPost / notFoundPost / blockedPost / threadgateView, ``actor.defs`` profileView and
profileViewDetailed, ``graph.getFollowers``) as in shared/platforms/samples/bluesky_*.json, and
errors use the XRPC envelope ``{"error": "InvalidRequest", "message": "Profile not found"}``
with HTTP 400, as the real AppView does. Tests mutate the world between harvests (post, reply,
delete, hide a reply, follow, unfollow), so every public method and ``handle`` take one lock.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fakeplatforms.mastodon import png_bytes
from fakeplatforms.server import FakeResponse, header, iso_ms, json_response

__all__ = ["BlueskyWorld"]

DEFAULT_CLOCK_START = datetime(2026, 11, 20, 18, 0, 0, tzinfo=UTC)
FEED_LIMIT_DEFAULT = 50  # getAuthorFeed / getFollowers: limit 1..100, default 50
LIMIT_MAX = 100
_S32 = "234567abcdefghijklmnopqrstuvwxyz"  # atproto's sortable base32 for TIDs


def _tid(n: int) -> str:
    """A 13-character record key that sorts by creation, like atproto TIDs."""
    out = []
    for _ in range(13):
        out.append(_S32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def _cid(*parts: object) -> str:
    """A CIDv1-looking string (``bafyrei`` + base32 sha-256), deterministic per content."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def _xrpc_error(error: str, message: str, status: int = 400) -> FakeResponse:
    return json_response({"error": error, "message": message}, status)


@dataclass
class _Actor:
    did: str
    handle: str
    display_name: str
    description: str
    created_at: datetime
    avatar_rev: int = 0  # bumped by ``set_profile(new_avatar=True)``: a new image, a new URL


@dataclass
class _Image:
    alt: str
    blob_cid: str
    width: int
    height: int


@dataclass
class _Post:
    uri: str
    rkey: str
    cid: str
    author: str  # did
    text: str
    created_at: datetime
    indexed_at: datetime
    root: str | None  # at-uri of the thread root, None for a top-level post
    parent: str | None
    images: list[_Image]
    langs: list[str]
    like_count: int = 0
    repost_count: int = 0
    deleted: bool = False
    replies: list[str] = field(default_factory=list)  # uris, oldest first


@dataclass
class _Repost:
    uri: str
    cid: str
    by: str  # did
    subject: str  # post uri
    indexed_at: datetime


@dataclass
class _Follow:
    rkey: str
    follower: str
    subject: str
    created_at: datetime
    active: bool = True


class BlueskyWorld:
    """One fake AppView (plus its image CDN paths). Implements ``FakeApp``."""

    def __init__(
        self,
        *,
        clock_start: datetime | None = None,
        deleted_reply_style: Literal["omit", "not_found"] = "omit",
    ) -> None:
        """``deleted_reply_style``: the public AppView drops a deleted reply (and the
        sub-thread hanging off it) from ``replies``; ``"not_found"`` shows it as a
        ``notFoundPost`` node instead, which is what a thread shows for a missing parent."""
        self.deleted_reply_style = deleted_reply_style
        self._lock = threading.RLock()
        self._clock = (clock_start or DEFAULT_CLOCK_START).astimezone(UTC)
        self._seq = 0
        self._actors: dict[str, _Actor] = {}
        self._by_handle: dict[str, str] = {}
        self._posts: dict[str, _Post] = {}
        self._reposts: list[_Repost] = []
        self._follows: list[_Follow] = []
        self._hidden: dict[str, list[str]] = {}  # root uri -> hiddenReplies
        self._gate_rkey: dict[str, str] = {}
        self._blocked: set[str] = set()  # dids whose replies show as blockedPost
        self._files: dict[str, tuple[int, int, tuple[int, int, int]]] = {}
        self._rate_limited = 0
        self._followers_refused: int | None = None
        # Lower it in tests to get several feed/follower pages from few objects.
        self.page_cap: int | None = None

    # -- clock and ids -------------------------------------------------------------------
    def now(self) -> datetime:
        """Simulated time: one minute per call, so new records sort after old ones."""
        with self._lock:
            self._clock += timedelta(minutes=1)
            return self._clock

    def _next_tid(self, when: datetime) -> str:
        self._seq += 1
        return _tid((int(when.timestamp() * 1_000_000) << 10) | (self._seq & 1023))

    # -- mutation API --------------------------------------------------------------------
    def add_actor(
        self, handle: str, display_name: str = "", *, description: str = ""
    ) -> dict[str, Any]:
        with self._lock:
            if handle.lower() in self._by_handle:
                raise ValueError(f"handle {handle!r} already exists")
            did = (
                "did:plc:"
                + base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()[:24]
            )
            actor = _Actor(did, handle, display_name, description, self.now())
            self._actors[did] = actor
            self._by_handle[handle.lower()] = did
            return self._profile_basic(actor)

    def set_profile(
        self,
        did: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        handle: str | None = None,
        new_avatar: bool = False,
    ) -> None:
        with self._lock:
            actor = self._actor(did)
            if new_avatar:
                actor.avatar_rev += 1
            if display_name is not None:
                actor.display_name = display_name
            if description is not None:
                actor.description = description
            if handle is not None:
                del self._by_handle[actor.handle.lower()]
                actor.handle = handle
                self._by_handle[handle.lower()] = did

    def add_post(
        self,
        did: str,
        text: str,
        *,
        images: list[str] | None = None,
        created_at: datetime | None = None,
        langs: tuple[str, ...] = ("en",),
        likes: int = 0,
    ) -> str:
        """A top-level post; ``images`` are alt texts (one image each). Returns its at-uri."""
        return self._create(did, text, None, images or [], created_at, list(langs), likes)

    def reply(
        self,
        parent_uri: str,
        did: str,
        text: str,
        *,
        images: list[str] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """A reply to a post or to another reply (any depth). Returns its at-uri."""
        return self._create(did, text, parent_uri, images or [], created_at, ["en"], 0)

    def _create(
        self,
        did: str,
        text: str,
        parent_uri: str | None,
        alts: list[str],
        created_at: datetime | None,
        langs: list[str],
        likes: int,
    ) -> str:
        with self._lock:
            self._actor(did)
            parent = None
            if parent_uri is not None:
                parent = self._posts.get(parent_uri)
                if parent is None or parent.deleted:
                    raise KeyError(f"post {parent_uri} does not exist")
            when = (created_at or self.now()).astimezone(UTC)
            rkey = self._next_tid(when)
            uri = f"at://{did}/app.bsky.feed.post/{rkey}"
            images = []
            for i, alt in enumerate(alts):
                blob = _cid("blob", uri, i).replace("bafyrei", "bafkrei", 1)
                images.append(_Image(alt, blob, 64, 48))
                d = hashlib.sha1(blob.encode()).digest()
                rgb = (d[0], d[1], d[2])
                for kind, (w, h) in (("feed_fullsize", (64, 48)), ("feed_thumbnail", (32, 24))):
                    self._files[f"/img/{kind}/plain/{did}/{blob}@png"] = (w, h, rgb)
            post = _Post(
                uri=uri,
                rkey=rkey,
                cid=_cid(uri, text, [im.blob_cid for im in images]),
                author=did,
                text=text,
                created_at=when,
                indexed_at=when + timedelta(seconds=1),
                root=(parent.root or parent.uri) if parent else None,
                parent=parent.uri if parent else None,
                images=images,
                langs=langs,
                like_count=likes,
            )
            self._posts[uri] = post
            if parent is not None:
                parent.replies.append(uri)
            return uri

    def rewrite_post(self, uri: str, text: str) -> None:
        """``putRecord`` on the same rkey: the app cannot edit, but the protocol can (new cid)."""
        with self._lock:
            post = self._live(uri)
            post.text = text
            post.cid = _cid(uri, text, [im.blob_cid for im in post.images], "rewrite")

    def delete_post(self, uri: str) -> None:
        with self._lock:
            self._live(uri).deleted = True

    def repost(self, did: str, subject_uri: str) -> str:
        with self._lock:
            self._actor(did)
            self._live(subject_uri)
            when = self.now()
            rkey = self._next_tid(when)
            uri = f"at://{did}/app.bsky.feed.repost/{rkey}"
            self._reposts.append(_Repost(uri, _cid(uri), did, subject_uri, when))
            return uri

    def hide_reply(self, reply_uri: str) -> None:
        """The root author's threadgate lists the reply in ``hiddenReplies``."""
        with self._lock:
            reply = self._live(reply_uri)
            if reply.root is None:
                raise ValueError("only replies can be hidden")
            hidden = self._hidden.setdefault(reply.root, [])
            if reply_uri not in hidden:
                hidden.append(reply_uri)
            self._gate_rkey.setdefault(reply.root, self._posts[reply.root].rkey)

    def unhide_reply(self, reply_uri: str) -> None:
        with self._lock:
            for hidden in self._hidden.values():
                if reply_uri in hidden:
                    hidden.remove(reply_uri)

    def block(self, did: str) -> None:
        """Replies by ``did`` show as ``blockedPost`` nodes (a block between the two authors)."""
        with self._lock:
            self._blocked.add(did)

    def follow(self, follower_did: str, subject_did: str) -> None:
        with self._lock:
            self._actor(follower_did)
            self._actor(subject_did)
            if any(
                f.active and f.follower == follower_did and f.subject == subject_did
                for f in self._follows
            ):
                return
            when = self.now()
            self._follows.append(_Follow(self._next_tid(when), follower_did, subject_did, when))

    def unfollow(self, follower_did: str, subject_did: str) -> None:
        with self._lock:
            for f in self._follows:
                if f.active and f.follower == follower_did and f.subject == subject_did:
                    f.active = False

    def rate_limit_next(self, n: int) -> None:
        """The next ``n`` XRPC calls answer 429 with only ``RateLimit-*`` headers, as Bluesky."""
        with self._lock:
            self._rate_limited = n

    def refuse_followers(self, status: int | None) -> None:
        """``getFollowers`` answers ``status`` (e.g. 403) until called again with None."""
        with self._lock:
            self._followers_refused = status

    # -- read helpers for tests ----------------------------------------------------------
    def did_of(self, handle: str) -> str:
        with self._lock:
            return self._by_handle[handle.lower()]

    def follower_dids(self, did: str) -> list[str]:
        with self._lock:
            return [f.follower for f in self._follows if f.active and f.subject == did]

    def post_uris(self, did: str) -> list[str]:
        with self._lock:
            return [p.uri for p in self._posts.values() if p.author == did and not p.deleted]

    # -- internals -----------------------------------------------------------------------
    def _actor(self, did_or_handle: str) -> _Actor:
        did = did_or_handle
        if not did.startswith("did:"):
            did = self._by_handle.get(did.lower().lstrip("@"), "")
        actor = self._actors.get(did)
        if actor is None:
            raise KeyError(f"actor {did_or_handle} does not exist")
        return actor

    def _live(self, uri: str) -> _Post:
        post = self._posts.get(uri)
        if post is None or post.deleted:
            raise KeyError(f"post {uri} does not exist")
        return post

    def _profile_basic(self, a: _Actor) -> dict[str, Any]:
        return {
            "did": a.did,
            "handle": a.handle,
            "displayName": a.display_name,
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{a.did}/{_cid('av', a.did)}@jpeg",
            "associated": {"chat": {"allowIncoming": "all"}},
            "labels": [],
            "createdAt": iso_ms(a.created_at),
        }

    def _profile_view(self, a: _Actor) -> dict[str, Any]:
        return self._profile_basic(a) | {
            "description": a.description,
            "indexedAt": iso_ms(a.created_at),
        }

    def _profile_detailed(self, a: _Actor, base: str) -> dict[str, Any]:
        """getProfile: avatar and banner served by this fake (the real API points at its CDN),
        so a harvest can keep their bytes; a new avatar gets a new URL, as on Bluesky."""
        images = {}
        for kind, size, rgb in (
            ("avatar", (48, 48), (40, 90, 160)),
            ("banner", (150, 50), (20, 120, 60)),
        ):
            blob = _cid(kind[:2] + str(a.avatar_rev if kind == "avatar" else 0), a.did)
            path = f"/img/{kind}/plain/{a.did}/{blob}@png"
            shade = (
                (rgb[0], rgb[1], (rgb[2] + 40 * a.avatar_rev) % 256) if kind == "avatar" else rgb
            )
            self._files[path] = (size[0], size[1], shade)
            images[kind] = base + path
        return self._profile_view(a) | {
            "avatar": images["avatar"],
            "banner": images["banner"],
            "followersCount": sum(1 for f in self._follows if f.active and f.subject == a.did),
            "followsCount": sum(1 for f in self._follows if f.active and f.follower == a.did),
            "postsCount": sum(
                1 for p in self._posts.values() if p.author == a.did and not p.deleted
            ),
            "pinnedPost": None,
        }

    def _threadgate_view(self, root_uri: str) -> dict[str, Any] | None:
        if root_uri not in self._gate_rkey:
            return None
        root = self._posts[root_uri]
        uri = f"at://{root.author}/app.bsky.feed.threadgate/{self._gate_rkey[root_uri]}"
        record = {
            "$type": "app.bsky.feed.threadgate",
            "post": root_uri,
            "createdAt": iso_ms(root.created_at),
            "hiddenReplies": list(self._hidden.get(root_uri, [])),
        }
        return {
            "uri": uri,
            "cid": _cid(uri, record["hiddenReplies"]),
            "record": record,
            "lists": [],
        }

    def _post_view(self, p: _Post, base: str) -> dict[str, Any]:
        author = self._actors[p.author]
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "createdAt": iso_ms(p.created_at),
            "langs": p.langs,
            "text": p.text,
        }
        if p.parent is not None and p.root is not None:
            root, parent = self._posts[p.root], self._posts[p.parent]
            record["reply"] = {
                "root": {"cid": root.cid, "uri": root.uri},
                "parent": {"cid": parent.cid, "uri": parent.uri},
            }
        view: dict[str, Any] = {
            "uri": p.uri,
            "cid": p.cid,
            "author": self._profile_basic(author),
            "record": record,
        }
        if p.images:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "alt": im.alt,
                        "image": {
                            "$type": "blob",
                            "ref": {"$link": im.blob_cid},
                            "mimeType": "image/png",
                            "size": len(png_bytes(im.width, im.height, (0, 0, 0))),
                        },
                        "aspectRatio": {"width": im.width, "height": im.height},
                    }
                    for im in p.images
                ],
            }
            view["embed"] = {
                "$type": "app.bsky.embed.images#view",
                "images": [
                    {
                        "thumb": f"{base}/img/feed_thumbnail/plain/{p.author}/{im.blob_cid}@png",
                        "fullsize": f"{base}/img/feed_fullsize/plain/{p.author}/{im.blob_cid}@png",
                        "alt": im.alt,
                        "aspectRatio": {"width": im.width, "height": im.height},
                    }
                    for im in p.images
                ],
            }
        view |= {
            "replyCount": sum(1 for r in p.replies if not self._posts[r].deleted),
            "repostCount": p.repost_count + sum(1 for r in self._reposts if r.subject == p.uri),
            "likeCount": p.like_count,
            "quoteCount": 0,
            "indexedAt": iso_ms(p.indexed_at),
            "labels": [],
        }
        if p.root is None and (gate := self._threadgate_view(p.uri)) is not None:
            view["threadgate"] = gate
        return view

    # -- HTTP ----------------------------------------------------------------------------
    def _rate_headers(self, remaining: int) -> dict[str, str]:
        reset = int(time.time()) + 1
        return {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": "3000;w=300",
        }

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
            if path.startswith("/img/"):
                spec = self._files.get(path)
                if spec is None:
                    return None
                w, h, rgb = spec
                return FakeResponse(200, png_bytes(w, h, rgb), {"Content-Type": "image/png"})
            if not path.startswith("/xrpc/"):
                return None
            if self._rate_limited > 0:
                self._rate_limited -= 1
                limited = _xrpc_error("RateLimitExceeded", "Rate Limit Exceeded", 429)
                limited.headers.update(self._rate_headers(0))
                return limited
            host = header(headers, "Host") or "public.api.bsky.app"
            resp = self._route(path[len("/xrpc/") :], query, f"http://{host}")
            if resp is None:
                return _xrpc_error("MethodNotImplemented", "Method Not Implemented", 501)
            resp.headers.update(self._rate_headers(2999))
            return resp

    def _route(self, nsid: str, query: dict[str, list[str]], base: str) -> FakeResponse | None:
        if nsid == "com.atproto.identity.resolveHandle":
            did = self._by_handle.get((_q(query, "handle") or "").lower())
            if did is None:
                return _xrpc_error("InvalidRequest", "Unable to resolve handle")
            return json_response({"did": did})
        if nsid == "app.bsky.actor.getProfile":
            actor = self._find_actor(_q(query, "actor"))
            if actor is None:
                return _xrpc_error("InvalidRequest", "Profile not found")
            return json_response(self._profile_detailed(actor, base))
        if nsid == "app.bsky.feed.getAuthorFeed":
            return self._author_feed(query, base)
        if nsid == "app.bsky.feed.getPostThread":
            return self._post_thread(query, base)
        if nsid == "app.bsky.graph.getFollowers":
            return self._followers(query)
        return None

    def _find_actor(self, actor: str | None) -> _Actor | None:
        if not actor:
            return None
        try:
            return self._actor(actor)
        except KeyError:
            return None

    def _author_feed(self, query: dict[str, list[str]], base: str) -> FakeResponse:
        actor = self._find_actor(_q(query, "actor"))
        if actor is None:
            return _xrpc_error("InvalidRequest", "Profile not found")
        limit = _limit(query)
        if limit is None:
            return _xrpc_error("InvalidRequest", "Error: limit must be between 1 and 100")
        if self.page_cap:
            limit = min(limit, self.page_cap)
        filt = _q(query, "filter") or "posts_with_replies"
        entries: list[tuple[str, dict[str, Any]]] = []
        for p in self._posts.values():
            if p.author != actor.did or p.deleted:
                continue
            if filt == "posts_no_replies" and p.parent is not None:
                continue
            if filt == "posts_with_media" and not p.images:
                continue
            item: dict[str, Any] = {"post": self._post_view(p, base)}
            if p.parent is not None and p.root is not None:
                item["reply"] = {
                    "root": self._ref_view(p.root, base),
                    "parent": self._ref_view(p.parent, base),
                }
            entries.append((iso_ms(min(p.created_at, p.indexed_at)), item))
        for r in self._reposts:
            subject = self._posts[r.subject]
            if r.by != actor.did or subject.deleted or filt == "posts_with_media":
                continue
            entries.append(
                (
                    iso_ms(r.indexed_at),
                    {
                        "post": self._post_view(subject, base),
                        "reason": {
                            "$type": "app.bsky.feed.defs#reasonRepost",
                            "by": self._profile_basic(actor),
                            "uri": r.uri,
                            "cid": r.cid,
                            "indexedAt": iso_ms(r.indexed_at),
                        },
                    },
                )
            )
        entries.sort(key=lambda e: e[0], reverse=True)
        cursor = _q(query, "cursor")
        if cursor:
            entries = [e for e in entries if e[0] < cursor]
        page = entries[:limit]
        body: dict[str, Any] = {"feed": [e[1] for e in page]}
        if page:  # the AppView hands out a cursor for any non-empty page
            body["cursor"] = page[-1][0]
        return json_response(body)

    def _ref_view(self, uri: str, base: str) -> dict[str, Any]:
        post = self._posts.get(uri)
        if post is None or post.deleted:
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        return {"$type": "app.bsky.feed.defs#postView", **self._post_view(post, base)}

    def _post_thread(self, query: dict[str, list[str]], base: str) -> FakeResponse:
        uri = _q(query, "uri") or ""
        post = self._posts.get(uri)
        if post is None or post.deleted:
            return _xrpc_error("NotFound", f"Post not found: {uri}")
        depth = _int(_q(query, "depth"), 6)
        parent_height = _int(_q(query, "parentHeight"), 80)
        thread = self._thread_node(post, depth, base)
        if parent_height > 0 and post.parent is not None:
            thread["parent"] = self._ref_view(post.parent, base)
        body: dict[str, Any] = {"thread": thread}
        gate = self._threadgate_view(post.root or post.uri)
        if gate is not None:
            body["threadgate"] = gate
        return json_response(body)

    def _thread_node(self, post: _Post, depth: int, base: str) -> dict[str, Any]:
        node: dict[str, Any] = {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": self._post_view(post, base),
        }
        if depth <= 0:
            return node
        replies: list[dict[str, Any]] = []
        for r_uri in post.replies:
            child = self._posts[r_uri]
            if child.deleted:
                if self.deleted_reply_style == "not_found":
                    replies.append(
                        {"$type": "app.bsky.feed.defs#notFoundPost", "uri": r_uri, "notFound": True}
                    )
                continue
            if child.author in self._blocked:
                replies.append(
                    {
                        "$type": "app.bsky.feed.defs#blockedPost",
                        "uri": r_uri,
                        "blocked": True,
                        "author": {"did": child.author, "viewer": {"blockedBy": False}},
                    }
                )
                continue
            replies.append(self._thread_node(child, depth - 1, base))
        node["replies"] = replies
        return node

    def _followers(self, query: dict[str, list[str]]) -> FakeResponse:
        if self._followers_refused is not None:
            return _xrpc_error(
                "AuthRequired", "Followers are not available", self._followers_refused
            )
        actor = self._find_actor(_q(query, "actor"))
        if actor is None:
            return _xrpc_error("InvalidRequest", "Profile not found")
        limit = _limit(query)
        if limit is None:
            return _xrpc_error("InvalidRequest", "Error: limit must be between 1 and 100")
        if self.page_cap:
            limit = min(limit, self.page_cap)
        follows = sorted(
            (f for f in self._follows if f.active and f.subject == actor.did),
            key=lambda f: f.rkey,
            reverse=True,
        )
        cursor = _q(query, "cursor")
        if cursor:
            follows = [f for f in follows if f.rkey < cursor]
        page = follows[:limit]
        body: dict[str, Any] = {
            "subject": self._profile_view(actor),
            "followers": [self._profile_view(self._actors[f.follower]) for f in page],
        }
        if len(page) == limit and len(follows) > limit:
            body["cursor"] = page[-1].rkey
        return json_response(body)


def _q(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key)
    return vals[0] if vals else None


def _int(value: str | None, default: int) -> int:
    if value is None or not value.strip().lstrip("-").isdigit():
        return default
    return int(value)


def _limit(query: Mapping[str, list[str]]) -> int | None:
    """The lexicon's 1..100 range; the AppView refuses values outside it with 400."""
    n = _int(_q(query, "limit"), FEED_LIMIT_DEFAULT)
    return n if 1 <= n <= LIMIT_MAX else None
