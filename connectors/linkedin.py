"""A LinkedIn organization page (Community Management API, versioned REST ``/rest``).

Endpoints (LinkedIn Marketing API docs: Posts API, Comments API via socialActions,
Organization Follower Statistics, Network Sizes):

* ``GET /rest/posts?author={urn:li:organization:ID}&q=author&count=&start=&sortBy=CREATED``
  newest first, paged by ``start``/``count`` (``paging.links`` rel ``next``, or
  ``paging.total``);
* ``GET /rest/socialActions/{post urn}/comments`` and, for a comment whose
  ``commentsSummary`` says it has replies, ``GET /rest/socialActions/{comment urn}/comments``
  (nested comments), any depth, walked with :func:`connectors._paging.walk_thread`;
* ``GET /rest/organizationalEntityFollowerStatistics?q=organizationalEntity&
  organizationalEntity={urn}`` (lifetime statistics by facet, kept in the WARC) and
  ``GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`` (the count).

Every call carries ``LinkedIn-Version: YYYYMM`` (option ``api_version``) and
``X-Restli-Protocol-Version: 2.0.0``; URNs are percent-encoded in paths and queries as
Rest.li 2.0 requires. The token is a 3-legged OAuth token of a Page administrator; the app
needs LinkedIn's approval for the Community Management API (docs/platforms.md).

What the API does not give: the follower list (declared absent; the count is recorded with a
coverage note saying so), edit history or an edit flag (``lastModifiedAt`` is kept in
``extra``; a changed text is a new version at the next read), deletion flags (a deleted post
or comment is absent; removals are found by full sweeps), hidden comments (no such concept
in the API), image and video files (posts reference them by URN only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from archiver.errors import (
    AuthError,
    ConfigError,
    MalformedResponseError,
    NotFoundError,
    SkippableFetchError,
)
from archiver.model import (
    Author,
    Coverage,
    Degradation,
    FollowerCount,
    HarvestRecord,
    Item,
    RecordClass,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, platform_message, status_classifier
from archiver.verdict import Fatal, Verdict
from connectors._options import read_options
from connectors._paging import PageGuard, url_pages, walk_thread, walk_timeline
from connectors.base import Capabilities, HarvestContext, json_body, platform_words

PAGE_COUNT = 50
SCOPES = "r_organization_social and rw_organization_admin"
SCOPE = {
    "GET /rest/posts": "r_organization_social",
    "GET /rest/socialActions/{urn}/comments": "r_organization_social",
    "GET /rest/organizationalEntityFollowerStatistics": "rw_organization_admin",
    "GET /rest/networkSizes/{urn}": "rw_organization_admin",
}
FOLLOWER_NOTE = "LinkedIn's API gives follower statistics and a count, never the followers"
NOT_LISTED = (
    "not exposed: LinkedIn's API gives follower statistics and a count, never the list of followers"
)
VERSION_HINT = (
    "set options.api_version to a LinkedIn-Version (YYYYMM) LinkedIn still serves (versions "
    "are retired about a year after release)"
)


@dataclass(frozen=True, slots=True)
class LinkedInOptions:
    """``options`` for a LinkedIn organization page (``account`` is the organization id)."""

    api_version: str = "202611"  # the LinkedIn-Version header, YYYYMM


class LinkedInPermissionError(AuthError):
    """403: the token lacks the scope (or the member the Page role) an endpoint needs."""


def _error_words(body: bytes) -> str:
    """LinkedIn's ``{"message", "code", "serviceErrorCode"}`` in one line."""
    data = json_body(body)
    if not isinstance(data, dict):
        return platform_message(body)
    message = " ".join(str(data.get("message") or "(no message)").split())
    codes = [str(data[k]) for k in ("code", "serviceErrorCode") if data.get(k) is not None]
    return f"{message} ({', '.join(codes)})" if codes else message


