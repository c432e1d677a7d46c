"""A harvest killed at each step between sealing and cataloging, on purpose rather than by
chance: the next harvest recovers every sealed bundle, nothing is lost or cataloged twice,
and a failed run never moves a bookmark.

The kill is real (``os._exit`` in a subprocess running the real CLI); the test only replaces,
inside that subprocess, the function at which the process dies. Product code has no hook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from tests.helpers import catalog_rows, site_toml, write_config

KILLER = textwrap.dedent(
    """
    import os, sys
    import archiver.harvest as harvest
    from archiver.storage.local import LocalStorage

    point, config = sys.argv[1], sys.argv[2]
    real_ingest = harvest.ingest_bundle
    calls = {"n": 0}

    def die(*_args, **_kwargs):
        os._exit(137)

    def die_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os._exit(137)
        return real_ingest(*args, **kwargs)

    if point == "sealed-not-published":
        LocalStorage.publish = die
    elif point == "published-not-cataloged":
        harvest.ingest_bundle = die
    elif point == "between-two-bundles":
        harvest.ingest_bundle = die_on_second
    from archiver.cli import main
    sys.argv = ["archiver", "--config", config, "harvest", "--full"]
    main()
    """
)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[FakeServer, MastodonWorld, str]]:
    w, city = build_demo_world(statuses=40, followers=90, seed=21)
    w.rate_limit = 1_000_000
    with FakeServer(w) as server:
        yield server, w, city


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="CRITICAL"),
    )


def _count(config: Path, sql: str) -> int:
    return int(catalog_rows(config, sql)[0][0])


@pytest.mark.parametrize(
    "point", ["sealed-not-published", "published-not-cataloged", "between-two-bundles"]
)
def test_kill_between_seal_and_catalog_is_recovered(
    tmp_path: Path, world: tuple[FakeServer, MastodonWorld, str], point: str
) -> None:
    server, w, city = world
    config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(config)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="CRITICAL"),
    )
    assert killed.returncode == 137, killed.stderr
    staging = tmp_path / "archive" / "staging"
    published = sorted((tmp_path / "archive" / "bundles").glob("city/*/*"))
    if point == "sealed-not-published":
        assert not published and list(staging.glob("*.sealed"))
    else:
        assert published  # on storage, not (all) in the catalog yet

    # Nothing that looks complete is broken: verify checks what is published, cataloged or not.
    checked = _cli(config, "verify", "--all", "--json")
    if point == "sealed-not-published":
        # Nothing is visible yet: zero bundles checked proves nothing, so no "OK".
        assert checked.returncode == 2 and "nothing to verify" in checked.stderr, checked.stderr
    else:
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["uncataloged"]

    resumed = _cli(config, "harvest")
    assert resumed.returncode == 0, resumed.stderr
    statuses = len(w.status_ids(city))
    assert _count(config, "SELECT count(*) FROM items WHERE kind = 'post'") == statuses
    assert _count(config, "SELECT count(*) FROM followers") == len(w.follower_ids(city))
    on_disk = {p.name for p in (tmp_path / "archive" / "bundles").glob("city/*/*")}
    cataloged = {r["id"] for r in catalog_rows(config, "SELECT id FROM bundles")}
    assert on_disk == cataloged  # every sealed bundle kept and cataloged exactly once
    versions = catalog_rows(
        config, "SELECT item_id, version, count(*) AS n FROM item_versions GROUP BY 1, 2"
    )
    assert all(v["n"] == 1 for v in versions)
    assert not any(staging.glob("*.sealed")) and not any(staging.glob("*.partial"))
    assert _cli(config, "verify", "--all").returncode == 0


def test_a_failed_run_never_moves_the_bookmark(
    tmp_path: Path, world: tuple[FakeServer, MastodonWorld, str]
) -> None:
    """Statuses were fetched (and are newer than the bookmark) but the run failed later, at
    the followers: the bookmark stays, so the next incremental run fetches them again."""
    server, w, city = world
    config = write_config(tmp_path, site_toml("city", "mastodon", server.url, "cityofbozeman"))
    assert _cli(config, "harvest").returncode == 0
    bookmark = catalog_rows(config, "SELECT value FROM bookmarks WHERE key = 'since_id'")
    new = [w.post_status(city, f"Council agenda item {i} posted")["id"] for i in range(3)]
    server.inject(f"/api/v1/accounts/{city}/followers", "status_500", times=50)
    try:
        failed = _cli(config, "harvest")
    finally:
        server.clear_faults()
    assert failed.returncode == 1
    assert catalog_rows(config, "SELECT value FROM bookmarks WHERE key = 'since_id'") == bookmark
    posts = {r["platform_id"] for r in catalog_rows(config, "SELECT platform_id FROM items")}
    assert not set(new) & posts  # nothing of the failed run was cataloged

    assert _cli(config, "harvest").returncode == 0  # incremental: starts from the bookmark
    posts = {r["platform_id"] for r in catalog_rows(config, "SELECT platform_id FROM items")}
    assert set(new) <= posts
    runs = catalog_rows(config, "SELECT full_sweep, status FROM runs ORDER BY started_at")
    assert [(r["full_sweep"], r["status"]) for r in runs][-2:] == [(0, "failed"), (0, "succeeded")]
