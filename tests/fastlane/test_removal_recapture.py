"""``archiver removal record`` re-captures the item before recording the removal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog
from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer
from typer.testing import CliRunner

from archiver.cli import app as cli_app
from tests.helpers import catalog_rows, harvest, site_toml, write_config

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _versions(config: Path, pid: str) -> list[str]:
    return [
        r["text"]
        for r in catalog_rows(
            config,
            "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ? ORDER BY v.version",
            (pid,),
        )
    ]


def test_removal_record_keeps_the_text_edited_one_second_before(tmp_path: Path) -> None:
    world = LiveMastodon(clock_start=T0)
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    maria = world.add_account("maria", "Maria")["id"]
    post = world.post_status(city, "Road closure on Main St.")["id"]
    c = world.post_status(maria, "you people are useless", in_reply_to_id=post)["id"]
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, "cityofbozeman"))
        harvest(config, "masto", full=True)
        assert _versions(config, c) == ["you people are useless"]
        world.edit_status(c, "you people are useless and I know where the mayor lives")
        out = CliRunner().invoke(
            cli_app,
            ["removal", "record", f"masto:{c}", "--category", "3", "--by", "Melissa",
             "--config", str(config)],
        )  # fmt: skip
        structlog.reset_defaults()
        assert out.exit_code == 0, out.output
        said = " ".join(out.output.split())
        assert "re-captured item" in said and "a new version (version 2" in said
        assert "could not" not in said
        assert _versions(config, c) == [
            "you people are useless",
            "you people are useless and I know where the mayor lives",
        ]
        removals = catalog_rows(config, "SELECT category FROM comment_removals")
        assert [r["category"] for r in removals] == [3]
        # the moderator now deletes it on the platform: the archive still has the edit
        world.delete_status(c)
        out = CliRunner().invoke(
            cli_app,
            ["removal", "record", f"masto:{c}", "--category", "3", "--by", "Melissa",
             "--config", str(config)],
        )  # fmt: skip
        structlog.reset_defaults()
        said = " ".join(out.output.split())
        assert "could not re-capture" in said and "already recorded" in said
        assert _versions(config, c)[-1].endswith("where the mayor lives")
