"""Small value checks shared by the section builders; each failure is one ``ConfigError``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from archiver.config_sections import suggest
from archiver.errors import ConfigError

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, *, file: str, key: str) -> int:
    """Seconds from ``"90m"``, ``"1h"``, ``"1d"`` or an integer number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m and int(m.group(1)) > 0:
            return int(m.group(1)) * _UNITS[m.group(2)]
    raise ConfigError(
        f"{value!r} is not a duration",
        file=file,
        key=key,
        hint='write a number with a unit, e.g. "30m", "6h", "1d", or whole seconds',
    )


def no_unknown_keys(
    raw: Mapping[str, Any], allowed: frozenset[str] | set[str], section: str, file: str
) -> None:
    """The first key of ``raw`` not in ``allowed``, with a did-you-mean."""
    for k in raw:
        if k not in allowed:
            raise ConfigError(
                "unknown key", file=file, key=f"{section}.{k}", hint=suggest(k, allowed)
            )


def whole(value: Any, *, file: str, key: str, minimum: int, hint: str | None = None) -> int:
    """A TOML integer (not a boolean) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{value!r} is not a whole number ≥ {minimum}", file=file, key=key, hint=hint
        )
    return value


def boolean(value: Any, *, file: str, key: str, hint: str | None = None) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"must be true or false, not {value!r}",
            file=file,
            key=key,
            hint=hint or f"write {key.rpartition('.')[2]} = true (or remove the line)",
        )
    return value
