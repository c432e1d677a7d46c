"""Graph API plumbing shared by the Facebook Page and Instagram connectors.

Why not the recorder's own error handling: the Graph API says what went wrong in the body,
not in the status (an expired token, a missing permission and a rate limit can all be HTTP
400), so we accept 4xx bodies from the recorder and classify them by ``error.code``:

* 102/104/190 (and subcodes 458-467): the token is missing, invalid or expired -> ``AuthError``;
* 10 and 200-299: the token lacks a permission -> ``GraphPermissionError`` (an ``AuthError``),
  which connectors turn into a ``Degradation`` for capabilities that are not the primary one;
* 4, 17, 32, 613, 80001-80014: rate limits -> wait and retry (every attempt is in the WARC),
  ``estimated_time_to_regain_access`` when the business-use-case header gives it; the codes
  are documented, the HTTP status that carries them (400 or 403) is [unverified]. The recorder
  already slows down on its own when ``x-app-usage`` reaches 95 %;
* 100 with subcode 33 / 803: the object no longer exists -> ``NotFoundError``.
* ``is_transient: true`` (codes 1, 2: "unknown error", "service temporarily unavailable"):
  retried like a rate limit.

The token travels only in the ``Authorization: Bearer`` header the harvester sets (RFC 6750;
the Graph API accepts it [unverified against the live API here]), never as
an ``access_token`` query parameter: the Graph API copies query parameters (including
``access_token``) into the ``paging.next``/``previous`` URLs of the *body*, and the recorder
redacts URLs and headers but not bodies.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archiver.errors import (
    AuthError,
    FetchError,
    MalformedResponseError,
    NotFoundError,
    RetriableFetchError,
)
from archiver.model import (
    Degradation,
    HarvestRecord,
    Media,
    RecordClass,
    Sweep,
    TokenExpiry,
    Unparseable,
)
from archiver.recorder import RecordedResponse, platform_message
from connectors.base import HarvestContext, capture_media

AUTH_CODES = frozenset({102, 104, 190})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
GRAPH_MAX_LIMIT = 100


class GraphPermissionError(AuthError):
    """The token works but lacks a permission (Graph error code 10 or 200-299)."""


class GraphRateLimitError(RetriableFetchError):
    """The Graph API kept answering with a rate-limit error code after all retries."""


@dataclass(frozen=True, slots=True)
class GraphError:
    """The ``{"error": {...}}`` body every Graph API failure carries."""

    message: str
    code: int | None
    subcode: int | None
    kind: str | None
    fbtrace_id: str | None
    transient: bool = False

    @classmethod
    def from_body(cls, data: Any) -> GraphError | None:
        err = data.get("error") if isinstance(data, dict) else None
        if not isinstance(err, dict):
            return None
        code = err.get("code")
        sub = err.get("error_subcode")
        return cls(
            message=" ".join(str(err.get("message") or "(no message)").split()),
            code=code if isinstance(code, int) else None,
            subcode=sub if isinstance(sub, int) else None,
            kind=err.get("type") if isinstance(err.get("type"), str) else None,
            fbtrace_id=err.get("fbtrace_id") if isinstance(err.get("fbtrace_id"), str) else None,
            transient=err.get("is_transient") is True or code in (1, 2),
        )

    def describe(self) -> str:
        """One line: the platform's message, then its codes (support asks for fbtrace_id)."""
        codes = [f"code {self.code}"] if self.code is not None else []
        if self.subcode is not None:
            codes.append(f"subcode {self.subcode}")
        if self.fbtrace_id:
            codes.append(f"fbtrace_id {self.fbtrace_id}")
        return f"{self.message} ({', '.join(codes)})" if codes else self.message

    @property
    def is_auth(self) -> bool:
        return self.code in AUTH_CODES

    @property
    def is_permission(self) -> bool:
        return self.code == 10 or (self.code is not None and 200 <= self.code <= 299)

    @property
    def is_rate_limit(self) -> bool:
        return self.code in RATE_LIMIT_CODES

    @property
    def is_missing(self) -> bool:
        return (self.code == 100 and self.subcode == 33) or self.code == 803


