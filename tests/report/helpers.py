"""Shared by the report tests and by the daemon and compliance tests that send mail: a sample
report model, a really harvested archive, and a real aiosmtpd server on 127.0.0.1.

Kept out of the test modules so no test module imports another (tests/test_layout.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fakeplatforms import FakeServer, MastodonWorld

from archiver.errors import ArchiverError
from archiver.report import (
    BatchLine,
    DispositionSection,
    DueLine,
    FailureLine,
    FixityLine,
    HoldLine,
    ReportData,
    RequestLine,
    RequestsSection,
    SiteSection,
    Totals,
)
from tests.helpers import harvest, site_toml, write_config

DENVER = ZoneInfo("America/Denver")
GENERATED = datetime(2026, 11, 1, 6, 0, tzinfo=DENVER)
TODAY = GENERATED.date()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def sample_sites() -> list[SiteSection]:
    mastodon = SiteSection(
        site_id="city-mastodon",
        platform="Mastodon",
        account="@bozeman@mastodon.example",
        department="City Manager's Office",
        administrators=["Dana Ortiz (Communications)", "Sam Reed (IT)"],
        has_it_admin=True,
        posts_captured=42,
        comments_captured=310,
        followers_gained=15,
        followers_lost=3,
        follower_count=1204,
        follower_identities=True,
        edits_detected=2,
        removals_detected=1,
        runs_ok=29,
        runs_failed=2,
        failures=[
            FailureLine(
                datetime(2026, 10, 14, 9, 0, tzinfo=UTC),
                "site city-mastodon: /api/v1/accounts/1/statuses: 503 Service Unavailable",
            ),
            FailureLine(
                datetime(2026, 10, 15, 9, 0, tzinfo=UTC),
                "site city-mastodon: connection reset by peer",
            ),
        ],
        token_expires=TODAY + timedelta(days=10),
        degradations=[],
    )
    facebook = SiteSection(
        site_id="fire-facebook",
        platform="Facebook",
        account="Bozeman Fire Department",
        department="Fire",
        administrators=["Pat Lee (Fire)"],
        has_it_admin=False,
        posts_captured=18,
        comments_captured=95,
        followers_gained=0,
        followers_lost=0,
        follower_count=8400,
        follower_identities=False,
        edits_detected=0,
        removals_detected=0,
        runs_ok=31,
        runs_failed=0,
        failures=[],
        token_expires=TODAY + timedelta(days=55),
        degradations=[f"Comment removed by its author before capture: {HOSTILE}"],
    )
    return [mastodon, facebook]


def sample_report(**overrides: object) -> ReportData:
    sites = sample_sites()
    data = ReportData(
        month="2026-10",
        generated_at=GENERATED,
        city="Bozeman",
        sites=sites,
        totals=Totals.from_sites(sites, bundles_sealed=62, bytes_stored=3_500_000_000),
        disposition=DispositionSection(
            due_30=[
                DueLine(
                    "city-mastodon",
                    "b-2023-10-city-mastodon",
                    "1 (General)",
                    date(2026, 11, 20),
                    400,
                )
            ],
            due_60=[],
            due_90=[],
            awaiting_approval=[BatchLine("d-7", date(2026, 10, 2), 4, 900, "City Clerk")],
            long_retention_flags=[],
        ),
        holds=[
            HoldLine(
                "Hold 2026-03",
                "Smith v. City of Bozeman",
                datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
                "City Attorney",
            )
        ],
        fixity=FixityLine(
            datetime(2026, 10, 31, 8, 0, tzinfo=UTC),
            62,
            ["bundle b-2026-09-fire-facebook: warc/00001.warc.gz sha256 does not match"],
        ),
        requests=RequestsSection(
            open=3,
            overdue=[
                RequestLine(
                    "PRR-2026-041",
                    date(2026, 9, 20),
                    date(2026, 10, 4),
                    "All Fire Department posts about the Bridger fire",
                )
            ],
        ),
        notes=["Mastodon instance moved to a new server on 2026-10-20."],
    )
    return replace(data, **overrides)  # type: ignore[arg-type]


SITE = "bozeman-mastodon"


def this_month() -> str:
    return datetime.now(DENVER).strftime("%Y-%m")


@dataclass
class Archive:
    config: Path
    token_expires: str


def harvested_archive(tmp_path: Path, *, smtp: str = "") -> Archive:
    """Two harvests with changes in between, then one failed run.

    First harvest: 4 city posts, 2 replies from residents, 3 followers (the baseline).
    Between the harvests: 1 new post, 1 edit, 1 deletion, 2 new followers, 1 unfollow.
    """
    world = MastodonWorld()
    world.rate_limit = 1_000_000
    city = world.add_account("cityofbozeman", "City of Bozeman")["id"]
    people = [world.add_account(f"resident{i}", f"Resident {i}")["id"] for i in range(6)]
    posts = [world.post_status(city, f"Council agenda item {i}")["id"] for i in range(4)]
    first_reply = world.post_status(people[0], "When is public comment?", in_reply_to_id=posts[0])
    world.post_status(people[1], "Agreed, please post times", in_reply_to_id=first_reply["id"])
    for p in people[:3]:
        world.follow(city, p)
    expires = (datetime.now(DENVER).date() + timedelta(days=10)).isoformat()
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(
                SITE, "mastodon", server.url, "cityofbozeman", extra=f'token_expires = "{expires}"'
            ),
            head=smtp,
        )
        harvest(config, SITE, full=True)
        world.post_status(city, "Snow emergency declared")
        world.edit_status(posts[1], "Council agenda item 1 (corrected time)")
        world.delete_status(posts[2])
        world.follow(city, people[3])
        world.follow(city, people[4])
        world.unfollow(city, people[0])
        harvest(config, SITE, full=True)
        server.inject("/api/v1/accounts/lookup", "unauthorized_401", times=10)
        with pytest.raises(ArchiverError):
            harvest(config, SITE, full=True)
    return Archive(config, expires)


class Inbox:
    """An aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def smtp_server(handler: object, **kwargs: Any) -> Iterator[int]:
    """A real SMTP server on a free loopback port for the duration of the block."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_toml(port: int) -> str:
    return (
        "[smtp]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        'security = "none"\n'
        'sender = "archiver@bozeman.net"\n'
        'recipients = ["clerk@bozeman.net"]\n'
        "attempts = 2\n"
        "backoff_seconds = 0\n"
        "timeout = 5\n\n"
        "[report]\n"
        'recipients = ["it-director@bozeman.net", "clerk@bozeman.net"]\n'
    )
