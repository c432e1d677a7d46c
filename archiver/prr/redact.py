"""Redaction of the readable copies and indexes of an export (never of the originals).

Montana's right to know yields only where individual privacy clearly exceeds the merits of
disclosure (Mont. Const. Art. II §9-10), which argues for per-item redaction with a logged
reason rather than withholding whole records. Rules are named detectors or ``regex:<pattern>``.
The sealed originals are evidence and are copied byte for byte whatever the rules say; a
clerk who must not release them uses ``--withhold-redacted-originals``, which the
certification records. The redaction log names record, field, rule and reason, never the
redacted value (the log is itself released).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Final

from archiver.errors import ExportError


class RedactionRuleError(ExportError):
    """A --redact rule is unknown or its regular expression does not compile."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    reason: str
    luhn: bool = False


@dataclass(frozen=True, slots=True)
class Redaction:
    rule: str
    reason: str
    count: int


_STREET_SUFFIX: Final = (
    r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Ct|Court|Pl|Place"
    r"|Trl|Trail|Cir|Circle|Hwy|Highway|Pkwy|Parkway|Ter|Terrace)"
)
#: A street name word: capitalised (``Main``, ``N``) or an ordinal (``5th``).
_NAME_WORD: Final = r"(?:[A-Z][A-Za-z'-]*|\d{1,3}(?:st|nd|rd|th))"

#: One to three street-name words and then the street type.
_STREET: Final = rf"(?:{_NAME_WORD}\s+){{1,3}}{_STREET_SUFFIX}"
#: Not a year-like number whose street type is followed by another capitalised word.
_NOT_A_TITLE: Final = (
    rf"(?!(?:19|20)\d\d\s+{_STREET}\.?\s+(?!Apt\b|Unit\b|Suite\b|Ste\b)[A-Z][a-z])"
)

_DETECTORS: Final[dict[str, tuple[str, str]]] = {
    # Area 000, 666 and 900-999, group 00 and serial 0000 are never issued; a number glued
    # to more digits or dashes (a longer id, a date range) is not an SSN.
    "ssn": (
        r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])",
        "Social Security number (privacy, Mont. Const. Art. II §10)",
    ),
    # North American numbers: area code and exchange start with 2-9 (NANP). Separated
    # (406-555-0199, 406.555.0199, (406) 555-0199, +1 406 555 0199) or ten digits in a row
    # (4065550199, 14065550199), never part of a longer number.
    "phone": (
        r"(?<![\w+])(?:\+?1[ .-]?)?"
        r"(?:\([2-9]\d{2}\)\s?[2-9]\d{2}[ .-]?\d{4}"
        r"|[2-9]\d{2}[ .-][2-9]\d{2}[ .-]\d{4}"
        r"|[2-9]\d{2}[2-9]\d{6})(?![\w])",
        "personal telephone number (privacy, Mont. Const. Art. II §10)",
    ),
    # Not the second half of a fediverse handle (@dana@example.org is a public account name).
    "email": (
        r"(?<![\w@.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
        "personal e-mail address (privacy, Mont. Const. Art. II §10)",
    ),
    # A house number (1-6 digits), an optional direction, one to three street-name words and
    # a street-type word: "121 N Rouse Ave", "411 E Main St", "100 W 5th St". Not a title:
    # a number that looks like a year (1900-2099) whose street type is followed by another
    # capitalised word ("2026 Summer Road Trip") is left alone, and a street type right after
    # the number ("2026 Road Trip") is not an address because no street is named.
    "address": (
        _NOT_A_TITLE + rf"(?<![\w-])\d{{1,6}}\s+(?:[NSEW]\.?\s+)?{_STREET}\b\.?",
        "residential street address (privacy, Mont. Const. Art. II §10)",
    ),
    # 13-19 digits, optionally in groups separated by one space or dash; redacted only when
    # the digits pass the Luhn check (so ids and phone numbers are left alone).
    "card": (
        r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])",
        "payment card number (financial privacy)",
    ),
}
DETECTORS: Final = tuple(_DETECTORS)


def parse_rules(spec: str | None) -> tuple[Rule, ...]:
    """``ssn,phone,regex:<pattern>`` -> rules. A regex may itself contain commas only if last."""
    if spec is None or not spec.strip():
        return ()
    rules: list[Rule] = []
    rest = spec.strip()
    while rest:
        if rest.startswith("regex:"):
            pattern = rest[len("regex:") :]
            # A regex runs to the next ",<detector>" or ",regex:" or the end.
            m = re.search(r",(?=(?:regex:|(?:" + "|".join(DETECTORS) + r")(?:,|$)))", pattern)
            if m:
                pattern, rest = pattern[: m.start()], pattern[m.end() :]
            else:
                rest = ""
            if not pattern:
                raise RedactionRuleError(
                    "--redact regex: has an empty pattern", hint="write regex:<pattern>"
                )
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise RedactionRuleError(
                    f"--redact regex {pattern!r} is not a valid regular expression ({exc})",
                    hint="fix the pattern (Python re syntax) or quote it for the shell",
                ) from None
            if _matches_empty(compiled):
                raise RedactionRuleError(
                    f"--redact regex {pattern!r} matches the empty string",
                    hint="a pattern must match at least one character (use + instead of *)",
                )
            rules.append(Rule(f"regex:{pattern}", compiled, "clerk-specified pattern"))
            continue
        name, _, rest = rest.partition(",")
        name = name.strip().lower()
        if not name:
            continue
        if name not in _DETECTORS:
            raise RedactionRuleError(
                f"--redact rule {name!r} is unknown",
                hint=f"use {', '.join(DETECTORS)} or regex:<pattern>",
            )
        pattern, reason = _DETECTORS[name]
        rules.append(Rule(name, re.compile(pattern), reason, luhn=name == "card"))
    return tuple(rules)


#: Texts on which a pattern is tried for an empty match (``x*``, ``a|``, ``\b``, ``(?=x)``).
_EMPTY_PROBES: Final = ("", " ", "x", "ab 12", string.printable, "é ß ✓ 雪")


def _matches_empty(pattern: re.Pattern[str]) -> bool:
    """True if the pattern can match zero characters (it would mark the gaps between them).

    Probed on sample texts, so an exotic pattern may slip through; redact_text() then still
    never inserts a marker for an empty match.
    """
    return any(m.group(0) == "" for probe in _EMPTY_PROBES for m in pattern.finditer(probe))


def _luhn_ok(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def redact_text(text: str, rules: tuple[Rule, ...]) -> tuple[str, list[Redaction]]:
    """Replace every match with ``[REDACTED: rule]``; say which rules fired and how often."""
    applied: list[Redaction] = []
    for rule in rules:
        count = 0

        def repl(m: re.Match[str], rule: Rule = rule) -> str:
            nonlocal count
            if not m.group(0):
                return ""  # never a marker for nothing (a pattern that can match empty)
            if rule.luhn and not _luhn_ok(m.group(0)):
                return m.group(0)
            count += 1
            label = "regex" if rule.name.startswith("regex:") else rule.name
            return f"[REDACTED: {label}]"

        text = rule.pattern.sub(repl, text)
        if count:
            applied.append(Redaction(rule.name, rule.reason, count))
    return text, applied
