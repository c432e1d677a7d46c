"""The one HTTP client connectors use: every exchange is written to WARC before it is parsed.

Why a wrapper and not an httpx event hook: the bytes in the WARC must be the bytes on the wire
(still content-encoded), secrets must be removed *before* anything is written, and retries must
record every attempt (a 429 is evidence too). Connectors only see ``RecordedResponse``.

What the client guarantees whatever the server does:

- politeness per host: a ``Retry-After``, a reset header or a quota at zero holds every later
  request to that host (``archiver.ratelimit.HostLimits``); a wait the run cannot afford ends
  the run with ``RateLimitedError`` ("rate limited until ...") instead of sleeping;
- bounded reads: bodies are streamed with a cap on the decoded size and a deadline per
  request (``archiver.bodyread``); what was read is still recorded, marked ``WARC-Truncated``;
- no secret in a body: the site's token, the auth header and secret query values echoed in a
  response are masked before the WARC is written (``archiver.masking``);
- one retry loop: the connector's ``classify`` says what an answer means, the client waits
  and retries, or raises the matching ``FetchError``.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from archiver.bodyread import Body, read_body
from archiver.config import HttpSettings
from archiver.errors import (
    AuthError,
    FatalFetchError,
    FetchError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    ResponseTooLargeError,
    RetriableFetchError,
    SkippableFetchError,
)
from archiver.log import get_logger
from archiver.masking import SecretMasker
from archiver.model import RecordClass, WarcRef
from archiver.ratelimit import HostLimits, quota_exhausted
from archiver.ratelimit import retry_after_seconds as retry_after_seconds
from archiver.ratelimit import usage_pressure as usage_pressure
from archiver.textclean import loads_lenient
from archiver.verdict import Classifier, Fatal, Ok, Retry, Skip, Verdict
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


AUTH_HINT = (
    "the access token is missing, expired or lacks permission; renew it and update the "
    "environment variable named by token_env"
)
# An extension field, not ``WARC-...``: WARC/1.1 section 5.1 reserves that prefix for the
# fields the standard defines and tells readers to ignore names they do not know.
MASKED_HEADER = "Muni-Archiver-Payload-Masked"
# pywb / warcprox convention for an HTTP header whose value no longer describes the stored
# payload (the body was stored decoded so that a masked secret could be removed).
ORIG_PREFIX = "X-Archive-Orig-"


def status_classifier(status: int, headers: httpx.Headers, body: bytes) -> Verdict:
    """The recorder's default :data:`~archiver.verdict.Classifier`: HTTP status codes only.

    2xx/304 usable; 429 and 5xx retried (429 after the platform's own wait); 401/403 fatal
    (a person must renew the token); anything else costs this one request (404/410 raise
    ``NotFoundError``). A connector whose platform signals errors in the body wraps this.
    """
    if 200 <= status < 300 or status == 304:
        return Ok()
    message = platform_message(body)
    if status == 429:
        return Retry(f"HTTP 429 rate limited: {message}", retry_after_seconds(headers, time.time()))
    if status >= 500:
        return Retry(f"HTTP {status}: {message}")
    if status in (401, 403):
        return Fatal(f"HTTP {status}: {message}", AUTH_HINT, auth=True)
    return Skip(f"HTTP {status}: {message}")


@dataclass(slots=True)
class RecordedResponse:
    """A response that is already safely in the WARC.

    ``masked``: occurrences of a secret removed from ``content`` (and from the WARC).
    ``json()`` never fails on odd text: invalid UTF-8 and lone-surrogate escapes come back
    as lone surrogates, which the bundle replaces by U+FFFD when the record is stored (and
    counts in the item's ``extra["unicode_replaced"]``); the WARC keeps the bytes as sent.
    """

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    ref: WarcRef
    site: str
    endpoint: str
    skipped_reason: str | None = None
    masked: int = 0

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return loads_lenient(self.content)
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
    def __init__(self, reason: str, retry_after: float | None, status: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


@dataclass(slots=True)
class _Stored:
    """What ``_record`` wrote: where, and the (masked) content the connector may read."""

    ref: WarcRef
    content: bytes
    masked: int


SinkRouter = Callable[[RecordClass], WarcSink]
DedupLookup = Callable[[str, str], RevisitTarget | None]


def _host(url: httpx.URL) -> str:
    return url.netloc.decode("ascii", "replace").lower()


class RecordingClient:
    """GET that retries politely and writes every attempt to the run's WARC."""

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
        limits: HostLimits | None = None,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        timezone: str = "UTC",
    ) -> None:
        """``limits``: share one ``HostLimits`` between clients of the same platform (default:
        this client's own). ``secrets``: values to mask in bodies (the site's token; the auth
        header and secret query values are learned as they are used). ``clock`` and ``sleep``
        go together: tests record the waits instead of sleeping them. ``timezone``: the zone
        "rate limited until" is shown in.
        """
        self.site_id = site_id
        self.settings = settings
        self.sinks = sinks
        self.dedup = dedup
        self.sleep = sleep
        self.clock = clock
        self.limits = limits if limits is not None else HostLimits()
        self.timezone = timezone
        self.log = get_logger().bind(site=site_id)
        headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"}
        self._masker = SecretMasker(secrets)
        # The token goes only to the platform's API host, never to media CDNs or other hosts
        # a response links to (``auth_host`` None: every host, for single-host platforms).
        self._auth_header: str | None = None
        self.use_auth_header(auth_header)
        self._auth_host = auth_host.lower() if auth_host else None
        # Redirects are followed by ``_attempt``, not httpx: httpx would hand back only the last
        # hop and read the others' bodies decoded, so the WARC could not show how the final URL
        # was reached. No single wait (connect, one read) may outlast the request budget.
        self._client = httpx.Client(
            timeout=min(settings.timeout, settings.request_budget),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )
        self._started = clock()
        self.requests_made = 0

    def close(self) -> None:
        self._client.close()

    def use_auth_header(self, value: str | None) -> None:
        """Send ``value`` as ``Authorization`` from now on (an access token the connector just
        obtained, e.g. from an OAuth refresh). It is redacted in the WARC like any other, and
        masked wherever a server echoes it in a body."""
        self._auth_header = value
        if value:
            self._masker.add(value, value.split(" ", 1)[-1])

    def drop_auth_header(self) -> None:
        """Stop sending the site's token as ``Authorization``: for APIs that take the secret
        elsewhere (YouTube's ``key=`` parameter) and refuse any bearer they did not issue."""
        self._auth_header = None

    def add_secret(self, *values: str | None) -> None:
        """Mask these values too in every body recorded from now on."""
        self._masker.add(*values)

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
        classify: Classifier = status_classifier,
        follow: Callable[[str], bool] | None = None,
    ) -> RecordedResponse:
        """Fetch ``url``; raise a typed ``FetchError`` for anything but success.

        Every exchange is in the WARC before ``classify`` (default: HTTP status only) decides
        what it means: ``Ok`` returns it, ``Retry`` waits and asks again (``after`` seconds,
        then shared by every request to the host), ``Fatal`` raises ``FatalFetchError``
        (``AuthError`` when ``auth``), ``Skip`` raises ``SkippableFetchError``
        (``NotFoundError`` for 404/410). ``ok_statuses`` (older form) hands those statuses to
        the caller unless the classifier read something platform-specific into them.

        ``max_bytes``: a smaller cap for bodies that are *skipped* when larger (media): a
        note is recorded instead and the response comes back with ``skipped_reason``. Any
        body over ``http.max_body_bytes`` decoded raises ``ResponseTooLargeError``; one that
        outlasts ``http.request_budget`` raises ``RetriableFetchError``; a wait for the host
        longer than the run can afford raises ``RateLimitedError``.

        ``follow(url)``: whether to follow a redirect to ``url`` (a web crawl keeps to its own
        host); a redirect it refuses is the last hop, handed to ``classify`` as the answer.
        """
        request = self._client.build_request("GET", url, params=params, headers=headers)
        if (
            self._auth_header
            and "authorization" not in request.headers
            and (self._auth_host is None or _host(request.url) == self._auth_host)
        ):
            request.headers["Authorization"] = self._auth_header
        label = endpoint or urlsplit(str(request.url)).path
        tries = max(1, attempts if attempts is not None else self.settings.max_attempts)
        retrying = Retrying(
            stop=stop_after_attempt(tries),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._pause,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(
                        request, record_class, label, max_bytes, ok_statuses, classify, follow
                    )
        except _Retry as exc:
            raise RetriableFetchError(
                f"gave up after {tries} attempts: {exc.reason}",
                site=self.site_id,
                endpoint=label,
                status=exc.status,
                retry_after=exc.retry_after,
                hint="the platform is failing or rate-limiting; the next scheduled run will retry",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- waiting ----------------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        """Backoff between attempts. A platform-given wait is not slept here: it was put on
        the host (``HostLimits``) and ``_throttle`` waits it out before the next request, the
        retry's or any other."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return 0.0
        base = min(self.settings.max_retry_wait, 0.5 * (2 ** (state.attempt_number - 1)))
        return float(base * random.uniform(0.5, 1.0))

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)

    def _affordable(self, host: str, wait: float, reason: str, label: str) -> None:
        """Raise ``RateLimitedError`` when ``wait`` is longer than one wait may be
        (``http.max_retry_wait``) or than what is left of the run (``http.run_budget``)."""
        elapsed = self.clock() - self._started
        left = self.settings.run_budget - elapsed
        if wait <= min(self.settings.max_retry_wait, left):
            return
        until = datetime.fromtimestamp(self.clock() + wait, UTC)
        shown = until.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")
        why = (
            f"longer than the longest wait allowed (http.max_retry_wait = "
            f"{self.settings.max_retry_wait:g} s)"
            if wait > self.settings.max_retry_wait
            else f"longer than this run has left of http.run_budget ({max(left, 0):.0f} s)"
        )
        self.log.warning(
            "rate_limited_until", host=host, until=until.isoformat(), wait=round(wait, 1)
        )
        raise RateLimitedError(
            f"rate limited until {shown} by {host} ({reason}); a {wait:.0f} s wait is {why}",
            until=until,
            retry_after=wait,
            site=self.site_id,
            endpoint=label,
            hint="the run stopped instead of waiting; the next run starts after that time",
        )

    def _throttle(self, url: httpx.URL, label: str) -> None:
        """Honour the host's hold before sending anything to it."""
        host = _host(url)
        hold = self.limits.hold(host, self.clock())
        if hold is None:
            return
        delay = hold.until - self.clock()
        self._affordable(host, delay, hold.reason, label)
        self.log.info("rate_limit_pause", host=host, seconds=round(delay, 2), reason=hold.reason)
        self.sleep(delay)
        self.limits.waited(hold)

    def _note_rate_limits(self, url: httpx.URL, headers: httpx.Headers) -> None:
        """A quota at zero or Meta usage near 100 % holds the host for later requests."""
        now = self.clock()
        if quota_exhausted(headers):
            wait = retry_after_seconds(headers, now)
            if wait:
                self.limits.defer(_host(url), now + wait, "request quota used up until reset")
        pressure = usage_pressure(headers)
        if pressure >= 95:
            pause = min(self.settings.max_retry_wait, 60.0)
            self.limits.defer(_host(url), now + pause, f"platform usage at {pressure:g} %")

    # -- one attempt ------------------------------------------------------------------------
    def _attempt(
        self,
        request: httpx.Request,
        record_class: RecordClass,
        label: str,
        max_bytes: int | None,
        ok_statuses: tuple[int, ...],
        classify: Classifier,
        follow: Callable[[str], bool] | None = None,
    ) -> RecordedResponse:
        """One try at ``request``: every redirect hop is sent, recorded as its own request and
        response pair, then followed; the connector gets the last hop, as with httpx."""
        for hops in range(MAX_REDIRECTS + 1):
            response, body = self._exchange(request, max_bytes, label)
            if not response.has_redirect_location:
                break
            following = self._redirect_request(request, response, label)
            if follow is not None and not follow(str(following.url)):
                break
            self._record(request, response, body, redact_url(str(request.url)), record_class)
            request = following
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
        status = response.status_code
        if body.stopped == "skip_cap" and 200 <= status < 300:
            reason = f"not captured: larger than the configured cap of {max_bytes} bytes"
            declared = response.headers.get("content-length")
            note = json.dumps(
                {"skipped": uri, "reason": reason, "content_length": declared}
            ).encode()
            ref = self.sinks(record_class).write_metadata(uri, note, "application/json")
            self.log.warning("media_skipped", uri=uri, reason=reason)
            return RecordedResponse(
                url=str(request.url),
                status_code=status,
                headers=response.headers,
                content=b"",
                ref=ref,
                site=self.site_id,
                endpoint=label,
                skipped_reason=reason,
            )
        stored = self._record(request, response, body, uri, record_class)
        self._raise_for_body(body, label, status)
        success = 200 <= status < 300 or status == 304 or status in ok_statuses
        if body.decode_error is not None and success:
            raise MalformedResponseError(body.decode_error, site=self.site_id, endpoint=label)
        content = stored.content
        verdict: Verdict = classify(status, response.headers, content)
        if status in ok_statuses and verdict == status_classifier(
            status, response.headers, content
        ):
            # ``ok_statuses`` overrides the generic status rules only: a platform-specific
            # verdict (an expired token or a rate limit inside a 400 body) still counts.
            verdict = Ok()
        if isinstance(verdict, Ok):
            return RecordedResponse(
                url=str(request.url),
                status_code=status,
                headers=response.headers,
                content=content,
                ref=stored.ref,
                site=self.site_id,
                endpoint=label,
                masked=stored.masked,
            )
        if isinstance(verdict, Retry):
            if status == 429:
                self.log.warning("rate_limited", endpoint=label, retry_after=verdict.after)
            if verdict.after is not None:
                host = _host(request.url)
                until = self.clock() + verdict.after + random.uniform(0, 0.25)
                hold = self.limits.defer(host, until, verdict.reason)
                self._affordable(host, hold.until - self.clock(), verdict.reason, label)
            raise _Retry(verdict.reason, verdict.after, status)
        if isinstance(verdict, Fatal):
            fatal = AuthError if verdict.auth else FatalFetchError
            raise fatal(
                verdict.reason, site=self.site_id, endpoint=label, status=status, hint=verdict.hint
            )
        skip = NotFoundError if status in (404, 410) else SkippableFetchError
        raise skip(verdict.reason, site=self.site_id, endpoint=label, status=status)

    def _raise_for_body(self, body: Body, label: str, status: int) -> None:
        """A body that stopped early is in the WARC (truncated); now say why it is unusable."""
        if body.stopped in ("too_large", "skip_cap"):
            raise ResponseTooLargeError(
                f"HTTP {status} response body too large ({body.detail}); only the first "
                "part was recorded, marked truncated",
                site=self.site_id,
                endpoint=label,
                status=status,
                hint=f"no real API page is this large; if this platform's are, raise "
                f"http.max_body_bytes (now {self.settings.max_body_bytes} bytes, decoded)",
            )
        if body.stopped == "budget":
            # Not retried in this run: a server this slow would cost the budget again.
            raise RetriableFetchError(
                f"HTTP {status} response took longer than http.request_budget "
                f"({self.settings.request_budget:g} s) to arrive: {body.detail}; only the "
                "first part was recorded, marked truncated",
                site=self.site_id,
                endpoint=label,
                status=status,
                hint="the platform is answering very slowly; the next scheduled run will retry",
            )
        if body.stopped in ("read_timeout", "disconnect"):
            raise _Retry(f"response body truncated ({body.detail})", None, None)

    def _exchange(
        self, request: httpx.Request, max_bytes: int | None, label: str
    ) -> tuple[httpx.Response, Body]:
        """Send one request (after the host's hold) and read its body within the caps."""
        self._throttle(request.url, label)
        self._masker.add(
            *(v for k, v in request.url.params.multi_items() if SECRET_PARAMS.match(k))
        )
        self.requests_made += 1
        deadline = time.monotonic() + self.settings.request_budget
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}", None, None) from exc
        try:
            body = read_body(
                response,
                max_decoded=self.settings.max_body_bytes,
                deadline=deadline,
                skip_over=max_bytes,
            )
        finally:
            response.close()
        self._note_rate_limits(request.url, response.headers)
        return response, body

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

    # -- writing ----------------------------------------------------------------------------
    def _mask(
        self, body: Body, headers: list[tuple[str, str]]
    ) -> tuple[bytes, bytes, list[tuple[str, str]], int]:
        """(bytes for the WARC, content for the connector, HTTP headers, occurrences masked).

        A secret in a content-encoded body cannot be masked in the compressed bytes, so that
        body is stored decoded and masked, and the HTTP headers that described the wire form
        (Content-Encoding, Content-Length) are kept under ``X-Archive-Orig-`` names.
        """
        if not self._masker:
            return body.raw, body.content, headers, 0
        count = 0
        clean_headers = []
        for name, value in headers:
            masked_value, n = self._masker.mask(value.encode("utf-8", "surrogateescape"))
            count += n
            clean_headers.append(
                (name, masked_value.decode("utf-8", "surrogateescape") if n else value)
            )
        if body.decoded is None or body.decoded is body.raw:
            stored, n = self._masker.mask(body.raw)
            return stored, stored if n else body.content, clean_headers, count + n
        content, n = self._masker.mask(body.decoded)
        in_raw = self._masker.mask(body.raw)[1]
        if not n and not in_raw:
            return body.raw, body.decoded, clean_headers, count
        rewritten = []
        for name, value in clean_headers:
            low = name.lower()
            if low in ("content-encoding", "content-length"):
                rewritten.append((ORIG_PREFIX + name, value))
            else:
                rewritten.append((name, value))
        if not body.stopped:
            rewritten.append(("Content-Length", str(len(content))))
        return content, content, rewritten, count + (n or in_raw)

    def record_received(
        self, uri: str, raw: bytes, *, record_class: RecordClass, content_type: str
    ) -> WarcRef:
        """Write bytes the platform *pushed* to us (a webhook delivery) to the WARC as received.

        Not an exchange we made, so it is a ``metadata`` record of the whole HTTP request;
        nothing in it is masked or rewritten (it carries no token of ours, and it is evidence).
        """
        return self.sinks(record_class).write_metadata(redact_url(uri), raw, content_type)

    def _record(
        self,
        request: httpx.Request,
        response: httpx.Response,
        body: Body,
        uri: str,
        record_class: RecordClass,
    ) -> _Stored:
        sink = self.sinks(record_class)
        target = urlsplit(uri)
        path = target.path + (f"?{target.query}" if target.query else "")
        req_headers = redact_headers(request.headers.multi_items())
        resp_headers = [
            (k, v)
            for k, v in redact_headers(response.headers.multi_items())
            if k.lower() not in HOP_BY_HOP
        ]
        stored, content, resp_headers, masked = self._mask(body, resp_headers)
        # A chunked body gets the Content-Length it turned out to have; a truncated one does
        # not (its length is not the resource's), the WARC-Truncated field says it stopped.
        if not body.stopped and not any(k.lower() == "content-length" for k, _ in resp_headers):
            resp_headers.append(("Content-Length", str(len(stored))))
        warc_headers: dict[str, str] = {}
        if body.truncated:
            warc_headers["WARC-Truncated"] = body.truncated
        if masked:
            warc_headers[MASKED_HEADER] = (
                f"secret echoed by the server; {masked} occurrence(s) replaced by '*' of the "
                "same length by muni-archiver before writing"
            )
            self.log.warning("secret_masked", uri=uri, occurrences=masked)
        digest = payload_digest(stored)
        revisit = None
        if response.status_code == 200 and self.dedup is not None and stored and not warc_headers:
            revisit = self.dedup(uri, digest)
        http_version = response.http_version or "HTTP/1.1"
        ref = sink.write_exchange(
            uri=uri,
            request_line=f"{request.method} {path} {http_version}",
            request_headers=req_headers,
            status_line=f"{response.status_code} {response.reason_phrase or ''}".strip(),
            status=response.status_code,
            response_headers=resp_headers,
            body=stored,
            revisit_of=revisit,
            digest=digest,
            warc_headers=warc_headers,
        )
        return _Stored(ref, content, masked)


def utcnow() -> datetime:
    return datetime.now(UTC)
