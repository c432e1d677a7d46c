"""Record-class mapping: every class mapped, refs resolve, overrides per site."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from archiver.errors import ConfigError, RetentionError
from archiver.retention.mapping import RECORD_CLASSES, load_mapping
from archiver.retention.schedules import ScheduleSet, load_schedules

SHIPPED = Path(__file__).resolve().parents[2] / "retention_schedules"

SCHEDULE = """
[schedule]
key = "LG9.2020"
number = "9"
title = "Test schedule"
revised = "2020"
status = "current"
source = "https://example.org/9"

[[items]]
number = "1"
title = "Posts"
retention = { years = 3 }
trigger = "creation"
disposal = "RM88"
source = "https://example.org/9#1"
verified = true

[[items]]
number = "2"
title = "Comments"
retention = { permanent = true }
source = "https://example.org/9#2"
verified = true
"""


@pytest.fixture
def schedules(tmp_path: Path) -> ScheduleSet:
    (tmp_path / "lg9.toml").write_text(textwrap.dedent(SCHEDULE), encoding="utf-8")
    return load_schedules(tmp_path)


def config(**overrides: Any) -> dict[str, Any]:
    classes: dict[str, Any] = dict.fromkeys(RECORD_CLASSES, "LG9.2020-1")
    classes.update(overrides)
    return {"retention": {"classes": classes}}


def test_shipped_example_mapping_loads() -> None:
    schedules = load_schedules(SHIPPED)
    path = SHIPPED / "mapping.example.toml"
    mapping = load_mapping(tomllib.loads(path.read_text()), file=str(path), schedules=schedules)
    for record_class in RECORD_CLASSES:
        assert mapping.item_for(record_class).retention.permanent  # placeholder disposes nothing


def test_city_wide_and_site_override(schedules: ScheduleSet) -> None:
    data = config()
    data["retention"]["sites"] = {"police-fb": {"public_comment": "LG9.2020-2"}}
    data["retention"]["other_setting"] = "left alone"
    mapping = load_mapping(data, file="archiver.toml", schedules=schedules)
    assert mapping.item_for("public_comment").ref == "LG9.2020-1"
    assert mapping.item_for("public_comment", "police-fb").ref == "LG9.2020-2"
    assert mapping.item_for("city_post", "police-fb").ref == "LG9.2020-1"
    assert mapping.item_for("public_comment", "unknown-site").ref == "LG9.2020-1"


def test_item_for_unknown_class(schedules: ScheduleSet) -> None:
    mapping = load_mapping(config(), file="archiver.toml", schedules=schedules)
    with pytest.raises(RetentionError, match="did you mean 'city_post'"):
        mapping.item_for("city_posts")


@pytest.mark.parametrize(
    ("data", "key", "fix"),
    [
        ({}, "retention.classes", "mapping.example.toml"),
        ({"retention": {"sites": {}}}, "retention.classes", "records manager"),
        (config(city_posts="LG9.2020-1"), "retention.classes.city_posts", "'city_post'"),
        (config(media="LG9.2020-3"), "retention.classes.media", "'LG9.2020-1'"),
        (config(media=3), "retention.classes.media", "in quotes"),
        ({"retention": {"classes": "LG9.2020-1"}}, "retention.classes", "city_post ="),
    ],
)
def test_bad_mapping_names_file_key_and_fix(
    schedules: ScheduleSet, data: dict[str, Any], key: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_mapping(data, file="archiver.toml", schedules=schedules)
    assert (info.value.file, info.value.key) == ("archiver.toml", key)
    assert info.value.hint is not None and fix in info.value.hint
    assert str(info.value).startswith(f"archiver.toml: {key}: ")


def test_every_class_must_be_mapped(schedules: ScheduleSet) -> None:
    data = config()
    del data["retention"]["classes"]["direct_message"]
    del data["retention"]["classes"]["media"]
    with pytest.raises(ConfigError, match="media, direct_message"):
        load_mapping(data, file="archiver.toml", schedules=schedules)


def test_bad_site_override(schedules: ScheduleSet) -> None:
    data = config()
    data["retention"]["sites"] = {"police-fb": {"public_coment": "LG9.2020-2"}}
    with pytest.raises(ConfigError) as info:
        load_mapping(data, file="archiver.toml", schedules=schedules)
    assert info.value.key == "retention.sites.police-fb.public_coment"
    data["retention"]["sites"] = {"police-fb": {"public_comment": "LG9.2020-2"}}
    with pytest.raises(ConfigError, match="unknown site 'police-fb'") as info:
        load_mapping(data, file="archiver.toml", schedules=schedules, known_sites={"police-fbk"})
    assert info.value.hint is not None and "police-fbk" in info.value.hint
    data["retention"]["sites"] = ["police-fb"]
    with pytest.raises(ConfigError) as info:
        load_mapping(data, file="archiver.toml", schedules=schedules)
    assert info.value.key == "retention.sites"


def test_ref_into_schedule_without_items_explains() -> None:
    schedules = load_schedules(SHIPPED)
    data: dict[str, Any] = {"retention": {"classes": dict.fromkeys(RECORD_CLASSES, "LG1.2006-1")}}
    data["retention"]["classes"]["city_post"] = "LG1.2017-5"
    with pytest.raises(ConfigError, match="no confirmed items") as info:
        load_mapping(data, file="archiver.toml", schedules=schedules)
    assert info.value.key == "retention.classes.city_post"


def test_unverified_items_are_listed() -> None:
    schedules = load_schedules(SHIPPED)
    data: dict[str, Any] = {"retention": {"classes": dict.fromkeys(RECORD_CLASSES, "LG1.2006-1")}}
    data["retention"]["sites"] = {"police-fb": {"city_reply": "LG1.2006-2"}}
    mapping = load_mapping(data, file="archiver.toml", schedules=schedules)
    assert [(k, i.ref) for k, i in mapping.unverified()] == [
        ("retention.sites.police-fb.city_reply", "LG1.2006-2")
    ]
