"""Value objects that flow from a connector to the bundle writer.

A connector yields these; it never writes anything itself. Each normalized record points at
the WARC record of the response it was parsed from (``WarcRef``), so a clerk can always go from
a row in the catalog back to the original bytes the platform sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RecordClass = Literal["posts", "comments", "followers", "media"]
RECORD_CLASSES: tuple[RecordClass, ...] = ("posts", "comments", "followers", "media")
ItemKind = Literal["post", "comment", "reply", "media", "message", "profile"]
"""``profile``: the account's own page (name, bio, avatar, banner, link), one per site, kept
with versions like a post so a change to it is evidence (see ``connectors._profile``)."""

#: The kinds a search can ask for (``--kind``): item kinds, and "media" for records that
#: carry attachments. Here, not in archiver.search, so the CLI lists them without SQLAlchemy.
KINDS = ("post", "comment", "reply", "media", "message", "profile")


@dataclass(frozen=True, slots=True)
class WarcRef:
    """Where the original exchange lives inside the bundle being written."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    record_type: str  # "response" or "revisit"
    target_uri: str
    bundle_id: str = ""


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    handle: str | None = None
    display_name: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    id: str
    type: str
    url: str | None
    description: str | None = None
    ref: WarcRef | None = None  # the downloaded bytes, when captured
    skipped_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A post, comment or reply as the platform showed it at capture time."""

    record_class: RecordClass
    kind: ItemKind
    platform_id: str
    author: Author
    text: str
    ref: WarcRef
    posted_at: datetime | None = None
    edited_at: datetime | None = None
    html: str | None = None
    url: str | None = None
    parent_id: str | None = None
    root_id: str | None = None
    media: tuple[Media, ...] = ()
    by_owner: bool = False
    hidden: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Identity of this *version*: what a reader sees (text, media, visibility)."""
        payload = {
            "text": self.text,
            "html": self.html,
            "media": [[m.id, m.type, m.url, m.description] for m in self.media],
            "hidden": self.hidden,
            "edited_at": self.edited_at.isoformat() if self.edited_at else None,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True, slots=True)
class Follower:
    platform_id: str
    ref: WarcRef
    handle: str | None = None
    display_name: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FollowerCount:
    """Platforms that do not list follower identities still give a number; keep it."""

    count: int
    ref: WarcRef
    identities_available: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class Sweep:
    """The connector has enumerated *everything* in a scope during this run.

    Items of ``kind`` within ``scope`` (``"account"`` for all posts, or a root post id for
    its comment thread) that the catalog knows but this run did not see are marked
    removed-upstream. Followers use scope ``"followers"``.
    """

    record_class: RecordClass
    scope: str


@dataclass(frozen=True, slots=True)
class FollowersHead:
    """This run read only the newest end of the follower list, by design (a *head walk*).

    Between the site's complete reads (``follower_walk_every``) a platform that lists followers
    newest first can be asked only for those who followed since the last read: every
    ``Follower`` the run gave is such a newcomer, and since the list was not read to the end,
    nothing about who left may be concluded (no ``Sweep``, and no gap either: the complete
    read on its own cadence is what records unfollows).
    """

    newest: str | None = None
    """The platform's cursor of the newest follow the head walk saw (informative)."""


@dataclass(frozen=True, slots=True)
class BookmarkUpdate:
    """Advance a bookmark, applied only once the run's bundles are sealed and cataloged."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Unparseable:
    """A response or entry the normalizer could not read; the raw bytes stay in the WARC."""

    record_class: RecordClass
    endpoint: str
    reason: str
    ref: WarcRef | None = None


@dataclass(frozen=True, slots=True)
class Degradation:
    """A capability the site had could not be exercised this run (evidence in itself)."""

    capability: str
    reason: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """The platform reported a count for a scope; this run captured a different number.

    ``scope`` is ``"thread"`` (``thread_platform_id`` names the root post), ``"followers"`` or
    ``"media"``. Kept as data so the clerk sees what the archive lacks and why (issue 11).
    """

    scope: str
    thread_platform_id: str | None
    reported: int
    captured: int
    reason: str


@dataclass(frozen=True, slots=True)
class TokenExpiry:
    """When the platform says the access token stops working (shown in status and reports)."""

    expires_at: datetime | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class LiveRemoval:
    """A stream or webhook reported that an item was deleted (or hidden) at ``reported_at``.

    Carried in the bundle so the report is evidence like any capture; catalog ingest marks the
    item removed at the reported time, or records a gap when the item was never captured
    (``detail`` keeps what the event said about it).
    """

    record_class: RecordClass
    platform_id: str
    reported_at: datetime
    detail: str
    ref: WarcRef | None = None


HarvestRecord = (
    Item
    | LiveRemoval
    | Follower
    | FollowerCount
    | FollowersHead
    | Sweep
    | BookmarkUpdate
    | Unparseable
    | Degradation
    | Coverage
    | TokenExpiry
)