class GraphClient:
    """GET against one Graph API root (``base_url``, e.g. ``https://graph.facebook.com/v21.0``)."""

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.site = ctx.site.id
        self.root = ctx.site.base_url.rstrip("/")
        root = urlsplit(self.root)
        self._origin = (root.scheme, root.netloc)

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
        """One call, with rate-limit retries; returns the response and its decoded JSON."""
        self._check_origin(url, endpoint)
        http = self.ctx.http
        attempts = max(1, http.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            response = http.get(
                url,
                params=params,
                record_class=record_class,
                endpoint=endpoint,
                ok_statuses=(400, 401, 403, 404),
            )
            ok = 200 <= response.status_code < 300
            try:
                data = response.json()
            except MalformedResponseError:
                if ok:
                    raise
                raise FetchError(
                    f"HTTP {response.status_code}: {platform_message(response.content)}",
                    site=self.site,
                    endpoint=endpoint,
                    status=response.status_code,
                ) from None
            err = GraphError.from_body(data)
            if ok and err is None:
                return response, data
            if err is None:
                raise FetchError(
                    f"HTTP {response.status_code}: {platform_message(response.content)}",
                    site=self.site,
                    endpoint=endpoint,
                    status=response.status_code,
                )
            if (err.is_rate_limit or err.transient) and attempt < attempts:
                wait = self._backoff(response, attempt)
                self.ctx.log.warning(
                    "graph_rate_limited", endpoint=endpoint, code=err.code, wait=round(wait, 2)
                )
                http.sleep(wait)
                continue
            raise self._error(err, endpoint, response.status_code)
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(
        self,
        path: str,
        *,
        endpoint: str,
        record_class: RecordClass,
        params: Mapping[str, str | int],
        max_pages: int = 100_000,
    ) -> Iterator[tuple[RecordedResponse, list[Any]]]:
        """Follow ``paging.next`` (absolute URLs that already carry the cursor and fields)
        until the last page, which has no ``next``; guarded against loops."""
        next_url: str | None = self.url(path)
        next_params: Mapping[str, str | int] | None = params
        seen: set[str] = set()
        for _ in range(max_pages):
            if next_url is None:
                return
            response, data = self.get(
                next_url, endpoint=endpoint, record_class=record_class, params=next_params
            )
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(
                    "expected a {data: [...]} listing", site=self.site, endpoint=endpoint
                )
            yield response, items
            seen.add(response.url)
            next_url = next_page(data)
            if next_url in seen:
                next_url = None
            next_params = None

    def nested(
        self, listing: Any, *, endpoint: str, record_class: RecordClass
    ) -> Iterator[tuple[RecordedResponse | None, list[Any]]]:
        """A nested edge (``replies{...}`` inside a comment): its first page is inline, the
        rest are fetched by following its own ``paging.next``."""
        if not isinstance(listing, dict):
            return
        items = listing.get("data")
        if not isinstance(items, list):
            return
        yield None, items
        url = next_page(listing)
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response, data = self.get(url, endpoint=endpoint, record_class=record_class)
            page = data.get("data") if isinstance(data, dict) else None
            if not isinstance(page, list):
                raise MalformedResponseError(
                    "expected a {data: [...]} listing", site=self.site, endpoint=endpoint
                )
            yield response, page
            url = next_page(data)

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

    def _backoff(self, response: RecordedResponse, attempt: int) -> float:
        cap = self.ctx.http.settings.max_retry_wait
        minutes = regain_minutes(response.headers)
        if minutes:
            return float(min(cap, minutes * 60.0))
        return float(min(cap, 2.0 ** (attempt + 1) * random.uniform(0.5, 1.0)))

    def _error(self, err: GraphError, endpoint: str, status: int) -> FetchError:
        text = err.describe()
        if err.is_auth:
            env = self.ctx.site.token_env or "token_env"
            return AuthError(
                text,
                site=self.site,
                endpoint=endpoint,
                status=status,
                hint=f"renew the Page access token and put it in {env}",
            )
        if err.is_permission:
            return GraphPermissionError(text, site=self.site, endpoint=endpoint, status=status)
        if err.is_rate_limit:
            return GraphRateLimitError(
                f"still rate limited after retries: {text}",
                site=self.site,
                endpoint=endpoint,
                status=status,
            )
        if err.transient:
            return RetriableFetchError(
                f"still failing after retries: {text}",
                site=self.site,
                endpoint=endpoint,
                status=status,
            )
        if err.is_missing:
            return NotFoundError(text, site=self.site, endpoint=endpoint, status=status)
        return FetchError(text, site=self.site, endpoint=endpoint, status=status)


def platform_text(exc: FetchError) -> str:
    """The error's own text without the ``site X: endpoint:`` prefix, for re-wrapping."""
    prefix = ": ".join(p for p in (f"site {exc.site}" if exc.site else "", exc.endpoint or "") if p)
    return exc.message.removeprefix(f"{prefix}: ") if prefix else exc.message


def next_page(data: Any) -> str | None:
    paging = data.get("paging") if isinstance(data, dict) else None
    nxt = paging.get("next") if isinstance(paging, dict) else None
    return nxt if isinstance(nxt, str) and nxt else None


def regain_minutes(headers: Mapping[str, str]) -> float:
    """``estimated_time_to_regain_access`` (minutes) from the business-use-case header."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return 0.0
    try:
        data = json.loads(raw)
    except ValueError:
        return 0.0
    worst = 0.0
    if isinstance(data, dict):
        for entries in data.values():
            for entry in entries if isinstance(entries, list) else []:
                value = (
                    entry.get("estimated_time_to_regain_access")
                    if isinstance(entry, dict)
                    else None
                )
                if isinstance(value, int | float):
                    worst = max(worst, float(value))
    return worst


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
    info = data.get("data") if isinstance(data, dict) else None
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


def fields_param(*names: str) -> str:
    return ",".join(names)


def bookmark_int(value: str | None) -> int:
    """A numeric bookmark (unix time); 0 when absent or unreadable."""
    return int(value) if value and value.isdigit() else 0


def comment_thread(
    ctx: HarvestContext,
    thread: Iterator[HarvestRecord],
    *,
    root_id: str,
    noun: str,
    endpoint: str,
    refused: Callable[[], None],
) -> Iterator[HarvestRecord]:
    """The comments of one post (``noun`` "post" or "media"), as Facebook and Instagram read
    them: a ``Sweep`` of the thread only when every page was read and every entry was readable
    (an unreadable entry might be a known comment: it must not be marked removed).

    A missing permission calls ``refused`` (the connector stops asking for comments this run)
    and becomes a Degradation; a post gone between listing and reading has no comments left,
    so its thread is swept; an unreadable listing is an Unparseable, with no sweep.
    """
    clean = True
    try:
        for record in thread:
            clean = clean and not isinstance(record, Unparseable)
            yield record
    except GraphPermissionError as exc:
        refused()
        yield Degradation("comments", str(exc))
        return
    except NotFoundError:
        ctx.log.info(f"{noun}_gone_before_comments", **{noun: root_id})
    except MalformedResponseError as exc:
        yield Unparseable("comments", endpoint, f"{noun} {root_id}: {exc.message}")
        return
    if clean:
        yield Sweep("comments", root_id)
