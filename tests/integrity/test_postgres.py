"""The authenticity checks on a PostgreSQL catalog: signing, deep verify, a catalog text edit,
checkpoints, and the kept anchor after a newest-entry delete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import sqlalchemy as sa
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.server import FakeServer
from fakeplatforms.tsa import LocalTsa

from tests.helpers import harvest, site_toml, write_config
from tests.integrity.conftest import Archive, integrity_toml


def test_authenticity_on_postgres(tmp_path: Path, pg_url: str, tsa: LocalTsa) -> None:
    w, _city = build_demo_world(statuses=4, followers=3, seed=13)
    w.rate_limit = 1_000_000
    with FakeServer(w) as server:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_TOKEN"),
            head=integrity_toml(tsa),
            catalog_url=pg_url,
        )
        os.environ["TEST_TOKEN"] = "test-token-abcdef"
        archive = Archive(config, tsa)
        assert archive.cli("keys", "init").returncode == 0
        assert harvest(config, "city").status == "succeeded"
    ok = archive.cli("verify", "--deep", "--json")
    assert ok.returncode == 0, ok.stdout
    assert set(json.loads(ok.stdout)["seals"]) == {"signed"}
    assert archive.cli("audit", "checkpoint").returncode == 0
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE item_versions SET text='FORGED' WHERE id=(SELECT min(id) FROM item_versions)"
            )
        )
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        head = conn.execute(sa.text("SELECT max(seq) FROM audit_log")).scalar()
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq=:s"), {"s": head})
    engine.dispose()
    bad = archive.cli("verify", "--deep", "--json")
    assert bad.returncode == 1
    assert any(p["kind"] == "catalog_text" for p in json.loads(bad.stdout)["problems"])
    audit_res = archive.cli("audit", "verify", "--json")
    assert audit_res.returncode == 1
    kinds = {p["kind"] for p in json.loads(audit_res.stdout)["problems"]}
    assert "truncated" in kinds or "checkpoint" in kinds
