"""A stateful fake Graph API answering the Facebook Page and Instagram read calls we make.

Shapes follow shared/platforms/README.md §5-§6 and the samples there (python-facebook
testdata): ``{"data": [...], "paging": {"cursors": {...}, "next": "<absolute url>"}}`` lists,
``+0000`` timestamps, ``{page_id}_{post_id}`` post ids, the ``{"error": {...}}`` body with
``code``/``error_subcode``/``fbtrace_id``, and the ``x-app-usage`` header. Only the fields a
caller asks for in ``fields=`` come back (plus ``id``), as on the real API, so a connector that
forgets to request a field fails its tests instead of passing against a generous fake.

Deliberate simplifications, marked so nobody mistakes them for the platform: every edge pages
with ``after`` cursors (the real ``/posts`` edge also uses ``until``/``__paging_token``), and
rate-limit error bodies come back with HTTP 400 [unverified: Meta also uses 403].

Tests mutate the world between harvests while the server runs, so every public method and
``handle`` take one lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fakeplatforms.mastodon import png_bytes
from fakeplatforms.server import FakeResponse, header, json_response

__all__ = ["DEFAULT_CLOCK_START", "GRAPH_VERSION", "MetaWorld", "graph_time"]

GRAPH_VERSION = "v21.0"
DEFAULT_CLOCK_START = datetime(2026, 11, 20, 18, 0, 0, tzinfo=UTC)
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

# Default fields per node type when the caller sends no ``fields=`` (Graph API behaviour).
_DEFAULT_FIELDS = {
    "fb_post": ("id", "message", "created_time"),
    "fb_comment": ("id", "message", "created_time", "from"),
    "ig_media": ("id",),
    "ig_comment": ("id", "text", "timestamp"),
}


def graph_time(dt: datetime) -> str:
    """The Graph API's timestamp form: ``2021-08-10T18:45:03+0000``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _fbtrace(*parts: object) -> str:
    return base64.b64encode(hashlib.sha1("|".join(map(str, parts)).encode()).digest())[:11].decode()


def _error(
    message: str,
    code: int,
    *,
    status: int = 400,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
) -> FakeResponse:
    err: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    if transient:
        err["is_transient"] = True
    err["fbtrace_id"] = _fbtrace(message, code)
    resp = json_response({"error": err}, status)
    resp.headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_request" "{message}"'
    return resp


def parse_fields(spec: str | None) -> dict[str, str | None]:
    """``a,b{c,d{e}},f`` -> ``{"a": None, "b": "c,d{e}", "f": None}`` (top level only)."""
    out: dict[str, str | None] = {}
    if not spec:
        return out
    depth = 0
    start = 0
    name_end: int | None = None
    for i, ch in enumerate(spec + ","):
        if ch == "{":
            if depth == 0:
                name_end = i
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            token = spec[start:i]
            if name_end is not None:
                inner = spec[name_end + 1 : i].strip()
                out[spec[start:name_end].strip()] = inner[:-1] if inner.endswith("}") else inner
            elif token.strip():
                out[token.strip()] = None
            start = i + 1
            name_end = None
    return out


@dataclass
class _Node:
    """A post/media or a comment; ``platform`` is ``facebook`` or ``instagram``."""

    id: str
    platform: str
    created: datetime
    text: str
    updated: datetime
    author_id: str
    author_name: str
    photos: list[str]
    post_id: str = ""  # comments: the post or media they belong to
    parent_id: str | None = None  # comments: the comment they answer
    hidden: bool = False
    deleted: bool = False
    corrupt: bool = False
    like_count: int = 0


