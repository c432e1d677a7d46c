"""A confirmation covers an unverified item as it read when confirmed, not whatever the TOML
says later: editing the item voids it until someone confirms the item again."""

from __future__ import annotations

import json
from pathlib import Path

from archiver.retention import disposition as d
from archiver.retention.confirmations import confirm, item_digest
from archiver.retention.eligibility import confirmed_refs, load_settings
from archiver.retention.schedules import load_schedules
from tests.helpers import catalog_rows
from tests.retention_kit import FAR_FUTURE, ArchiveFactory, app_for, cli


def _edit_item_4(config: Path, old: str, new: str) -> None:
    schedule = config.parent / "schedules" / "test.toml"
    text = schedule.read_text()
    head, sep, item4 = text.partition('title = "ONE YEAR, UNVERIFIED"')
    assert sep and old in item4
    schedule.write_text(head + sep + item4.replace(old, new, 1))


def test_editing_a_confirmed_item_voids_the_confirmation_and_check_says_why(
    make_archive: ArchiveFactory,
) -> None:
    config = make_archive({"public_comment": "TEST.2026-4"})
    r = cli(config, "schedules", "confirm", "TEST.2026-4", "--by", "Rita Records")
    assert r.returncode == 0, r.stderr
    data = json.loads(cli(config, "schedules", "check", "--json").stdout)
    assert data["unverified"][0]["confirmed_by"] == "Rita Records"
    assert "stale_confirmation" not in data["unverified"][0]

    _edit_item_4(config, "retention = { years = 1 }", "retention = { years = 2 }")

    r = cli(config, "schedules", "check", "--json")
    assert r.returncode == 0, r.stderr  # a warning, like any unconfirmed item
    (u,) = json.loads(r.stdout)["unverified"]
    assert u["ref"] == "TEST.2026-4" and u["confirmed_by"] is None and u["confirmed_at"] is None
    stale = u["stale_confirmation"]
    assert stale["confirmed_by"] == "Rita Records"
    assert stale["reason"] == (
        "item changed since it was confirmed: retention was 1 years, now 2 years"
    )
    r = cli(config, "schedules", "check")
    assert "TEST.2026-4" in r.stderr and "NOT confirmed any more" in r.stderr
    assert "confirmed by Rita Records" in r.stderr and "retention was 1 years" in r.stderr
    assert "archiver schedules confirm TEST.2026-4" in r.stderr

    # Disposal treats it as never confirmed: the comments bundle is blocked, not due.
    app = app_for(config)
    try:
        settings = load_settings(app.cfg)
        with app.catalog.begin() as conn:
            assert confirmed_refs(conn, settings.schedules) == set()
        due, blocked, _ = d.due(app, settings, as_of=FAR_FUTURE)
        assert any("TEST.2026-4" in " ".join(b["blocked"]) for b in blocked)
        assert not any("TEST.2026-4" in r["schedule_items"] for r in due)
        # Confirming again is allowed (not "already confirmed") and covers the new text.
        row = confirm(app, settings, ref="TEST.2026-4", by="Sam Supervisor")
        assert row["digest"] == item_digest(settings.schedules.item("TEST.2026-4"))
        with app.catalog.begin() as conn:
            assert confirmed_refs(conn, settings.schedules) == {"TEST.2026-4"}
    finally:
        app.close()
    data = json.loads(cli(config, "schedules", "check", "--json").stdout)
    assert data["unverified"][0]["confirmed_by"] == "Sam Supervisor"
    assert "stale_confirmation" not in data["unverified"][0]
    # Both confirmations stay on record, and the audit log has both.
    rows = catalog_rows(config, "SELECT confirmed_by FROM schedule_item_confirmations ORDER BY id")
    assert [r["confirmed_by"] for r in rows] == ["Rita Records", "Sam Supervisor"]
    audit = catalog_rows(config, "SELECT actor FROM audit_log WHERE action = 'schedule.confirm'")
    assert [a["actor"] for a in audit] == ["Rita Records", "Sam Supervisor"]


def test_confirming_an_unchanged_item_twice_is_refused(make_archive: ArchiveFactory) -> None:
    config = make_archive({"public_comment": "TEST.2026-4"})
    assert cli(config, "schedules", "confirm", "TEST.2026-4", "--by", "Rita").returncode == 0
    # Notes and description are not part of what is confirmed: editing them keeps it.
    _edit_item_4(config, 'notes = "Invented', 'notes = "Edited note. Invented')
    r = cli(config, "schedules", "confirm", "TEST.2026-4", "--by", "Rita")
    assert r.returncode == 2 and "already confirmed by Rita" in r.stderr


def test_the_digest_covers_each_confirmed_field_and_ignores_formatting(tmp_path: Path) -> None:
    base_item = """
[schedule]
key = "T.1"
number = "1"
title = "t"
revised = "2026"
status = "current"
source = "s"

[[items]]
number = 4
title = "X"
retention = { years = 1 }
trigger = "creation"
disposal = "RM88"
source = "src"
verified = false
notes = "n"
"""
    variants = {
        "title": ('title = "X"', 'title = "Y"'),
        "retention": ("{ years = 1 }", '{ event = "until superseded" }\n'),
        "trigger": ('trigger = "creation"', 'trigger = "calendar_year_end"'),
        "disposal": ('disposal = "RM88"', 'disposal = "RM60"'),
        "source": ('source = "src"', 'source = "other"'),
        "number": ("number = 4", "number = 5"),
    }

    counter = iter(range(100))

    def digest(text: str, ref: str = "T.1-4") -> str:
        folder = tmp_path / f"s{next(counter)}"
        folder.mkdir()
        (folder / "t.toml").write_text(text)
        return item_digest(load_schedules(folder).item(ref))

    original = digest(base_item)
    assert digest(base_item.replace('title = "X"', "title    =   'X'")) == original
    for field, (old, new) in variants.items():
        changed = base_item.replace(old, new, 1)
        if field == "retention":
            changed = changed.replace('trigger = "creation"', 'trigger = "event"')
        ref = "T.1-5" if field == "number" else "T.1-4"
        assert digest(changed, ref) != original, field
