"""The docs name only commands and config keys that exist.

Every ``archiver ...`` command in README.md and docs/*.md (fenced blocks and inline code) must
resolve in the Typer app, and every key of every ``toml`` example, plus inline mentions such
as ```[daemon] fixity_sample``` or ```http.max_body_bytes```, must be a key the config loader
accepts. The key sets are the loader's own (archiver.config, archiver.config_sections,
archiver.settings), so a renamed key fails here until the docs follow.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer

from archiver.cli import app
from archiver.config import ARCHIVE_KEYS, HTTP_KEYS, KNOWN_SECTIONS, SITE_KEYS
from archiver.config_sections import COMPLIANCE_KEYS, section_keys

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# At the start of a code line or span (after a prompt, ``&&`` or ``sudo -u <user>``), so
# prose in a log line ("this archiver needs ...") and ``sudo -u archiver cp`` are not commands.
_COMMAND = re.compile(
    r"(?:^\s*|\$ |&& |; )(?:sudo -u \S+ )?archiver((?: [a-z][a-z0-9-]*)+)", re.MULTILINE
)
_FENCE = re.compile(r"```.*?```", re.S)


def _allowed() -> dict[str, frozenset[str]]:
    return {
        **section_keys(),
        "archive": frozenset(ARCHIVE_KEYS),
        "http": frozenset(HTTP_KEYS),
        "sites": frozenset(SITE_KEYS),
        "compliance": frozenset(COMPLIANCE_KEYS) | {"sites"},
    }


def _code(text: str) -> Iterator[str]:
    """The lines of fenced blocks and the inline code spans of a Markdown text."""
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced:
            yield line
        else:
            yield from re.findall(r"`([^`]+)`", line)


def commands(text: str) -> set[str]:
    return {m.group(1).strip() for code in _code(text) for m in _COMMAND.finditer(code)}


def missing_command(words: str, root: object) -> str | None:
    """The first word of ``archiver <words>`` that names no command, or None."""
    cmd = root
    for word in words.split():
        subcommands = getattr(cmd, "commands", None)  # a group (typer may vendor click)
        if subcommands is None:
            return None  # arguments of a leaf command
        sub = subcommands.get(word)
        if sub is None:
            return word
        cmd = sub
    return None


def key_problems(text: str) -> list[str]:
    """``section.key`` names in ``text``'s TOML examples and inline code that do not exist."""
    allowed = _allowed()
    problems: list[str] = []
    for block in re.findall(r"```toml\n(.*?)```", text, re.S):
        try:
            data = tomllib.loads(block)
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"toml example does not parse: {exc}")
            continue
        for section, value in data.items():
            problems += _section_problems(section, value, allowed)
    prose = _FENCE.sub("", text)
    for span in re.findall(r"`([^`\n]+)`", prose):
        pairs = re.findall(r"^\[([a-z_]+)\]\s*([a-z_]+)\b", span)
        pairs += re.findall(r"^([a-z_]+)\.([a-z_]+)$", span)
        for section, key in pairs:
            if section in KNOWN_SECTIONS and key not in allowed.get(section, frozenset()):
                problems.append(f"{section}.{key} (in `{span}`)")
    return problems


def _section_problems(section: str, value: Any, allowed: Mapping[str, frozenset[str]]) -> list[str]:
    if section not in KNOWN_SECTIONS:
        return [f"[{section}] is not a config section"]
    tables = value if isinstance(value, list) else [value]
    out = [f"{section}.{k}" for table in tables for k in table if k not in allowed.get(section, ())]
    if section == "compliance":
        for site_id, own in value.get("sites", {}).items():
            out += [f"compliance.sites.{site_id}.{k}" for k in own if k not in COMPLIANCE_KEYS]
    return out


@pytest.fixture(scope="module")
def cli_root() -> object:
    return typer.main.get_command(app)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_documented_command_exists(doc: Path, cli_root: object) -> None:
    found = commands(doc.read_text(encoding="utf-8"))
    bad = {w: missing_command(w, cli_root) for w in sorted(found)}
    assert {w: word for w, word in bad.items() if word is not None} == {}


def test_the_docs_name_commands_at_all(cli_root: object) -> None:
    found = set().union(*(commands(d.read_text(encoding="utf-8")) for d in DOCS))
    assert len(found) > 40  # the extraction still finds the docs' commands
    for expected in ("status", "config check", "verify", "hold add"):
        assert any(w == expected or w.startswith(expected + " ") for w in found), expected


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_documented_config_key_exists(doc: Path) -> None:
    assert key_problems(doc.read_text(encoding="utf-8")) == []


def test_the_checks_can_fail(cli_root: object) -> None:
    bad = "Run `archiver harvset` then `archiver hold lst`.\n"
    assert {w: missing_command(w, cli_root) for w in commands(bad)} == {
        "harvset": "harvset",
        "hold lst": "lst",
    }
    example = (
        "```toml\n[daemon]\nfixity_sampel = 3\n\n[[sites]]\nid = 'x'\nintreval = '1h'\n```\n"
        "Set `[http] max_body_byte` or `storage.lock_mod`.\n"
    )
    assert key_problems(example) == [
        "daemon.fixity_sampel",
        "sites.intreval",
        "http.max_body_byte (in `[http] max_body_byte`)",
        "storage.lock_mod (in `storage.lock_mod`)",
    ]
