"""Instagram webhooks into the fast lane: a signed ``comments`` delivery is recorded as
received, the comment is read from the Graph API and sealed; a ``mentions`` one is noted.

Real parts: the webhook endpoint on 127.0.0.1, a sender that signs like Meta, the fake Graph
API (Instagram media and comments) on loopback, the real recorder / bundles / catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms import meta_webhooks
from fakeplatforms.meta import MetaWorld
from fakeplatforms.server import FakeServer

from archiver.fastlane import run_webhooks_once
from archiver.fastlane.webhooks import WebhookServer, pending, spool_dir
from archiver.harvest import Harvester
from archiver.settings.fastlane import WebhookSettings
from tests.helpers import catalog_rows, open_test_app, site_toml, write_config

TOKEN_ENV = "BOZEMAN_IG_TOKEN"
TOKEN = "EAAGm0PX4ZCpsBAFakeBozemanInstagramToken1a2b3c"
SECRET = "meta-app-secret-for-tests"


def test_instagram_comment_delivery_is_recorded_fetched_and_sealed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("ARCHIVER_META_APP_SECRET", SECRET)
    monkeypatch.setenv("ARCHIVER_WEBHOOK_VERIFY_TOKEN", "verify")
    world = MetaWorld(token=TOKEN)
    media = world.add_post("Bridger Canyon trail closures this week.", platform="instagram")
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=40)
    cid = world.add_comment(
        media, "Which trails exactly?", author=("17841400099999999", "maria.lopez"), at=created
    )
    with FakeServer(world) as server:
        config = write_config(
            tmp_path,
            site_toml(
                "ig", "instagram", f"{server.url}/v21.0", world.ig_user_id, token_env=TOKEN_ENV
            ),
        )
        app = open_test_app(config)
        staging = app.cfg.staging_dir
        app.close()
        hook = WebhookServer(
            WebhookSettings("127.0.0.1", 0), staging, {world.ig_user_id: "ig"}
        ).start()
        try:
            comment = meta_webhooks.ig_comment(
                world.ig_user_id,
                comment_id=cid,
                media_id=media,
                text="Which trails exactly?",
                at=created,
            )
            mention = {
                "object": "instagram",
                "entry": [
                    {
                        "id": world.ig_user_id,
                        "time": int(created.timestamp()),
                        "changes": [
                            {
                                "field": "mentions",
                                "value": {"media_id": "17900000000009999", "comment_id": "1799"},
                            }
                        ],
                    }
                ],
            }
            for payload in (comment, mention):
                assert meta_webhooks.send(hook.url, SECRET, payload).status_code == 200
        finally:
            hook.stop()
        app = open_test_app(config)
        try:
            result = run_webhooks_once(
                Harvester(app.cfg, app.catalog, app.storage), app.cfg.site("ig")
            )
        finally:
            app.close()
    assert result is not None and result.status == "succeeded"
    row = catalog_rows(config, "SELECT * FROM items WHERE platform_id = ?", (cid,))
    assert len(row) == 1 and row[0]["root_id"] == media and row[0]["record_class"] == "comments"
    text = catalog_rows(
        config,
        "SELECT v.text FROM item_versions v JOIN items i ON i.id = v.item_id WHERE i.platform_id=?",
        (cid,),
    )
    assert [r["text"] for r in text] == ["Which trails exactly?"]
    samples = catalog_rows(config, "SELECT seconds FROM fastlane_latency WHERE site_id = 'ig'")
    assert len(samples) == 1 and 40 <= samples[0]["seconds"] < 120
    notes = catalog_rows(config, "SELECT reason FROM degradations WHERE capability = 'live_fetch'")
    assert len(notes) == 1 and "mention" in notes[0]["reason"]
    assert pending(spool_dir(staging, "ig")) == []
