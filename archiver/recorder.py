"""The one HTTP client connectors use: every exchange is written to WARC before it is parsed.

Why a wrapper and not an httpx event hook: the bytes in the WARC must be the bytes on the wire
(still content-encoded), secrets must be removed *before* anything is written, and retries must
record every attempt (a 429 is evidence too). Connectors only see ``RecordedResponse``.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from archiver.config import HttpSettings
from archiver.errors import (
    AuthError,
    FatalFetchError,
    FetchError,
    MalformedResponseError,
    NotFoundError,
    RetriableFetchError,
    SkippableFetchError,
)
from archiver.model import RecordClass, WarcRef
from archiver.verdict import Classifier, Fatal, Retry, Skip, Verdict
from archiver.warc import RevisitTarget, WarcSink, payload_digest

REDACTED = "REDACTED"
SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"}
SECRET_PARAMS = re.compile(
    r"^(access_token|input_token|token|api_key|apikey|key|client_secret|appsecret_proof|password|"
    r"refresh_token|code|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)$",
    re.IGNORECASE,
)
HOP_BY_HOP = {"transfer-encoding", "connection", "keep-alive"}
# Headers whose whole value is one URL. A server echoes the request URL, token and all, into
# these (a redirect's Location, a signed CDN URL), so they need the same redaction as the URI.
URL_HEADERS = {"location", "content-location", "referer"}
_LINK_TARGET = re.compile(r"<([^>]*)>")
# ``Refresh: 5; url=https://...`` (also ``URL='...'`` and the bare ``5; https://...`` form).
_REFRESH = re.compile(
    r"^(\s*\d+(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?)(['\"]?)(.*?)\2(\s*)$", re.IGNORECASE | re.DOTALL
)
# Fewer than httpx's 20: an API or CDN that needs more than a handful of hops is misconfigured
# or looping, and every hop costs a request against the rate limit and a WARC record.
MAX_REDIRECTS = 10


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    cleaned = [(k, REDACTED if SECRET_PARAMS.match(k) else v) for k, v in pairs]
    return urlencode(cleaned, safe=":,/@")


def _has_secret(query: str) -> bool:
    return any(SECRET_PARAMS.match(k) for k, _ in parse_qsl(query, keep_blank_values=True))


def redact_url(url: str) -> str:
    """Replace secret query values (tokens, API keys) before the URL is stored anywhere."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query=_redact_query(parts.query)))


def redact_header_url(url: str) -> str:
    """``redact_url`` for a URL inside a header value, which also covers the fragment (OAuth's
    implicit flow redirects to ``#access_token=``) and a password in the userinfo.

    A URL without a secret is returned exactly as the server sent it: the WARC should differ
    from the wire only where something had to be removed, and ``redact_url`` re-encodes.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Not parseable, so there is no telling where a secret would sit: keep none of it.
        return REDACTED
    netloc, query, fragment = parts.netloc, parts.query, parts.fragment
    if password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{hostport}"
    if _has_secret(query):
        query = _redact_query(query)
    if _has_secret(fragment):
        fragment = _redact_query(fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


def _redact_refresh(value: str) -> str:
    match = _REFRESH.match(value)
    if match is None or not match.group(3):
        return value
    lead, quote, target, trail = match.groups()
    return f"{lead}{quote}{redact_header_url(target)}{quote}{trail}"


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers as they may be written to the WARC or a log.

    Secret-named headers (Authorization, Cookie...) lose their value. URL-valued headers keep
    theirs with the secrets inside each URL removed: a ``Link: <...?access_token=...>`` page
    link (Mastodon, Graph) or a redirect's ``Location`` would otherwise put the token in the
    archive verbatim. Connectors still read the original headers from ``RecordedResponse``.
    """
    out = []
    for name, value in headers:
        low = name.lower()
        if low in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out.append((name, f"{scheme} {REDACTED}".strip()))
        elif low == "link":
            out.append(
                (name, _LINK_TARGET.sub(lambda m: f"<{redact_header_url(m.group(1))}>", value))
            )
        elif low in URL_HEADERS:
            out.append((name, redact_header_url(value)))
        elif low == "refresh":
            out.append((name, _redact_refresh(value)))
        else:
            out.append((name, value))
    return out


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """How long the platform asked us to wait: Retry-After, then the rate-limit reset headers."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    # ``ratelimit-reset``: IETF draft header; Bluesky sends it as epoch seconds.
    for name in ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"):
        reset = headers.get(name)
        if not reset:
            continue
        try:
            number = float(reset)
            # epoch seconds (X) vs seconds-from-now (some APIs)
            return max(0.0, number - now) if number > 1e9 else max(0.0, number)
        except ValueError:
            try:
                when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
                return max(0.0, when.timestamp() - now)
            except ValueError:
                continue
    return None


def usage_pressure(headers: Mapping[str, str]) -> float:
    """Meta's x-app-usage / x-business-use-case-usage: highest percentage used (0-100)."""
    worst = 0.0
    for name in ("x-app-usage", "x-business-use-case-usage", "x-page-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack: list[Any] = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    if isinstance(v, int | float) and k in (
                        "call_count",
                        "total_cputime",
                        "total_time",
                    ):
                        worst = max(worst, float(v))
                    else:
                        stack.append(v)
            elif isinstance(node, list):
                stack.extend(node)
    return worst


