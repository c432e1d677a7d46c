"""A fake Threads API (graph.threads.net v1.0) for one City profile (issue 18 part 2).

Shapes as Meta's Threads API reference documents them:

* ``GET /v1.0/{user-id}?fields=id,username,name,...``: the profile;
* ``GET /v1.0/{user-id}/threads?fields=id,media_product_type,media_type,media_url,text,
  permalink,timestamp,username,shortcode,is_quote_post``: the profile's posts, newest first;
* ``GET /v1.0/{media-id}/replies`` (top-level replies of a post or reply) and
  ``GET /v1.0/{media-id}/conversation`` (every reply under a post, flattened) with fields
  ``id,text,username,timestamp,hide_status,has_replies,root_post,replied_to,is_reply``;
  ``root_post`` and ``replied_to`` are ``{"id": ...}`` objects; ``hide_status`` is
  ``NOT_HUSHED``, ``UNHUSHED`` or ``HIDDEN`` (the owner hid it; still listed to the owner);
* ``GET /v1.0/{user-id}/threads_insights?metric=followers_count``:
  ``{"data": [{"name": "followers_count", "period": "day", "title", "description",
  "total_value": {"value": N}, "id"}]}``.

Lists are paged with ``limit`` and cursors: ``paging.cursors.{before,after}`` on every page and
``paging.next`` (an absolute URL with ``after``) only while more rows follow, as the Graph
API does; a request with the last page's ``after`` gets an empty ``data`` list.

Errors in the Graph shape: code 190 for an expired token; code 10 ("Application does not
have permission for this action") when the scope an endpoint needs (``threads_basic``,
``threads_read_replies``, ``threads_manage_insights``) was not granted. Media files are served
under ``/cdn/`` with signed query parameters that change on every listing, like Meta's CDN.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fakeplatforms.mastodon import png_bytes
from fakeplatforms.server import FakeResponse, header, json_response

__all__ = ["ThreadsWorld"]

V = "/v1.0"
HIDE_STATUSES = ("NOT_HUSHED", "UNHUSHED", "HIDDEN")


def _error(status: int, code: int, message: str, kind: str = "OAuthException") -> FakeResponse:
    body = {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "ThRdTrace"}}
    return FakeResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


@dataclass
class _Node:
    id: str
    username: str
    text: str
    at: datetime
    parent: str | None = None  # None: a post of the profile
    root: str | None = None
    hide_status: str = "NOT_HUSHED"
    media: bool = False


@dataclass
class ThreadsWorld:
    """Serves one profile's posts, replies and follower insight; implements ``FakeApp``."""

    token: str
    user_id: str = "17841401234567890"
    username: str = "cityofbozeman"
    page_size: int = 25
    followers: int = 3120
    insights_broken: bool = False  # True: the insight answers a Graph error code 100
    send_next: bool = True  # False: pages carry only paging.cursors (no paging.next URL)
    granted: set[str] = field(
        default_factory=lambda: {"threads_basic", "threads_read_replies", "threads_manage_insights"}
    )
    _nodes: dict[str, _Node] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)
    _n: int = 0
    _served: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- the world ------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._clock

    def _id(self) -> str:
        self._n += 1
        return f"1801{self._n:011d}"

    def post(self, text: str, *, age: timedelta | None = None, media: bool = False) -> str:
        with self._lock:
            self._clock += timedelta(minutes=1)
            node = _Node(self._id(), self.username, text, self._clock - (age or timedelta(0)))
            node.root, node.media = node.id, media
            self._nodes[node.id] = node
            self._order.append(node.id)
            return node.id

    def reply(self, parent_id: str, text: str, *, username: str = "maria.bzn") -> str:
        with self._lock:
            self._clock += timedelta(minutes=1)
            parent = self._nodes[parent_id]
            node = _Node(self._id(), username, text, self._clock, parent_id, parent.root)
            self._nodes[node.id] = node
            self._order.append(node.id)
            return node.id

    def edit(self, media_id: str, text: str) -> None:
        with self._lock:
            self._nodes[media_id].text = text

    def hide(self, reply_id: str, hidden: bool = True) -> None:
        """The owner hides (or unhides) a top-level reply, and with it the nested ones."""
        with self._lock:
            status = "HIDDEN" if hidden else "UNHUSHED"
            for node in self._nodes.values():
                if node.id == reply_id or self._under(node, reply_id):
                    node.hide_status = status

    def delete(self, media_id: str) -> None:
        with self._lock:
            gone = {
                n.id for n in self._nodes.values() if n.id == media_id or self._under(n, media_id)
            }
            for nid in gone:
                del self._nodes[nid]
            self._order = [i for i in self._order if i not in gone]

    def expire_token(self) -> None:
        self.token = "a-token-issued-after-ours"

    def _under(self, node: _Node, ancestor: str) -> bool:
        parent = node.parent
        while parent is not None:
            if parent == ancestor:
                return True
            above = self._nodes.get(parent)
            parent = above.parent if above else None
        return False

    # -- HTTP -----------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method != "GET":
            return None
        if path.startswith("/cdn/"):
            return FakeResponse(200, png_bytes(8, 6, (30, 90, 160)), {"Content-Type": "image/png"})
        if not path.startswith(V + "/"):
            return None
        if header(headers, "Authorization") != f"Bearer {self.token}":
            return _error(400, 190, "Error validating access token: Session has expired.")
        base = f"http://{header(headers, 'Host') or '127.0.0.1'}"
        parts = path[len(V) + 1 :].split("/")
        with self._lock:
            if parts in ([self.user_id], ["me"]):
                return self._need("threads_basic") or json_response(
                    {"id": self.user_id, "username": self.username, "name": "City of Bozeman"}
                )
            if len(parts) != 2:
                return None
            target, edge = parts
            if target in (self.user_id, "me") and edge == "threads":
                rows = [
                    self._render_post(self._nodes[i], base)
                    for i in reversed(self._order)
                    if self._nodes[i].parent is None
                ]
                return self._need("threads_basic") or self._page(rows, path, query, base)
            if target in (self.user_id, "me") and edge == "threads_insights":
                return self._need("threads_manage_insights") or self._insights(query)
            if edge in ("replies", "conversation"):
                if target not in self._nodes:
                    return _error(
                        400, 100, "Unsupported get request. Object does not exist.",
                        "GraphMethodException",
                    )  # fmt: skip
                if edge == "replies":
                    picked = [n for n in self._nodes.values() if n.parent == target]
                else:
                    picked = [
                        n for n in self._nodes.values() if n.id != target and n.root == target
                    ]
                picked.sort(key=lambda n: n.at)
                if (query.get("reverse") or ["true"])[0] != "false":
                    picked.reverse()
                rows = [self._render_reply(n) for n in picked]
                return self._need("threads_read_replies") or self._page(rows, path, query, base)
        return None

    def _need(self, scope: str) -> FakeResponse | None:
        if scope in self.granted:
            return None
        return _error(403, 10, "Application does not have permission for this action")

    def _page(
        self, rows: list[dict[str, Any]], path: str, query: dict[str, list[str]], base: str
    ) -> FakeResponse:
        self._served += 1
        first = int((query.get("after") or ["0"])[0] or 0)
        limit = min(int((query.get("limit") or [str(self.page_size)])[0]), self.page_size)
        page = rows[first : first + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": str(first), "after": str(first + len(page))}}
            if self.send_next and first + limit < len(rows):
                q = {k: v[0] for k, v in query.items() if k != "after"}
                q["after"] = str(first + limit)
                body["paging"]["next"] = f"{base}{path}?{urlencode(q)}"
        return json_response(body)

    def _insights(self, query: dict[str, list[str]]) -> FakeResponse:
        metrics = (query.get("metric") or [""])[0].split(",")
        if metrics != ["followers_count"] or self.insights_broken:
            return _error(400, 100, "(#100) The value must be a valid insights metric")
        return json_response(
            {
                "data": [
                    {
                        "name": "followers_count",
                        "period": "day",
                        "title": "followers_count",
                        "description": "The number of followers on your profile.",
                        "total_value": {"value": self.followers},
                        "id": f"{self.user_id}/insights/followers_count/day",
                    }
                ]
            }
        )

    def _render_post(self, n: _Node, base: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": n.id,
            "media_product_type": "THREADS",
            "media_type": "IMAGE" if n.media else "TEXT_POST",
            "permalink": f"https://www.threads.net/@{n.username}/post/C{n.id[-6:]}",
            "username": n.username,
            "text": n.text,
            "timestamp": _iso(n.at),
            "shortcode": f"C{n.id[-6:]}",
            "is_quote_post": False,
        }
        if n.media:
            sig = f"{self._served:04d}"
            row["media_url"] = f"{base}/cdn/t51.2885-15/{n.id}.png?oh=00_{sig}&oe=6743{sig}"
        return row

    def _render_reply(self, n: _Node) -> dict[str, Any]:
        return {
            "id": n.id,
            "text": n.text,
            "username": n.username,
            "timestamp": _iso(n.at),
            "hide_status": n.hide_status,
            "has_replies": any(m.parent == n.id for m in self._nodes.values()),
            "root_post": {"id": n.root},
            "replied_to": {"id": n.parent},
            "is_reply": True,
        }


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
