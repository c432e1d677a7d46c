"""A real HTTP server on loopback that fronts one or more fake platform "apps".

Harvesters must be exercised over real sockets: the WARC has to hold the raw exchange, and
retry/backoff code only proves itself against real status codes, headers and broken
connections. The platform-specific behaviour lives in apps (see ``FakeApp``); everything a
platform does not decide itself (threading, recording, fault injection, quiet shutdown) lives
here, so the Facebook/Instagram/X/YouTube/Bluesky fakes only have to write ``handle``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol, get_args
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FAULTS",
    "FakeApp",
    "FakeResponse",
    "FakeServer",
    "Fault",
    "Headers",
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


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased, so tests need not guess the client's casing
    body: bytes = b""
    fault: Fault | None = None  # the fault served instead of the real answer, if any


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


def _fault_response(fault: Fault) -> FakeResponse:
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
        reset = iso_us(datetime.now(UTC) + timedelta(seconds=1))
        return json_response(
            {"error": "Too many requests"},
            status=429,
            headers={
                "Retry-After": "1",
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
            },
        )
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
        fault = fake._take_fault(split.path)
        fake._record(RecordedRequest(method, split.path, query, dict(hdrs._d), body, fault))

        if fault is not None:
            resp = _fault_response(fault)
        else:
            resp = fake._dispatch(method, split.path, query, hdrs)
        self._send(resp, truncate=fault == "truncated", head=method == "HEAD")

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
        self._faults: list[list[Any]] = []  # [prefix, fault, remaining]
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeServer:
        if self._httpd is not None:
            return self
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

    def inject(self, path_prefix: str, fault: Fault, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append([path_prefix, fault, times])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- internals used by the handler ---------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for entry in self._faults:
                if path.startswith(entry[0]):
                    entry[2] -= 1
                    if entry[2] <= 0:
                        self._faults.remove(entry)
                    fault: Fault = entry[1]
                    return fault
        return None

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
