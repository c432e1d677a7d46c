"""Graph API plumbing shared by the Facebook Page and Instagram connectors.

Why a classifier: the Graph API says what went wrong in the body, not in the status (an
expired token, a missing permission and a rate limit can all be HTTP 400). :func:`classify`
reads ``error.code`` for the recorder, whose single retry loop then waits or stops:

* 102/104/190 (and subcodes 458-467): the token is missing, invalid or expired -> Fatal
  (``AuthError``);
* 10 and 200-299: the token lacks a permission -> ``GraphPermissionError`` (an ``AuthError``),
  which connectors turn into a ``Degradation`` for capabilities that are not the primary one;
* 4, 17, 32, 613, 80001-80014: rate limits -> wait and retry (every attempt is in the WARC),
  ``estimated_time_to_regain_access`` when the business-use-case header gives it (Retry); the codes
  are documented, the HTTP status that carries them (400 or 403) is [unverified]. The recorder
  already slows down on its own when ``x-app-usage`` reaches 95 %;
* ``is_transient: true`` (codes 1, 2: "unknown error", "service temporarily unavailable"):
  retried like a rate limit.

The rest is for :meth:`GraphClient.get` to say: 100 with subcode 33 / 803 (the object no
longer exists) -> ``NotFoundError``, a missing permission -> ``GraphPermissionError``.

The token travels only in the ``Authorization: Bearer`` header the harvester sets (RFC 6750;
the Graph API accepts it [unverified against the live API here]), never as
an ``access_token`` query parameter: the Graph API copies query parameters (including
``access_token``) into the ``paging.next``/``previous`` URLs of the *body*, and the recorder
redacts URLs and headers but not bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from archiver.errors import AuthError, FetchError, MalformedResponseError, NotFoundError
from archiver.model import (
    Degradation,
    FollowerCount,
    HarvestRecord,
    Item,
    Media,
    RecordClass,
    Sweep,
    TokenExpiry,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, platform_message, status_classifier
from archiver.verdict import Fatal, Retry, Verdict
from connectors._paging import PageGuard, url_pages, walk_timeline
from connectors.base import HarvestContext, capture_media, dig, json_body, platform_words

AUTH_CODES = frozenset({102, 104, 190})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
GRAPH_MAX_LIMIT = 100


class GraphPermissionError(AuthError):
    """The token works but lacks a permission (Graph error code 10 or 200-299)."""


@dataclass(frozen=True, slots=True)
class GraphError:
    """The ``{"error": {...}}`` body every Graph API failure carries: ``words`` is its message
    and codes in one line (support asks for the fbtrace_id)."""

    words: str
    code: int | None
    subcode: int | None
    transient: bool

    @classmethod
    def from_body(cls, data: Any) -> GraphError | None:
        err = data.get("error") if isinstance(data, dict) else None
        if not isinstance(err, dict):
            return None
        code, sub = (
            v if isinstance(v, int) else None for v in (err.get("code"), err.get("error_subcode"))
        )
        trace = err.get("fbtrace_id") if isinstance(err.get("fbtrace_id"), str) else None
        named = (("code", code), ("subcode", sub), ("fbtrace_id", trace))
        codes = ", ".join(f"{k} {v}" for k, v in named if v not in (None, ""))
        message = " ".join(str(err.get("message") or "(no message)").split())
        transient = err.get("is_transient") is True or code in (1, 2)
        return cls(f"{message} ({codes})" if codes else message, code, sub, transient)


def classify(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    token_env: str,
    token: str = "the Page access token",
    what: str = "",
) -> Verdict:
    """Graph error codes the recorder acts on: an expired token (Fatal: renew ``token``;
    ``what`` prefixes the message), rate limits and transient errors (Retry, after
    ``estimated_time_to_regain_access`` when given). Threads speaks the same shape."""
    err = GraphError.from_body(json_body(body))
    if err is not None and err.code in AUTH_CODES:
        hint = f"renew {token} and put it in the variable {token_env}"
        return Fatal(f"{what}{err.words}", hint, auth=True)
    if err is not None and (err.code in RATE_LIMIT_CODES or err.transient):
        return Retry(err.words, after=regain_minutes(headers) * 60.0 or None)
    return status_classifier(status, headers, body)


class GraphClient:
    """GET against one Graph API root (``base_url``, e.g. ``https://graph.facebook.com/v21.0``)."""

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.site = ctx.site.id
        self.root = ctx.site.base_url.rstrip("/")
        root = urlsplit(self.root)
        self._origin = (root.scheme, root.netloc)
        self._classify = partial(classify, token_env=ctx.site.token_env or "token_env")
        self.comments_allowed = True  # until the token turns out to lack the permission

    def url(self, path: str) -> str:
        return f"{self.root}/{path.lstrip('/')}"

    def get(
        self,
        url: str,
        *,
        endpoint: str,
        record_class: RecordClass,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[RecordedResponse, Any]:
        """One call (the recorder retries rate limits); its decoded JSON, or the typed error
        for what the Graph API said in the body."""
        self._check_origin(url, endpoint)
        response = self.ctx.http.get(
            url,
            params=params,
            record_class=record_class,
            endpoint=endpoint,
            ok_statuses=(400, 401, 403, 404),
            classify=self._classify,
        )
        status = response.status_code
        data = response.json() if status < 300 else json_body(response.content)
        err = GraphError.from_body(data)
        if status < 300 and err is None:
            return response, data
        kw: dict[str, Any] = {"site": self.site, "endpoint": endpoint, "status": status}
        if err is None:
            raise FetchError(f"HTTP {status}: {platform_message(response.content)}", **kw)
        if err.code == 10 or (err.code is not None and 200 <= err.code <= 299):  # permission
            raise GraphPermissionError(err.words, **kw)
        if (err.code == 100 and err.subcode == 33) or err.code == 803:  # the object is gone
            raise NotFoundError(err.words, **kw)
        raise FetchError(err.words, **kw)

    stop_on_empty = False  # whether an empty page ends a list whatever cursor it carries

    def next_url(self, data: Any) -> str | None:
        """Where a page says the next one is (``paging.next``)."""
        nxt = dig(data, "paging", "next")
        return nxt if isinstance(nxt, str) and nxt else None

    def pages(
        self,
        path: str,
        *,
        endpoint: str,
        record_class: RecordClass,
        params: Mapping[str, str | int] | None = None,
        guard: PageGuard | None = None,
    ) -> Iterator[tuple[RecordedResponse, list[Any]]]:
        """Follow ``paging.next`` (absolute URLs that already carry the cursor and fields)
        from ``path`` (or a ``paging.next`` URL) to the last page, which has no ``next``."""

        def get(url: str, query: Mapping[str, str | int] | None) -> tuple[Any, Any]:
            return self.get(url, endpoint=endpoint, record_class=record_class, params=query)

        start = path if path.startswith(("http://", "https://")) else self.url(path)
        walk = guard or PageGuard(endpoint)
        empty = (lambda data: not self.listing(data, endpoint)) if self.stop_on_empty else None
        pages = url_pages(get, start, params, next_url=self.next_url, guard=walk, empty=empty)
        for response, data in pages:
            yield response, self.listing(data, endpoint)

    def listing(self, data: Any, endpoint: str) -> list[Any]:
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(
                "expected a {data: [...]} listing", site=self.site, endpoint=endpoint
            )
        return items

    def _check_origin(self, url: str, endpoint: str) -> None:
        """Never follow a paging URL to another host: it would receive the bearer token."""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise MalformedResponseError(
                f"paging URL points at {parts.scheme}://{parts.netloc}, not the configured "
                f"Graph API root {self.root}; refusing to send the token there",
                site=self.site,
                endpoint=endpoint,
            )


def regain_minutes(headers: Mapping[str, str]) -> float:
    """``estimated_time_to_regain_access`` (minutes) from the business-use-case header."""
    data = json_body(headers.get("x-business-use-case-usage") or "{}")
    usage = data.values() if isinstance(data, dict) else []
    entries = [e for v in usage if isinstance(v, list) for e in v if isinstance(e, dict)]
    waits = [e.get("estimated_time_to_regain_access") for e in entries]
    return max((float(w) for w in waits if isinstance(w, int | float)), default=0.0)


def stable_url(url: str | None) -> str | None:
    """A CDN URL without its query: Meta signs media URLs (``oh``, ``oe``) afresh on every
    call, and an unchanged photo must not look like an edit to the catalog."""
    if not url:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def capture(ctx: HarvestContext, media: list[Media]) -> tuple[Media, ...]:
    """Download media into the WARC under the signed URL, then keep the stable form."""
    if not media:
        return ()
    return tuple(replace(m, url=stable_url(m.url)) for m in capture_media(ctx, media))


def token_expiry(graph: GraphClient, token: str | None) -> Iterator[HarvestRecord]:
    """Ask ``/debug_token`` when the token stops working; skip quietly if not allowed.

    ``expires_at`` 0 means the token itself never expires (Page tokens from a long-lived user
    token); ``data_access_expires_at`` is when data access lapses and must be renewed, which
    is then the date that matters.
    """
    if not token:
        return
    endpoint = "GET /debug_token"
    try:
        _, data = graph.get(
            graph.url("debug_token"),
            params={"input_token": token},
            record_class="posts",
            endpoint=endpoint,
        )
    except FetchError as exc:
        graph.ctx.log.info("token_debug_skipped", endpoint=endpoint, error=str(exc))
        return
    info = dig(data, "data")
    if not isinstance(info, dict):
        graph.ctx.log.info("token_debug_skipped", endpoint=endpoint, error="no data object")
        return
    expires = _epoch(info.get("expires_at"))
    data_access = _epoch(info.get("data_access_expires_at"))
    notes = []
    if info.get("is_valid") is False:
        notes.append("debug_token reports the token as not valid")
    if expires is None and data_access is not None:
        notes.append(f"token never expires; data access lapses {data_access.date().isoformat()}")
        yield TokenExpiry(data_access, "; ".join(notes))
        return
    if expires is None:
        notes.append("the Graph API reports that this token does not expire")
    yield TokenExpiry(expires, "; ".join(notes))


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def account_read(
    graph: GraphClient, *, endpoint: str, fields: str, what: str, hint: str, note: str
) -> Generator[HarvestRecord, None, dict[str, Any]]:
    """The account's own read (the first call, so a bad token fails the run before anything
    else): its follower count, or a Degradation when the token may not read it; returns the
    account object (empty when refused)."""
    try:
        response, data = graph.get(
            graph.url(graph.ctx.site.account),
            params={"fields": fields},
            record_class="followers",
            endpoint=endpoint,
        )
    except GraphPermissionError as exc:
        yield Degradation("follower_count", str(exc))
        return {}
    except NotFoundError as exc:
        raise NotFoundError(
            f"{what} {graph.ctx.site.account!r} not found: {platform_words(exc)}",
            site=graph.site,
            endpoint=endpoint,
            hint=hint,
        ) from exc
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"{what} read did not return an object", site=graph.site, endpoint=endpoint
        )
    count = data.get("followers_count")
    count = count if isinstance(count, int) else data.get("fan_count")
    if isinstance(count, int):
        yield FollowerCount(count, response.ref, identities_available=False, note=note)
    else:
        yield Degradation("follower_count", f"the {what} read returned no followers_count")
    return data


def comment_thread(
    graph: GraphClient,
    read: Callable[[list[PageGuard]], Iterator[HarvestRecord]],
    *,
    root_id: str,
    noun: str,
    endpoint: str,
) -> Iterator[HarvestRecord]:
    """The comments of one post (``noun`` "post" or "media"), as Facebook and Instagram read
    them, ``read(guards)`` yielding its records (``guards[0]`` for the comment pages, more for
    nested reply pages): a ``Sweep`` of the thread only when every page was read (``guards``
    complete) and every entry was readable (an unreadable entry might be a known comment: it must not be
    marked removed).

    A missing permission stops asking for comments this run (``graph.comments_allowed``) and
    becomes a Degradation; a post gone between listing and reading has no comments left, so
    its thread is swept; an unreadable listing is an Unparseable, with no sweep.
    """
    if not graph.comments_allowed:
        return
    clean = True
    guards = [PageGuard(f"comments of {noun} {root_id}")]
    try:
        for record in read(guards):
            clean = clean and not isinstance(record, Unparseable)
            yield record
    except GraphPermissionError as exc:
        graph.comments_allowed = False
        yield Degradation("comments", str(exc))
        return
    except NotFoundError:
        graph.ctx.log.info(f"{noun}_gone_before_comments", **{noun: root_id})
    except MalformedResponseError as exc:
        yield Unparseable("comments", endpoint, f"{noun} {root_id}: {exc.message}")
        return
    stopped = [g.stopped for g in guards if g.stopped]
    if stopped:
        yield Degradation("comments", f"{noun} {root_id}: {stopped[0]}; not checked for removals")
    elif clean:
        yield Sweep("comments", root_id)


def graph_timeline(
    graph: GraphClient,
    edge: str,
    *,
    endpoint: str,
    fields: str,
    noun: str,
    parse: Callable[[Any, WarcRef, str], Item | Unparseable],
    comments_endpoint: str,
    comment_params: Mapping[str, str | int],
    comment: Callable[[Any, str, RecordedResponse, list[PageGuard]], Iterable[HarvestRecord]],
) -> Iterator[HarvestRecord]:
    """A Page's posts or an Instagram account's media, newest first, each with its comment
    thread (:func:`comment_thread`: every entry of ``{id}/comments`` handed to
    ``comment(raw, id, page, guards)``); the bookmark ``since`` is the unix time of the
    newest one seen."""

    def comments(post_id: str, guards: list[PageGuard]) -> Iterator[HarvestRecord]:
        query = {**comment_params, "limit": GRAPH_MAX_LIMIT}
        for page, rows in graph.pages(
            f"{post_id}/comments",
            params=query,
            record_class="comments",
            endpoint=comments_endpoint,
            guard=guards[0],
        ):
            for raw in rows:
                yield from comment(raw, post_id, page, guards)

    guard = PageGuard(noun)
    params: dict[str, str | int] = {"fields": fields, "limit": GRAPH_MAX_LIMIT}
    pages = graph.pages(edge, params=params, record_class="posts", endpoint=endpoint, guard=guard)
    yield from walk_timeline(
        graph.ctx,
        ((page.ref, entries) for page, entries in pages),
        guard=guard,
        parse=lambda raw, ref: parse(raw, ref, endpoint),
        key=lambda item: int(item.posted_at.timestamp()) if item.posted_at else 0,
        children=lambda item, _raw: comment_thread(
            graph,
            partial(comments, item.platform_id),
            root_id=item.platform_id,
            noun=noun.removesuffix("s"),  # "post" of "posts"; "media"
            endpoint=comments_endpoint,
        ),
        start=0,
        bookmark="since",
    )
