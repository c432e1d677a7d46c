"""Page inbox messages (issue 18 part 1): real harvests of the fake Conversations API, the
permission error, the gap past the API's reach, and messages private by default in search
and exports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms import FakeServer
from fakeplatforms.messages import MessagesWorld

from archiver.app import open_app
from archiver.errors import AuthError
from archiver.prr.export import ExportOptions, run_export
from archiver.search import SearchFilters, search
from tests.helpers import catalog_rows, harvest, site_toml, write_config

TOKEN = "EAAGmessagesFakePageToken0123456789"
ENV = "BOZEMAN_INBOX_TOKEN"
ARCHIVER = str(Path(sys.executable).parent / "archiver")


@dataclass
class Inbox:
    world: MessagesWorld
    server: FakeServer
    config: Path


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    monkeypatch.setenv(ENV, TOKEN)
    world = MessagesWorld(token=TOKEN)
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(
                "inbox",
                "meta_messages",
                f"{server.url}/v21.0",
                world.page_id,
                token_env=ENV,
                options={"inboxes": ["messenger", "instagram"]},
            ),
        )
        yield Inbox(world, server, config)


def test_messages_of_both_inboxes_are_captured_as_direct_messages(inbox: Inbox) -> None:
    w = inbox.world
    conv = w.add_conversation("messenger")
    asked = w.add_message(conv, "Is the recycling center open Saturday?")
    answered = w.add_message(conv, "Yes, 8 to 4.", from_page=True)
    ig = w.add_message(w.add_conversation("instagram"), "Pothole on 7th Ave")
    harvest(inbox.config, "inbox", full=True)
    rows = {
        r["platform_id"]: r
        for r in catalog_rows(inbox.config, "SELECT platform_id, kind, by_owner FROM items")
    }
    assert set(rows) == {asked, answered, ig}
    assert {r["kind"] for r in rows.values()} == {"message"}
    assert rows[answered]["by_owner"] and not rows[asked]["by_owner"]


def test_missing_permission_is_fatal_and_names_it(inbox: Inbox) -> None:
    inbox.world.granted.discard("pages_messaging")
    with pytest.raises(AuthError, match="pages_messaging") as caught:
        harvest(inbox.config, "inbox", full=True)
    assert "\n" not in str(caught.value) and "pages_messaging" in (caught.value.hint or "")


def test_messages_beyond_the_apis_reach_are_a_gap_not_a_deletion(inbox: Inbox) -> None:
    w = inbox.world
    w.recent = 3
    conv = w.add_conversation("messenger")
    ids = [w.add_message(conv, f"message {n}") for n in range(3)]
    harvest(inbox.config, "inbox", full=True)
    later = [w.add_message(conv, f"later {n}") for n in range(2)]
    harvest(inbox.config, "inbox", full=True)
    held = {r["platform_id"] for r in catalog_rows(inbox.config, "SELECT platform_id FROM items")}
    assert set(ids + later) <= held
    removed = catalog_rows(inbox.config, "SELECT * FROM items WHERE removal_state IS NOT NULL")
    assert removed == [], "messages out of the API's reach were marked removed"
    gaps = [r["reason"] for r in catalog_rows(inbox.config, "SELECT reason FROM degradations")]
    assert any("2 older messages are listed without their text" in g for g in gaps), gaps


def test_messages_are_private_unless_asked_for(inbox: Inbox, tmp_path: Path) -> None:
    w = inbox.world
    w.add_message(w.add_conversation("messenger"), "My address is 12 Main St, please call")
    harvest(inbox.config, "inbox", full=True)
    app = open_app(str(inbox.config))
    try:
        assert search(app.catalog, "", SearchFilters()) == []
        asked = search(app.catalog, "", SearchFilters(kinds=("message",)))
        assert [h["kind"] for h in asked] == ["message"]
    finally:
        app.close()
    r = subprocess.run(
        [ARCHIVER, "--config", str(inbox.config), "request", "open", "--requester", "Jane",
         "--received", "2026-11-20", "--description", "inbox", "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rid = str(json.loads(r.stdout)["id"])
    for args, expect in ((["--kind", "message"], 1), ([], 0)):
        found = subprocess.run(
            [ARCHIVER, "--config", str(inbox.config), "search", *args, "--json"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert found.stdout.count("12 Main St") == expect, (args, found.stdout[:500])
    app = open_app(str(inbox.config))
    try:
        plain = run_export(
            app, ExportOptions(rid, "", SearchFilters(site="inbox"), tmp_path / "plain")
        )
        asked_for = run_export(
            app,
            ExportOptions(
                rid, "", SearchFilters(site="inbox", kinds=("message",)), tmp_path / "asked"
            ),
        )
    finally:
        app.close()
    assert plain.counts["versions"] == 0
    assert asked_for.counts["versions"] == 1
