"""Impossible dates through the CLI: one clear error line and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retention_kit import ArchiveFactory, cli


def _one_error(r: object, *needles: str) -> None:
    stderr: str = r.stderr  # type: ignore[attr-defined]
    assert r.returncode == 2, (r.returncode, stderr)  # type: ignore[attr-defined]
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_hold_add_with_an_impossible_since(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = cli(
        config,
        "hold", "add", "feb", "--matter", "m", "--since", "2025-02-30", "--by", "Clerk Kim",
    )  # fmt: skip
    _one_error(r, "--since", "2025-02-30")
    held = cli(config, "hold", "list", "--json")
    assert held.returncode == 0 and '"feb"' not in held.stdout


def test_disposition_due_with_an_impossible_date(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = cli(config, "disposition", "due", "--as-of", "2025-13-01")
    _one_error(r, "--as-of", "2025-13-01")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ("disposition", "due", "--by", "2027-01-31"),
            ("disposition due --by is now --as-of (a date)", "--as-of 2027-01-31"),
        ),
        (
            ("disposition", "propose", "--by", "2027-01-31", "--by-name", "Rita Records"),
            ("disposition propose --by-name is now --by", "--by 'Rita Records'"),
        ),
        (
            ("disposition", "propose", "--by", "2027-01-31"),
            ("--by 2027-01-31 is a date, but --by names a person", "--as-of 2027-01-31"),
        ),
        (("disposition", "propose"), ("needs --by NAME",)),
    ],
)
def test_old_option_spellings_point_to_the_new_ones(
    make_archive: ArchiveFactory, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    config = make_archive()
    r = cli(config, *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    listed = cli(config, "disposition", "list", "--json")
    assert listed.stdout.strip() == "[]", "nothing was proposed"


def test_as_of_and_on_are_the_same_date_option(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    a = cli(config, "disposition", "due", "--as-of", "2031-01-01", "--json")
    b = cli(config, "disposition", "due", "--on", "2031-01-01", "--json")
    assert a.returncode == 0 and a.stdout == b.stdout


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        (
            'audit_received = { 2025 = "2025-02-30" }',
            ("retention.audit_received.2025", "2025-02-30"),
        ),
        ('audit_received = "2025-02-30"', ("retention.audit_received", "table of fiscal year")),
        ("audit_received = { 2025 = 2025-02-30 }", ("archiver.toml",)),
    ],
)
def test_impossible_audit_received_date_in_config(
    make_archive: ArchiveFactory, line: str, needles: tuple[str, ...]
) -> None:
    config = make_archive()
    text = config.read_text().replace("[retention]\n", f"[retention]\n{line}\n", 1)
    Path(config).write_text(text)
    r = cli(config, "disposition", "due")
    _one_error(r, *needles)
