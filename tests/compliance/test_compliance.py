"""Policy compliance monitor (issue 17): real harvests of the fake Mastodon instance on
loopback, the real catalog, and a real aiosmtpd server receiving the alert e-mails."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from typer.testing import CliRunner

from archiver.cli import app as cli_app
from tests.connectors.facebook_scene import SITE as FB_SITE
from tests.connectors.facebook_scene import Scene as FbScene
from tests.connectors.facebook_scene import facebook_scene
from tests.helpers import catalog_rows, harvest, site_toml, write_config
from tests.report.helpers import free_port

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
BIO = (
    "Official City of Bozeman account. Acceptable Use Policy: https://www.bozeman.net/aup . "
    "Everything posted here is a public record."
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 2.0.0 OK"


@dataclass
class Site:
    world: MastodonWorld
    config: Path
    ids: dict[str, str]
    inbox: Inbox


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    world = MastodonWorld(clock_start=T0)
    ids: dict[str, str] = {
        "city": world.add_account(CITY_USERNAME, "City of Bozeman", note=BIO)["id"]
    }
    ids["maria"] = world.add_account("maria", "Maria")["id"]
    ids["linked"] = world.post_status(
        ids["city"], "Road closures this week: https://www.bozeman.net/roads"
    )["id"]
    ids["bare"] = world.post_status(ids["city"], "Pancake breakfast Saturday at the fire hall!")[
        "id"
    ]
    ids["storm"] = world.post_status(ids["city"], "Shelter in place now #emergency")["id"]
    ids["question"] = world.post_status(ids["maria"], "When does the pool open?")["id"]
    ids["answer"] = world.post_status(
        ids["city"], "@maria at 6 am tomorrow", in_reply_to_id=ids["question"]
    )["id"]
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    head = (
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'sender = "archiver@bozeman.example"\nrecipients = ["clerk@bozeman.example"]\n'
        "attempts = 1\nbackoff_seconds = 0\n\n"
        '[compliance]\ndomains = ["bozeman.net"]\n'
        'alert_to = ["it-security@bozeman.example", "communications@bozeman.example"]\n'
    )
    try:
        with FakeServer(world) as server:
            config = write_config(
                tmp_path, site_toml("masto", "mastodon", server.url, CITY_USERNAME), head=head
            )
            yield Site(world, config, ids, inbox)
    finally:
        controller.stop()


def cli(*args: str) -> Any:
    try:
        return CliRunner().invoke(cli_app, list(args))
    finally:
        structlog.reset_defaults()


def findings(config: Path) -> list[dict[str, Any]]:
    out = cli("compliance", "--all", "--json", "--config", str(config))
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert isinstance(data, list)
    return data


def by_rule(config: Path, rule: str) -> list[dict[str, Any]]:
    return [f for f in findings(config) if f["rule"] == rule]


def test_profile_is_kept_with_versions_and_image_digests(site: Site) -> None:
    harvest(site.config, "masto")
    site.world.update_profile(site.ids["city"], note="gone", new_avatar=True)
    harvest(site.config, "masto")
    rows = catalog_rows(
        site.config,
        "SELECT v.version, v.extra_json, v.media_json FROM item_versions v "
        "JOIN items i ON i.id = v.item_id WHERE i.kind = 'profile' ORDER BY v.version",
    )
    assert [r["version"] for r in rows] == [1, 2]
    first, second = (json.loads(r["extra_json"])["profile"] for r in rows)
    assert "Acceptable Use Policy" in first["bio"] and second["bio"] == "gone"
    assert first["avatar_url"] != second["avatar_url"]
    assert first["banner_url"] == second["banner_url"]
    media = json.loads(rows[1]["media_json"])
    assert {m["type"] for m in media} == {"avatar", "banner"}


def test_first_harvest_flags_unlinked_post_and_lists_reply(site: Site) -> None:
    harvest(site.config, "masto")
    links = {f["subject"]: f for f in by_rule(site.config, "city_domain_link")}
    assert links[site.ids["bare"]]["status"] == "fail"
    assert links[site.ids["linked"]]["status"] == "pass"
    assert links[site.ids["storm"]]["status"] == "pass"  # emergency tag relaxes the rule
    assert "direct users back to the City's principle website" in links[site.ids["bare"]]["policy"]
    replies = by_rule(site.config, "reply_review")
    assert [r["subject"] for r in replies] == [site.ids["answer"]]
    assert replies[0]["status"] == "fail" and "not approved as interactive" in replies[0]["message"]
    assert replies[0]["evidence"]["text"].startswith("@maria")
    notices = {f["rule"]: f["status"] for f in findings(site.config) if f["subject"] == ""}
    assert notices["aup_notice"] == "pass" and notices["disclosure_notice"] == "pass"
    assert notices["it_admin"] == "pass"
    assert notices["principal_counterpart"] == "unknown"
    # One grouped e-mail for the run's new failures, sent to the compliance contacts.
    assert len(site.inbox.messages) == 1
    body = site.inbox.messages[0].get_content()
    assert site.ids["bare"] in body and site.ids["answer"] in body
    assert "it-security@bozeman.example" in site.inbox.messages[0]["To"]
    # Each finding alerts once: a second harvest without changes sends nothing new.
    harvest(site.config, "masto")
    assert len(site.inbox.messages) == 1


def test_avatar_swap_and_bio_change_raise_a_vandalism_alert(site: Site) -> None:
    harvest(site.config, "masto")
    before = len(site.inbox.messages)
    site.world.update_profile(site.ids["city"], note="Buy cheap watches", new_avatar=True)
    harvest(site.config, "masto")
    change = by_rule(site.config, "profile_change")
    assert len(change) == 1 and change[0]["status"] == "fail"
    ev = change[0]["evidence"]
    assert set(ev["changed"]) == {"bio", "avatar_url"}
    assert ev["changed"]["bio"]["after"] == "Buy cheap watches"
    assert "Acceptable Use Policy" in ev["changed"]["bio"]["before"]
    old_img, new_img = ev["before"]["images"]["avatar"], ev["after"]["images"]["avatar"]
    assert old_img["url"] != new_img["url"]
    assert old_img["payload_digest"] and new_img["payload_digest"]
    assert old_img["payload_digest"] != new_img["payload_digest"]
    # The bio lost the notices, so those rules now fail too.
    assert by_rule(site.config, "aup_notice")[0]["status"] == "fail"
    assert len(site.inbox.messages) == before + 1
    alert = site.inbox.messages[-1]
    assert "possible vandalism" in alert["Subject"]
    text = alert.get_content()
    assert "VANDALISM SIGNAL" in text and "Buy cheap watches" in text
    assert old_img["url"] in text and new_img["url"] in text
    assert "alteration or removal of site graphics or logos" in text


def test_announced_profile_change_is_not_vandalism(site: Site) -> None:
    harvest(site.config, "masto")
    before = len(site.inbox.messages)
    out = cli(
        "profile", "expect", "masto", "--by", "Pat Lee", "--note", "winter avatar",
        "--config", str(site.config),
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    site.world.update_profile(site.ids["city"], new_avatar=True)
    harvest(site.config, "masto")
    change = by_rule(site.config, "profile_change")
    assert len(change) == 1 and change[0]["status"] == "pass"
    assert "Pat Lee" in change[0]["message"]
    assert len(site.inbox.messages) == before  # nothing new failed, nothing sent
    actions = [r["action"] for r in catalog_rows(site.config, "SELECT action FROM audit_log")]
    assert "profile.expect" in actions


def test_ack_closes_a_finding_and_is_audited(site: Site) -> None:
    harvest(site.config, "masto")
    bare = next(f for f in by_rule(site.config, "city_domain_link") if f["status"] == "fail")
    out = cli(
        "compliance", "ack", str(bare["id"]), "--by", "Ivan Tech", "--note", "event post, ok",
        "--config", str(site.config),
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    open_now = json.loads(cli("compliance", "--json", "--config", str(site.config)).stdout)
    assert bare["id"] not in [f["id"] for f in open_now]
    assert any(f["rule"] == "reply_review" for f in open_now)
    audit = catalog_rows(
        site.config, "SELECT details FROM audit_log WHERE action = 'compliance.ack'"
    )
    assert len(audit) == 1 and "event post, ok" in audit[0]["details"]
    again = cli("compliance", "ack", str(bare["id"]), "--by", "X", "--note", "y", "--config",
                str(site.config))  # fmt: skip
    assert again.exit_code != 0 and "already acknowledged" in again.output
    table = cli("compliance", "--site", "masto", "--config", str(site.config))
    assert table.exit_code == 0, table.output
    assert "reply_review" in table.output
    assert "MST" in table.output or "MDT" in table.output  # City time, zone named


def test_findings_appear_in_the_monthly_report(site: Site) -> None:
    from zoneinfo import ZoneInfo

    from archiver.report.build import build_report_data
    from archiver.report.render import render_html, render_text
    from tests.helpers import open_test_app

    harvest(site.config, "masto")
    app = open_test_app(site.config)
    try:
        month = datetime.now(ZoneInfo(app.cfg.timezone)).strftime("%Y-%m")
        data = build_report_data(app, month)
    finally:
        app.close()
    assert data.compliance is not None
    rules = {(f.rule, f.subject) for f in data.compliance.open}
    assert ("city_domain_link", site.ids["bare"]) in rules
    assert ("reply_review", site.ids["answer"]) in rules
    assert ("city_domain_link", site.ids["linked"]) not in rules  # passing: not open
    assert data.compliance.opened_in_month == 2
    text = render_text(data)
    assert "POLICY COMPLIANCE" in text and "city_domain_link" in text
    assert site.ids["bare"] in text
    assert "Policy compliance" in render_html(data)


def test_facebook_page_picture_and_about_change_is_a_profile_change(
    fb_scene: FbScene,
) -> None:
    harvest(fb_scene.config, FB_SITE)
    fb_scene.world.page_about = "Totally not the City"
    fb_scene.world.page_picture = "avatar-2"
    harvest(fb_scene.config, FB_SITE)
    change = by_rule(fb_scene.config, "profile_change")
    assert len(change) == 1 and change[0]["status"] == "fail"
    assert set(change[0]["evidence"]["changed"]) == {"bio", "avatar_url"}
    images = change[0]["evidence"]["after"]["images"]
    assert images["avatar"]["payload_digest"] and images["banner"]["payload_digest"]


@pytest.fixture
def fb_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FbScene]:
    with facebook_scene(tmp_path, monkeypatch) as scene:
        yield scene


def test_city_deleting_its_post_and_a_burst_of_posts_are_vandalism_signals(site: Site) -> None:
    harvest(site.config, "masto")
    sent = len(site.inbox.messages)
    site.world.delete_status(site.ids["linked"])
    for n in range(11):  # the fake's clock moves a minute per post: 11 posts in 11 minutes
        site.world.post_status(site.ids["city"], f"Buy now https://www.bozeman.net/x{n}")
    harvest(site.config, "masto", full=True)
    deleted = by_rule(site.config, "deleted_by_city")
    assert [(f["subject"], f["status"]) for f in deleted] == [(site.ids["linked"], "fail")]
    burst = by_rule(site.config, "post_burst")
    assert len(burst) == 1 and burst[0]["status"] == "fail"
    assert "threshold 10" in burst[0]["message"]
    assert len(site.inbox.messages) == sent + 1
    text = site.inbox.messages[-1].get_content()
    assert "deleted_by_city" in text and "post_burst" in text


def test_switched_off_rule_shows_its_reason(site: Site) -> None:
    with site.config.open("a") as f:
        f.write('\n[compliance.sites.masto]\ndisabled = {city_domain_link = "event feed"}\n')
    harvest(site.config, "masto")
    links = by_rule(site.config, "city_domain_link")
    assert [(f["subject"], f["status"]) for f in links] == [("", "unknown")]
    assert "event feed" in links[0]["message"]


def test_findings_appear_in_show_for_the_affected_records(site: Site) -> None:
    harvest(site.config, "masto")
    bare = cli("show", f"masto:{site.ids['bare']}", "--json", "--config", str(site.config))
    assert bare.exit_code == 0, bare.output
    found = json.loads(bare.stdout)["compliance"]
    assert {(f["rule"], f["status"]) for f in found} >= {("city_domain_link", "fail")}
    assert all(f["subject"] == site.ids["bare"] for f in found)
    text = cli("show", f"masto:{site.ids['bare']}", "--config", str(site.config))
    assert "city_domain_link [fail]" in text.output and "without a link" in text.output
    linked = cli("show", f"masto:{site.ids['linked']}", "--json", "--config", str(site.config))
    assert [f["status"] for f in json.loads(linked.stdout)["compliance"]
            if f["rule"] == "city_domain_link"] == ["pass"]  # fmt: skip
    # A profile change is shown on the profile record, version by version.
    site.world.update_profile(site.ids["city"], new_avatar=True)
    harvest(site.config, "masto")
    prof = cli("show", f"masto:profile:{site.ids['city']}", "--json", "--config", str(site.config))
    assert prof.exit_code == 0, prof.output
    rules = {(f["rule"], f["status"]) for f in json.loads(prof.stdout)["compliance"]}
    assert ("profile_change", "fail") in rules


def test_the_city_continuing_its_own_thread_is_not_a_reply_to_review(site: Site) -> None:
    """Parents are looked up for all replies at once (issue 14 part 5); a City reply under
    the City's own post is still told apart from one to a resident."""
    more = site.world.post_status(
        site.ids["city"], "Update: pancakes until noon", in_reply_to_id=site.ids["bare"]
    )["id"]
    harvest(site.config, "masto")
    replies = by_rule(site.config, "reply_review")
    assert [r["subject"] for r in replies] == [site.ids["answer"]]
    assert more not in {r["subject"] for r in replies}