def platform_message(body: bytes) -> str:
    """The platform's own error text, from the common JSON error shapes."""
    try:
        data = json.loads(body)
    except ValueError:
        text = re.sub(r"<[^>]+>", " ", body[:300].decode("utf-8", "replace"))
        return " ".join(text.split())[:200] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("error_user_msg")
            code = err.get("code")
            return f"{msg} (code {code})" if code is not None else str(msg)
        if isinstance(err, str):
            detail = data.get("error_description") or data.get("message")
            return f"{err}: {detail}" if isinstance(detail, str) and detail else err
        for key in ("detail", "title", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or errors[0])
    return json.dumps(data)[:200]


@dataclass(slots=True)
class RecordedResponse:
    """A response that is already safely in the WARC."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    ref: WarcRef
    site: str
    endpoint: str
    skipped_reason: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.content)
        except ValueError:
            ctype = self.headers.get("content-type", "?")
            start = " ".join(self.text[:60].split())
            raise MalformedResponseError(
                f"expected JSON but got {ctype!r} starting {start!r}",
                site=self.site,
                endpoint=self.endpoint,
                hint="the platform may be down or the base_url may point at a web page, not the API",
            ) from None

    @property
    def links(self) -> dict[str, str]:
        """RFC 8288 Link header as {rel: url}."""
        out: dict[str, str] = {}
        for part in self.headers.get_list("link"):
            for m in re.finditer(r'<([^>]*)>\s*;\s*rel="?([^";,]+)"?', part):
                out[m.group(2)] = m.group(1)
        return out


class _Retry(Exception):
    def __init__(
        self, reason: str, retry_after: float | None, status: int | None, *, final: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status
        self.final = final  # a wait longer than this run may spend: do not retry


SinkRouter = Callable[[RecordClass], WarcSink]
DedupLookup = Callable[[str, str], RevisitTarget | None]


class RecordingClient:
    """GET (and POST) that retries politely and writes every attempt to the run's WARC."""

    def __init__(
        self,
        *,
        site_id: str,
        settings: HttpSettings,
        sinks: SinkRouter,
        dedup: DedupLookup | None = None,
        auth_header: str | None = None,
        auth_host: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.site_id = site_id
        self.settings = settings
        self.sinks = sinks
        self.dedup = dedup
        self.sleep = sleep
        self.log = structlog.get_logger().bind(site=site_id)
        headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"}
        # The token goes only to the platform's API host, never to media CDNs or other hosts
        # a response links to (``auth_host`` None: every host, for single-host platforms).
        self._auth_header = auth_header
        self._auth_host = auth_host.lower() if auth_host else None
        # Redirects are followed by ``_attempt``, not httpx: httpx would hand back only the last
        # hop and read the others' bodies decoded, so the WARC could not show how the final URL
        # was reached.
        self._client = httpx.Client(
            timeout=settings.timeout, headers=headers, transport=transport, follow_redirects=False
        )
        self._not_before = 0.0
        self.requests_made = 0

    def close(self) -> None:
        self._client.close()

    def use_auth_header(self, value: str) -> None:
        """Send ``value`` as ``Authorization`` from now on (an access token the connector just
        obtained, e.g. from an OAuth refresh). It is redacted in the WARC like any other."""
        self._auth_header = value

    def drop_auth_header(self) -> None:
        """Stop sending the site's token as ``Authorization``: for APIs that take the secret
        elsewhere (YouTube's ``key=`` parameter) and refuse any bearer they did not issue."""
        self._auth_header = None

    def get(
        self,
        url: str,
        *,
        record_class: RecordClass,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        max_bytes: int | None = None,
        ok_statuses: tuple[int, ...] = (),
        attempts: int | None = None,
        classify: Classifier | None = None,
    ) -> RecordedResponse:
        """Fetch ``url``; raise a typed ``FetchError`` for anything but success.

        ``ok_statuses`` lets a connector accept, e.g., 404 when absence is the answer.
        ``classify`` (the platform's reading of its own error shapes) is asked first about
        every recorded answer: Retry joins this retry loop, Fatal and Skip raise; Ok leaves
        the answer to the status rules below.
        """
        request = self._client.build_request("GET", url, params=params, headers=headers)
        if (
            self._auth_header
            and "authorization" not in request.headers
            and (self._auth_host is None or request.url.netloc.decode().lower() == self._auth_host)
        ):
            request.headers["Authorization"] = self._auth_header
        label = endpoint or urlsplit(str(request.url)).path
        tries = max(1, attempts if attempts is not None else self.settings.max_attempts)
        retrying = Retrying(
            stop=stop_after_attempt(tries),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retry) and not e.final),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(
                        request, record_class, label, max_bytes, ok_statuses, classify
                    )
        except _Retry as exc:
            if exc.final:
                raise RetriableFetchError(
                    exc.reason,
                    site=self.site_id,
                    endpoint=label,
                    status=exc.status,
                    retry_after=exc.retry_after,
                    hint="the next scheduled run after that time continues from the bookmarks",
                ) from None
            raise RetriableFetchError(
                f"gave up after {tries} attempts: {exc.reason}",
                site=self.site_id,
                endpoint=label,
                status=exc.status,
                retry_after=exc.retry_after,
                hint="the platform is failing or rate-limiting; the next scheduled run will retry",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        cap = self.settings.max_retry_wait
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return min(cap, exc.retry_after + random.uniform(0, 0.25))
        base = min(cap, 0.5 * (2 ** (state.attempt_number - 1)))
        return float(base * random.uniform(0.5, 1.0))

    def _throttle(self) -> None:
        delay = self._not_before - time.time()
        if delay > 0:
            self.log.info("rate_limit_pause", seconds=round(delay, 2))
            self.sleep(min(delay, self.settings.max_retry_wait))

    def _attempt(
        self,
        request: httpx.Request,
        record_class: RecordClass,
        label: str,
        max_bytes: int | None,
        ok_statuses: tuple[int, ...],
        classify: Classifier | None = None,
    ) -> RecordedResponse:
        """One try at ``request``: every redirect hop is sent, recorded as its own request and
        response pair, then followed; the connector gets the last hop, as with httpx."""
        for hops in range(MAX_REDIRECTS + 1):
            response, body, oversize, declared = self._exchange(request, max_bytes)
            if not response.has_redirect_location:
                break
            self._record(request, response, body, redact_url(str(request.url)), record_class)
            request = self._redirect_request(request, response, label)
            self.log.debug(
                "redirect",
                endpoint=label,
                status=response.status_code,
                location=redact_url(str(request.url)),
                hop=hops + 1,
            )
        else:
            raise FetchError(
                f"more than {MAX_REDIRECTS} redirects; the last pointed to "
                f"{redact_url(str(request.url))}",
                site=self.site_id,
                endpoint=label,
                status=response.status_code,
                hint="the URL redirects in a loop or through too many hops; check the "
                "configured base_url or account URL",
            )
        uri = redact_url(str(request.url))
        if oversize and 200 <= response.status_code < 300:
            reason = f"not captured: larger than the configured cap of {max_bytes} bytes"
            note = json.dumps(
                {"skipped": uri, "reason": reason, "content_length": declared}
            ).encode()
            ref = self.sinks(record_class).write_metadata(uri, note, "application/json")
            self.log.warning("media_skipped", uri=uri, reason=reason)
            return RecordedResponse(
                url=str(request.url),
                status_code=response.status_code,
                headers=response.headers,
                content=b"",
                ref=ref,
                site=self.site_id,
                endpoint=label,
                skipped_reason=reason,
            )
        ref = self._record(request, response, body, uri, record_class)
        status = response.status_code
        if classify is not None:
            content = self._decode(body, response.headers, label, strict=False)
            self._apply(classify(status, response.headers, content), status, label)
        if 200 <= status < 300 or status == 304 or status in ok_statuses:
            content = self._decode(body, response.headers, label)
            return RecordedResponse(
                url=str(request.url),
                status_code=status,
                headers=response.headers,
                content=content,
                ref=ref,
                site=self.site_id,
                endpoint=label,
            )
        message = platform_message(self._decode(body, response.headers, label, strict=False))
        if status == 429:
            wait = retry_after_seconds(response.headers, time.time())
            self.log.warning("rate_limited", endpoint=label, retry_after=wait)
            raise _Retry(f"HTTP 429 rate limited: {message}", wait, status)
        if status >= 500:
            raise _Retry(f"HTTP {status}: {message}", None, status)
        if status in (401, 403):
            raise AuthError(
                f"HTTP {status}: {message}",
                site=self.site_id,
                endpoint=label,
                status=status,
                hint="the access token is missing, expired or lacks permission; renew it and "
                "update the environment variable named by token_env",
            )
        if status in (404, 410):
            raise NotFoundError(
                f"HTTP {status}: {message}", site=self.site_id, endpoint=label, status=status
            )
        raise FetchError(
            f"HTTP {status}: {message}", site=self.site_id, endpoint=label, status=status
        )

    def _apply(self, verdict: Verdict, status: int, label: str) -> None:
        """Act on a platform classifier's verdict (``Ok`` falls through to the status rules)."""
        if isinstance(verdict, Retry):
            final = verdict.after is not None and verdict.after > self.settings.max_retry_wait
            raise _Retry(verdict.reason, verdict.after, status, final=final)
        if isinstance(verdict, Fatal):
            kind = AuthError if verdict.auth else FatalFetchError
            raise kind(
                verdict.reason, site=self.site_id, endpoint=label, status=status, hint=verdict.hint
            )
        if isinstance(verdict, Skip):
            raise SkippableFetchError(
                verdict.reason, site=self.site_id, endpoint=label, status=status
            )

    def _exchange(
        self, request: httpx.Request, max_bytes: int | None
    ) -> tuple[httpx.Response, bytes, bool, str | None]:
        """Send one request and read its body as it came off the wire (still content-encoded).

        Returns the (closed) response, the raw body, whether it was cut at ``max_bytes``, and
        the declared Content-Length.
        """
        self._throttle()
        self.requests_made += 1
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}", None, None) from exc
        oversize = False
        try:
            raw = bytearray()
            declared = response.headers.get("content-length")
            if (
                max_bytes is not None
                and declared
                and declared.isdigit()
                and int(declared) > max_bytes
            ):
                oversize = True
            try:
                for chunk in [] if oversize else response.iter_raw():
                    raw.extend(chunk)
                    if max_bytes is not None and len(raw) > max_bytes:
                        oversize = True
                        break
            except httpx.TransportError as exc:
                raise _Retry(
                    f"response body truncated ({len(raw)} bytes received): {exc}", None, None
                ) from exc
        finally:
            response.close()
        self._note_rate_limits(response.headers)
        return response, bytes(raw), oversize, declared

    def _redirect_request(
        self, request: httpx.Request, response: httpx.Response, label: str
    ) -> httpx.Request:
        """The request for the next hop, built the way httpx builds it (RFC 9110 method
        rewriting, relative Locations, cookies from the client's jar) with the token rule made
        stricter: ``Authorization`` survives a hop only to the same origin (or its http->https
        upgrade) *and*, when ``auth_host`` is set, only to that host. Once dropped it is never
        put back, so a redirect elsewhere cannot bounce the token on to a third host.

        Only bodiless methods are sent by this client, so no request body is carried over.
        """
        status = response.status_code
        try:
            location = httpx.URL(response.headers["location"])
            if location.scheme and not location.host:
                location = location.copy_with(host=request.url.host)
            url = request.url.join(location) if location.is_relative_url else location
        except httpx.InvalidURL as exc:
            raise FetchError(
                f"HTTP {status} redirect to an invalid Location: {exc}",
                site=self.site_id,
                endpoint=label,
                status=status,
            ) from None
        if url.scheme not in ("http", "https"):
            raise FetchError(
                f"HTTP {status} redirect to an unsupported scheme {url.scheme!r}",
                site=self.site_id,
                endpoint=label,
                status=status,
            )
        method = request.method
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        headers = httpx.Headers(request.headers)
        # Host follows the new URL; Cookie comes from the jar, which matches it per domain.
        for name in ("host", "cookie", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        if "authorization" in headers and not self._may_keep_auth(request.url, url):
            del headers["authorization"]
        return self._client.build_request(method, url, headers=headers)

    def _may_keep_auth(self, old: httpx.URL, new: httpx.URL) -> bool:
        def port(url: httpx.URL) -> int | None:
            return url.port if url.port is not None else {"http": 80, "https": 443}.get(url.scheme)

        same_origin = old.scheme == new.scheme and old.host == new.host and port(old) == port(new)
        https_upgrade = (
            old.host == new.host
            and (old.scheme, port(old)) == ("http", 80)
            and (new.scheme, port(new)) == ("https", 443)
        )
        to_api_host = self._auth_host is None or new.netloc.decode().lower() == self._auth_host
        return (same_origin or https_upgrade) and to_api_host

    def _note_rate_limits(self, headers: httpx.Headers) -> None:
        remaining = (
            headers.get("x-ratelimit-remaining")
            or headers.get("x-rate-limit-remaining")
            or headers.get("ratelimit-remaining")
        )
        if remaining is not None and remaining.strip() == "0":
            wait = retry_after_seconds(headers, time.time())
            if wait:
                self._not_before = time.time() + wait
        if usage_pressure(headers) >= 95:
            self._not_before = time.time() + min(self.settings.max_retry_wait, 60.0)

    def _decode(
        self, body: bytes, headers: httpx.Headers, label: str, *, strict: bool = True
    ) -> bytes:
        encoding = headers.get("content-encoding", "").lower().strip()
        if not encoding or encoding == "identity" or not body:
            return body
        try:
            if encoding == "gzip":
                return zlib.decompress(body, 16 + zlib.MAX_WBITS)
            if encoding == "deflate":
                try:
                    return zlib.decompress(body)
                except zlib.error:
                    return zlib.decompress(body, -zlib.MAX_WBITS)
        except zlib.error as exc:
            if not strict:
                return body
            raise MalformedResponseError(
                f"cannot decode {encoding} body: {exc}", site=self.site_id, endpoint=label
            ) from exc
        return body

    def _record(
        self,
        request: httpx.Request,
        response: httpx.Response,
        body: bytes,
        uri: str,
        record_class: RecordClass,
    ) -> WarcRef:
        sink = self.sinks(record_class)
        target = urlsplit(uri)
        path = target.path + (f"?{target.query}" if target.query else "")
        req_headers = redact_headers(request.headers.multi_items())
        resp_headers = [
            (k, v)
            for k, v in redact_headers(response.headers.multi_items())
            if k.lower() not in HOP_BY_HOP
        ]
        if not any(k.lower() == "content-length" for k, _ in resp_headers):
            resp_headers.append(("Content-Length", str(len(body))))
        digest = payload_digest(body)
        revisit = None
        if response.status_code == 200 and self.dedup is not None and body:
            revisit = self.dedup(uri, digest)
        http_version = response.http_version or "HTTP/1.1"
        return sink.write_exchange(
            uri=uri,
            request_line=f"{request.method} {path} {http_version}",
            request_headers=req_headers,
            status_line=f"{response.status_code} {response.reason_phrase or ''}".strip(),
            status=response.status_code,
            response_headers=resp_headers,
            body=body,
            revisit_of=revisit,
            digest=digest,
        )


def utcnow() -> datetime:
    return datetime.now(UTC)
