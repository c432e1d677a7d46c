"""Mastodon: the account's statuses, every reply thread, and the follower list.

Endpoints (Mastodon REST API v1): ``accounts/lookup`` to resolve the handle,
``accounts/:id/statuses`` (newest first, ``Link`` pagination), ``statuses/:id/context`` for
the whole reply tree, ``accounts/:id/followers`` (``Link`` pagination only: its ids are
internal). Deleted statuses have no flag: they are detected by absence during a full sweep or a
404 on the thread.

Incremental runs read from the newest status back to the bookmark, and always re-check the
``recheck_recent`` newest statuses and their threads (edits and new replies land there); a
full sweep (first run, every ``full_sweep_every``, or ``--full``) walks everything, which is
what lets a deletion anywhere be detected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import chain
from typing import Any, ClassVar

from archiver.errors import AuthError, FetchError, MalformedResponseError, NotFoundError
from archiver.model import (
    Author,
    BookmarkUpdate,
    Coverage,
    Degradation,
    FollowerCount,
    FollowersHead,
    HarvestRecord,
    Item,
    Media,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse
from connectors._options import NoOptions
from connectors._paging import (
    FOLLOWER_COUNT,
    PageGuard,
    follower,
    followers_stream,
    link_pages,
    walk_timeline,
)
from connectors._profile import profile_item
from connectors.base import (
    SOCIAL,
    Capabilities,
    HarvestContext,
    html_to_text,
    parse_time,
    with_captured_media,
)

# statuses/:id/context answers at most this many descendants, this deep (Mastodon API docs:
# 60 and depth 20 without a token, 4,096 and unlimited with one). A thread at the limit may
# have been cut, so its missing replies prove nothing.
CONTEXT_DESCENDANTS_ANON = 60
CONTEXT_DEPTH_ANON = 20
CONTEXT_DESCENDANTS_AUTH = 4096
STATUS_EXTRA: tuple[str, ...] = (
    "visibility",
    "sensitive",
    "language",
    "replies_count",
    "reblogs_count",
)
STATUS_EXTRA += ("favourites_count", "uri")


#: Bookmark: the page cursors (``max_id``) of the last complete follower read.
FOLLOWER_CURSORS = "follower_cursors"
#: Bookmarks of the last follower read (complete or head): the newest follow's internal id
#: (the ``since_id`` of the first page's ``prev`` link) and the account's ``followers_count``.
FOLLOWER_HEAD = "follower_head"
_MAX_ID = re.compile(r"max_id=(\d+)")
_SINCE_ID = re.compile(r"(?:since_id|min_id)=(\d+)")


def _max_id(url: str) -> int | None:
    m = _MAX_ID.search(url)
    return int(m.group(1)) if m else None


def _id_num(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _max_depth(root_id: str, descendants: list[Any]) -> int:
    """How deep the deepest reply in a context answer sits (a direct reply is depth 1)."""
    parent_of = {
        str(s.get("id")): str(s.get("in_reply_to_id")) for s in descendants if isinstance(s, dict)
    }
    deepest = 0
    for sid in parent_of:
        depth, cur = 0, sid
        while cur != root_id and cur in parent_of and depth <= len(parent_of):
            depth, cur = depth + 1, parent_of[cur]
        deepest = max(deepest, depth)
    return deepest


class MastodonConnector:
    Options: ClassVar[type] = NoOptions
    platform: ClassVar[str] = "mastodon"
    capabilities: ClassVar[Capabilities] = replace(
        SOCIAL,
        follower_identities=True,
        notes=(
            "Mastodon has no hidden-reply feature; moderators delete or block instead.",
            "Without a token, threads are limited to 60 descendants (depth 20).",
        ),
    )

    def __init__(self, ctx: HarvestContext) -> None:
        self.ctx = ctx
        self.api = f"{ctx.site.base_url}/api/v1"
        self.owner_id = ""
        self.reported_cut_threads = False
        self.histories: dict[tuple[str, str], RecordedResponse] = {}  # read this run

    # -- entry point --------------------------------------------------------------------------
    def harvest(self) -> Iterator[HarvestRecord]:
        account, account_ref = self._lookup()  # the lookup answer: evidence for the count too
        self.owner_id = str(account["id"])
        yield BookmarkUpdate("account_id", self.owner_id)
        yield self._profile(account, account_ref)
        yield from self._statuses()
        if self.ctx.full_sweep or self.ctx.followers_due:
            yield from self._followers(account, account_ref)

    def _lookup(self) -> tuple[dict[str, Any], WarcRef]:
        acct = self.ctx.site.account.lstrip("@")
        try:
            response = self.ctx.http.get(
                f"{self.api}/accounts/lookup",
                params={"acct": acct},
                record_class="posts",
                endpoint="GET /api/v1/accounts/lookup",
            )
        except NotFoundError as exc:
            raise NotFoundError(
                f"account {acct!r} does not exist on {self.ctx.site.base_url}",
                site=self.ctx.site.id,
                endpoint="GET /api/v1/accounts/lookup",
                hint="check `account` (the handle, e.g. cityofbozeman) and `base_url` in the config",
            ) from exc
        data = response.json()
        if not isinstance(data, dict) or "id" not in data:
            raise MalformedResponseError(
                "account lookup did not return an Account with an id",
                site=self.ctx.site.id,
                endpoint="GET /api/v1/accounts/lookup",
            )
        return data, response.ref

    def _profile(self, account: dict[str, Any], ref: WarcRef) -> Item:
        """The lookup answer already holds the whole profile; keep it as a versioned record."""
        fields = [f for f in account.get("fields") or [] if isinstance(f, dict)]
        links = [html_to_text(f["value"]) for f in fields if f.get("value")]
        return profile_item(
            self.ctx,
            ref=ref,
            account_id=self.owner_id,
            handle=account.get("acct"),
            display_name=account.get("display_name"),
            bio=html_to_text(account.get("note")),
            avatar_url=account.get("avatar"),
            banner_url=account.get("header"),
            website=" ".join(links) or None,
            verified=any(f.get("verified_at") for f in fields),
            url=account.get("url"),
        )

    # -- statuses -----------------------------------------------------------------------------
    def _statuses(self) -> Iterator[HarvestRecord]:
        endpoint = "GET /api/v1/accounts/:id/statuses"
        guard = PageGuard("statuses")
        yield from walk_timeline(
            self.ctx,
            self._pages(
                f"accounts/{self.owner_id}/statuses", {"limit": 40}, "posts", endpoint, guard
            ),
            guard=guard,
            parse=lambda status, ref: self._status_item(status, ref, endpoint),
            key=lambda item: _id_num(item.platform_id),
            prepare=lambda item: with_captured_media(self.ctx, item),
            children=lambda item, status: chain(
                self._history(status, item), self._thread_if_due(item, status)
            ),
            start=0,
            bookmark="since_id",
        )

    def _pages(
        self,
        path: str,
        params: dict[str, str | int],
        record_class: RecordClass,
        endpoint: str,
        guard: PageGuard,
        advance: Callable[[RecordedResponse], str | None] | None = None,
    ) -> Iterator[tuple[WarcRef, list[Any]]]:
        """The ``Link`` pages of ``path`` (``advance``: see :func:`link_pages`), each page's
        JSON list."""
        for page in link_pages(
            self.ctx.http,
            f"{self.api}/{path}",
            params=params,
            record_class=record_class,
            endpoint=endpoint,
            guard=guard,
            advance=advance,
        ):
            data = page.json()
            if not isinstance(data, list):
                raise MalformedResponseError(
                    "expected a JSON list", site=self.ctx.site.id, endpoint=endpoint
                )
            yield page.ref, data

    def _status_item(
        self, status: Any, ref: WarcRef, endpoint: str, *, root_id: str | None = None
    ) -> Item | Unparseable:
        cls: RecordClass = "posts" if root_id is None else "comments"
        try:
            sid = str(status["id"])
            account = status["account"]
            created = parse_time(status["created_at"])
            content = status.get("content") or ""
        except (KeyError, TypeError) as exc:
            return Unparseable(cls, endpoint, f"status without required field {exc}", ref)
        if created is None:
            return Unparseable(cls, endpoint, f"status {sid}: unreadable created_at", ref)
        reblog = status.get("reblog")
        if isinstance(reblog, dict) and not content:
            content = reblog.get("content") or ""
        media = [
            Media(
                id=str(m.get("id")),
                type=str(m.get("type", "unknown")),
                url=m.get("url") or m.get("remote_url"),
                description=m.get("description"),
            )
            for m in status.get("media_attachments") or []
            if isinstance(m, dict)
        ]
        parent = status.get("in_reply_to_id")
        kind: Any = "post"
        if root_id is not None:
            kind = "comment" if parent == root_id else "reply"
        text = html_to_text(content)
        if status.get("spoiler_text"):
            text = f"[CW: {status['spoiler_text']}]\n{text}"
        return Item(
            record_class=cls,
            kind=kind,
            platform_id=sid,
            author=Author(
                id=str(account.get("id")),
                handle=account.get("acct"),
                display_name=account.get("display_name"),
                url=account.get("url"),
            ),
            text=text,
            html=content,
            ref=ref,
            posted_at=created,
            edited_at=parse_time(status.get("edited_at")),
            url=status.get("url") or status.get("uri"),
            parent_id=str(parent) if parent else None,
            root_id=root_id if root_id is not None else sid,
            media=tuple(media),
            by_owner=str(account.get("id")) == self.owner_id,
            extra={k: status.get(k) for k in STATUS_EXTRA if k in status}
            | ({"reblog_of": reblog.get("url")} if isinstance(reblog, dict) else {}),
        )

    def _thread_if_due(self, item: Item, status: Any) -> Iterator[HarvestRecord]:
        """Every thread in a full sweep (deletions are found there); in an incremental run,
        only threads that are active or due by the site's re-polling decay."""
        reported = status.get("replies_count") if isinstance(status, dict) else None
        count = reported if isinstance(reported, int) and not isinstance(reported, bool) else None
        touched = max((t for t in (item.posted_at, item.edited_at) if t is not None), default=None)
        if self.ctx.full_sweep or self.ctx.thread_due(item.platform_id, count, touched):
            yield from self._thread(item.platform_id, reported)

    def _thread(self, status_id: str, reported: object = None) -> Iterator[HarvestRecord]:
        endpoint = "GET /api/v1/statuses/:id/context"
        try:
            response = self.ctx.http.get(
                f"{self.api}/statuses/{status_id}/context",
                record_class="comments",
                endpoint=endpoint,
            )
        except NotFoundError:
            # The status vanished between listing and reading its thread.
            yield Sweep("comments", status_id)
            return
        try:
            data = response.json()
            if not isinstance(data, dict) or not isinstance(data.get("descendants"), list):
                raise MalformedResponseError("context without a descendants list")
        except MalformedResponseError as exc:
            # One unreadable thread must not cost the run: kept raw, counted, and not swept.
            yield Unparseable(
                "comments", endpoint, f"thread of status {status_id}: {exc.message}", response.ref
            )
            return
        descendants: list[Any] = data["descendants"]
        yield from self._coverage(status_id, reported, descendants)
        clean = True
        for status in descendants:
            item = self._status_item(status, response.ref, endpoint, root_id=status_id)
            if isinstance(item, Unparseable):
                clean = False  # an unreadable reply may be a known one: do not call it removed
                yield item
                continue
            yield with_captured_media(self.ctx, item)
            yield from self._history(status, item, root_id=status_id)
        if self._thread_cut(status_id, descendants):
            if not self.reported_cut_threads:
                self.reported_cut_threads = True
                yield Degradation(
                    "replies",
                    f"{endpoint}: the server cut at least one thread at its limit "
                    f"({len(descendants)} replies returned for status {status_id}); replies "
                    "past the cut are not captured and not marked removed. Give the site a "
                    "token (token_env) to raise the limit to 4,096 replies at any depth",
                )
            return
        if clean:
            yield Sweep("comments", status_id)

    def _coverage(
        self, status_id: str, reported: object, descendants: list[Any]
    ) -> Iterator[Coverage]:
        """The status's ``replies_count`` (direct replies) beside the direct replies served."""
        if not isinstance(reported, int) or isinstance(reported, bool):
            return
        captured = sum(
            1
            for d in descendants
            if isinstance(d, dict) and str(d.get("in_reply_to_id") or "") == status_id
        )
        if reported <= captured:
            return
        if self._thread_cut(status_id, descendants):
            reason = "API limit: the server cut the thread at its context limit"
        elif not self.ctx.token:
            reason = (
                "tier: not available to the anonymous API (followers-only, remote or "
                "moderated replies); give the site a token (token_env)"
            )
        else:
            reason = "hidden or deleted before capture: the server counts replies it does not serve"
        yield Coverage("thread", status_id, reported, captured, reason)

    def _thread_cut(self, status_id: str, descendants: list[Any]) -> bool:
        if self.ctx.token:
            return len(descendants) >= CONTEXT_DESCENDANTS_AUTH
        return (
            len(descendants) >= CONTEXT_DESCENDANTS_ANON
            or _max_depth(status_id, descendants) >= CONTEXT_DEPTH_ANON
        )

    def _history(
        self, status: Any, item: Item, *, root_id: str | None = None
    ) -> Iterator[HarvestRecord]:
        """The versions an edited status had before its current one (``statuses/:id/history``,
        oldest first, the last entry being the current text): an edit made and re-edited
        between two runs is kept too. Each earlier version is the status with that entry's
        content, media and time (``edited_at`` None for the original, so it is the same
        version a run before the first edit captured). The catalog adds only versions it has
        not archived; a history that is gone or unreadable costs only the earlier versions."""
        if item.edited_at is None or not isinstance(status, dict):
            return
        endpoint = "GET /api/v1/statuses/:id/history"
        # One read per status and record class (a city reply in its own thread is both a
        # post and a comment; each class's bundle must hold the records it points at).
        key = (item.platform_id, item.record_class)
        response = self.histories.get(key)
        if response is None:
            try:
                response = self.ctx.http.get(
                    f"{self.api}/statuses/{item.platform_id}/history",
                    record_class=item.record_class,
                    endpoint=endpoint,
                )
            except NotFoundError:
                return  # deleted since it was listed: the sweep settles it
            self.histories[key] = response
        entries = response.json()
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            yield Unparseable(
                item.record_class,
                endpoint,
                f"status {item.platform_id}: history is not a list",
                response.ref,
            )
            return
        for index, entry in enumerate(entries[:-1]):
            earlier = {
                **status,
                "content": entry.get("content") or "",
                "spoiler_text": entry.get("spoiler_text") or "",
                "media_attachments": entry.get("media_attachments") or [],
                "edited_at": None if index == 0 else entry.get("created_at"),
                "reblog": None,
            }
            version = self._status_item(earlier, response.ref, endpoint, root_id=root_id)
            if isinstance(version, Item):
                version = with_captured_media(
                    self.ctx, replace(version, extra={**version.extra, "from_edit_history": True})
                )
            yield version

    # -- followers ----------------------------------------------------------------------------
    def _followers(self, account: dict[str, Any], account_ref: WarcRef) -> Iterator[HarvestRecord]:
        """The follower list (``Link`` pages: its ids are internal); refused alone (limited or
        authorized-fetch mode, a token without ``read:accounts``), the account's count.

        Between complete reads (``ctx.followers_walk == "head"``) only the follows newer than
        the last read's newest are read (:meth:`_follower_head`); the whole list is read when
        that cannot be trusted to be all that changed."""
        endpoint = "GET /api/v1/accounts/:id/followers"
        declared = account.get("followers_count")
        count = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
        if self.ctx.followers_walk == "head":
            head = self._follower_head(endpoint, count, account_ref)
            if head is not None:
                yield from head
                return
        guard = PageGuard("followers")
        cursors: list[int] = []
        first_prev: list[str] = []
        yield from followers_stream(
            self._follower_pages(endpoint, guard, cursors, first_prev),
            parse=lambda acc, ref: follower(acc, ref, endpoint, handle="acct", name="display_name"),
            guard=guard,
            declared=account.get("followers_count"),
            declared_ref=account_ref,
            refused=lambda exc: isinstance(exc, AuthError) or exc.status == 403,
            endpoint=endpoint,
            note="from the account's followers_count",
        )
        if guard.complete and cursors:
            yield BookmarkUpdate(FOLLOWER_CURSORS, json.dumps(cursors))
        newest = _SINCE_ID.search(first_prev[0]) if first_prev else None
        if guard.complete and newest is not None and count is not None:
            yield BookmarkUpdate(FOLLOWER_HEAD, newest.group(1))
            yield BookmarkUpdate(FOLLOWER_COUNT, str(count))

    def _follower_head(
        self, endpoint: str, count: int | None, account_ref: WarcRef
    ) -> list[HarvestRecord] | None:
        """A head walk: the follows newer than the last read's newest (``since_id``), or None
        when the whole list must be read instead.

        Mastodon lists followers newest first and pages them on internal follow ids, so
        ``since_id`` answers exactly the follows since then (an empty list when nobody
        followed: the same bytes every run, a WARC revisit). The account's ``followers_count``
        checks it: if it is not the last read's count plus the follows just listed, someone
        left (or the count drifted), and the whole list is read in this run, so an unfollow
        is recorded when the count shows it, not only at the next complete read. A head walk
        concludes nothing about who left either way.
        """
        since = self.ctx.bookmarks.get(FOLLOWER_HEAD, "")
        before = self.ctx.bookmarks.get(FOLLOWER_COUNT, "")
        if not since.isdigit() or not before.isdigit() or count is None:
            return None  # no complete read to extend yet
        guard = PageGuard("followers (newest)")
        first_prev: list[str] = []

        def advance(page: RecordedResponse) -> str | None:
            if not first_prev:
                first_prev.append(page.links.get("prev") or "")
            guard.seen.add(page.url)
            natural = page.links.get("next") or None
            if natural is None or "?" not in natural:
                return None
            # Mastodon's next link drops since_id: keep the walk above the last read's newest.
            return natural if "since_id=" in natural else f"{natural}&since_id={since}"

        try:
            path = f"accounts/{self.owner_id}/followers"
            query: dict[str, str | int] = {"limit": 80, "since_id": since}
            pages = list(self._pages(path, query, "followers", endpoint, guard, advance))
        except FetchError as exc:
            # A refusal or an outage: the complete read meets it again and says what it means
            # (a degradation with the declared count, or a failed run), as it always has.
            self.ctx.log.info("followers_whole_list", reason=str(exc))
            return None
        listed = sum(len(entries) for _, entries in pages)
        if not guard.complete or count != int(before) + listed:
            self.ctx.log.info(
                "followers_whole_list",
                reason=guard.stopped or f"followers_count {before} -> {count}, {listed} new",
            )
            return None
        out: list[HarvestRecord] = [
            follower(acc, ref, endpoint, handle="acct", name="display_name")
            for ref, entries in pages
            for acc in entries
        ]
        newest_match = _SINCE_ID.search(first_prev[0]) if first_prev else None
        newest = newest_match.group(1) if newest_match else since
        out.append(
            FollowerCount(
                count,
                account_ref,
                identities_available=True,
                note="from the account's followers_count (newest followers read)",
            )
        )
        out.append(FollowersHead(newest))
        out.append(BookmarkUpdate(FOLLOWER_HEAD, newest))
        out.append(BookmarkUpdate(FOLLOWER_COUNT, str(count)))
        return out

    def _follower_pages(
        self, endpoint: str, guard: PageGuard, cursors: list[int], first_prev: list[str]
    ) -> Iterator[tuple[WarcRef, list[Any]]]:
        """The follower list on the page boundaries of the previous complete read.

        The list is newest first, so a few new followers shift every page and every page
        would be stored again. Where the next page's cursor is not one the previous read
        used, one bridge page (``since_id`` just under the nearest earlier cursor below it)
        reads the followers in between, and the walk goes on at that earlier cursor: the pages below
        are then the same bytes as before (WARC revisits). A bridge that is itself full falls
        back to the plain next page. The whole list is read either way. ``cursors`` collects
        this read's boundaries (the bookmark for the next run)."""
        try:
            before = sorted(
                (int(c) for c in json.loads(self.ctx.bookmarks.get(FOLLOWER_CURSORS, "[]"))),
                reverse=True,
            )
        except (ValueError, TypeError):
            before = []
        known = set(before)
        pending: list[str] = []  # after a bridge: [anchor url, plain next url]

        def advance(page: RecordedResponse) -> str | None:
            if not first_prev:  # the newest follow, for the next run's head walk
                first_prev.append(page.links.get("prev") or "")
            guard.seen.add(page.url)
            natural = page.links.get("next") or None
            if pending:
                anchor, plain = pending
                pending.clear()
                if natural is None:  # the bridge held everyone in between
                    return _note(anchor)
                return _note(plain)
            if natural is None:
                return None
            cursor = _max_id(natural)
            below = next((c for c in before if cursor is not None and c < cursor), None)
            anchor = _MAX_ID.sub(f"max_id={below}", natural, count=1)
            if cursor in known or below is None or anchor in guard.seen or "?" not in natural:
                return _note(natural)
            pending[:] = [anchor, natural]
            # The follower at the cursor itself ended the old page above: the bridge must
            # hold it (since_id is exclusive, max_id too).
            return f"{natural}&since_id={below - 1}"

        def _note(next_url: str) -> str:
            cursor = _max_id(next_url)
            if cursor is not None:
                cursors.append(cursor)
            return next_url

        path = f"accounts/{self.owner_id}/followers"
        return self._pages(path, {"limit": 80}, "followers", endpoint, guard, advance)
