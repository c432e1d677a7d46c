"""Fake live sources: a Mastodon instance with the user stream (SSE) and notifications.

``LiveMastodon`` is a ``MastodonWorld`` that also logs every create, edit and delete as the
events Mastodon's user stream sends (``update``, ``status.update``, ``delete``,
``notification``), served by ``GET /api/v1/streaming/user`` as ``text/event-stream``. By
default the fake ends the response after the pending events (a stream that disconnects);
with ``hold_stream`` it keeps the connection open like Mastodon, sending each new event as it
happens and a ``:thump`` heartbeat every ``heartbeat`` seconds, and hangs up after
``drop_after`` seconds when that is set (a flaky stream). Events are numbered with the
standard SSE ``id:`` field; ``Last-Event-ID`` (or ``since_event`` in the query)
resumes after one, so a test can show a restart losing nothing. Real Mastodon sends no ids:
there the fast lane relies on the notifications poll and the sweeps to fill a gap.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from fakeplatforms.bluesky import BlueskyWorld
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeResponse, header, iso_ms, json_response
from fakeplatforms.x import XWorld


class LiveMastodon(MastodonWorld):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._events: list[tuple[int, str, str]] = []  # (id, event, data)
        self._notifications: list[dict[str, Any]] = []
        self._ev_lock = threading.Lock()
        self._ev_cond = threading.Condition(self._ev_lock)
        self.stream_requests = 0
        self.hold_stream = False
        self.heartbeat = 0.5
        self.drop_after: float | None = None

    def _emit(self, event: str, data: str) -> None:
        with self._ev_cond:
            self._events.append((len(self._events) + 1, event, data))
            self._ev_cond.notify_all()

    @staticmethod
    def _sse(events: list[tuple[int, str, str]]) -> bytes:
        return "".join(f"id: {i}\nevent: {ev}\ndata: {data}\n\n" for i, ev, data in events).encode()

    def _follow(self, after: int) -> Iterator[bytes]:
        """New events as they happen, heartbeats between them, until ``drop_after``."""
        started = time.monotonic()
        while self.drop_after is None or time.monotonic() - started < self.drop_after:
            with self._ev_cond:
                if not self._events or self._events[-1][0] <= after:
                    self._ev_cond.wait(self.heartbeat)
                pending = [e for e in self._events if e[0] > after]
            if pending:
                after = pending[-1][0]
                yield self._sse(pending)
            else:
                yield b":thump\n\n"

    def post_status(self, account_id: str, text: str, **kwargs: Any) -> dict[str, Any]:
        status = super().post_status(account_id, text, **kwargs)
        self._emit("update", json.dumps(status))
        parent = kwargs.get("in_reply_to_id")
        if parent is not None:
            n = {
                "id": str(len(self._notifications) + 1),
                "type": "mention",
                "created_at": status["created_at"],
                "account": status["account"],
                "status": status,
            }
            self._notifications.append(n)
            self._emit("notification", json.dumps(n))
        return status

    def edit_status(
        self, status_id: str, new_text: str, *, edited_at: datetime | None = None
    ) -> dict[str, Any]:
        status = super().edit_status(status_id, new_text, edited_at=edited_at)
        self._emit("status.update", json.dumps(status))
        return status

    def delete_status(self, status_id: str) -> None:
        super().delete_status(status_id)
        self._emit("delete", str(status_id))

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if method == "GET" and path == "/api/v1/streaming/user":
            self.stream_requests += 1
            since = header(headers, "Last-Event-ID") or (query.get("since_event") or ["0"])[0]
            after = int(since) if since.isdigit() else 0
            with self._ev_lock:
                pending = [e for e in self._events if e[0] > after]
            body = b":)\n\n" + self._sse(pending)
            kind = {"Content-Type": "text/event-stream; charset=utf-8"}
            if self.hold_stream:
                after = pending[-1][0] if pending else after
                return FakeResponse(200, body, kind, stream=self._follow(after))
            return FakeResponse(200, body, kind)
        if method == "GET" and path == "/api/v1/notifications":
            since_id = (query.get("since_id") or ["0"])[0]
            floor = int(since_id) if since_id.isdigit() else 0
            newer = [n for n in self._notifications if int(n["id"]) > floor]
            return json_response(list(reversed(newer))[:40])
        return super().handle(method, path, query, headers)


class LiveX(XWorld):
    """An ``XWorld`` that also answers ``/2/users/:id/mentions`` and ``/2/tweets?ids=``."""

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        parts = path.rstrip("/").split("/")
        mentions = len(parts) == 5 and parts[2] == "users" and parts[4] == "mentions"
        if method == "GET" and (mentions or path == "/2/tweets"):
            auth = header(headers, "Authorization") or ""
            if auth != f"Bearer {self.bearer_token}":
                return super().handle(method, path, query, headers)  # the 401 it answers
            with self._lock:
                base = f"http://{header(headers, 'Host') or 'x.example'}"
                return self._mentions(parts[3], query, base) if mentions else self._lookup(query)
        return super().handle(method, path, query, headers)

    def _mentions(self, user_id: str, query: dict[str, list[str]], base: str) -> FakeResponse:
        user = self._users[user_id]
        since = (query.get("since_id") or [""])[0]
        rows = [
            t
            for t in sorted(self._tweets, key=lambda t: int(t.ids[-1]), reverse=True)
            if not t.deleted
            and t.author_id != user_id
            and (t.in_reply_to_user_id == user_id or f"@{user.username}" in t.texts[-1])
            and (not since or int(t.ids[-1]) > int(since))
        ]
        return self._body(rows[:100], None, query, base)

    def _lookup(self, query: dict[str, list[str]]) -> FakeResponse:
        ids = ",".join(query.get("ids") or []).split(",")
        fields = {"conversation_id", "author_id", "created_at", "referenced_tweets"}
        found, errors = [], []
        for i in ids:
            tw = self._by_id.get(i)
            if tw is None or tw.deleted:
                errors.append(
                    {
                        "value": i,
                        "detail": f"Could not find tweet with ids: [{i}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": i,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
            else:
                found.append(self._tweet_json(tw, fields))
        body: dict[str, Any] = {}
        if found:
            body["data"] = found
        if errors:
            body["errors"] = errors
        return json_response(body)


class LiveBluesky(BlueskyWorld):
    """A ``BlueskyWorld`` that also answers ``listNotifications`` (replies to and mentions of
    each actor, newest first) and ``app.bsky.feed.getPosts`` (deleted posts are left out)."""

    notify_did: str = ""

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if method == "GET" and path == "/xrpc/app.bsky.notification.listNotifications":
            with self._lock:
                return self._notifications(f"http://{header(headers, 'Host') or 'bsky.example'}")
        if method == "GET" and path == "/xrpc/app.bsky.feed.getPosts":
            with self._lock:
                base = f"http://{header(headers, 'Host') or 'bsky.example'}"
                uris = query.get("uris") or []
                posts = [
                    self._post_view(self._posts[u], base)
                    for u in uris
                    if u in self._posts and not self._posts[u].deleted
                ]
                return json_response({"posts": posts})
        return super().handle(method, path, query, headers)

    def _notifications(self, base: str) -> FakeResponse:
        me = self.notify_did
        out = []
        for p in sorted(self._posts.values(), key=lambda p: p.indexed_at, reverse=True):
            if p.deleted or p.author == me or p.parent is None:
                continue
            if self._posts[p.parent].author != me:
                continue
            view = self._post_view(p, base)
            out.append(
                {
                    "uri": p.uri,
                    "cid": p.cid,
                    "author": view["author"],
                    "reason": "reply",
                    "reasonSubject": p.parent,
                    "record": view["record"],
                    "isRead": False,
                    "indexedAt": iso_ms(p.indexed_at),
                    "labels": [],
                }
            )
        return json_response({"notifications": out[:50], "seenAt": iso_ms(datetime.now(UTC))})
