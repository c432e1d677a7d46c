"""Text fit for the catalog from whatever a platform sent, with the substitutions counted.

The WARC keeps the bytes exactly as received; the catalog needs text every database and
export can hold. Two things in platform JSON are not that:

- lone surrogates (``"\\ud800"`` JSON escapes; some APIs cut a string between the two halves
  of an emoji), which Python's ``json`` accepts but UTF-8 cannot encode, so SQLite, PostgreSQL
  and every ``.encode()`` downstream fail on them;
- NUL (``"\\u0000"``), which PostgreSQL text refuses and C tools treat as end of string.

Both become U+FFFD REPLACEMENT CHARACTER, and the caller learns how many, so the record can
say that its text was normalised (the original is in the WARC).
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNFIT = re.compile("[\x00\ud800-\udfff]")
# Cheap test on the raw JSON bytes before walking a parsed document: a surrogate or NUL
# escape, or a raw NUL / invalid UTF-8 (caught by the strict decode below).
_UNFIT_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)|\x00")


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates and NUL replaced by U+FFFD; how many were replaced."""
    return _UNFIT.subn(REPLACEMENT, text)


def decode_text(body: bytes) -> tuple[str, int]:
    """UTF-8 text of ``body``; invalid bytes, lone surrogates and NUL become U+FFFD."""
    # surrogateescape turns each invalid byte into a lone surrogate, so one pass counts all.
    return clean_text(body.decode("utf-8", "surrogateescape"))


def clean_json(value: Any) -> tuple[Any, int]:
    """A parsed JSON value with every string (keys too) cleaned; total replacements."""
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, str):
            text, n = clean_text(node)
            count += n
            return text
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        return node

    return walk(value), count


def parse_json(body: bytes) -> tuple[Any, int]:
    """``json.loads`` that never hands back text the catalog cannot store.

    Raises ``ValueError`` for a body that is not JSON at all. Control characters inside
    strings are accepted (``strict=False``): one raw NUL in a comment must not cost the page.
    """
    text, replaced = decode_text(body.removeprefix(codecs.BOM_UTF8))
    data = json.loads(text, strict=False)
    if _UNFIT_ESCAPE.search(body) is None:
        return data, replaced
    data, more = clean_json(data)
    return data, replaced + more
