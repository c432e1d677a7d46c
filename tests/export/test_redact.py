"""Each named redaction detector: what it must catch and what it must leave alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.prr.redact import DETECTORS, RedactionRuleError, parse_rules, redact_text
from tests.export.conftest import Archive
from tests.export.helpers import cli, one_error_line, open_request


def redacted(rule: str, text: str) -> str:
    return redact_text(text, parse_rules(rule))[0]


CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "ssn": (
        [
            ("SSN 123-45-6789 on file", "SSN [REDACTED: ssn] on file"),
            ("(078-05-1121)", "([REDACTED: ssn])"),
        ],
        [
            "Dated 2026-11-15",  # a date
            "case 123-45-67890",  # longer number
            "000-12-3456 and 666-12-3456 and 912-34-5678",  # never issued
            "123-00-4567, 123-45-0000",
            "ref 1-123-45-6789",
        ],
    ),
    "phone": (
        [
            ("Call Dana at 406-555-0199.", "Call Dana at [REDACTED: phone]."),
            ("Call 4065550199 today", "Call [REDACTED: phone] today"),
            ("(406) 555-0199", "[REDACTED: phone]"),
            ("(406)555-0199", "[REDACTED: phone]"),
            ("406.555.0199", "[REDACTED: phone]"),
            ("+1 406 555 0199", "[REDACTED: phone]"),
            ("1-406-555-0199", "[REDACTED: phone]"),
            ("tel 14065550199", "tel [REDACTED: phone]"),
        ],
        [
            "Order 0065550199 shipped",  # area code cannot start with 0
            "ticket 406-155-0199",  # exchange cannot start with 1
            "id 40655501990",  # eleven digits not starting with 1
            "2026-11-15",
            "call 555-0199",  # seven digits: no area code, not identifying alone
            "post 113456789012345678",  # a status id
        ],
    ),
    "email": (
        [
            ("Write dana.snow@example.org today", "Write [REDACTED: email] today"),
            ("<j_q+prr@mail.bozeman.mt.us>.", "<[REDACTED: email]>."),
        ],
        [
            "@dana@example.org replied",  # a fediverse handle is a public account name
            "user@localhost",
            "@cityofbozeman",
            "price: 5 @ $3.00",
        ],
    ),
    "card": (
        [
            ("card 4111 1111 1111 1111 exp", "card [REDACTED: card] exp"),
            ("4111-1111-1111-1111", "[REDACTED: card]"),
            ("5500005555555559", "[REDACTED: card]"),
            ("Amex 378282246310005.", "Amex [REDACTED: card]."),
        ],
        [
            "card 4111 1111 1111 1112",  # fails the Luhn check
            "4065550199",  # a phone number
            "post 113456789012345678",  # a status id (fails Luhn)
            "411111111111",  # twelve digits: too short
        ],
    ),
    "address": (
        [
            ("Snow piled at 121 N Rouse Ave.", "Snow piled at [REDACTED: address]"),
            ("I live at 411 E Main St, Bozeman", "I live at [REDACTED: address], Bozeman"),
            ("100 W 5th St", "[REDACTED: address]"),
            ("1910 Willson Ave", "[REDACTED: address]"),
            ("1910 Willson Ave Apt 3", "[REDACTED: address] Apt 3"),
            ("22 Story Mill Road", "[REDACTED: address]"),
        ],
        [
            "Our 2026 Road Trip starts Friday",  # no street named before "Road"
            "2026 Summer Road Trip",  # a year-like number and a title
            "Meet at 6 pm on Main St",  # time, then a street without a house number
            "3 Main concerns",  # no street type
            "1234567 Main St",  # seven digits is not a house number
        ],
    ),
}


def test_every_detector_has_cases() -> None:
    assert set(CASES) == set(DETECTORS)


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [(rule, t, e) for rule, (pos, _neg) in CASES.items() for t, e in pos],
)
def test_detector_catches(rule: str, text: str, expected: str) -> None:
    assert redacted(rule, text) == expected


@pytest.mark.parametrize(
    ("rule", "text"), [(rule, t) for rule, (_pos, neg) in CASES.items() for t in neg]
)
def test_detector_leaves_alone(rule: str, text: str) -> None:
    out, applied = redact_text(text, parse_rules(rule))
    assert out == text and not applied


def test_redaction_reports_rule_reason_and_count() -> None:
    text, applied = redact_text(
        "406-555-0199 or 4065550199; a@b.org", parse_rules("phone,email,ssn")
    )
    assert text == "[REDACTED: phone] or [REDACTED: phone]; [REDACTED: email]"
    assert [(a.rule, a.count) for a in applied] == [("phone", 2), ("email", 1)]
    assert all("privacy" in a.reason for a in applied)


@pytest.mark.parametrize("pattern", ["x*", "(abc)?", "a|", "\\b", "(?=x)"])
def test_pattern_matching_the_empty_string_is_refused(pattern: str) -> None:
    with pytest.raises(RedactionRuleError, match="matches the empty string"):
        parse_rules(f"regex:{pattern}")


def test_regex_rule_redacts_only_what_it_matches() -> None:
    assert redacted(r"regex:case #\d+", "see case #1234, not case #") == (
        "see [REDACTED: regex], not case #"
    )


def test_empty_matching_regex_is_one_error_line(archive: Archive, tmp_path: Path) -> None:
    rid = open_request(archive)
    out = tmp_path / "x"
    line = one_error_line(cli(archive.config, "export", rid, "--out", str(out), "--redact",
                              "regex:x*"))  # fmt: skip
    assert "--redact regex 'x*' matches the empty string" in line
    assert not out.exists()


def test_an_empty_match_never_becomes_a_marker() -> None:
    import re

    from archiver.prr.redact import Rule

    rule = Rule("regex:q*", re.compile("q*"), "clerk-specified pattern")
    assert redact_text("abc", (rule,)) == ("abc", [])
    text, applied = redact_text("aqqb", (rule,))
    assert text == "a[REDACTED: regex]b" and applied[0].count == 1
