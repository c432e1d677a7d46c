"""A long-lived Mastodon user stream, followed by the daemon across fast-lane ticks.

``StreamReader`` keeps one ``GET /api/v1/streaming/user`` connection open (server-sent
events) on its own thread. Whole events are written, as received, to a durable spool per site
(``staging/stream/<site>/``, a temp file fsynced and renamed, like webhook deliveries), and the
next tick (``run_stream_once``) writes each spooled segment to the WARC through the recording
client, seals what the events reveal, and only then deletes the segments: a crash between the
two loses nothing. The reader resumes with ``Last-Event-ID`` after the last event it received.

A dropped connection is retried with backoff: a connection that lived less than
``min_uptime`` seconds counts as a failure and doubles the wait (to ``cap``), so a stream that
disconnects every few seconds does not spin. While the stream is down, or whenever it was lost
since the previous tick, the tick polls ``/api/v1/notifications`` with ``since_id`` instead and
records a coverage note (``live_stream``) naming why the stream was lost.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from archiver.config import Config, SiteConfig
from archiver.fastlane.webhooks import pending, write_spool
from archiver.harvest import Harvester, RunResult
from archiver.log import get_logger
from archiver.recorder import redact_headers
from connectors.live import (
    STREAM_MAX_BYTES,
    MastodonLive,
    StreamInput,
    StreamSegment,
    parse_sse,
)

log = get_logger()

#: Seconds without a byte (Mastodon sends a heartbeat comment every few seconds) before the
#: connection is taken as dead and reopened.
READ_TIMEOUT = 90.0


def stream_dir(staging: Path, site_id: str) -> Path:
    return staging / "stream" / site_id


def _boundary(buf: bytes) -> int:
    """End of the last complete SSE block in ``buf`` (0 when there is none)."""
    ends = [buf.rfind(sep) + len(sep) for sep in (b"\n\n", b"\r\n\r\n", b"\r\r") if sep in buf]
    return max(ends, default=0)


def _has_event(block: bytes) -> bool:
    """True when ``block`` holds more than heartbeat comments."""
    lines = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return any(line and not line.startswith(b":") for line in lines)


@dataclass
class _Health:
    connected: bool = False
    # Poll notifications at the next tick: the reader just started (what happened before it
    # connected is only in the notifications), or the last tick failed.
    must_poll: bool = True
    lost: list[str] = field(default_factory=list)


class StreamReader:
    """One site's user stream on a thread; ``take()`` hands each tick what it needs."""

    def __init__(
        self,
        cfg: Config,
        site: SiteConfig,
        *,
        token: str | None,
        last_event_id: str = "",
        base: float = 1.0,
        cap: float = 300.0,
        min_uptime: float = 30.0,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.cfg = cfg
        self.site = site
        self.url = f"{site.base_url}/api/v1/streaming/user"
        self.token = token
        self.folder = stream_dir(cfg.staging_dir, site.id)
        self.base, self.cap, self.min_uptime = base, cap, min_uptime
        self.read_timeout = read_timeout
        self.last_id = self._spooled_last_id() or last_event_id
        self.connections = 0
        self.failures = 0
        self.stopping = threading.Event()
        self._health = _Health()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(
            timeout=httpx.Timeout(cfg.http.timeout, read=read_timeout),
            headers={"User-Agent": cfg.http.user_agent},
            follow_redirects=False,
        )

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> StreamReader:
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{self.site.id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    # -- what a tick gets -----------------------------------------------------------------
    def take(self) -> tuple[list[StreamSegment], StreamInput]:
        """The spooled segments and the stream's health since the last ``take``."""
        segments = read_segments(self.folder)
        with self._lock:
            h = self._health
            lost = "; ".join(dict.fromkeys(h.lost)) or None
            if not h.connected and lost is None and not h.must_poll:
                lost = "still reconnecting"
            poll = h.must_poll or lost is not None
            self._health = _Health(connected=h.connected, must_poll=False)
        return segments, StreamInput(segments, poll=poll, lost=lost)

    def give_back(self, given: StreamInput) -> None:
        """The tick failed: the next one must poll (and note the loss) all the same."""
        with self._lock:
            self._health.must_poll = self._health.must_poll or given.poll
            if given.lost is not None:
                self._health.lost.insert(0, given.lost)

    # -- the reader thread ----------------------------------------------------------------
    def _spooled_last_id(self) -> str:
        last = ""
        for seg in read_segments(self.folder):
            for ev in parse_sse(seg.body.decode("utf-8", errors="replace")):
                if ev.id is not None:
                    last = ev.id
        return last

    def _run(self) -> None:
        rlog = log.bind(site=self.site.id, lane="stream")
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                reason = self._read_once()
            except (httpx.HTTPError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            up = time.monotonic() - began
            with self._lock:
                was_connected = self._health.connected
                self._health.connected = False
                if not self.stopping.is_set():
                    self._health.lost.append(reason)
            if self.stopping.is_set():
                return
            if up >= self.min_uptime:
                self.failures = 0
                wait = self.base
            else:
                self.failures += 1
                wait = min(self.cap, self.base * 2 ** min(self.failures, 16))
            rlog.warning(
                "stream_lost",
                reason=reason,
                connected=was_connected,
                up_seconds=round(up, 1),
                retry_in=wait,
            )
            self.stopping.wait(wait)

    def _read_once(self) -> str:
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        with self._client.stream("GET", self.url, headers=headers) as resp:
            if resp.status_code != 200:
                return f"the stream answered HTTP {resp.status_code}"
            head = self._head(resp)
            self.connections += 1
            with self._lock:
                self._health.connected = True
            buf = b""
            for chunk in resp.iter_raw():
                if self.stopping.is_set():
                    return "stopped"
                buf += chunk
                cut = _boundary(buf)
                if cut:
                    block, buf = buf[:cut], buf[cut:]
                    if _has_event(block):
                        self._spool(head, block)
                elif len(buf) > STREAM_MAX_BYTES:
                    # one event larger than any real one: kept as received, then dropped
                    self._spool(head, buf)
                    buf = b""
            return "the server closed the stream"

    @staticmethod
    def _head(resp: httpx.Response) -> bytes:
        lines = [f"HTTP/1.1 {resp.status_code} {resp.reason_phrase}"]
        lines += [f"{k}: {v}" for k, v in redact_headers(resp.headers.multi_items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")

    def _spool(self, head: bytes, block: bytes) -> None:
        write_spool(
            self.folder,
            {
                "received_at": datetime.now(UTC).isoformat(),
                "uri": self.url,
                "head_b64": base64.b64encode(head).decode(),
                "body_b64": base64.b64encode(block).decode(),
            },
        )
        for ev in parse_sse(block.decode("utf-8", errors="replace")):
            if ev.id is not None:
                self.last_id = ev.id


def read_segments(folder: Path) -> list[StreamSegment]:
    """The spooled stream segments of one site, oldest first."""
    out = []
    for path in pending(folder):
        env = json.loads(path.read_text("utf-8"))
        out.append(
            StreamSegment(
                path.name,
                datetime.fromisoformat(env["received_at"]),
                str(env["uri"]),
                base64.b64decode(env["head_b64"]),
                base64.b64decode(env["body_b64"]),
            )
        )
    return out


def run_stream_once(
    harvester: Harvester, site: SiteConfig, reader: StreamReader
) -> RunResult | None:
    """Seal what the stream delivered since the last tick (polling notifications when it was
    lost); the spooled segments are deleted only once sealed."""
    from archiver.errors import ArchiverError
    from archiver.fastlane import _note_latency

    began = datetime.now(UTC)
    segments, given = reader.take()
    if not segments and not given.poll:
        _note_latency(harvester, site, None, began)
        return None
    try:
        result = harvester.harvest_site(
            site, full=False, connector=lambda ctx: MastodonLive(ctx, stream=given)
        )
    except ArchiverError:
        reader.give_back(given)
        raise
    _note_latency(harvester, site, result, began)
    for seg in segments:
        (reader.folder / seg.name).unlink(missing_ok=True)
    return result
