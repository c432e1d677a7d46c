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


_DETECTORS: Final[dict[str, tuple[str, str]]] = {
    "ssn": (
        r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)",
        "Social Security number (privacy, Mont. Const. Art. II §10)",
    ),
    "phone": (
        r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)",
        "personal telephone number (privacy, Mont. Const. Art. II §10)",
    ),
    "email": (
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        "personal e-mail address (privacy, Mont. Const. Art. II §10)",
    ),
    "address": (
        r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z0-9][A-Za-z0-9]*\s+){0,3}"
        r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Ct|Court|Pl|Place"
        r"|Trl|Trail|Cir|Circle|Hwy|Highway)\b\.?",
        "residential street address (privacy, Mont. Const. Art. II §10)",
    ),
    "card": (
        r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)",
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
            if rule.luhn and not _luhn_ok(m.group(0)):
                return m.group(0)
            count += 1
            label = "regex" if rule.name.startswith("regex:") else rule.name
            return f"[REDACTED: {label}]"

        text = rule.pattern.sub(repl, text)
        if count:
            applied.append(Redaction(rule.name, rule.reason, count))
    return text, applied
