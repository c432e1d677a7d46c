"""A real HTTP server on loopback that fronts one or more fake platform "apps".

Harvesters must be exercised over real sockets: the WARC has to hold the raw exchange, and
retry/backoff code only proves itself against real status codes, headers and broken
connections. The platform-specific behaviour lives in apps (see ``FakeApp``); everything a
platform does not decide itself (threading, recording, fault injection, quiet shutdown) lives
here, so the Facebook/Instagram/X/YouTube/Bluesky fakes only have to write ``handle``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
import traceback
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol, get_args
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FAULTS",
    "HOSTILE_FAULTS",
    "SURROGATE_MARKER",
    "FakeApp",
    "FakeResponse",
    "FakeServer",
    "Fault",
    "Headers",
    "Hostile",
    "RecordedRequest",
    "header",
    "iso_ms",
    "iso_us",
    "json_response",
]


@dataclass
class FakeResponse:
    """Exactly what goes on the wire; the server adds only Date, Server and Content-Length."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # A long-lived answer (server-sent events): ``body`` first, then each chunk as the
    # iterator yields it, sent chunked until it ends, the client leaves or the server stops.
    stream: Iterator[bytes] | None = None


class FakeApp(Protocol):
    """One fake platform. A Protocol, not a base class, so a fake is any object with
    ``handle`` and several platforms can share one port (as a demo city would need)."""

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        """None = not my route (the server tries the next app, then 404)."""
        ...


Fault = Literal[
    "malformed_json",
    "html_error",
    "truncated",
    "status_500",
    "rate_limit_429",
    "unauthorized_401",
    "not_found_404",
    "empty_body",
]
FAULTS: tuple[Fault, ...] = get_args(Fault)

# Hostile answers for the connector conformance suite. Unlike ``Fault`` (a canned bad answer
# instead of the real one), most of these change the *real* answer or how it is sent, so they
# work on every platform's fake without knowing its shapes:
# * ``loop_cursor``: the first request to each path is answered normally and remembered; a later
#   request to the same path with another query (the next page) gets that first answer again,
#   so the next link / cursor / page token repeats forever;
# * ``gzip_bomb``: 200 with ``Content-Encoding: gzip`` whose body inflates to ``bomb_size``
#   bytes (JSON whitespace, then ``[]``), compressed once in small chunks: never held decoded;
# * ``drip_body``: the real answer sent one byte every ``drip_interval`` seconds;
# * ``lone_surrogate``: every ``SURROGATE_MARKER`` in the real JSON body becomes the escape
#   ``\ud800`` (valid JSON syntax, not valid Unicode), as some APIs emit;
# * ``echo_secret``: the real answer with the request's credentials (bearer token, ``key=`` /
#   ``access_token=`` values) echoed in a header and inside the body, as debug endpoints and
#   some error pages do;
# * ``html_page``: 200 with a ``text/html`` maintenance page instead of the API answer.
Hostile = Literal[
    "loop_cursor",
    "gzip_bomb",
    "drip_body",
    "lone_surrogate",
    "echo_secret",
    "html_page",
]
HOSTILE_FAULTS: tuple[Hostile, ...] = get_args(Hostile)
SURROGATE_MARKER = "LONE-SURROGATE-HERE"
_SECRET_QUERY_KEYS = ("access_token", "key", "token", "api_key")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased, so tests need not guess the client's casing
    body: bytes = b""
    fault: Fault | Hostile | None = None  # the fault served instead of the real answer, if any
    at: float = 0.0  # time.monotonic() when the request arrived (for pacing checks)


class Headers(Mapping[str, str]):
    """Case-insensitive read-only headers: HTTP header names are case-insensitive, and apps
    should not break because one client sends ``authorization`` and another ``Authorization``."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._d: dict[str, str] = {}
        for k, v in (items or {}).items():
            self._d[k.lower()] = v

    def __getitem__(self, key: str) -> str:
        return self._d[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d


def header(headers: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """Case-insensitive lookup that also works on a plain dict (apps may be called directly)."""
    if isinstance(headers, Headers):
        return headers.get(name, default)
    low = name.lower()
    for k, v in headers.items():
        if k.lower() == low:
            return v
    return default


def iso_ms(dt: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: the form Mastodon and most JSON APIs use."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_us(dt: datetime) -> str:
    """ISO 8601 with microseconds and ``Z``: Mastodon's ``X-RateLimit-Reset`` (Ruby
    ``iso8601(6)``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> FakeResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    hdrs = {"Content-Type": "application/json; charset=utf-8"}
    hdrs.update(headers or {})
    return FakeResponse(status, body, hdrs)


_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


_BOMB_CACHE: dict[int, tuple[bytes, ...]] = {}


