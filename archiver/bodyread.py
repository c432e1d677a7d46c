"""Read one response body off the wire with bounded memory and bounded time.

A hostile or broken server must not be able to make a harvest hold a gigabyte or run for an
hour: a gzip bomb (1 GiB of zeros is 1 MiB on the wire), a 200 MB "API page", a body dripped
one byte every few seconds (each read is quick, so a per-read timeout never fires). So the
body is streamed and, while streaming:

- the *decoded* size is counted through an incremental gzip/deflate decoder that is never
  asked for more than the cap plus one byte, so the bomb stops at the cap, not after it;
- the wire size is capped too (an undecodable encoding is kept as it came);
- the whole request has a deadline, checked after every read.

What was read is returned either way, with the reason it stopped early, because the partial
exchange still goes into the WARC (marked ``WARC-Truncated``): evidence of what the platform
sent is kept even when it cannot be used.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

# WARC/1.1 ``WARC-Truncated`` reason tokens.
Truncation = Literal["length", "time", "disconnect"]
# Why reading stopped early, finer than the WARC token: the recorder acts differently on a
# spent request budget (give up now) and on one slow read (retry).
Stop = Literal["too_large", "budget", "read_timeout", "disconnect", "skip_cap"]

WARC_REASON: dict[Stop, Truncation] = {
    "too_large": "length",
    "skip_cap": "length",
    "budget": "time",
    "read_timeout": "time",
    "disconnect": "disconnect",
}


PIECE = 1 << 20


class _Inflater:
    """Incremental gzip / zlib / raw-deflate decoding with an output limit per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._fed = 0
        self._output = 0

    def feed(self, data: bytes, into: bytearray, limit: int) -> None:
        """Decode ``data`` onto ``into``, never past ``limit + 1`` bytes in total (one more
        than fits proves the body is over the cap, and nothing beyond it is inflated). Output
        comes in pieces of at most ``PIECE`` bytes, so a bomb never costs one big buffer."""
        while data and len(into) <= limit:
            want = min(limit + 1 - len(into), PIECE)
            try:
                piece = self._d.decompress(data, want)
            except zlib.error:
                if self.encoding == "deflate" and self._output == 0 and self._fed == 0:
                    # "deflate" is often sent without the zlib wrapper (raw RFC 1951).
                    self._wbits = -zlib.MAX_WBITS
                    self._d = zlib.decompressobj(self._wbits)
                    self._fed = 1
                    continue
                raise
            self._fed += 1
            self._output += len(piece)
            into += piece
            if self._d.eof and self._d.unused_data:
                # Concatenated gzip members are one body (RFC 1952 section 2.2).
                data = self._d.unused_data
                self._d = zlib.decompressobj(self._wbits)
                continue
            data = self._d.unconsumed_tail

    @property
    def complete(self) -> bool:
        return self._d.eof or (self._fed == 0)


@dataclass(slots=True)
class Body:
    """One body as far as it was read."""

    raw: bytes
    """Wire bytes, still content-encoded; what the WARC holds."""
    decoded: bytes | None
    """After Content-Encoding; None when the encoding is one we do not decode."""
    stopped: Stop | None = None
    """Why reading ended before the body did; None when the whole body was read."""
    detail: str = ""
    decode_error: str | None = None

    @property
    def truncated(self) -> Truncation | None:
        return WARC_REASON[self.stopped] if self.stopped else None

    @property
    def content(self) -> bytes:
        """What a connector reads: decoded when we could, else the bytes as sent."""
        return self.raw if self.decoded is None else self.decoded


def read_body(
    response: httpx.Response,
    *,
    max_decoded: int,
    deadline: float,
    skip_over: int | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Body:
    """Stream ``response``'s body within the caps. Never raises for the body's sake.

    ``max_decoded``: cap on the decoded size (and on the wire size). ``deadline``: a
    ``monotonic()`` time after which reading stops. ``skip_over``: a smaller wire-size cap
    for bodies that are skipped, not failed, when too large (media); a declared
    Content-Length over it stops before the first read.
    """
    encoding = response.headers.get("content-encoding", "").lower().strip()
    inflater = _Inflater(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    if inflater is not None and encoding == "x-gzip":
        inflater = _Inflater("gzip")
    identity = encoding in ("", "identity")
    raw = bytearray()
    decoded = bytearray() if inflater is not None else None
    declared = response.headers.get("content-length", "")
    if skip_over is not None and declared.isdigit() and int(declared) > skip_over:
        return Body(b"", None, "skip_cap", f"declared {declared} bytes")
    stopped: Stop | None = None
    detail = ""
    decode_error: str | None = None
    chunks = response.iter_raw()
    try:
        for chunk in chunks:
            raw += chunk
            if skip_over is not None and len(raw) > skip_over:
                stopped, detail = "skip_cap", f"more than {skip_over} bytes"
                break
            if len(raw) > max_decoded:
                del raw[max_decoded:]
                stopped, detail = "too_large", f"more than {max_decoded} bytes on the wire"
                break
            if inflater is not None and decoded is not None and decode_error is None:
                try:
                    inflater.feed(chunk, decoded, max_decoded)
                except zlib.error as exc:
                    decode_error = f"cannot decode {encoding} body: {exc}"
                if len(decoded) > max_decoded:
                    del decoded[max_decoded:]
                    stopped = "too_large"
                    detail = f"more than {max_decoded} bytes after {encoding} decompression"
                    break
            if monotonic() > deadline:
                stopped, detail = "budget", f"{len(raw)} bytes received when time ran out"
                break
    except httpx.TimeoutException as exc:
        stopped, detail = "read_timeout", f"{len(raw)} bytes received: {type(exc).__name__}"
    except httpx.TransportError as exc:
        stopped = "disconnect"
        detail = f"{len(raw)} bytes received: {type(exc).__name__}: {exc}"
    if (
        stopped is None
        and inflater is not None
        and decode_error is None
        and raw
        and not inflater.complete
    ):
        decode_error = f"cannot decode {encoding} body: the compressed stream ends early"
    raw_bytes = bytes(raw)
    del raw
    if identity:
        out: bytes | None = raw_bytes
    elif decoded is None or decode_error is not None:
        out = None
    else:
        out = bytes(decoded)
    return Body(raw_bytes, out, stopped, detail, decode_error)
