"""``archiver worker`` refuses, with one line naming the key or the command that fixes it, a
config that cannot join a cluster, a catalog at another schema revision than its software,
and a database without the job queue tables. Real subprocesses, as systemd starts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.cluster.conftest import cli, cluster_config

SITE = [("site00", "town00", "1m")]


def _one_line_refusal(stderr: str) -> str:
    """The one ``error:`` line (moto's store also logs that it is not WORM; that is expected)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def test_sqlite_catalog_is_refused(tmp_path: Path) -> None:
    config = cluster_config(
        tmp_path,
        catalog_url=f"sqlite:///{tmp_path / 'c.sqlite'}",
        endpoint="127.0.0.1:9",
        bucket="b",
        sites=SITE,
        base_url="http://127.0.0.1:9",
    )
    done = cli(config, "worker", timeout=60)
    assert done.returncode == 2
    line = _one_line_refusal(done.stderr)
    assert "archive.catalog_url" in line and "PostgreSQL" in line


@pytest.mark.postgres
def test_local_storage_is_refused(tmp_path: Path, pg_url: str) -> None:
    config = cluster_config(
        tmp_path,
        catalog_url=pg_url,
        endpoint="",
        bucket="",
        sites=SITE,
        base_url="http://127.0.0.1:9",
        backend="local",
    )
    done = cli(config, "worker", timeout=60)
    assert done.returncode == 2
    line = _one_line_refusal(done.stderr)
    assert "storage.backend" in line and '"s3"' in line


@pytest.mark.postgres
def test_missing_queue_schema_then_version_mismatch_are_refused(
    tmp_path: Path, pg_url: str, moto_endpoint: str, bucket: str
) -> None:
    config = cluster_config(
        tmp_path,
        catalog_url=pg_url,
        endpoint=moto_endpoint,
        bucket=bucket,
        sites=SITE,
        base_url="http://127.0.0.1:9",
    )
    done = cli(config, "worker", timeout=90)
    assert done.returncode != 0
    assert "archiver cluster schema" in _one_line_refusal(done.stderr)

    done = cli(config, "cluster", "schema", timeout=90)
    assert done.returncode == 0, done.stderr
    again = cli(config, "cluster", "schema", timeout=90)
    assert "already present" in again.stdout

    # Another worker's software upgraded the catalog to a revision this one does not know.
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    done = cli(config, "worker", timeout=90)
    assert done.returncode != 0
    line = _one_line_refusal(done.stderr)
    assert "newer archiver" in line and "0099_future" in line


def test_interval_that_cannot_be_slotted_is_refused(tmp_path: Path) -> None:
    from archiver.cluster.slots import site_cron
    from archiver.config import load_config
    from archiver.errors import ConfigError

    config = cluster_config(
        tmp_path,
        catalog_url=f"sqlite:///{tmp_path / 'c.sqlite'}",
        endpoint="127.0.0.1:9",
        bucket="b",
        sites=[("site00", "town00", "7h"), ("site01", "town01", "15m")],
        base_url="http://127.0.0.1:9",
    )
    cfg = load_config(str(config))
    settings = cfg.daemon
    with pytest.raises(ConfigError, match=r"sites\[0\]\.interval"):
        site_cron(cfg, cfg.sites[0], settings)
    fields = site_cron(cfg, cfg.sites[1], settings).split()
    assert len(fields) == 5 and fields[0].endswith("-59/15")


def test_cron_lines_move_to_utc_or_are_refused() -> None:
    """Procrastinate reads cron in UTC: hours move by the zone's offset; a line whose day
    fields would have to move too is refused rather than run on the wrong day."""
    from archiver.cluster.slots import local_cron_to_utc
    from archiver.errors import ConfigError

    assert local_cron_to_utc("30 2 * * *", "UTC") == "30 2 * * *"
    denver = local_cron_to_utc("30 2 * * *", "America/Denver").split()
    assert denver[0] == "30" and denver[1] in {"8", "9"}  # MDT or MST
    assert local_cron_to_utc("*/15 * * * *", "America/Denver") == "*/15 * * * *"
    with pytest.raises(ConfigError, match="another day"):
        local_cron_to_utc("0 20 * * sun", "America/Denver")
