"""The daemon's fast lane survives a restart without losing events (issue 13, Done when).

The daemon runs as systemd runs it (``python -m archiver daemon``, notify socket), follows a
fake Mastodon instance's user stream, is stopped with SIGTERM and started again; what happened
while it was down (a new comment, a deletion) is sealed after the restart, the stream is asked
to resume after the last event sealed before the stop, and nothing is captured twice.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fakeplatforms.live import LiveMastodon
from fakeplatforms.server import FakeServer

from tests.daemon.conftest import DaemonProcess, NotifySocket, rows, wait_for
from tests.helpers import harvest, site_toml, write_config

SITE = "bozeman-mastodon"
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
Start = Callable[[Path], DaemonProcess]


def _texts(config: Path) -> set[str]:
    return {r["text"] for r in rows(config, "SELECT text FROM item_versions")}


def _bookmark(config: Path, key: str) -> str | None:
    found = rows(config, "SELECT value FROM bookmarks WHERE site_id = ? AND key = ?", (SITE, key))
    return str(found[0]["value"]) if found else None


def test_fast_lane_resumes_after_a_daemon_restart_without_losing_events(
    tmp_path: Path, notify: NotifySocket, start_daemon: Start
) -> None:
    world = LiveMastodon(clock_start=T0)
    world.hold_stream = True  # held open like Mastodon's: the daemon's reader stays connected
    world.rate_limit = 1_000_000
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    maria = world.add_account("maria", "Maria")["id"]
    post = world.post_status(city, "Road closure on Main St.")["id"]
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(SITE, "mastodon", server.url, "cityofbozeman", extra='interval = "24h"'),
            head="[daemon]\nstop_grace_seconds = 5\n\n[fastlane]\nenabled = true\ninterval = 5\n",
        )
        harvest(config, SITE, full=True)  # the sweep that knows the account

        daemon = start_daemon(config)
        notify.wait_line("READY=1")
        first = world.post_status(maria, "before the restart", in_reply_to_id=post)["id"]
        wait_for(
            "the first comment sealed by the fast lane",
            lambda: "before the restart" in _texts(config),
        )
        wait_for(
            "the stream cursor past the first comment",
            lambda: int(_bookmark(config, "live_stream_event") or 0) >= len(world._events),
        )
        assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
        kept = _bookmark(config, "live_stream_event")
        assert kept is not None

        # While the daemon is down: a comment is posted, and the first one is deleted.
        second = world.post_status(maria, "while it was down", in_reply_to_id=post)["id"]
        world.delete_status(first)
        asked_before = len(server.requests)

        daemon = start_daemon(config)
        notify.wait_line("READY=1", at_least=2)
        wait_for("the comment posted while down", lambda: "while it was down" in _texts(config))
        wait_for(
            "the deletion seen while down marked",
            lambda: (
                rows(config, "SELECT removal_state FROM items WHERE platform_id = ?", (first,))[0][
                    "removal_state"
                ]
                == "removed_upstream"
            ),
        )
        assert daemon.stop(signal.SIGTERM) == 0, daemon.log()

    resumed = [r for r in server.requests[asked_before:] if r.path == "/api/v1/streaming/user"]
    assert resumed, "the restarted daemon never read the stream"
    # The restarted daemon asked to resume right after the last event sealed before the stop.
    assert resumed[0].headers.get("last-event-id") == kept
    # Nothing lost, nothing captured twice.
    for pid in (first, second):
        versions = rows(
            config,
            "SELECT COUNT(*) AS n FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.platform_id = ?",
            (pid,),
        )
        assert versions[0]["n"] == 1, pid
    events = rows(
        config,
        "SELECT e.detail FROM item_events e JOIN items i ON i.id = e.item_id "
        "WHERE i.platform_id = ? AND e.event = 'removed_upstream'",
        (first,),
    )
    assert len(events) == 1 and "'delete'" in events[0]["detail"]
    assert not rows(
        config, "SELECT * FROM degradations WHERE capability = 'live_removal_uncaptured'"
    )
