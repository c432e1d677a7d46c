"""A Facebook Page's Messenger inbox and its linked Instagram inbox (issue 18 part 1).

Graph Conversations API: ``GET /{page-id}/conversations?platform=messenger|instagram`` then
``GET /{conversation-id}/messages`` for each. Each message is an item of kind ``message``
(retention class ``direct_message``), kept in the ``posts`` bundles of the site; searches and
exports leave messages out unless asked for with ``--kind message`` (private by default).

The API gives full details (text, sender) of only the newest messages of a conversation (20
in Meta's documentation); older ones come back as bare ids. So the inbox must be captured
often, and a conversation with messages beyond reach is a recorded gap (never a deletion).
A token without ``pages_messaging`` (Messenger) or ``instagram_manage_messages`` (Instagram)
ends the run with an error naming the permission to grant.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from archiver.errors import ConfigError
from archiver.model import Author, Degradation, HarvestRecord, Item, Sweep, Unparseable, WarcRef
from connectors._graph import GraphClient, GraphPermissionError
from connectors._options import read_options
from connectors._paging import PageGuard
from connectors.base import Capabilities, HarvestContext, parse_time, platform_words

MESSAGE_FIELDS = "id,created_time,from,to,message,attachments"
PERMISSION = {"messenger": "pages_messaging", "instagram": "instagram_manage_messages"}


@dataclass(frozen=True, slots=True)
class MessagesOptions:
    """``options`` for a Page inbox site (``account`` is the Page id)."""

    inboxes: tuple[str, ...] = ("messenger",)  # "messenger" and/or "instagram"


class MetaMessagesConnector:
    Options: ClassVar[type] = MessagesOptions
    platform: ClassVar[str] = "meta_messages"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        notes=(
            "Each direct message is one record (kind message); a message cannot be edited, "
            "and an inbox has no comments or followers.",
            "The API gives the text of only the newest messages of a conversation: older ones "
            "are a recorded gap unless an earlier run captured them.",
            "Attachment files are listed (type and address), not downloaded.",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.options = read_options(MessagesOptions, ctx.site)
        bad = [i for i in self.options.inboxes if i not in PERMISSION]
        if bad or not isinstance(self.options.inboxes, list | tuple):
            raise ConfigError(
                f"site {ctx.site.id}: option 'inboxes' must list \"messenger\" and/or "
                f'"instagram", not {self.options.inboxes!r}',
                key="options",
            )
        self.graph = GraphClient(ctx)
        self.page_id = ctx.site.account

    def harvest(self) -> Iterator[HarvestRecord]:
        complete = True
        for inbox in self.options.inboxes:
            complete = (yield from self._inbox(inbox)) and complete
        if complete:
            yield Sweep("posts", "account")

    def _inbox(self, inbox: str) -> Generator[HarvestRecord, None, bool]:
        endpoint = "GET /{page-id}/conversations"
        guard = PageGuard(f"{inbox} conversations")
        try:
            pages = list(
                self.graph.pages(
                    f"{self.page_id}/conversations",
                    params={"platform": inbox, "fields": "id,updated_time", "limit": 25},
                    record_class="posts",
                    endpoint=endpoint,
                    guard=guard,
                )
            )
        except GraphPermissionError as exc:
            need = PERMISSION[inbox]
            raise GraphPermissionError(
                f"the token may not read the {inbox} inbox: grant the {need} permission "
                f"({platform_words(exc)})",
                site=self.ctx.site.id,
                endpoint=endpoint,
                status=exc.status,
                hint=f"renew the Page token with {need} and update the variable named by token_env",
            ) from None
        complete = guard.complete
        if not complete:
            yield Degradation("messages", f"{guard.stopped}; some conversations were not read")
        for _response, conversations in pages:
            for conv in conversations:
                cid = conv.get("id") if isinstance(conv, dict) else None
                if not isinstance(cid, str) or not cid:
                    yield Unparseable("posts", endpoint, "conversation without id", None)
                    complete = False
                    continue
                complete = (yield from self._messages(inbox, cid)) and complete
        return complete

    def _messages(self, inbox: str, cid: str) -> Generator[HarvestRecord, None, bool]:
        endpoint = "GET /{conversation-id}/messages"
        guard = PageGuard(f"conversation {cid} messages")
        out_of_reach = 0
        unreadable = 0
        for response, entries in self.graph.pages(
            f"{cid}/messages",
            params={"fields": MESSAGE_FIELDS, "limit": 25},
            record_class="posts",
            endpoint=endpoint,
            guard=guard,
        ):
            for raw in entries:
                item = self._item(inbox, cid, raw, response.ref)
                if item is None:
                    out_of_reach += 1
                    continue
                if isinstance(item, Unparseable):
                    unreadable += 1
                yield item
        complete = guard.complete and not out_of_reach and not unreadable
        if not guard.complete:
            yield Degradation(
                "messages", f"{guard.stopped}; conversation {cid} not read to its end"
            )
        if out_of_reach:
            yield Degradation(
                "messages",
                f"conversation {cid}: {out_of_reach} older messages are listed without their "
                "text (the API gives details of only the newest ones); those captured by an "
                "earlier run are kept, the rest are not in the archive",
            )
        return complete

    def _item(self, inbox: str, cid: str, raw: Any, ref: WarcRef) -> Item | Unparseable | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return Unparseable(
                "posts", "GET /{conversation-id}/messages", "message without id", ref
            )
        if "message" not in raw and "from" not in raw:
            return None  # beyond the API's reach: listed by id only
        found = raw.get("from")
        sender: dict[str, Any] = found if isinstance(found, dict) else {}
        to = raw.get("to", {}).get("data", []) if isinstance(raw.get("to"), dict) else []
        attachments = raw.get("attachments", {})
        files = attachments.get("data", []) if isinstance(attachments, dict) else []
        return Item(
            record_class="posts",
            kind="message",
            platform_id=raw["id"],
            author=Author(id=str(sender.get("id", "unknown")), display_name=sender.get("name")),
            text=str(raw.get("message") or ""),
            ref=ref,
            posted_at=parse_time(raw.get("created_time")),
            root_id=cid,
            by_owner=str(sender.get("id")) == self.page_id,
            extra={
                "inbox": inbox,
                "conversation": cid,
                "to": [t.get("id") for t in to if isinstance(t, dict)],
                "attachments": files,
            },
        )