class MetaWorld:
    """One Facebook Page and its linked Instagram business account behind one Graph API."""

    def __init__(
        self,
        *,
        page_id: str = "104857600123456",
        page_name: str = "City of Bozeman",
        ig_user_id: str = "17841400012345678",
        ig_username: str = "cityofbozeman",
        token: str | None = "EAAGfakePageToken0123456789",
        clock_start: datetime = DEFAULT_CLOCK_START,
        version: str = GRAPH_VERSION,
    ) -> None:
        self.page_id = page_id
        self.page_name = page_name
        self.ig_user_id = ig_user_id
        self.ig_username = ig_username
        self.token = token
        self.version = version
        self.token_expires_at = 0  # debug_token ``expires_at``: 0 means never
        self.data_access_expires_at = 1798761600  # 2027-01-01; 0 leaves the field out
        self.token_expired_on: datetime | None = None
        self.app_usage = 3  # percentage reported in x-app-usage
        self.followers = {"facebook": 0, "instagram": 0}
        self.fan_count = 0
        # The Page's profile (issue 17): tests change these to play an owner or a vandal.
        self.page_about = "Official City of Bozeman Page. Acceptable Use Policy: bozeman.net/aup"
        self.page_picture = "avatar-1"
        self.denied: set[str] = set()
        self.max_limit = MAX_LIMIT  # lower it in tests to get several pages from few items
        self.withhold_comment_ids = False  # as for a token that cannot MODERATE (v11+)
        self.paging_base: str | None = None  # put another host in paging URLs (hostile API)
        self._throttle_left = 0
        self._throttle_code = 4
        self._lock = threading.RLock()
        self._now = clock_start
        self._seq = 0
        self._nodes: dict[str, _Node] = {}
        self._order: list[str] = []  # creation order, all platforms
        self._files: dict[str, tuple[int, int, tuple[int, int, int]]] = {}
        self._served = 0  # rotates CDN signatures like Meta's ``oh``/``oe`` parameters

    # -- mutations ---------------------------------------------------------------------------
    def _tick(self, at: datetime | None) -> datetime:
        self._now = at if at is not None else self._now + timedelta(minutes=7)
        return self._now

    def _photo(self, seed: str) -> str:
        key = hashlib.sha1(seed.encode()).hexdigest()[:20]
        digest = hashlib.sha1(key.encode()).digest()
        self._files[key] = (8 + digest[0] % 8, 6 + digest[1] % 6, (digest[2], digest[3], digest[4]))
        return key

    def add_post(
        self,
        message: str,
        *,
        platform: str = "facebook",
        photos: int = 0,
        at: datetime | None = None,
        author: tuple[str, str] | None = None,
    ) -> str:
        """A Page post (``platform="facebook"``) or an Instagram media item; returns its id."""
        with self._lock:
            when = self._tick(at)
            self._seq += 1
            if platform == "facebook":
                nid = f"{self.page_id}_{122100000000000000 + self._seq}"
                aid, aname = author or (self.page_id, self.page_name)
            elif platform == "instagram":
                nid = str(17900000000000000 + self._seq)
                aid, aname = author or (self.ig_user_id, self.ig_username)
            else:
                raise ValueError(f"unknown platform {platform!r}")
            node = _Node(nid, platform, when, message, when, aid, aname, [])
            node.photos = [self._photo(f"{nid}/{i}") for i in range(photos)]
            self._nodes[nid] = node
            self._order.append(nid)
            return nid

    def edit_post(self, node_id: str, text: str) -> None:
        """Change a post's message / media caption (or a comment's text)."""
        with self._lock:
            node = self._nodes[node_id]
            node.text = text
            node.updated = self._tick(None)

    def delete_post(self, node_id: str) -> None:
        with self._lock:
            self._nodes[node_id].deleted = True

    def add_comment(
        self,
        post_id: str,
        text: str,
        *,
        author: tuple[str, str] = ("5550001", "Maria Lopez"),
        parent: str | None = None,
        hidden: bool = False,
        photo: bool = False,
        at: datetime | None = None,
    ) -> str:
        """A comment on a post, or (``parent=``) a reply to a comment or to a reply."""
        with self._lock:
            post = self._nodes[post_id]
            if parent is not None and self._nodes[parent].post_id != post_id:
                raise ValueError("parent comment belongs to another post")
            when = self._tick(at)
            self._seq += 1
            if post.platform == "facebook":
                nid = f"{post_id.split('_')[-1]}_{300000000000000 + self._seq}"
            else:
                nid = str(18000000000000000 + self._seq)
            node = _Node(nid, post.platform, when, text, when, author[0], author[1], [])
            node.post_id = post_id
            node.parent_id = parent
            node.hidden = hidden
            if photo:
                node.photos = [self._photo(nid)]
            post.updated = when  # Meta bumps a post's updated_time on comment activity
            self._nodes[nid] = node
            self._order.append(nid)
            return nid

    def hide_comment(self, comment_id: str, hidden: bool = True) -> None:
        with self._lock:
            self._nodes[comment_id].hidden = hidden

    def hide_post(self, post_id: str, hidden: bool = True) -> None:
        """Hide a Page post from the Page's timeline (it stays listed to the Page token)."""
        with self._lock:
            self._nodes[post_id].hidden = hidden

    def delete_comment(self, comment_id: str) -> None:
        with self._lock:
            self._nodes[comment_id].deleted = True

    def corrupt(self, node_id: str, corrupt: bool = True) -> None:
        """Serve this node with an unreadable timestamp (a malformed entry in a good page)."""
        with self._lock:
            self._nodes[node_id].corrupt = corrupt

    def set_follower_count(
        self, count: int, *, platform: str = "facebook", fan_count: int | None = None
    ) -> None:
        with self._lock:
            self.followers[platform] = count
            if platform == "facebook":
                self.fan_count = count if fan_count is None else fan_count

    def expire_token(self, on: datetime | None = None) -> None:
        """From now on every call fails with code 190 / subcode 463, as an expired token does."""
        with self._lock:
            self.token_expired_on = on or self._now

    def deny(self, edge: str) -> None:
        """Answer ``edge`` (comments, replies, media, posts, node, debug_token) with a code 10
        permission error, as for a token missing a permission."""
        with self._lock:
            self.denied.add(edge)

    def throttle(self, times: int = 1, code: int = 4) -> None:
        """The next ``times`` API calls fail with ``code``: 4 = application request limit
        reached (a rate limit), 2 = unexpected error with ``is_transient`` (HTTP 400 here so the
        connector's own retry is exercised; a 5xx is retried by the recorder already)."""
        with self._lock:
            self._throttle_left += times
            self._throttle_code = code

    # -- HTTP --------------------------------------------------------------------------------
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
            host = header(headers, "Host") or "graph.facebook.com"
            base = f"http://{host}"
            if path.startswith("/cdn/"):
                return self._file(path)
            prefix = f"/{self.version}/"
            if not path.startswith(prefix):
                return None
            parts = [p for p in path[len(prefix) :].split("/") if p]
            usage = self._usage_headers(parts)
            resp = self._authorize(query, headers)
            if resp is None and self._throttle_left > 0:
                self._throttle_left -= 1
                if self._throttle_code == 2:
                    resp = _error(
                        "An unexpected error has occurred. Please retry your request later.",
                        2,
                        transient=True,
                    )
                else:
                    resp = _error(
                        f"(#{self._throttle_code}) Application request limit reached",
                        self._throttle_code,
                        subcode=2446079,
                    )
                usage["x-app-usage"] = json.dumps(
                    {"call_count": 100, "total_cputime": 40, "total_time": 40}
                )
            if resp is None:
                resp = self._route(parts, query, base, path, headers)
            resp.headers.update(usage)
            return resp

    def _usage_headers(self, parts: list[str]) -> dict[str, str]:
        pct = self.app_usage
        out = {
            "x-app-usage": json.dumps(
                {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}
            ),
            "x-fb-trace-id": _fbtrace(self._served),
            "facebook-api-version": self.version,
        }
        if parts and parts[0] == self.ig_user_id:
            out["x-business-use-case-usage"] = json.dumps(
                {
                    self.page_id: [
                        {
                            "type": "instagram",
                            "call_count": pct,
                            "total_cputime": pct // 2,
                            "total_time": pct // 2,
                            "estimated_time_to_regain_access": 0,
                        }
                    ]
                }
            )
        return out

    def _authorize(
        self, query: Mapping[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if self.token is None:
            return None
        given = (query.get("access_token") or [""])[0]
        auth = header(headers, "Authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given:
            return _error("An access token is required to request this resource.", 104)
        if given != self.token:
            return _error("Invalid OAuth access token - Cannot parse access token", 190)
        if self.token_expired_on is not None:
            when = self.token_expired_on.strftime("%A, %d-%b-%y %H:%M:%S UTC")
            return _error(
                f"Error validating access token: Session has expired on {when}. "
                f"The current time is {datetime.now(UTC).strftime('%A, %d-%b-%y %H:%M:%S PST')}.",
                190,
                subcode=463,
            )
        return None

    def _file(self, path: str) -> FakeResponse | None:
        key = path.rsplit("/", 1)[-1].removesuffix(".png")
        spec = self._files.get(key)
        if spec is None:
            return None
        w, h, rgb = spec
        return FakeResponse(200, png_bytes(w, h, rgb), {"Content-Type": "image/png"})

    def _denied(self, edge: str) -> FakeResponse:
        perm = {
            "comments": "pages_read_user_content",
            "replies": "instagram_manage_comments",
            "debug_token": "the app access token",
        }.get(edge, "pages_read_engagement")
        return _error(
            f"(#10) This endpoint requires the '{perm}' permission or the "
            "'Page Public Content Access' feature.",
            10,
            status=403,
        )

    def _missing(self, node_id: str) -> FakeResponse:
        return _error(
            f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            100,
            subcode=33,
            kind="GraphMethodException",
        )

    def _route(
        self,
        parts: list[str],
        query: dict[str, list[str]],
        base: str,
        path: str,
        headers: Mapping[str, str],
    ) -> FakeResponse:
        self._served += 1
        fields = parse_fields(_q(query, "fields"))
        if parts == ["debug_token"]:
            if "debug_token" in self.denied:
                return self._denied("debug_token")
            return self._debug_token(_q(query, "input_token"))
        if len(parts) == 1:
            if "node" in self.denied:
                return self._denied("node")
            return self._node_read(parts[0], fields, base)
        if len(parts) != 2:
            return _error(f"Unknown path components: /{'/'.join(parts[2:])}", 2500)
        owner, edge = parts
        if edge in self.denied:
            return self._denied(edge)
        if owner == self.page_id and edge in ("posts", "feed", "published_posts"):
            items = [
                n
                for n in self._newest_first("facebook")
                if n.parent_id is None
                and not n.post_id
                and (edge == "feed" or n.author_id == self.page_id)
            ]
            items = _time_window(items, query)
            return self._page(items, "fb_post", fields, query, base, path)
        if owner == self.ig_user_id and edge == "media":
            items = [n for n in self._newest_first("instagram") if not n.post_id]
            items = _time_window(items, query)
            return self._page(items, "ig_media", fields, query, base, path)
        node = self._nodes.get(owner)
        if node is None or node.deleted:
            return self._missing(owner)
        if edge == "comments" and node.platform == "facebook":
            return self._fb_comments(node, fields, query, base, path)
        if edge == "comments" and node.platform == "instagram" and not node.post_id:
            top = [c for c in self._oldest_first(node.id) if c.parent_id is None]
            return self._page(top, "ig_comment", fields, query, base, path)
        if edge == "replies" and node.platform == "instagram" and node.post_id:
            return self._page(self._ig_replies(node), "ig_comment", fields, query, base, path)
        return _error(
            f"(#100) Tried accessing nonexisting field ({edge}) on node type "
            f"({'Comment' if node.post_id else 'Post'})",
            100,
        )

    # -- data --------------------------------------------------------------------------------
    def _newest_first(self, platform: str) -> list[_Node]:
        nodes = [
            self._nodes[i]
            for i in self._order
            if self._nodes[i].platform == platform and not self._nodes[i].deleted
        ]
        return sorted(nodes, key=lambda n: n.created, reverse=True)

    def _oldest_first(self, post_id: str) -> list[_Node]:
        """Comments of a post, chronological; a deleted comment takes its replies with it."""
        out = []
        for i in self._order:
            n = self._nodes[i]
            if n.post_id != post_id or n.deleted:
                continue
            anc = n.parent_id
            gone = False
            while anc is not None:
                if self._nodes[anc].deleted:
                    gone = True
                    break
                anc = self._nodes[anc].parent_id
            if not gone:
                out.append(n)
        return out

    def _ig_replies(self, comment: _Node) -> list[_Node]:
        """Instagram threads are one level deep: a reply to a reply lists under the top
        comment."""
        out = []
        for n in self._oldest_first(comment.post_id):
            top = n
            while top.parent_id is not None:
                top = self._nodes[top.parent_id]
            if n is not top and top.id == comment.id:
                out.append(n)
        return out

    def _fb_comments(
        self,
        node: _Node,
        fields: dict[str, str | None],
        query: dict[str, list[str]],
        base: str,
        path: str,
    ) -> FakeResponse:
        post_id = node.post_id or node.id
        everything = self._oldest_first(post_id)
        if node.post_id:  # /{comment-id}/comments: direct replies only
            items = [c for c in everything if c.parent_id == node.id]
        elif _q(query, "filter") == "stream":
            items = everything
        else:
            items = [c for c in everything if c.parent_id is None]
        if _q(query, "order") == "reverse_chronological":
            items.reverse()
        resp = self._page(items, "fb_comment", fields, query, base, path)
        if _q(query, "summary") in ("true", "1", "total_count"):
            payload = json.loads(resp.body)
            payload["summary"] = {
                "order": "chronological",
                "total_count": len(items),
                "can_comment": True,
            }
            return json_response(payload, resp.status)
        return resp

    def _cdn(self, key: str, base: str) -> str:
        """Meta CDN URLs carry signatures that change between calls (``oh``, ``oe``)."""
        sig = hashlib.sha1(f"{key}/{self._served}".encode()).hexdigest()[:32]
        return f"{base}/cdn/v/t39.30808-6/{key}.png?_nc_cat=105&oh=00_{sig}&oe=6743{self._served % 9999:04d}"

    def _render(
        self, n: _Node, kind: str, fields: dict[str, str | None], base: str
    ) -> dict[str, Any]:
        created = "not-a-time" if n.corrupt else graph_time(n.created)
        full: dict[str, Any] = {"id": n.id}
        if kind == "fb_post":
            full.update(
                message=n.text,
                created_time=created,
                updated_time=graph_time(n.updated),
                permalink_url=f"https://www.facebook.com/{self.page_id}/posts/{n.id.split('_')[-1]}",
                **{"from": {"name": n.author_name, "id": n.author_id}},
                status_type="added_photos" if n.photos else "mobile_status_update",
                is_hidden=n.hidden,
                is_published=True,
            )
            if n.photos:
                subs = [self._fb_photo(k, base) for k in n.photos]
                first = dict(subs[0])
                if len(subs) > 1:
                    first = {
                        "media_type": "album",
                        "type": "album",
                        "url": full["permalink_url"],
                        "title": "Photos",
                        "subattachments": {"data": subs},
                    }
                full["attachments"] = {"data": [first]}
        elif kind == "fb_comment":
            post_num = n.post_id.split("_")[-1]
            link = f"https://www.facebook.com/{self.page_id}/posts/{post_num}/?comment_id="
            top = n
            while top.parent_id is not None:
                top = self._nodes[top.parent_id]
            link += top.id.split("_")[-1]
            if top is not n:
                link += f"&reply_comment_id={n.id.split('_')[-1]}"
            replies = [c for c in self._oldest_first(n.post_id) if c.parent_id == n.id]
            full.update(
                message=n.text,
                created_time=created,
                **{"from": {"name": n.author_name, "id": n.author_id}},
                is_hidden=n.hidden,
                can_hide=n.author_id != self.page_id,
                like_count=n.like_count,
                comment_count=len(replies),
                permalink_url=link,
            )
            if n.parent_id is not None:
                parent = self._nodes[n.parent_id]
                full["parent"] = {
                    "created_time": graph_time(parent.created),
                    "from": {"name": parent.author_name, "id": parent.author_id},
                    "message": parent.text,
                    "id": parent.id,
                }
            if n.photos:
                full["attachment"] = self._fb_photo(n.photos[0], base)
        elif kind == "ig_media":
            full.update(
                caption=n.text,
                media_type="IMAGE",
                permalink=f"https://www.instagram.com/p/C{n.id[-9:]}/",
                timestamp=created,
                username=self.ig_username,
                comments_count=len(self._oldest_first(n.id)),
                like_count=n.like_count,
            )
            if len(n.photos) > 1:
                full["media_type"] = "CAROUSEL_ALBUM"
                full["media_url"] = self._cdn(n.photos[0], base)
                full["children"] = {
                    "data": [
                        {"media_url": self._cdn(k, base), "media_type": "IMAGE", "id": f"{n.id}{i}"}
                        for i, k in enumerate(n.photos)
                    ]
                }
            elif n.photos:
                full["media_url"] = self._cdn(n.photos[0], base)
        elif kind == "ig_comment":
            full.update(
                text=n.text,
                timestamp=created,
                username=n.author_name,
                **{"from": {"id": n.author_id, "username": n.author_name}},
                hidden=n.hidden,
                like_count=n.like_count,
                media={"id": n.post_id},
            )
            if n.parent_id is not None:
                top = n
                while top.parent_id is not None:
                    top = self._nodes[top.parent_id]
                full["parent_id"] = top.id
            elif "replies" in fields:
                reps = self._ig_replies(n)
                sub = parse_fields(fields["replies"])
                full["replies"] = self._listing(
                    reps,
                    "ig_comment",
                    sub,
                    {"fields": [fields["replies"] or ""]},
                    base,
                    f"/{self.version}/{n.id}/replies",
                    limit=min(DEFAULT_LIMIT, self.max_limit),
                )
        wanted = set(fields) if fields else set(_DEFAULT_FIELDS[kind])
        out = {k: v for k, v in full.items() if k == "id" or k in wanted}
        if kind == "fb_comment" and self.withhold_comment_ids:
            out.pop("id")
        return out

    def _fb_photo(self, key: str, base: str) -> dict[str, Any]:
        w, h, _ = self._files[key]
        return {
            "media": {"image": {"height": h, "src": self._cdn(key, base), "width": w}},
            "media_type": "photo",
            "type": "photo",
            "target": {
                "id": str(int(key[:12], 16)),
                "url": f"https://www.facebook.com/photo/?fbid={int(key[:12], 16)}",
            },
            "url": f"https://www.facebook.com/photo/?fbid={int(key[:12], 16)}",
            "description": f"Photo {key[:6]}",
        }

    def _listing(
        self,
        items: list[_Node],
        kind: str,
        fields: dict[str, str | None],
        query: Mapping[str, list[str]],
        base: str,
        path: str,
        *,
        limit: int,
    ) -> dict[str, Any]:
        start = 0
        after = _q(query, "after")
        if after:
            try:
                start = int(base64.b64decode(after).decode().split(":")[1])
            except (ValueError, IndexError):
                start = len(items)
        page = items[start : start + limit]
        data = [self._render(n, kind, fields, base) for n in page]
        out: dict[str, Any] = {"data": data}
        if page:
            before = base64.b64encode(f"pos:{start}".encode()).decode()
            after_c = base64.b64encode(f"pos:{start + len(page)}".encode()).decode()
            paging: dict[str, Any] = {"cursors": {"before": before, "after": after_c}}
            if start + len(page) < len(items):
                kept = [
                    (k, v)
                    for k, vs in query.items()
                    if k not in ("after", "before", "limit")
                    for v in vs
                ]
                kept += [("limit", str(limit)), ("after", after_c)]
                paging["next"] = f"{self.paging_base or base}{path}?{urlencode(kept)}"
            if start > 0:
                kept = [
                    (k, v)
                    for k, vs in query.items()
                    if k not in ("after", "before", "limit")
                    for v in vs
                ]
                kept += [("limit", str(limit)), ("before", before)]
                paging["previous"] = f"{base}{path}?{urlencode(kept)}"
            out["paging"] = paging
        return out

    def _page(
        self,
        items: list[_Node],
        kind: str,
        fields: dict[str, str | None],
        query: dict[str, list[str]],
        base: str,
        path: str,
    ) -> FakeResponse:
        raw = _q(query, "limit")
        limit = int(raw) if raw and raw.isdigit() and int(raw) > 0 else DEFAULT_LIMIT
        limit = min(limit, self.max_limit)
        return json_response(self._listing(items, kind, fields, query, base, path, limit=limit))

    def _node_read(self, node_id: str, fields: dict[str, str | None], base: str) -> FakeResponse:
        if node_id == self.page_id:
            full: dict[str, Any] = {
                "id": self.page_id,
                "name": self.page_name,
                "username": "cityofbozeman",
                "fan_count": self.fan_count,
                "followers_count": self.followers["facebook"],
                "link": "https://www.facebook.com/cityofbozeman",
                "about": self.page_about,
                "website": "https://www.bozeman.net",
                "picture": {"data": {"url": f"{base}/cdn/{self._photo(self.page_picture)}.png"}},
                "cover": {"id": "cover-1", "source": f"{base}/cdn/{self._photo('cover-1')}.png"},
                "verification_status": "not_verified",
            }
            wanted = set(fields) or {"id", "name"}
            return json_response({k: v for k, v in full.items() if k == "id" or k in wanted})
        if node_id == self.ig_user_id:
            full = {
                "id": self.ig_user_id,
                "username": self.ig_username,
                "name": self.page_name,
                "followers_count": self.followers["instagram"],
                "media_count": len([n for n in self._newest_first("instagram") if not n.post_id]),
                "biography": "Official account of the City of Bozeman, Montana.",
            }
            wanted = set(fields) or {"id"}
            return json_response({k: v for k, v in full.items() if k == "id" or k in wanted})
        node = self._nodes.get(node_id)
        if node is None or node.deleted:
            return self._missing(node_id)
        kind = {
            ("facebook", False): "fb_post",
            ("facebook", True): "fb_comment",
            ("instagram", False): "ig_media",
            ("instagram", True): "ig_comment",
        }[(node.platform, bool(node.post_id))]
        return json_response(self._render(node, kind, fields, base))

    def _debug_token(self, input_token: str | None) -> FakeResponse:
        if not input_token:
            return _error("(#100) The parameter input_token is required", 100)
        valid = input_token == self.token and self.token_expired_on is None
        data: dict[str, Any] = {
            "app_id": "900000000000001",
            "type": "PAGE",
            "application": "Bozeman Records Archiver",
            "expires_at": self.token_expires_at,
            "is_valid": valid,
            "issued_at": 1763600000,
            "profile_id": self.page_id,
            "scopes": [
                "pages_show_list",
                "pages_read_engagement",
                "pages_read_user_content",
                "pages_manage_engagement",
                "instagram_basic",
                "instagram_manage_comments",
            ],
            "user_id": "10160000000000001",
        }
        if self.data_access_expires_at:
            data["data_access_expires_at"] = self.data_access_expires_at
        if not valid:
            data["error"] = {
                "code": 190,
                "message": "Error validating access token: Session has expired",
                "subcode": 463,
            }
        return json_response({"data": data})


def _time_window(items: list[_Node], query: Mapping[str, list[str]]) -> list[_Node]:
    """``since``/``until`` unix times, inclusive as on the Graph API."""
    since, until = _q(query, "since"), _q(query, "until")
    out = items
    if since and since.isdigit():
        out = [n for n in out if n.created.timestamp() >= int(since)]
    if until and until.isdigit():
        out = [n for n in out if n.created.timestamp() <= int(until)]
    return out


def _q(query: Mapping[str, list[str]], key: str) -> str | None:
    vals = query.get(key)
    return vals[0] if vals else None
