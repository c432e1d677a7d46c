"""``schedules check`` warns (does not fail) when a class is mapped to a superseded edition."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from archiver.config import load_config
from archiver.retention.eligibility import load_settings
from archiver.retention.mapping import superseded_uses
from connectors.registry import platforms
from tests.helpers import site_toml, write_config
from tests.retention_kit import CLASSES, cli, retention_head

REPO_SCHEDULES = Path(__file__).resolve().parents[2] / "retention_schedules"

OLD_EDITION = """
[schedule]
key = "TEST.2020"
number = "99"
title = "Old test schedule"
revised = "2020"
status = "superseded"
source = "tests/retention: invented for tests only"

[[items]]
number = 7
title = "OLD ONE YEAR"
retention = { years = 1 }
trigger = "creation"
disposal = "RM88"
source = "test"
verified = true
"""


def _config(tmp_path: Path, overrides: dict[str, str], extra: str = "") -> Path:
    head = retention_head(tmp_path, overrides)
    (tmp_path / "schedules" / "old.toml").write_text(OLD_EDITION)
    return write_config(
        tmp_path,
        site_toml("city", "mastodon", "http://127.0.0.1:9", "cityofbozeman", token_env="T_TOK")
        + extra,
        head=head,
    )


def test_check_warns_for_each_class_on_a_superseded_edition(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        {"city_post": "TEST.2020-7", "media": "TEST.2020-7"},
        extra='\n[retention.sites.city]\npublic_comment = "TEST.2020-7"\n',
    )
    r = cli(config, "schedules", "check", "--json")
    assert r.returncode == 0, r.stderr  # a warning, not a failure
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["problems"] == []
    assert {u["key"] for u in data["superseded"]} == {
        "retention.classes.city_post",
        "retention.classes.media",
        "retention.sites.city.public_comment",
    }
    for u in data["superseded"]:
        assert u["ref"] == "TEST.2020-7" and u["schedule"] == "TEST.2020"
        assert u["current_editions"] == ["TEST.2026"]

    r = cli(config, "schedules", "check")
    assert r.returncode == 0
    assert "3 mapping(s) use a superseded edition" in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("superseded:")]
    assert len(lines) == 3
    assert any(
        "retention.classes.city_post = TEST.2020-7: schedule TEST.2020" in ln
        and "is superseded; review it against the current edition TEST.2026" in ln
        for ln in lines
    )


def test_no_warning_when_every_class_maps_to_a_current_edition(tmp_path: Path) -> None:
    config = _config(tmp_path, {})
    r = cli(config, "schedules", "check", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["superseded"] == []
    r = cli(config, "schedules", "check")
    assert "superseded" not in r.stderr and r.stdout.strip().endswith(": OK")


def test_superseded_edition_without_a_current_one_says_so(tmp_path: Path) -> None:
    config = _config(tmp_path, {c: "TEST.2020-7" for c in CLASSES})
    (tmp_path / "schedules" / "old.toml").write_text(OLD_EDITION.replace('"99"', '"98"'))
    cfg = load_config(str(config), platforms=platforms())
    settings = load_settings(cfg)
    assert settings.mapping is not None
    uses = superseded_uses(settings.mapping, settings.schedules)
    assert len(uses) == len(CLASSES) and all(u.current == () for u in uses)
    assert "no current edition of schedule No. 98" in str(uses[0])


def test_shipped_lg1_2006_items_are_flagged_against_lg1_2017(tmp_path: Path) -> None:
    schedules = tmp_path / "shipped"
    shutil.copytree(REPO_SCHEDULES, schedules)
    config = write_config(
        tmp_path,
        site_toml("city", "mastodon", "http://127.0.0.1:9", "cityofbozeman", token_env="T_TOK"),
        head=f'[retention]\nschedules_dir = "{schedules}"\n\n[retention.classes]\n'
        + "".join(f'{c} = "LG1.2006-1"\n' for c in CLASSES),
    )
    data = json.loads(cli(config, "schedules", "check", "--json").stdout)
    assert data["ok"] is True
    assert len(data["superseded"]) == len(CLASSES)
    assert {u["schedule"] for u in data["superseded"]} == {"LG1.2006"}
    assert {tuple(u["current_editions"]) for u in data["superseded"]} == {("LG1.2017",)}
