"""Shared fixtures: a throwaway PostgreSQL database when the server is there.

Tests that need PostgreSQL skip on a laptop without it, but CI sets
``ARCHIVER_REQUIRE_POSTGRES=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import structlog

# Fixtures used across areas: the retention archive (world, server, make_archive) and real S3
# on moto (moto_endpoint, bucket, s3_settings, s3_storage, make_bundle, ...).
pytest_plugins = ["tests.retention_kit", "tests.storage_kit"]

PG_ADMIN_DSN = os.environ.get("ARCHIVER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("ARCHIVER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (ARCHIVER_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards. Yields an SQLAlchemy URL."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a hard dependency
        _pg_unavailable("psycopg is not installed")
        raise
    name = f"archiver_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _pg_unavailable(str(exc).splitlines()[0])
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """An in-process CLI run (typer's CliRunner) configures structlog for the whole process,
    e.g. at ARCHIVER_LOG_LEVEL=CRITICAL; put the previous set-up back so a later test that
    captures log lines still sees them."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
