"""Bounded reads: a gzip bomb, a 200 MB body and a dripping body cost bounded memory and time,
end in a classified error, and still leave the partial exchange in the WARC, marked truncated.

The server is a small streaming ``http.server`` on loopback (the bodies are generated while
sent, never held whole). Memory is measured where it matters: the client runs in a
subprocess that reports its own peak RSS (``resource.getrusage``).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import HttpSettings
from archiver.errors import ResponseTooLargeError, RetriableFetchError, SkippableFetchError
from archiver.recorder import RecordingClient
from archiver.warc import WarcSink

MiB = 1 << 20
GiB = 1 << 30


def gzip_bomb(size: int = GiB) -> bytes:
    """A single-member gzip of ``size`` zero bytes (1 GiB -> about 1 MiB), built without
    compressing a gigabyte: after a full flush the deflate state is reset, so every further
    MiB of zeros compresses to the same block."""
    zeros = bytes(MiB)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(zeros, crc)
    final_empty_block = b"\x03\x00"
    return (
        first
        + block * (size // MiB - 1)
        + final_empty_block
        + struct.pack("<II", crc, size & 0xFFFFFFFF)
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bomb = b""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        try:
            if self.path == "/bomb":
                self._headers(len(self.bomb), {"Content-Encoding": "gzip"})
                for i in range(0, len(self.bomb), 64 * 1024):
                    self.wfile.write(self.bomb[i : i + 64 * 1024])
            elif self.path == "/big":
                self._headers(200_000_000, {})
                chunk = bytes(range(256)) * 4096  # 1 MiB
                for _ in range(200_000_000 // len(chunk)):
                    self.wfile.write(chunk)
                self.wfile.write(chunk[: 200_000_000 % len(chunk)])
            elif self.path == "/drip":
                self._headers(100, {})
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(2)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _headers(self, length: int, extra: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The client hangs up mid-body on purpose in every test here."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    Handler.bomb = gzip_bomb()
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


CLIENT = """
import json, resource, sys, time
from pathlib import Path
from archiver.config import HttpSettings
from archiver.errors import ArchiverError
from archiver.recorder import RecordingClient
from archiver.warc import WarcSink

url, out, cap = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
sink = WarcSink(out, "t", info={}, on_record=lambda _r: None)
client = RecordingClient(
    site_id="s",
    settings=HttpSettings(max_body_bytes=cap, max_attempts=1),
    sinks=lambda _c: sink,
)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
try:
    client.get(url, record_class="posts")
    outcome = "ok"
except ArchiverError as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
elapsed = time.monotonic() - started
client.close()
sink.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "elapsed": elapsed, "grew_kib": peak - base}))
"""


def run_client(url: str, out: Path, cap: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, url, str(out), str(cap)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def truncated_records(directory: Path) -> list[tuple[str | None, int]]:
    out = []
    for warc in sorted(directory.glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response":
                    body = rec.raw_stream.read()  # as stored (content_stream would un-gzip)
                    out.append((rec.rec_headers.get_header("WARC-Truncated"), len(body)))
    return out


def warcio_check(directory: Path) -> None:
    warcio = Path(sys.executable).with_name("warcio")
    files = [str(p) for p in sorted(directory.glob("*.warc.gz"))]
    done = subprocess.run([str(warcio), "check", "-v", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest pass" in done.stdout


def test_gzip_bomb_stops_at_the_decoded_cap_with_bounded_memory(
    server: str, tmp_path: Path
) -> None:
    cap = 32 * MiB
    result = run_client(f"{server}/bomb", tmp_path, cap)
    outcome = str(result["outcome"])
    assert outcome.startswith("ResponseTooLargeError"), outcome
    assert "after gzip decompression" in outcome and "http.max_body_bytes" in outcome
    # 1 GiB decoded would need 1 GiB; the cap holds it to a few times the cap.
    grew_mib = int(str(result["grew_kib"])) / 1024
    assert grew_mib < 4 * cap / MiB, f"client memory grew {grew_mib:.0f} MiB"
    [(reason, length)] = truncated_records(tmp_path)
    assert reason == "length" and 0 < length < len(Handler.bomb)
    warcio_check(tmp_path)


def test_200_mb_body_stops_at_the_cap_with_bounded_memory(server: str, tmp_path: Path) -> None:
    cap = 32 * MiB
    result = run_client(f"{server}/big", tmp_path, cap)
    outcome = str(result["outcome"])
    assert outcome.startswith("ResponseTooLargeError"), outcome
    grew_mib = int(str(result["grew_kib"])) / 1024
    assert grew_mib < 4 * cap / MiB, f"client memory grew {grew_mib:.0f} MiB"
    [(reason, length)] = truncated_records(tmp_path)
    assert (reason, length) == ("length", cap)  # the first ``cap`` bytes, marked truncated
    warcio_check(tmp_path)


def test_a_dripping_body_ends_at_the_request_budget(server: str, tmp_path: Path) -> None:
    """One byte every 2 s never trips a per-read timeout; the request budget ends it."""
    sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
    client = RecordingClient(
        site_id="s",
        settings=HttpSettings(request_budget=5, timeout=30),
        sinks=lambda _c: sink,
        sleep=lambda _s: pytest.fail("a spent request budget is not retried in the run"),
    )
    started = time.monotonic()
    with pytest.raises(RetriableFetchError) as err:
        client.get(f"{server}/drip", record_class="posts")
    elapsed = time.monotonic() - started
    client.close()
    sink.close()
    assert 4.5 <= elapsed <= 8, elapsed  # the budget plus at most one 2 s read, not 200 s
    assert "http.request_budget" in str(err.value) and "5 s" in str(err.value)
    [(reason, length)] = truncated_records(tmp_path)
    assert reason == "time" and 2 <= length <= 4
    warcio_check(tmp_path)


def test_too_large_is_skippable_and_the_media_cap_still_skips_quietly(
    server: str, tmp_path: Path
) -> None:
    sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
    client = RecordingClient(
        site_id="s", settings=HttpSettings(max_body_bytes=MiB), sinks=lambda _c: sink
    )
    with pytest.raises(ResponseTooLargeError) as err:
        client.get(f"{server}/bomb", record_class="posts")
    assert isinstance(err.value, SkippableFetchError)
    media = client.get(f"{server}/big", record_class="media", max_bytes=10 * MiB)
    assert media.skipped_reason is not None and media.content == b""
    client.close()
    sink.close()
