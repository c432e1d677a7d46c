"""The account's profile as a versioned record: name, handle, bio, avatar, banner, link, pin.

Why: the City's policy names "alteration or removal of site graphics or logos" as a sign of
vandalism, and requires the Acceptable Use Policy in "a prominent location on the site". Both
can only be checked, and later proven, if every harvest keeps what the profile showed. The
profile rides the normal path (an ``Item`` of kind ``profile`` in the ``posts`` bundle), so it
gets versions, ``show`` and WARC evidence like any post; avatar and banner bytes are captured
as media, so their SHA-256 sits in the WARC record digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archiver.model import Author, Item, Media, WarcRef
from connectors.base import HarvestContext, capture_media

PROFILE_FIELDS = ("display_name", "handle", "bio", "website", "pinned", "verified")


def profile_platform_id(account_id: str) -> str:
    """One profile record per account; prefixed so it never collides with a post id."""
    return f"profile:{account_id}"


def profile_item(
    ctx: HarvestContext,
    *,
    ref: WarcRef,
    account_id: str,
    handle: Any,
    display_name: Any,
    bio: Any,
    avatar_url: Any,
    banner_url: Any = None,
    website: Any = None,
    pinned: Any = None,
    verified: Any = None,
    url: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> Item:
    """Build the profile ``Item`` and capture avatar and banner bytes (once per URL).

    The values are taken as the platform's JSON gave them: anything but a non-empty string
    (``verified``: a bool) counts as absent, so every connector need not check each field.
    """
    handle, display_name, bio = _str(handle), _str(display_name), _str(bio)
    avatar_url, banner_url, url = _str(avatar_url), _str(banner_url), _str(url)
    fields: dict[str, Any] = {
        "display_name": display_name or "",
        "handle": handle or "",
        "bio": bio or "",
        "website": _str(website) or "",
        "pinned": _str(pinned) or "",
        "verified": verified if isinstance(verified, bool) else None,
        "avatar_url": avatar_url or "",
        "banner_url": banner_url or "",
    }
    media = [
        Media(id=f"{kind}:{u}", type=kind, url=u)
        for kind, u in (("avatar", avatar_url), ("banner", banner_url))
        if u
    ]
    lines = [f"{k}: {fields[k]}" for k in PROFILE_FIELDS if fields[k] not in ("", None)]
    return Item(
        record_class="posts",
        kind="profile",
        platform_id=profile_platform_id(account_id),
        author=Author(id=account_id, handle=handle, display_name=display_name, url=url),
        text="\n".join(lines),
        ref=ref,
        url=url,
        media=capture_media(ctx, media),
        by_owner=True,
        extra={"profile": fields} | dict(extra or {}),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
