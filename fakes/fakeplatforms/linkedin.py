"""A fake LinkedIn Community Management API (versioned REST) for one organization page
(issue 18 part 3).

Shapes as LinkedIn's Marketing API documentation gives them; every call must carry
``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``, and URNs travel
percent-encoded (in the path and in the query):

* ``GET /rest/posts?author={org urn}&q=author&count=&start=&sortBy=``: ``{"paging": {"start",
  "count", "total", "links": [{"rel": "next", "href", "type"}]}, "elements": [post]}``, a
  post being ``{id: "urn:li:share:N", author, commentary, visibility, lifecycleState,
  distribution, createdAt, publishedAt, lastModifiedAt, isReshareDisabledByAuthor}`` (times
  in epoch milliseconds), newest first;
* ``GET /rest/socialActions/{post urn}/comments`` and ``/rest/socialActions/{comment
  urn}/comments`` (the replies to a comment): comments ``{"$URN", commentUrn, id, actor,
  created: {actor, time}, lastModified: {actor, time}, message: {text}, object,
  parentComment?, commentsSummary: {totalFirstLevelComments, aggregatedTotalComments}}``;
* ``GET /rest/organizationalEntityFollowerStatistics?q=organizationalEntity&
  organizationalEntity={org urn}``: lifetime statistics by facet;
* ``GET /rest/networkSizes/{org urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER``:
  ``{"firstDegreeSize": N}``, the follower count.

Errors in LinkedIn's shape ``{"status", "serviceErrorCode", "code", "message"}``: 401
``EXPIRED_ACCESS_TOKEN`` [unverified code number], 403 ``ACCESS_DENIED`` when the scope an
endpoint needs was not granted (``r_organization_social`` for posts and comments,
``rw_organization_admin`` for follower statistics), 426 ``NONEXISTENT_VERSION`` for a
version LinkedIn no longer serves. There is no endpoint listing the followers themselves.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fakeplatforms.server import FakeResponse, header, json_response

__all__ = ["LinkedInWorld"]

PREFIX = "/rest/"
VERSION = re.compile(r"^20\d{4}$")


def _error(status: int, code: str, message: str, service: int) -> FakeResponse:
    body = {"status": status, "serviceErrorCode": service, "code": code, "message": message}
    return FakeResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


@dataclass
class _Comment:
    urn: str
    id: str
    actor: str
    text: str
    created: datetime
    modified: datetime
    target: str  # the post or comment it answers
    post: str


@dataclass
class _Post:
    urn: str
    text: str
    created: datetime
    modified: datetime


@dataclass
class LinkedInWorld:
    """Serves one organization's posts, comments and follower numbers; a ``FakeApp``."""

    token: str
    org_id: str = "2414183"
    page_size: int = 10
    followers: int = 4821
    oldest_version: str = "202412"
    send_links: bool = True  # False: paging gives start/count/total only, no next link
    granted: set[str] = field(
        default_factory=lambda: {"r_organization_social", "rw_organization_admin"}
    )
    _posts: dict[str, _Post] = field(default_factory=dict)
    _comments: dict[str, _Comment] = field(default_factory=dict)
    _n: int = 0
    _clock: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def org_urn(self) -> str:
        return f"urn:li:organization:{self.org_id}"

    # -- the world ------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._clock

    def _tick(self) -> datetime:
        self._clock += timedelta(minutes=1)
        return self._clock

    def _num(self) -> int:
        self._n += 1
        return 7_260_000_000_000_000_000 + self._n

    def post(self, text: str, *, age: timedelta | None = None) -> str:
        with self._lock:
            at = self._tick() - (age or timedelta(0))
            urn = f"urn:li:share:{self._num()}"
            self._posts[urn] = _Post(urn, text, at, at)
            return urn

    def comment(self, target: str, text: str, *, member: str = "maria") -> str:
        """A comment on a post (``target`` a post urn) or a reply to a comment."""
        with self._lock:
            at = self._tick()
            post = target if target in self._posts else self._comments[target].post
            activity = post.rsplit(":", 1)[-1]
            cid = str(self._num())
            urn = f"urn:li:comment:(urn:li:activity:{activity},{cid})"
            actor = member if member.startswith("urn:") else f"urn:li:person:{member}"
            self._comments[urn] = _Comment(urn, cid, actor, text, at, at, target, post)
            return urn

    def edit(self, urn: str, text: str) -> None:
        with self._lock:
            thing = self._posts.get(urn) or self._comments[urn]
            thing.text = text
            thing.modified = self._tick()

    def delete(self, urn: str) -> None:
        with self._lock:
            self._posts.pop(urn, None)
            gone = {urn}
            while True:
                more = {c.urn for c in self._comments.values() if c.target in gone} - gone
                if not more:
                    break
                gone |= more
            for key in gone:
                self._comments.pop(key, None)

    def expire_token(self) -> None:
        self.token = "a-token-issued-after-ours"

    # -- HTTP -----------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method != "GET" or not path.startswith(PREFIX):
            return None
        if header(headers, "Authorization") != f"Bearer {self.token}":
            return _error(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601
            )
        version = header(headers, "LinkedIn-Version") or ""
        if not VERSION.match(version):
            return _error(400, "VERSION_MISSING", "A version must be present", 400)
        if version < self.oldest_version:
            return _error(
                426, "NONEXISTENT_VERSION", f"Requested version {version} is not active", 426
            )
        if header(headers, "X-Restli-Protocol-Version") != "2.0.0":
            return _error(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 required", 100)
        parts = [unquote(p) for p in path[len(PREFIX) :].split("/")]
        q = {k: v[0] for k, v in query.items()}
        with self._lock:
            if parts == ["posts"] and q.get("q") == "author":
                if q.get("author") != self.org_urn:
                    return _error(403, "ACCESS_DENIED", "Not enough permissions to access", 100)
                posts = sorted(self._posts.values(), key=lambda p: p.created, reverse=True)
                rows = [self._render_post(p) for p in posts]
                return self._need("r_organization_social") or self._page(rows, path, q)
            if len(parts) == 3 and parts[0] == "socialActions" and parts[2] == "comments":
                target = parts[1]
                if target not in self._posts and target not in self._comments:
                    return _error(404, "NOT_FOUND", f"{target} does not exist", 404)
                found = [c for c in self._comments.values() if c.target == target]
                found.sort(key=lambda c: c.created)
                rows = [self._render_comment(c) for c in found]
                return self._need("r_organization_social") or self._page(rows, path, q)
            if parts == ["organizationalEntityFollowerStatistics"]:
                return self._need("rw_organization_admin") or self._statistics(q)
            if len(parts) == 2 and parts[0] == "networkSizes" and parts[1] == self.org_urn:
                return self._need("rw_organization_admin") or json_response(
                    {"firstDegreeSize": self.followers}
                )
        return None

    def _need(self, scope: str) -> FakeResponse | None:
        if scope in self.granted:
            return None
        return _error(
            403, "ACCESS_DENIED", f"Not enough permissions to access (needs {scope})", 100
        )

    def _page(self, rows: list[dict[str, Any]], path: str, q: dict[str, str]) -> FakeResponse:
        start = int(q.get("start") or 0)
        count = min(int(q.get("count") or self.page_size), self.page_size)
        links = []
        if self.send_links and start + count < len(rows):
            nxt = {**q, "start": str(start + count), "count": str(count)}
            href = f"{path}?{urlencode(nxt, quote_via=quote, safe='')}"
            links.append({"type": "application/json", "rel": "next", "href": href})
        return json_response(
            {
                "paging": {"start": start, "count": count, "total": len(rows), "links": links},
                "elements": rows[start : start + count],
            }
        )

    def _statistics(self, q: dict[str, str]) -> FakeResponse:
        if q.get("q") != "organizationalEntity" or q.get("organizationalEntity") != self.org_urn:
            return _error(400, "ILLEGAL_ARGUMENT", "organizationalEntity is required", 100)
        organic = self.followers - 21
        return json_response(
            {
                "paging": {"start": 0, "count": 10, "links": []},
                "elements": [
                    {
                        "followerCountsByAssociationType": [
                            {
                                "followerCounts": {
                                    "organicFollowerCount": 37,
                                    "paidFollowerCount": 0,
                                },
                                "associationType": "EMPLOYEE",
                            }
                        ],
                        "followerCountsBySeniority": [
                            {
                                "followerCounts": {
                                    "organicFollowerCount": organic,
                                    "paidFollowerCount": 21,
                                },
                                "seniority": "urn:li:seniority:3",
                            }
                        ],
                        "organizationalEntity": self.org_urn,
                    }
                ],
            }
        )

    def _render_post(self, p: _Post) -> dict[str, Any]:
        return {
            "id": p.urn,
            "author": self.org_urn,
            "commentary": p.text,
            "visibility": "PUBLIC",
            "lifecycleState": "PUBLISHED",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "isReshareDisabledByAuthor": False,
            "createdAt": _ms(p.created),
            "publishedAt": _ms(p.created),
            "lastModifiedAt": _ms(p.modified),
        }

    def _render_comment(self, c: _Comment) -> dict[str, Any]:
        replies = [d for d in self._comments.values() if d.target == c.urn]
        row: dict[str, Any] = {
            "$URN": c.urn,
            "commentUrn": c.urn,
            "id": c.id,
            "actor": c.actor,
            "agent": c.actor,
            "created": {"actor": c.actor, "time": _ms(c.created)},
            "lastModified": {"actor": c.actor, "time": _ms(c.modified)},
            "message": {"text": c.text, "attributes": []},
            "object": c.post.replace("urn:li:share:", "urn:li:activity:"),
            "commentsSummary": {
                "selectedComments": [],
                "totalFirstLevelComments": len(replies),
                "aggregatedTotalComments": len(replies),
            },
        }
        if c.target != c.post:
            row["parentComment"] = c.target
        return row
