"""Mask secrets a server echoes back inside a response body, before anything is written.

Some platforms put the caller's token in error pages and debug output (a Graph
``debug_token`` answer, an OAuth error that quotes the request, a proxy that prints the
request URL). Headers and URLs are redacted elsewhere; this covers the body.

Each occurrence is replaced by the same number of ``*`` bytes. Same length, because the
bytes around it stay where they were (a JSON document stays valid and the HTTP
``Content-Length`` stays true for an identity-encoded body), and the record says in a header
how many occurrences were masked and why. The length of a token is not a secret worth
changing the document's shape for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK_BYTE = b"*"
# Shorter values (``code=1``, ``sig=ab``) would mask ordinary text all over a page; every real
# token and key is far longer than this.
MIN_SECRET_LENGTH = 8


_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _forms(secret: str) -> set[bytes]:
    """The secret as it may appear in a body: raw, percent-encoded (both flavours, upper- and
    lower-case hex) and as a JSON string body (``\\/``-escaped or not, ASCII-escaped or
    not)."""
    json_text = json.dumps(secret)[1:-1]
    forms = {
        secret,
        json_text,
        json_text.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret, safe="/:")):
        forms.add(encoded)
        forms.add(_PERCENT.sub(lambda m: m.group(0).lower(), encoded))
    return {f.encode("utf-8") for f in forms if f}


class SecretMasker:
    """Knows the secrets of one client and masks them in bodies."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: list[bytes] = []
        self._pattern: re.Pattern[bytes] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Learn more secrets (a refreshed token, a key found in a request URL)."""
        fresh = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH} - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        forms: set[bytes] = set().union(*(_forms(s) for s in self._secrets))
        self._forms = sorted(forms, key=len)
        # Longest first, so a percent-encoded form is masked whole, not just its raw prefix.
        self._pattern = re.compile(b"|".join(re.escape(f) for f in reversed(self._forms)))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def found_in(self, body: bytes) -> bool:
        # One substring search per form (memmem, GB/s) instead of a regex alternation over
        # every byte (MB/s): almost no body holds a secret, and every body is checked.
        return any(form in body for form in self._forms)

    def mask(self, body: bytes) -> tuple[bytes, int]:
        """``body`` with every occurrence replaced by ``*`` of the same length; the count."""
        if self._pattern is None or not self.found_in(body):
            return body, 0
        return self._pattern.subn(lambda m: MASK_BYTE * len(m.group(0)), body)
