"""Search and export against a PostgreSQL catalog (tsvector search, same package)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.export.conftest import SITE, build_archive
from tests.export.helpers import cli, open_request, validate_package


@pytest.mark.postgres
def test_search_and_export_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    archive = build_archive(tmp_path, catalog_url=pg_url)
    rid = open_request(archive)
    out = tmp_path / "pg-package"
    r = cli(archive.config, "export", rid, "plows", "--site", SITE, "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    validate_package(out)
    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    assert rows
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            versions = (
                conn.execute(
                    text(
                        "SELECT v.id FROM item_versions v JOIN items i ON i.id = v.item_id "
                        "WHERE to_tsvector('simple', v.text) @@ plainto_tsquery('simple', 'plows')"
                    )
                )
                .scalars()
                .all()
            )
            custody = conn.execute(
                text("SELECT package_sha256 FROM exports WHERE request_id = :r"), {"r": rid}
            ).scalar_one()
    finally:
        engine.dispose()
    assert set(versions) <= {row["version_id"] for row in rows}
    assert custody == result["package_sha256"]
    assert archive.edited_id in {row["platform_id"] for row in rows}
    edited = [row for row in rows if row["platform_id"] == archive.edited_id]
    assert sorted(row["version"] for row in edited) == [1, 2]