def classify(
    status: int, headers: httpx.Headers, body: bytes, token_env: str, version: str
) -> Verdict:
    """401: the token (fatal, with the scopes to grant); 426 or a version error: the
    ``LinkedIn-Version`` is retired (fatal, with the option to change); the rest by status."""
    if status == 401:
        hint = (
            f"renew the LinkedIn access token of a Page administrator with {SCOPES} (tokens "
            f"last 60 days, refresh tokens 365) and put it in the variable {token_env}"
        )
        return Fatal(f"the LinkedIn token is not valid: {_error_words(body)}", hint, auth=True)
    words = _error_words(body)
    if status == 426 or (status == 400 and "VERSION" in words):
        return Fatal(f"LinkedIn refused API version {version}: {words}", VERSION_HINT)
    return status_classifier(status, headers, body)


class LinkedInClient:
    """GET against ``base_url`` (``https://api.linkedin.com/rest``) with LinkedIn's headers."""

    def __init__(self, ctx: HarvestContext, version: str) -> None:
        self.ctx = ctx
        self.site = ctx.site.id
        self.root = ctx.site.base_url.rstrip("/")
        parts = urlsplit(self.root)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.headers = {"LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}
        self._classify = partial(
            classify, token_env=ctx.site.token_env or "token_env", version=version
        )

    def url(self, path: str, query: Mapping[str, str | int] | None = None) -> str:
        """``root/path`` with the query encoded the Rest.li 2.0 way (``:`` ``(`` ``,`` too)."""
        qs = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in (query or {}).items())
        return f"{self.root}/{path.lstrip('/')}" + (f"?{qs}" if qs else "")

    def get(
        self, url: str, *, endpoint: str, record_class: RecordClass
    ) -> tuple[RecordedResponse, dict[str, Any]]:
        if url.startswith("/"):
            url = self.origin + url  # paging.links hrefs are relative to the host
        if not url.startswith(self.origin + "/"):
            raise MalformedResponseError(
                f"paging link points at {url[:120]!r}, not {self.origin}; refusing to send "
                "the token there",
                site=self.site,
                endpoint=endpoint,
            )
        response = self.ctx.http.get(
            url,
            headers=self.headers,
            record_class=record_class,
            endpoint=endpoint,
            ok_statuses=(403, 404),
            classify=self._classify,
        )
        status = response.status_code
        kw: dict[str, Any] = {"site": self.site, "endpoint": endpoint, "status": status}
        if status == 403:
            scope = SCOPE.get(endpoint, SCOPES)
            raise LinkedInPermissionError(
                f"the token lacks the {scope} permission or the member is not an "
                f"administrator of the Page ({_error_words(response.content)})",
                hint=f"grant {scope} to the app (Community Management API) and renew the token "
                "in the variable named by token_env",
                **kw,
            )
        if status == 404:
            raise NotFoundError(_error_words(response.content), **kw)
        data = response.json()
        if not isinstance(data, dict):
            raise MalformedResponseError("expected a JSON object", **kw)
        return response, data

    def pages(
        self,
        path: str,
        query: Mapping[str, str | int],
        *,
        endpoint: str,
        record_class: RecordClass,
        guard: PageGuard,
    ) -> Iterator[tuple[RecordedResponse, list[Any]]]:
        """``start``/``count`` paging: the ``next`` link when given, else ``start + count``
        while below ``paging.total``; an empty page ends the list."""

        def get(url: str, params: Mapping[str, str | int] | None) -> tuple[RecordedResponse, Any]:
            url = url if params is None else self.url(url, params)
            response, data = self.get(url, endpoint=endpoint, record_class=record_class)
            if not isinstance(data.get("elements", []), list):
                raise MalformedResponseError(
                    "expected an elements list", site=self.site, endpoint=endpoint
                )
            return response, data

        empty = lambda data: not _rows(data)  # noqa: E731
        for response, data in url_pages(get, path, query, next_url=_next, guard=guard, empty=empty):
            yield response, _rows(data)


def _rows(data: Any) -> list[Any]:
    rows: list[Any] = data.get("elements", [])
    return rows


def _next(data: Any) -> str | None:
    """The ``next`` link, else ``start=`` the next offset while below ``paging.total``."""
    paging = data.get("paging") if isinstance(data, dict) else None
    paging = paging if isinstance(paging, dict) else {}
    for link in paging.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next":
            href = link.get("href")
            if isinstance(href, str) and href:
                return href
    start, count, total = (paging.get(k) for k in ("start", "count", "total"))
    if all(isinstance(v, int) for v in (start, count, total)) and count:
        return f"start={start + count}" if start + count < total else None
    return None


