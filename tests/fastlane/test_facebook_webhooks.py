"""Facebook Page webhooks into the fast lane: handshake, signed deliveries, forged ones refused.

Real parts: the webhook endpoint on 127.0.0.1, a sender that signs like Meta, the fake Graph
API on loopback, and the real recorder / bundles / seal check / catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fakeplatforms import meta_webhooks
from fakeplatforms.meta import MetaWorld
from fakeplatforms.server import FakeServer

from archiver.fastlane import run_webhooks_once
from archiver.fastlane.webhooks import WebhookServer, pending, spool_dir
from archiver.harvest import Harvester
from archiver.settings.fastlane import WebhookSettings
from tests.helpers import catalog_rows, open_test_app, site_toml, write_config

TOKEN_ENV = "BOZEMAN_FB_TOKEN"
TOKEN = "EAAGm0PX4ZCpsBAFakeBozemanPageToken9f8e7d6c5b4a"
SECRET = "meta-app-secret-for-tests"
VERIFY = "bozeman-verify-token"


@dataclass
class Scene:
    world: MetaWorld
    config: Path
    hook: WebhookServer
    post: str


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("ARCHIVER_META_APP_SECRET", SECRET)
    monkeypatch.setenv("ARCHIVER_WEBHOOK_VERIFY_TOKEN", VERIFY)
    world = MetaWorld(token=TOKEN)
    post = world.add_post("Water main break at Babcock and Willson.")
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml("fb", "facebook", f"{server.url}/v21.0", world.page_id, token_env=TOKEN_ENV),
        )
        app = open_test_app(config)
        staging = app.cfg.staging_dir
        app.close()
        hook = WebhookServer(
            WebhookSettings("127.0.0.1", 0), staging, {world.page_id: "fb"}
        ).start()
        try:
            yield Scene(world, config, hook, post)
        finally:
            hook.stop()


def tick(config: Path) -> None:
    app = open_test_app(config)
    try:
        result = run_webhooks_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("fb"))
    finally:
        app.close()
    assert result is not None and result.status == "succeeded"


def test_handshake_answers_the_challenge_only_with_the_verify_token(scene: Scene) -> None:
    ok = httpx.get(
        scene.hook.url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = httpx.get(
        scene.hook.url,
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "x"},
    )
    assert bad.status_code == 403 and "x" not in bad.text


def test_comment_deleted_three_minutes_later_is_kept_and_marked_removed(scene: Scene) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    cid = scene.world.add_comment(scene.post, "Is the water safe to drink?", at=created)
    add = meta_webhooks.feed_comment(
        scene.world.page_id,
        verb="add",
        comment_id=cid,
        post_id=scene.post,
        at=created,
        message="Is the water safe to drink?",
    )
    assert meta_webhooks.send(scene.hook.url, SECRET, add).status_code == 200
    tick(scene.config)
    rows = catalog_rows(scene.config, "SELECT * FROM items WHERE platform_id = ?", (cid,))
    assert len(rows) == 1 and rows[0]["disappeared_at"] is None
    assert rows[0]["root_id"] == scene.post
    scene.world.delete_comment(cid)
    removed_at = created + timedelta(minutes=3)
    gone = meta_webhooks.feed_comment(
        scene.world.page_id, verb="remove", comment_id=cid, post_id=scene.post, at=removed_at
    )
    assert meta_webhooks.send(scene.hook.url, SECRET, gone).status_code == 200
    tick(scene.config)
    row = catalog_rows(scene.config, "SELECT * FROM items WHERE platform_id = ?", (cid,))[0]
    assert row["removal_state"] == "removed_upstream"
    assert datetime.fromisoformat(row["disappeared_at"]) == removed_at
    text = catalog_rows(
        scene.config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
        (cid,),
    )
    assert [r["text"] for r in text] == ["Is the water safe to drink?"]
    # both deliveries are in the WARC as received (metadata records of the whole request)
    uris = catalog_rows(scene.config, "SELECT * FROM bundles WHERE site_id = 'fb'")
    assert len(uris) == 2
    assert pending(spool_dir(Path(scene.hook.staging), "fb")) == []


def test_forged_delivery_is_refused_and_nothing_recorded(scene: Scene) -> None:
    cid = scene.world.add_comment(scene.post, "forged?")
    payload = meta_webhooks.feed_comment(
        scene.world.page_id,
        verb="add",
        comment_id=cid,
        post_id=scene.post,
        at=datetime.now(UTC),
    )
    answer = meta_webhooks.send(scene.hook.url, SECRET, payload, forge=True)
    assert answer.status_code == 403
    assert scene.hook.refused == 1 and scene.hook.accepted == 0
    assert pending(spool_dir(Path(scene.hook.staging), "fb")) == []
    assert not (Path(scene.hook.staging) / "webhooks" / "_unrouted").exists()
    app = open_test_app(scene.config)
    try:
        assert (
            run_webhooks_once(Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("fb"))
            is None
        )
    finally:
        app.close()
    assert catalog_rows(scene.config, "SELECT id FROM bundles") == []


def test_oversized_delivery_is_refused_unread(scene: Scene) -> None:
    body = b"{" + b" " * (2 << 20) + b"}"
    answer = httpx.post(
        scene.hook.url,
        content=body,
        headers={"X-Hub-Signature-256": meta_webhooks.sign(SECRET, body)},
    )
    assert answer.status_code == 413
    assert scene.hook.accepted == 0


def test_unrouted_deliveries_are_counted_and_routed_when_their_page_is_configured(
    scene: Scene,
) -> None:
    import json as _json

    import structlog
    from typer.testing import CliRunner

    from archiver.cli import app as cli_app
    from archiver.fastlane.webhooks import reroute_unrouted, unrouted_dir

    staging = Path(scene.hook.staging)
    cid = scene.world.add_comment(scene.post, "for a Page not configured yet")
    payload = meta_webhooks.feed_comment(
        scene.world.page_id, verb="add", comment_id=cid, post_id=scene.post, at=datetime.now(UTC)
    )
    scene.hook.pages.clear()  # the Page's site is not configured (yet)
    assert meta_webhooks.send(scene.hook.url, SECRET, payload).status_code == 200
    assert len(pending(unrouted_dir(staging))) == 1
    out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(scene.config)])
    assert _json.loads(out.stdout)["webhooks_unrouted"] == 1
    text = CliRunner().invoke(cli_app, ["status", "--config", str(scene.config)])
    structlog.reset_defaults()
    assert "1 delivery(ies) named no configured Facebook Page" in " ".join(text.output.split())
    # the site for the Page is configured: the next start routes the kept delivery to it
    assert reroute_unrouted(staging, {scene.world.page_id: "fb"}) == 1
    assert pending(unrouted_dir(staging)) == []
    tick(scene.config)
    assert catalog_rows(scene.config, "SELECT * FROM items WHERE platform_id = ?", (cid,))
    out = CliRunner().invoke(cli_app, ["status", "--json", "--config", str(scene.config)])
    structlog.reset_defaults()
    assert _json.loads(out.stdout)["webhooks_unrouted"] == 0
