"""The webhook endpoint for Meta (Facebook Page / Instagram): handshake, signature, spool.

``[webhooks] listen = "127.0.0.1:8089"`` makes the daemon serve it (behind the City's reverse
proxy). GET is Meta's subscription handshake: ``hub.mode=subscribe`` and ``hub.verify_token``
equal to the secret named by ``verify_token_env`` answer ``hub.challenge``. POST is a
delivery: its ``X-Hub-Signature-256`` must be the HMAC-SHA256 of the exact body under the app
secret (``app_secret_env``); a forged one is refused with 403, logged, and never stored. The
body is bounded (413) and so is the rate (429). An accepted delivery is written whole, as
received, to a spool file per Page (fsynced, renamed into place) before 200 is answered; the
fast lane then writes it to the WARC and fetches the items it names (``FacebookLive``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from archiver.log import get_logger
from archiver.secrets import read_secret
from archiver.settings.fastlane import WebhookSettings

if TYPE_CHECKING:
    # Loaded when the daemon serves webhooks, not by ``status`` (which counts the spool).
    from http.server import BaseHTTPRequestHandler

log = get_logger()

KEPT_HEADERS = ("content-type", "x-hub-signature-256", "x-hub-signature", "user-agent")


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """``sha256=<hex>`` of HMAC-SHA256(app secret, exact body), compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def spool_dir(staging: Path, site_id: str) -> Path:
    return staging / "webhooks" / site_id


def write_spool(folder: Path, envelope: dict[str, Any]) -> Path:
    """Durably: a temp file, fsynced, renamed; a crash leaves no half delivery in the spool."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    tmp = folder / f".{name}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(envelope, fh)
        fh.flush()
        os.fsync(fh.fileno())
    final = folder / name
    tmp.rename(final)
    return final


def pending(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9]*.json")) if folder.is_dir() else []


def unrouted_dir(staging: Path) -> Path:
    return staging / "webhooks" / "_unrouted"


def sites_named(body: bytes, pages: Mapping[str, str]) -> set[str]:
    """The configured sites whose Page/IG account an ``entry[].id`` of the delivery names."""
    sites: set[str] = set()
    try:
        payload = json.loads(body)
    except ValueError:
        return sites
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for e in entries if isinstance(entries, list) else []:
        site = pages.get(str(e.get("id"))) if isinstance(e, dict) else None
        if site:
            sites.add(site)
    return sites


def reroute_unrouted(staging: Path, pages: Mapping[str, str]) -> int:
    """Deliveries kept aside for a Page no site named, now routed to a site configured for it
    (copied into its spool, then removed from the side); returns how many were routed."""
    routed = 0
    for path in pending(unrouted_dir(staging)):
        try:
            envelope = json.loads(path.read_text("utf-8"))
            body = base64.b64decode(envelope["body_b64"])
        except (ValueError, KeyError, TypeError, OSError):
            continue  # unreadable: left where it is, still counted by status
        sites = sites_named(body, pages)
        if not sites:
            continue
        for site in sorted(sites):
            write_spool(spool_dir(staging, site), envelope)
        path.unlink()
        routed += 1
    if routed:
        log.info("webhook_unrouted_routed", deliveries=routed)
    return routed


def unrouted_count(staging: Path) -> int:
    return len(pending(unrouted_dir(staging)))


class _Limiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.times: deque[float] = deque()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        now = time.monotonic()
        with self.lock:
            while self.times and now - self.times[0] > 60:
                self.times.popleft()
            if len(self.times) >= self.per_minute:
                return False
            self.times.append(now)
            return True


class WebhookServer:
    """A small threaded HTTP server; ``pages`` maps a Page/IG account id to its site id."""

    def __init__(self, settings: WebhookSettings, staging: Path, pages: dict[str, str]) -> None:
        self.settings = settings
        self.staging = staging
        self.pages = pages
        self.verify_token = read_secret(settings.verify_token_env, purpose="webhook verify token")
        self.app_secret = read_secret(settings.app_secret_env, purpose="Meta app secret") or ""
        self.limiter = _Limiter(settings.max_per_minute)
        self.refused = 0
        self.accepted = 0
        from http.server import ThreadingHTTPServer

        self._httpd = ThreadingHTTPServer((settings.host, settings.port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="webhooks", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def route(self, body: bytes, headers: Iterable[tuple[str, str]]) -> list[Path]:
        """Spool an accepted delivery for every known Page it names (unknown: kept aside,
        counted by ``status`` and routed when a site for that Page is configured)."""
        envelope = {
            "received_at": datetime.now(UTC).isoformat(),
            "headers": [[k, v] for k, v in headers if k.lower() in KEPT_HEADERS],
            "body_b64": base64.b64encode(body).decode(),
        }
        sites = sites_named(body, self.pages)
        if not sites:
            log.warning("webhook_unrouted", reason="no configured Page in the delivery")
            return [write_spool(unrouted_dir(self.staging), envelope)]
        return [write_spool(spool_dir(self.staging, s), envelope) for s in sorted(sites)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        from http.server import BaseHTTPRequestHandler

        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                q = parse_qs(urlsplit(self.path).query)
                mode = (q.get("hub.mode") or [""])[0]
                token = (q.get("hub.verify_token") or [""])[0]
                challenge = (q.get("hub.challenge") or [""])[0]
                if (
                    mode == "subscribe"
                    and server.verify_token
                    and hmac.compare_digest(token, server.verify_token)
                ):
                    log.info("webhook_subscribed")
                    self._answer(200, challenge.encode())
                    return
                log.warning("webhook_handshake_refused", mode=mode)
                self._answer(403, b"forbidden")

            def do_POST(self) -> None:
                if not server.limiter.allow():
                    log.warning("webhook_rate_limited")
                    self._answer(429, b"too many deliveries")
                    return
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit():
                    self._answer(411, b"length required")
                    return
                if int(length) > server.settings.max_body:
                    log.warning("webhook_too_large", length=int(length))
                    self._answer(413, b"too large")
                    self.close_connection = True
                    return
                body = self.rfile.read(int(length))
                if not signature_ok(
                    server.app_secret, body, self.headers.get("X-Hub-Signature-256")
                ):
                    server.refused += 1
                    log.warning(
                        "webhook_forged",
                        reason="X-Hub-Signature-256 does not match the body",
                        client=self.client_address[0],
                        length=len(body),
                    )
                    self._answer(403, b"bad signature")
                    return
                server.route(body, self.headers.items())
                server.accepted += 1
                self._answer(200, b"EVENT_RECEIVED")

        return Handler
