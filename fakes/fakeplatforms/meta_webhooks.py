"""A webhook sender that signs like Meta: ``X-Hub-Signature-256: sha256=HMAC(app secret, body)``.

Payload shapes follow Meta's Page ``feed`` webhook (object ``page``, ``entry[].changes[]``
with ``field: feed`` and a value naming ``item``, ``verb``, ``comment_id``, ``post_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx


def feed_comment(
    page_id: str,
    *,
    verb: str,
    comment_id: str,
    post_id: str,
    at: datetime,
    message: str | None = None,
    sender: tuple[str, str] = ("5550001", "Maria Lopez"),
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": sender[0], "name": sender[1]},
        "item": "comment",
        "verb": verb,
        "comment_id": comment_id,
        "post_id": post_id,
        "parent_id": post_id,
        "created_time": int(at.timestamp()),
    }
    if message is not None:
        value["message"] = message
    return {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": int(at.timestamp()),
                "changes": [{"field": "feed", "value": value}],
            }
        ],
    }


def ig_comment(
    ig_user_id: str,
    *,
    comment_id: str,
    media_id: str,
    text: str,
    at: datetime,
    sender: tuple[str, str] = ("17841400099999999", "maria.lopez"),
) -> dict[str, Any]:
    """An Instagram ``comments`` field delivery, shaped as Meta documents it."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": ig_user_id,
                "time": int(at.timestamp()),
                "changes": [
                    {
                        "field": "comments",
                        "value": {
                            "from": {"id": sender[0], "username": sender[1]},
                            "media": {"id": media_id, "media_product_type": "FEED"},
                            "id": comment_id,
                            "text": text,
                        },
                    }
                ],
            }
        ],
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(url: str, secret: str, payload: dict[str, Any], *, forge: bool = False) -> httpx.Response:
    """POST ``payload`` to the endpoint as Meta would (``forge`` signs with a wrong secret)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = sign("not-the-app-secret" if forge else secret, body)
    return httpx.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature,
            "User-Agent": "facebookexternalua",
        },
        timeout=10,
    )