def gzip_bomb_chunks(size: int) -> tuple[bytes, ...]:
    """A gzip stream inflating to ``size`` bytes of JSON whitespace then ``[]``; built once per
    size a megabyte at a time, so only the compressed form (about size/1000) is ever held."""
    cached = _BOMB_CACHE.get(size)
    if cached is not None:
        return cached
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    out: list[bytes] = []
    left = size
    while left > 0:
        out.append(comp.compress(block[: min(left, len(block))]))
        left -= len(block)
    out.append(comp.compress(b"[]"))
    out.append(comp.flush())
    chunks = tuple(c for c in out if c)
    _BOMB_CACHE[size] = chunks
    return chunks


def _with_surrogate(resp: FakeResponse) -> FakeResponse:
    marker = SURROGATE_MARKER.encode()
    return FakeResponse(resp.status, resp.body.replace(marker, b"\\ud800"), dict(resp.headers))


def _request_secrets(headers: Headers, query: Mapping[str, list[str]]) -> list[str]:
    found = []
    auth = headers.get("authorization") or ""
    if auth:
        found.append(auth.split(" ", 1)[-1])
    for key in _SECRET_QUERY_KEYS:
        found.extend(v for v in query.get(key, []) if v)
    return found


def _with_echo(resp: FakeResponse, secrets: list[str]) -> FakeResponse:
    """The answer with ``secrets`` echoed; a JSON object gains a ``debug`` member, an XML
    document a comment after its prolog, anything else only the header."""
    if not secrets:
        return resp
    text = " ".join(secrets)
    headers = dict(resp.headers)
    headers["X-Debug-Request-Auth"] = text
    body = resp.body
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        data["debug"] = {"request_credentials": text}
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    elif body.lstrip().startswith(b"<?xml"):
        end = body.find(b"?>") + 2
        body = body[:end] + f"<!-- request credentials: {text} -->".encode() + body[end:]
    return FakeResponse(resp.status, body, headers)


_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>We'll be right back</title></head>"
    b"<body><h1>Scheduled maintenance</h1><p>Please try again later.</p></body></html>"
)


def _fault_response(fault: Fault, retry_after: int = 1, reset_headers: bool = True) -> FakeResponse:
    """The canned bad answer for each fault; shapes copied from what real platforms and their
    reverse proxies send, so client error classification is tested against reality."""
    if fault == "malformed_json":
        return FakeResponse(
            200,
            b'[{"id":"113270115826048975","created_at":"2026-11-20T18:00:00.000Z","content":"<p>Sn',
            {"Content-Type": "application/json; charset=utf-8"},
        )
    if fault == "html_error":
        return FakeResponse(502, _NGINX_502, {"Content-Type": "text/html", "Server": "nginx"})
    if fault == "truncated":
        return json_response([{"id": "1", "content": "<p>" + "x" * 200 + "</p>"}])
    if fault == "status_500":
        return json_response(
            {"error": "We're sorry, but something went wrong on our end."}, status=500
        )
    if fault == "rate_limit_429":
        reset = iso_us(datetime.now(UTC) + timedelta(seconds=retry_after))
        headers = {"Retry-After": str(retry_after)}
        if reset_headers:
            headers |= {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
            }
        return json_response({"error": "Too many requests"}, status=429, headers=headers)
    if fault == "unauthorized_401":
        return json_response({"error": "The access token is invalid"}, status=401)
    if fault == "not_found_404":
        return json_response({"error": "Record not found"}, status=404)
    if fault == "empty_body":
        return FakeResponse(200, b"", {"Content-Type": "application/json; charset=utf-8"})
    raise ValueError(f"unknown fault {fault!r}")  # pragma: no cover - Literal guards this


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real platforms; needs Content-Length
    server_version = "fake-platform"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection must not pin a thread forever
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log: test output and the demo console stay readable."""

    def _serve(self) -> None:
        fake: FakeServer = self.server.fake
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        hdrs = Headers({k: v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        method = self.command
        arrived = time.monotonic()
        fault, replay = fake._take_fault(split.path, split.query)
        remember = fault == "loop_cursor" and replay is None
        if remember:
            fault = None  # answered for real (and remembered): not a fault on the record
        fake._record(
            RecordedRequest(method, split.path, query, dict(hdrs._d), body, fault, arrived)
        )

        if fault == "gzip_bomb":
            self._send_bomb(fake.bomb_size)
            return
        if replay is not None:
            resp = replay
        elif fault in FAULTS:
            resp = _fault_response(fault, fake.retry_after, fake.rate_limit_reset_headers)
        elif fault == "html_page":
            resp = FakeResponse(200, _MAINTENANCE_PAGE, {"Content-Type": "text/html"})
        else:
            resp = fake._dispatch(method, split.path, query, hdrs)
            if remember:
                fake._remember_first(split.path, split.query, resp)
            elif fault == "lone_surrogate":
                resp = _with_surrogate(resp)
            elif fault == "echo_secret":
                resp = _with_echo(resp, _request_secrets(hdrs, query))
        if fault == "drip_body":
            self._send_drip(resp, fake)
            return
        if resp.stream is not None:
            self._send_stream(resp, fake)
            return
        self._send(resp, truncate=fault == "truncated", head=method == "HEAD")

    def _send_bomb(self, size: int) -> None:
        chunks = gzip_bomb_chunks(size)
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)
        self.wfile.flush()

    def _send_drip(self, resp: FakeResponse, fake: FakeServer) -> None:
        """Headers at once, then the body a byte at a time; stops when the server stops."""
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        for i in range(len(resp.body)):
            if fake._stopping.wait(fake.drip_interval):
                return
            self.wfile.write(resp.body[i : i + 1])
            self.wfile.flush()

    def _send_stream(self, resp: FakeResponse, fake: FakeServer) -> None:
        """Headers at once, then ``body`` and every chunk of ``stream`` (chunked encoding)."""
        assert resp.stream is not None
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in itertools.chain([resp.body], resp.stream):
                if fake._stopping.is_set():
                    break
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass  # the client hung up: a stream ends that way too
        finally:
            close = getattr(resp.stream, "close", None)
            if close is not None:
                close()

    def _send(self, resp: FakeResponse, *, truncate: bool, head: bool) -> None:
        self.send_response(resp.status)
        names = {k.lower() for k in resp.headers}
        for k, v in resp.headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        if "content-type" not in names and resp.body:
            self.send_header("Content-Type", "application/octet-stream")
        if truncate:
            # Promise more than we send, then hang up: the client sees an incomplete read.
            self.send_header("Content-Length", str(len(resp.body) + 1024))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if not head and resp.status not in (204, 304):
            self.wfile.write(resp.body)

    do_GET = _serve
    do_HEAD = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_OPTIONS = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], fake: FakeServer) -> None:
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Hang up on idle keep-alive clients so their handler threads end now, not at timeout."""
        with self._conns_lock:
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response are normal here (timeouts, truncation tests);
        anything else is kept on ``FakeServer.errors`` instead of printed to stderr."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | socket.timeout):
            return
        if exc is not None:
            self.fake.errors.append(exc)


