"""Impossible dates through the CLI: one clear error line and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retention import test_audit_cli as cli
from tests.retention import test_eligibility as base
from tests.retention.test_eligibility import ArchiveFactory

world, server, make_archive = base.world, base.server, base.make_archive


def _one_error(r: object, *needles: str) -> None:
    stderr: str = r.stderr  # type: ignore[attr-defined]
    assert r.returncode == 2, (r.returncode, stderr)  # type: ignore[attr-defined]
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_hold_add_with_an_impossible_since(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = cli._cli(
        config,
        "hold", "add", "feb", "--matter", "m", "--since", "2025-02-30", "--by", "Clerk Kim",
    )  # fmt: skip
    _one_error(r, "--since", "2025-02-30")
    held = cli._cli(config, "hold", "list", "--json")
    assert held.returncode == 0 and '"feb"' not in held.stdout


def test_disposition_due_with_an_impossible_by(make_archive: ArchiveFactory) -> None:
    config = make_archive()
    r = cli._cli(config, "disposition", "due", "--by", "2025-13-01")
    _one_error(r, "--by", "2025-13-01")


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
    r = cli._cli(config, "disposition", "due")
    _one_error(r, *needles)
