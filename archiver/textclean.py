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
import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

REPLACEMENT = "\ufffd"
_UNFIT = re.compile("[\x00\ud800-\udfff]")
# Cheap test on raw JSON bytes before walking a parsed document: a surrogate or NUL escape,
# a raw NUL, or any non-ASCII byte (possibly invalid UTF-8; the walk decides).
_UNFIT_TEXT = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)|\x00|[\x80-\xff]")


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates and NUL replaced by U+FFFD; how many were replaced."""
    return _UNFIT.subn(REPLACEMENT, text)


def decode_text(body: bytes) -> tuple[str, int]:
    """UTF-8 text of ``body``; invalid bytes, lone surrogates and NUL become U+FFFD."""
    # surrogateescape turns each invalid byte into a lone surrogate, so one pass counts all.
    return clean_text(body.decode("utf-8", "surrogateescape"))


def _as_json(node: Any) -> Any:
    """``json.dumps`` fallback for :func:`_fit`: a dataclass as its field values, a mapping
    as a dict, anything else not JSON as its ``str`` (never a string :func:`clean_record`
    would clean: only ``str`` values are cleaned)."""
    names = _field_names(type(node))
    if names is not None:
        return [getattr(node, name) for name in names]
    if isinstance(node, Mapping):
        return dict(node)
    return str(node)


def _fit(value: Any) -> bool:
    """True when no string in ``value`` (keys too) needs cleaning, checked by one C-speed
    serialisation instead of a Python walk (the usual case: the walk is a harvest's top CPU
    cost per item, issue 14 part 5). Unsure (not serialisable) counts as not fit."""
    try:
        dumped = json.dumps(value, ensure_ascii=False, check_circular=False, default=_as_json)
    except (TypeError, ValueError, RecursionError):
        return False
    # NUL comes out escaped; any "\\u0000" (even a harmless literal one) takes the walk.
    return "\\u0000" not in dumped and _UNFIT.search(dumped) is None


def clean_json(value: Any) -> tuple[Any, int]:
    """A parsed JSON value with every string (keys too) cleaned; total replacements.
    The same object is returned when nothing needed replacing."""
    if isinstance(value, list | dict) and _fit(value):
        return value, 0
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


def loads_lenient(body: bytes) -> Any:
    """``json.loads`` for platform bodies: invalid UTF-8 bytes and lone-surrogate escapes come
    back as lone surrogates (``surrogateescape``) instead of failing the whole page, and raw
    control characters inside strings are accepted (``strict=False``). Nothing is replaced
    here, so the storage boundary (:func:`clean_record`) can say exactly which record had its
    text normalised. Raises ``ValueError`` for a body that is not JSON at all.
    """
    text = body.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    return json.loads(text, strict=False)


def parse_json(body: bytes) -> tuple[Any, int]:
    """:func:`loads_lenient`, then every string cleaned; total replacements."""
    data = loads_lenient(body)
    if _UNFIT_TEXT.search(body) is None:
        return data, 0
    return clean_json(data)


T = TypeVar("T")

#: Types :func:`clean_record` passes through untouched (no text inside).
_PLAIN: frozenset[type] = frozenset({bool, int, float, datetime, date})
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type (None for any other type), looked up once."""
    try:
        return _FIELDS[cls]
    except KeyError:
        names = (
            tuple(f.name for f in dataclasses.fields(cls))
            if dataclasses.is_dataclass(cls)
            else None
        )
        _FIELDS[cls] = names
        return names


def _fit_fields(node: Any) -> bool:
    """:func:`_fit` for a record: its strings are searched one by one (most fields are short
    strings, ``None`` or numbers), and only a list, dict or mapping inside it (an item's
    ``extra``) is serialised to be checked: several times faster than serialising the whole
    record through ``json.dumps``' Python fallback for each nested dataclass and datetime."""
    kind = type(node)
    if kind is str:
        return _UNFIT.search(node) is None
    if node is None or kind in _PLAIN:
        return True
    names = _field_names(kind)
    values = node if kind is tuple else None if names is None else [getattr(node, n) for n in names]
    if values is None:
        return _fit(node)
    for value in values:
        if type(value) is str:
            if _UNFIT.search(value) is not None:
                return False
        elif value is not None and type(value) not in _PLAIN and not _fit_fields(value):
            return False
    return True


def clean_record(record: T) -> tuple[T, int]:
    """``record`` (a dataclass of strings, tuples, mappings and nested dataclasses, such as a
    harvested ``Item``) with every string cleaned; total replacements. The same object is
    returned when nothing needed replacing."""
    # Nearly every record is fit: a check without building anything says so before the
    # cleaning walk below (a harvest cleans every item it stores; issue 14 part 5).
    if _fit_fields(record):
        return record, 0
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if node is None or type(node) in _PLAIN:  # most fields: nothing to look at
            return node
        if isinstance(node, str):
            text, n = clean_text(node)
            count += n
            return text if n else node
        if isinstance(node, tuple):
            items = tuple(walk(v) for v in node)
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        if isinstance(node, list | dict):
            cleaned, n = clean_json(node)
            count += n
            return cleaned if n else node
        if isinstance(node, Mapping):
            return walk(dict(node))
        names = _field_names(type(node))
        if names is not None:
            changes = {}
            for name in names:
                value = getattr(node, name)
                new = walk(value)
                if new is not value:
                    changes[name] = new
            return dataclasses.replace(node, **changes) if changes else node
        return node

    return walk(record), count