class FakeServer:
    """Serves ``apps`` in order on a free loopback port; use as a context manager."""

    def __init__(self, *apps: FakeApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.apps: list[FakeApp] = list(apps)
        self.host = host
        self.port = port
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised by apps (served as 500)
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [prefix, fault, remaining, skip]
        self._first_answers: dict[str, tuple[str, FakeResponse]] = {}  # loop_cursor state
        self._stopping = threading.Event()
        self.bomb_size = 256 << 20  # decoded bytes of a gzip_bomb answer
        self.drip_interval = 1.0  # seconds between the bytes of a drip_body answer
        self.retry_after = 1  # seconds in a rate_limit_429 answer's Retry-After and reset
        # False: a rate_limit_429 answer says only Retry-After (no X-RateLimit-* headers).
        self.rate_limit_reset_headers = True
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = None
        self._thread = None
        self._stopping.set()
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------
    def add_app(self, app: FakeApp) -> None:
        with self._lock:
            self.apps.append(app)

    def inject(
        self, path_prefix: str, fault: Fault | Hostile, times: int = 1, *, after: int = 0
    ) -> None:
        """Serve ``fault`` to the next ``times`` requests under ``path_prefix``, once ``after``
        matching requests have been answered normally (``after=1``: from the second page on).
        For ``loop_cursor``, ``times`` counts the replayed answers."""
        if fault not in FAULTS and fault not in HOSTILE_FAULTS:
            known = ", ".join((*FAULTS, *HOSTILE_FAULTS))
            raise ValueError(f"unknown fault {fault!r}; expected one of {known}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if after < 0:
            raise ValueError("after must not be negative")
        with self._lock:
            self._faults.append([path_prefix, fault, times, after])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._first_answers.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- internals used by the handler ---------------------------------------------------
    def _take_fault(
        self, path: str, query: str = ""
    ) -> tuple[Fault | Hostile | None, FakeResponse | None]:
        """The fault for this request, and for a looping path the answer to replay."""
        with self._lock:
            for entry in self._faults:
                if not path.startswith(entry[0]):
                    continue
                if entry[3] > 0:
                    entry[3] -= 1
                    return None, None
                fault: Fault | Hostile = entry[1]
                replay = None
                if fault == "loop_cursor":
                    first = self._first_answers.get(path)
                    if first is None or first[0] == query:
                        return fault if first is None else None, None  # answered for real
                    replay = first[1]
                entry[2] -= 1
                if entry[2] <= 0:
                    self._faults.remove(entry)
                return fault, replay
        return None, None

    def _remember_first(self, path: str, query: str, resp: FakeResponse) -> None:
        with self._lock:
            self._first_answers.setdefault(path, (query, resp))

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], headers: Headers
    ) -> FakeResponse:
        with self._lock:
            apps = list(self.apps)
        for app in apps:
            try:
                resp = app.handle(method, path, query, headers)
            except Exception as exc:  # an app bug must show up in the test, not hang it
                self.errors.append(exc)
                text = "".join(traceback.format_exception(exc))
                return FakeResponse(500, text.encode(), {"Content-Type": "text/plain"})
            if resp is not None:
                return resp
        return FakeResponse(404, b"Not Found\n", {"Content-Type": "text/plain; charset=utf-8"})
