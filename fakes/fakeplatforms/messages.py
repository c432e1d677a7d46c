"""A fake Graph Conversations API: a Page's Messenger and Instagram inboxes (issue 18 part 1).

Shapes as the Graph API documents them: ``GET /{page-id}/conversations?platform=messenger|
instagram`` lists ``{id, updated_time}``; ``GET /{conversation-id}/messages`` lists ``{id,
created_time, from{id,name}, to{data:[...]}, message, attachments{data:[...]}}`` newest first,
both paged with ``paging.next`` absolute URLs carrying an ``after`` cursor. The API gives the
details of only the ``recent`` newest messages of a conversation; older ones are listed by id
only (``message`` and ``from`` absent), as the real API does past its limit.

Errors in the Graph shape: code 190 for an expired token, code 200 naming ``pages_messaging``
(or ``instagram_manage_messages``) when the permission was not granted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fakeplatforms.server import FakeResponse, header

__all__ = ["MessagesWorld"]

V = "/v21.0"


def _graph_error(
    status: int, code: int, message: str, kind: str = "OAuthException"
) -> FakeResponse:
    body = {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf"}}
    return FakeResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


@dataclass
class _Message:
    id: str
    created: datetime
    sender: tuple[str, str]
    text: str


@dataclass
class _Conversation:
    id: str
    platform: str
    messages: list[_Message] = field(default_factory=list)


class MessagesWorld:
    """Serves one Page's conversations; implements ``FakeApp``."""

    def __init__(self, *, token: str, page_id: str = "104000000000001") -> None:
        self.token = token
        self.page_id = page_id
        self.page_name = "City of Bozeman"
        self.granted = {"pages_messaging", "instagram_manage_messages"}
        self.page_size = 25
        self.recent = 20  # messages with full details per conversation
        self._lock = threading.RLock()
        self._convs: dict[str, _Conversation] = {}
        self._n = 0
        self._clock = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)

    def _next_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:06d}"

    def add_conversation(self, platform: str = "messenger") -> str:
        with self._lock:
            cid = self._next_id("t_")
            self._convs[cid] = _Conversation(cid, platform)
            return cid

    def add_message(self, conversation_id: str, text: str, *, from_page: bool = False) -> str:
        with self._lock:
            self._clock += timedelta(minutes=1)
            sender = (self.page_id, self.page_name) if from_page else ("555000111", "Maria R.")
            mid = self._next_id("m_")
            self._convs[conversation_id].messages.append(_Message(mid, self._clock, sender, text))
            return mid

    def delete_message(self, message_id: str) -> None:
        with self._lock:
            for conv in self._convs.values():
                conv.messages = [m for m in conv.messages if m.id != message_id]

    def expire_token(self) -> None:
        self.token = "a-token-issued-after-ours"

    # -- HTTP ----------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method != "GET" or not path.startswith(V + "/"):
            return None
        if header(headers, "Authorization") != f"Bearer {self.token}":
            return _graph_error(400, 190, "Error validating access token: Session has expired.")
        parts = path[len(V) + 1 :].split("/")
        if len(parts) != 2:
            return None
        host = header(headers, "Host") or "127.0.0.1"
        first = int((query.get("after") or ["0"])[0] or 0)
        limit = min(int((query.get("limit") or [str(self.page_size)])[0]), self.page_size)
        with self._lock:
            if parts == [self.page_id, "conversations"]:
                platform = (query.get("platform") or ["messenger"])[0]
                need = "instagram_manage_messages" if platform == "instagram" else "pages_messaging"
                if need not in self.granted:
                    return _graph_error(
                        403, 200, f"(#200) Requires {need} permission to manage the object"
                    )
                convs = [c for c in self._convs.values() if c.platform == platform]
                rows: list[dict[str, Any]] = [
                    {
                        "id": c.id,
                        "updated_time": _iso(
                            max((m.created for m in c.messages), default=self._clock)
                        ),
                    }
                    for c in convs
                ]
            elif parts[1] == "messages" and parts[0] in self._convs:
                conv = self._convs[parts[0]]
                newest = list(reversed(conv.messages))
                rows = [
                    self._render(m, conv) if i < self.recent else {"id": m.id}
                    for i, m in enumerate(newest)
                ]
            else:
                return _graph_error(
                    400,
                    100,
                    "Unsupported get request. Object does not exist.",
                    "GraphMethodException",
                )
        page = rows[first : first + limit]
        body: dict[str, Any] = {"data": page}
        if first + limit < len(rows):
            q = {k: v[0] for k, v in query.items() if k != "after"}
            q["after"] = str(first + limit)
            qs = urlencode(q)
            body["paging"] = {
                "cursors": {"after": str(first + limit)},
                "next": f"http://{host}{path}?{qs}",
            }
        return FakeResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _render(self, m: _Message, conv: _Conversation) -> dict[str, Any]:
        other = (
            {"id": self.page_id, "name": self.page_name}
            if m.sender[0] != self.page_id
            else {"id": "555000111", "name": "Maria R."}
        )
        return {
            "id": m.id,
            "created_time": _iso(m.created),
            "from": {"id": m.sender[0], "name": m.sender[1]},
            "to": {"data": [other]},
            "message": m.text,
        }


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