@dataclass(frozen=True, slots=True)
class _Node:
    raw: Any
    ref: WarcRef
    parent: str


@dataclass(frozen=True, slots=True)
class _Broken:
    reason: str
    ref: WarcRef | None = None


class LinkedInConnector:
    Options: ClassVar[type] = LinkedInOptions
    platform: ClassVar[str] = "linkedin"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        comments=True,
        replies=True,
        hidden_comments=False,
        edits=True,
        follower_identities=False,
        follower_count=True,
        media=False,
        notes=(
            "LinkedIn does not expose the follower list: only follower statistics and the "
            "count (recorded as a coverage gap every run).",
            "No edit history: a changed text is seen at the next read (re-capture) only.",
            "Deleted posts and comments are absent, not flagged: removals are found by sweeps.",
            "Images and videos are referenced by URN; their files are not downloaded.",
            "The Community Management API needs LinkedIn's approval and a Page admin's token.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.options = read_options(LinkedInOptions, ctx.site)
        version = self.options.api_version
        if not (len(version) == 6 and version.isdigit() and version.startswith("20")):
            raise ConfigError(
                f"site {ctx.site.id}: option 'api_version' must be a LinkedIn-Version YYYYMM "
                f'such as "202611", not {version!r}',
                key="options",
            )
        account = ctx.site.account.strip()
        self.org = account if account.startswith("urn:li:") else f"urn:li:organization:{account}"
        self.client = LinkedInClient(ctx, version)
        self.comments_allowed = True

    def harvest(self) -> Iterator[HarvestRecord]:
        yield from self._followers()
        yield from self._posts()

    # -- followers ------------------------------------------------------------------------------
    def _followers(self) -> Iterator[HarvestRecord]:
        org = quote(self.org, safe="")
        try:
            self.client.get(
                self.client.url(
                    "organizationalEntityFollowerStatistics",
                    {"q": "organizationalEntity", "organizationalEntity": self.org},
                ),
                endpoint="GET /rest/organizationalEntityFollowerStatistics",
                record_class="followers",
            )
            response, data = self.client.get(
                self.client.url(f"networkSizes/{org}", {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}),
                endpoint="GET /rest/networkSizes/{urn}",
                record_class="followers",
            )
        except (LinkedInPermissionError, SkippableFetchError, MalformedResponseError) as exc:
            yield Degradation("follower_count", f"no follower count: {platform_words(exc)}")
            return
        count = data.get("firstDegreeSize")
        if not isinstance(count, int) or isinstance(count, bool):
            yield Degradation("follower_count", "networkSizes returned no firstDegreeSize")
            return
        yield FollowerCount(count, response.ref, identities_available=False, note=FOLLOWER_NOTE)
        if count > 0:
            yield Coverage("followers", None, count, 0, NOT_LISTED)

    # -- posts --------------------------------------------------------------------------------
    def _posts(self) -> Iterator[HarvestRecord]:
        endpoint = "GET /rest/posts"
        guard = PageGuard("posts")
        pages = self.client.pages(
            "posts",
            {"author": self.org, "q": "author", "count": PAGE_COUNT, "sortBy": "CREATED"},
            endpoint=endpoint,
            record_class="posts",
            guard=guard,
        )
        yield from walk_timeline(
            self.ctx,
            ((page.ref, rows) for page, rows in pages),
            guard=guard,
            parse=lambda raw, ref: self._post(raw, ref, endpoint),
            key=lambda item: int(item.posted_at.timestamp()) if item.posted_at else 0,
            children=lambda item, _raw: self._comments(item.platform_id),
            start=0,
            bookmark="since",
        )

    def _post(self, raw: Any, ref: WarcRef, endpoint: str) -> Item | Unparseable:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable("posts", endpoint, "post without an id", ref)
        urn = raw["id"]
        created = _ms(raw.get("publishedAt")) or _ms(raw.get("createdAt"))
        if created is None:
            return Unparseable("posts", endpoint, f"post {urn}: unreadable createdAt", ref)
        modified = _ms(raw.get("lastModifiedAt"))
        extra: dict[str, Any] = {
            k: raw[k] for k in ("visibility", "lifecycleState") if isinstance(raw.get(k), str)
        }
        if modified is not None:
            extra["lastModifiedAt"] = modified.isoformat()
        content = raw.get("content")
        if isinstance(content, dict) and content:
            extra["content"] = content  # media and article references (URNs), kept as given
        return Item(
            record_class="posts",
            kind="post",
            platform_id=urn,
            author=Author(id=str(raw.get("author") or self.org)),
            text=str(raw.get("commentary") or ""),
            ref=ref,
            posted_at=created,
            url=f"https://www.linkedin.com/feed/update/{urn}/",
            root_id=urn,
            by_owner=True,
            extra=extra,
        )

    # -- comments -------------------------------------------------------------------------------
    def _comments(self, post_urn: str) -> Iterator[HarvestRecord]:
        if not self.comments_allowed:
            return
        guards: list[PageGuard] = []
        try:
            yield from walk_thread(
                post_urn,
                self._listing(post_urn, guards),
                parse=lambda node: self._comment(node, post_urn),
                children=lambda node, item: self._replies(node, item, guards),
                guards=guards,
            )
        except LinkedInPermissionError as exc:
            self.comments_allowed = False
            yield Degradation("comments", platform_words(exc))
            return
        stopped = [g.stopped for g in guards if g.stopped]
        if stopped:
            yield Degradation(
                "comments", f"post {post_urn}: {stopped[0]}; not checked for removals"
            )

    def _listing(self, target: str, guards: list[PageGuard]) -> Iterator[_Node | _Broken]:
        endpoint = "GET /rest/socialActions/{urn}/comments"
        guard = PageGuard(f"comments on {target}")
        guards.append(guard)
        pages = self.client.pages(
            f"socialActions/{quote(target, safe='')}/comments",
            {"count": PAGE_COUNT},
            endpoint=endpoint,
            record_class="comments",
            guard=guard,
        )
        try:
            for response, rows in pages:
                for raw in rows:
                    yield _Node(raw, response.ref, target)
        except MalformedResponseError as exc:
            yield _Broken(f"comments on {target}: {platform_words(exc)}")

    def _replies(
        self, node: _Node | _Broken, item: Item, guards: list[PageGuard]
    ) -> Iterator[_Node | _Broken]:
        summary = node.raw.get("commentsSummary") if isinstance(node, _Node) else None
        first = summary.get("totalFirstLevelComments") if isinstance(summary, dict) else None
        if isinstance(first, int) and first == 0:
            return iter(())
        return self._listing(item.platform_id, guards)

    def _comment(self, node: _Node | _Broken, post_urn: str) -> Item | Unparseable:
        endpoint = "GET /rest/socialActions/{urn}/comments"
        if isinstance(node, _Broken):
            return Unparseable("comments", endpoint, node.reason, node.ref)
        raw = node.raw
        urn = raw.get("$URN") or raw.get("commentUrn") if isinstance(raw, dict) else None
        if not isinstance(urn, str) or not urn:
            return Unparseable(
                "comments", endpoint, f"comment on {post_urn} without a URN", node.ref
            )
        created = raw.get("created")
        posted = _ms(created.get("time")) if isinstance(created, dict) else None
        if posted is None:
            return Unparseable("comments", endpoint, f"comment {urn}: unreadable created", node.ref)
        message = raw.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        actor = raw.get("actor")
        modified = raw.get("lastModified")
        changed = _ms(modified.get("time")) if isinstance(modified, dict) else None
        return Item(
            record_class="comments",
            kind="comment" if node.parent == post_urn else "reply",
            platform_id=urn,
            author=Author(id=actor if isinstance(actor, str) else "unknown"),
            text=text if isinstance(text, str) else "",
            ref=node.ref,
            posted_at=posted,
            parent_id=node.parent,
            root_id=post_urn,
            by_owner=actor == self.org,
            extra={"lastModified": changed.isoformat()} if changed else {},
        )


def _ms(value: Any) -> datetime | None:
    """Epoch milliseconds (LinkedIn's time fields) to an aware datetime."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
