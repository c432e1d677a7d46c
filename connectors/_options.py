"""Typed, validated ``options`` per connector.

Why: ``options`` is the one free-form table in a site's config, so a misspelled key
(``full_archve = true``) used to pass ``config check`` and silently turn a feature off. Each
connector declares its options as a frozen dataclass named ``Options``; ``read_options``
builds it from the site's table and refuses an unknown key (with the nearest known one) or a
value of the wrong type, naming the site and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_origin, get_type_hints

from archiver.config import SiteConfig
from archiver.errors import ConfigError

Opts = TypeVar("Opts")


@dataclasses.dataclass(frozen=True, slots=True)
class NoOptions:
    """For a connector that takes no ``options``: every key is unknown."""


def option_errors(options_type: type[Any], site_id: str, options: Mapping[str, Any]) -> list[str]:
    """One line per problem with ``options`` for a connector whose options are ``options_type``."""
    fields = {f.name: f for f in dataclasses.fields(options_type)}
    hints = get_type_hints(options_type)
    problems = []
    for key, value in options.items():
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            known = ", ".join(sorted(fields)) or "(none)"
            guess = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"site {site_id}: unknown option {key!r}; {guess}known options: {known}"
            )
            continue
        expected = hints[key]
        choices = getattr(expected, "__args__", ()) if get_origin(expected) is Literal else ()
        kinds = tuple(t for t in (bool, int, float, str) if _accepts(expected, t))
        if choices and value not in choices:
            allowed = " or ".join(repr(c) for c in choices)
            problems.append(f"site {site_id}: option {key!r} must be {allowed}, not {value!r}")
        elif kinds and not _is(value, kinds):
            problems.append(f"site {site_id}: option {key!r} must be {_name(kinds)}, not {value!r}")
    return problems


def read_options(options_type: type[Opts], site: SiteConfig) -> Opts:
    """The site's ``options`` as ``options_type``; ConfigError for the first problem."""
    problems = option_errors(options_type, site.id, site.options)
    if problems:
        raise ConfigError(problems[0], key="options")
    return options_type(**dict(site.options))


def _accepts(hint: Any, kind: type) -> bool:
    """``hint`` is ``kind`` or a union holding it (``tuple[str, ...]`` is a list, not a str)."""
    args = getattr(hint, "__args__", None)
    is_union = get_origin(hint) in (Union, UnionType)
    return hint is kind or (is_union and args is not None and kind in args)


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _name(kinds: tuple[type, ...]) -> str:
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return " or ".join(words[k] for k in kinds)
