"""A real archive for the retention workflow tests: a fake Mastodon world, a config whose
``[retention]`` table points at a small test schedule, and real harvests.

Fixtures (``world``, ``server``, ``make_archive``) are registered for the whole suite by
``tests/conftest.py`` (``pytest_plugins``); helpers (``app_for``, ``retention_head``, the
constants) are imported from here. Test modules never import each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakeplatforms.demo_data import build_demo_world
from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.server import FakeServer

from archiver.app import App, open_app
from archiver.retention import disposition as d
from archiver.retention.eligibility import load_settings
from tests.helpers import catalog_rows, harvest, site_toml, write_config

FAR_FUTURE = date(2031, 1, 1)
DENVER = ZoneInfo("America/Denver")

TEST_SCHEDULE = """
[schedule]
key = "TEST.2026"
number = "99"
title = "Test schedule"
revised = "2026"
status = "current"
source = "tests/retention: invented for tests only"

[[items]]
number = 1
title = "ONE YEAR, NO PERMISSION"
retention = { years = 1 }
trigger = "creation"
disposal = "RM88"
source = "test"
verified = true

[[items]]
number = 2
title = "PERMANENT"
retention = { permanent = true }
source = "test"
verified = true

[[items]]
number = 3
title = "ONE YEAR, SUBCOMMITTEE"
retention = { years = 1 }
trigger = "creation"
disposal = "RM60"
source = "test"
verified = true

[[items]]
number = 4
title = "ONE YEAR, UNVERIFIED"
retention = { years = 1 }
trigger = "creation"
disposal = "RM88"
source = "test"
verified = false
notes = "Invented unverified item: the tests confirm it before use."
"""

CLASSES = (
    "city_post",
    "city_reply",
    "public_comment",
    "comment_reply",
    "removed_comment",
    "follower_list",
    "media",
    "direct_message",
)

ArchiveFactory = Callable[..., Path]


@pytest.fixture
def world() -> tuple[MastodonWorld, str]:
    w, city = build_demo_world(statuses=20, followers=25, seed=11)
    w.rate_limit = 1_000_000
    return w, city


@pytest.fixture
def server(world: tuple[MastodonWorld, str]) -> Iterator[FakeServer]:
    with FakeServer(world[0]) as srv:
        yield srv


def retention_head(tmp_path: Path, overrides: dict[str, str] | None = None) -> str:
    schedules = tmp_path / "schedules"
    schedules.mkdir(exist_ok=True)
    (schedules / "test.toml").write_text(TEST_SCHEDULE)
    refs = {c: "TEST.2026-1" for c in CLASSES}
    refs.update(overrides or {})
    lines = ["[retention]", f'schedules_dir = "{schedules}"', "", "[retention.classes]"]
    lines += [f'{c} = "{r}"' for c, r in refs.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_archive(tmp_path: Path, server: FakeServer) -> ArchiveFactory:
    """A config with the test schedule and one harvested Mastodon site ("city")."""

    def make(
        overrides: dict[str, str] | None = None, *, runs: int = 1, catalog_url: str | None = None
    ) -> Path:
        config = write_config(
            tmp_path,
            site_toml("city", "mastodon", server.url, "cityofbozeman", token_env="TEST_RET_TOKEN"),
            head=retention_head(tmp_path, overrides),
            catalog_url=catalog_url,
        )
        os.environ["TEST_RET_TOKEN"] = "retention-test-token-123456"
        for _ in range(runs):
            assert harvest(config, "city").status == "succeeded"
        return config

    return make


def app_for(config: Path) -> App:
    return open_app(str(config))


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m archiver --config CONFIG ARGS...`` with output captured."""
    return subprocess.run(
        [sys.executable, "-m", "archiver", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
        check=False,
    )


KILL_AT_DELETE = textwrap.dedent(
    """
    import os, shutil, sys
    from datetime import date
    import archiver.storage.local as local
    from archiver.app import open_app
    from archiver.retention import disposition
    from archiver.retention.eligibility import load_settings

    real_rmtree = shutil.rmtree

    def die_at_delete(path, *args, **kwargs):
        if str(path).endswith(".deleting"):
            os._exit(137)  # renamed out of sight, not yet removed: killed mid-delete
        return real_rmtree(path, *args, **kwargs)

    local.shutil.rmtree = die_at_delete
    app = open_app(sys.argv[1])
    disposition.execute(
        app, load_settings(app.cfg), batch_id=sys.argv[2], by="Ed Executor",
        today=date.fromisoformat(sys.argv[3]),
    )
    """
)


def kill_disposition_mid_delete(config: Path) -> tuple[str, str, str]:
    """Propose and approve a batch, then run ``execute`` in a subprocess that dies at the
    first bundle's delete (renamed out of sight, not yet removed). Returns the batch id and
    the interrupted bundle's id and key."""
    app = app_for(config)
    try:
        batch = d.propose(app, load_settings(app.cfg), by="Rita Records", as_of=FAR_FUTURE)
        bid = str(batch["id"])
        d.approve(app, batch_id=bid, by="Mia Mayor", title="City Manager", authority="Res 5555")
    finally:
        app.close()
    assert len(batch["bundles"]) >= 2
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_DELETE, str(config), bid, FAR_FUTURE.isoformat()],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="CRITICAL"),
    )
    assert killed.returncode == 137, killed.stderr
    executing = catalog_rows(
        config, "SELECT bundle_id, key FROM batch_bundles WHERE state = 'executing'"
    )
    assert len(executing) == 1
    bundles = config.parent / "archive" / "bundles"
    assert (bundles / f"{executing[0]['key']}.deleting").is_dir()  # half deleted
    return bid, str(executing[0]["bundle_id"]), str(executing[0]["key"])
