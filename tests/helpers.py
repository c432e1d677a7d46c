"""Shared test plumbing: write a config for a local platform server and run real harvests.

Contract tests for every connector use these, so a connector is always exercised through the
real recorder, bundles, storage and catalog, never through mocks of our own boundaries.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from archiver.app import App, open_app
from archiver.compliance.run import after_harvest
from archiver.harvest import Harvester, RunResult


def site_toml(
    site_id: str,
    platform: str,
    base_url: str,
    account: str,
    *,
    token_env: str | None = None,
    options: dict[str, Any] | None = None,
    extra: str = "",
) -> str:
    lines = [
        "[[sites]]",
        f'id = "{site_id}"',
        f'platform = "{platform}"',
        f'base_url = "{base_url}"',
        f'account = "{account}"',
        'department = "Communications"',
        'administrators = [{ name = "Ivan Tech", role = "IT" }]',
    ]
    if token_env:
        lines.append(f'token_env = "{token_env}"')
    if options:
        lines.append("options = " + json.dumps(options).replace(":", " ="))
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def write_config(
    tmp_path: Path, *sites: str, head: str = "", catalog_url: str | None = None
) -> Path:
    """A config with an archive root under ``tmp_path`` and fast retries for tests."""
    root = tmp_path / "archive"
    text = f'[archive]\nroot = "{root}"\n'
    if catalog_url:
        text += f'catalog_url = "{catalog_url}"\n'
    # max_retry_wait above the fakes' Retry-After: 1, which must be honoured, not refused.
    text += "\n[http]\nmax_retry_wait = 2\nmax_attempts = 3\ntimeout = 5\n\n" + head + "\n"
    text += "\n".join(sites)
    path = tmp_path / "archiver.toml"
    path.write_text(text)
    return path


def harvest(config: Path, site_id: str, *, full: bool | None = None) -> RunResult:
    app = open_app(str(config))
    try:
        return Harvester(app.cfg, app.catalog, app.storage, after_site=after_harvest).harvest_site(
            app.cfg.site(site_id), full=full
        )
    finally:
        app.close()


def open_test_app(config: Path) -> App:
    return open_app(str(config))


def catalog_rows(config: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the embedded SQLite catalog directly (tests assert on what a clerk would see)."""
    db = sqlite3.connect(config.parent / "archive" / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()
