"""The connector kit's loops: paginators, and the timeline, thread and followers walks.

Why one module: every list a platform returns is read the same way (fetch a page, find the
next one, stop at the end), and every way that can go wrong means the same thing for the
archive. A connector describes *its* pages (which request, where the next token sits) and
what an entry means; the loops, and what a loop that did not reach the end may conclude, live
here once. Modelled on the Singer SDK's paginators (``advance`` with a repeated-token check),
as plain functions over a :class:`PageGuard` rather than a class tree.

The rule behind all of it: a walk that did not reach the end of a list (the platform looped
its cursor, the page cap was hit, an entry or node was unreadable) *fails the sweep, not the
run*. It yields everything it read, no ``Sweep`` (so nothing is marked removed and nobody
unfollowed on the strength of a partial list), and a ``Degradation`` saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from archiver.errors import FetchError, MalformedResponseError, SkippableFetchError
from archiver.model import (
    BookmarkUpdate,
    Coverage,
    Degradation,
    Follower,
    FollowerCount,
    FollowersHead,
    HarvestRecord,
    Item,
    RecordClass,
    Sweep,
    Unparseable,
    WarcRef,
)
from archiver.recorder import RecordedResponse, RecordingClient
from connectors.base import HarvestContext, platform_words

MAX_PAGES = 100_000
P = TypeVar("P")
T = TypeVar("T")
K = TypeVar("K", int, str)
Params = Mapping[str, str | int]


@dataclass(slots=True)
class PageGuard:
    """Whether a paged walk reached the end, and if not, why.

    ``admit(key)`` is asked before each next page with that page's token or URL: a key seen
    before is a loop, more than ``max_pages`` is a cap. Either ends the walk with
    ``stopped`` set; ``complete`` is then false and the walk must not sweep.
    """

    what: str = "list"
    max_pages: int = MAX_PAGES
    pages: int = 0
    stopped: str | None = None
    seen: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def admit(self, key: str) -> bool:
        if key in self.seen:
            self.stopped = (
                f"the {self.what} pagination looped (page {key[:120]!r} came back after "
                f"{self.pages} pages); the end of the list was not reached"
            )
            return False
        if self.pages >= self.max_pages:
            self.stopped = f"the {self.what} was cut at the cap of {self.max_pages} pages"
            return False
        self.seen.add(key)
        self.pages += 1
        return True


def paginate(
    fetch: Callable[[T | None], P],
    advance: Callable[[P], T | None],
    guard: PageGuard,
    *,
    key: Callable[[T], str] = str,
    empty: Callable[[P], bool] | None = None,
) -> Iterator[P]:
    """The one paging loop: ``fetch(None)`` is the first page, ``advance(page)`` names the
    next (None at the end), ``guard`` refuses loops and caps. An ``empty`` page ends the walk
    (an API at its end may still hand out a cursor)."""
    guard.pages += 1
    page = fetch(None)
    while True:
        yield page
        token = advance(page)
        if token is None or (empty is not None and empty(page)):
            return
        if not guard.admit(key(token)):
            return
        page = fetch(token)


def link_pages(
    http: RecordingClient,
    url: str,
    *,
    record_class: RecordClass,
    endpoint: str,
    params: Params | None = None,
    guard: PageGuard | None = None,
    advance: Callable[[RecordedResponse], str | None] | None = None,
) -> Iterator[RecordedResponse]:
    """RFC 8288 ``Link: rel="next"`` pagination (Mastodon); ``advance(page)``, when given,
    names the next page instead (Mastodon's follower list on known page boundaries)."""
    walk = guard or PageGuard(endpoint)

    def fetch(page_url: str | None) -> RecordedResponse:
        query = None if page_url else params
        return http.get(page_url or url, params=query, record_class=record_class, endpoint=endpoint)

    def next_link(page: RecordedResponse) -> str | None:
        walk.seen.add(page.url)
        return page.links.get("next") or None

    return paginate(fetch, advance or next_link, walk)


def url_pages(
    get: Callable[[str, Params | None], tuple[RecordedResponse, Any]],
    url: str,
    params: Params | None,
    *,
    next_url: Callable[[Any], str | None],
    guard: PageGuard,
    empty: Callable[[Any], bool] | None = None,
) -> Iterator[tuple[RecordedResponse, Any]]:
    """Pages whose next one the answer names (``next_url(data)``): a URL that carries its
    query (Graph API ``paging.next``), or ``name=value`` (:func:`cursor`): ``url`` asked
    again with that parameter (X ``pagination_token``, YouTube ``pageToken``, Bluesky
    ``cursor``, Threads ``after``, LinkedIn ``start``). ``get(url, params)`` fetches and
    decodes a page; an ``empty`` one ends the list (an API at its end may still hand out a
    cursor)."""

    def fetch(token: str | None) -> tuple[RecordedResponse, Any]:
        name, eq, value = (token or "").partition("=")
        if token is None or (eq and name.isidentifier()):
            return get(url, {**(params or {}), name: value} if token else params)
        return get(token, None)

    def advance(page: tuple[RecordedResponse, Any]) -> str | None:
        guard.seen.add(page[0].url)
        return next_url(page[1])

    yield from paginate(fetch, advance, guard, empty=(lambda p: empty(p[1])) if empty else None)


def cursor(name: str, token: Any) -> str | None:
    """A token-paged API's next page for :func:`url_pages`: ``name=token``, None at the end."""
    return f"{name}={token}" if isinstance(token, str) and token else None


class UnreadablePage(MalformedResponseError):
    """A page that is not the documented shape, with where its raw bytes are kept: raised
    where one unreadable page costs one thread or conversation only (it becomes an
    Unparseable pointing at the WARC record), never where it must fail the run."""

    def __init__(self, exc: MalformedResponseError, ref: WarcRef, context: str = "") -> None:
        message = f"{context}: {platform_words(exc)}" if context else platform_words(exc)
        super().__init__(message, site=exc.site, endpoint=exc.endpoint, hint=exc.hint)
        self.words = message
        self.ref = ref


def read_page(
    response: RecordedResponse, key: str | None = None, context: str | None = None
) -> tuple[Any, list[Any]]:
    """A page's JSON object and, with ``key``, its list of entries. If it is neither: with a
    ``context``, an UnreadablePage (one thread lost), else a MalformedResponseError."""
    try:
        data = response.json()
        if not isinstance(data, dict):
            raise MalformedResponseError(
                "expected a JSON object", site=response.site, endpoint=response.endpoint
            )
        entries = listing(data, key, site=response.site, endpoint=response.endpoint) if key else []
    except MalformedResponseError as exc:
        if context is None:
            raise
        raise UnreadablePage(exc, response.ref, context) from None
    return data, entries


def listing(data: Any, key: str, *, site: str, endpoint: str) -> list[Any]:
    """``data[key]`` as a list (a missing key is an empty page), or a MalformedResponseError."""
    entries = (data.get(key) if isinstance(data, dict) else None) or []
    if not isinstance(entries, list):
        raise MalformedResponseError(f"expected a {key} list", site=site, endpoint=endpoint)
    return entries


# -- timeline -------------------------------------------------------------------------------


def walk_timeline(
    ctx: HarvestContext,
    pages: Iterable[tuple[WarcRef, Iterable[Any]]],
    *,
    parse: Callable[[Any, WarcRef], Item | Unparseable],
    key: Callable[[Item], K],
    children: Callable[[Item, Any], Iterable[HarvestRecord]],
    start: K,
    bookmark: str,
    guard: PageGuard | None = None,
    prepare: Callable[[Item], Item] | None = None,
    distinct: bool = False,
    cap: int | None = None,
    noun: str = "posts",
) -> Iterator[HarvestRecord]:
    """Read an account's timeline newest first, as every incremental connector does.

    Why this shape: a run must not re-read everything, yet edits, new comments and deletions
    land on recent posts. So an incremental run (not ``ctx.full_sweep``) reads back until a page
    reaches the ``bookmark`` (an id or a timestamp, compared through ``key``) *and* at least
    the site's ``recheck_recent`` items were seen, then stops; that run proves nothing
    about older posts, so it yields no Sweep. A full walk yields ``Sweep("posts", "account")``
    only if it read every page (``guard`` complete), every entry was readable (an unreadable
    one may be a known post) and the API's ``cap`` on how far back it reaches was not hit;
    otherwise a ``Degradation("deletion_detection")`` says why posts were not checked.
    Last comes the new bookmark, the newest key seen (never older than the old one).

    ``pages`` gives ``(WarcRef, entries)`` newest first; it is not advanced past the page that
    stops the walk. ``parse(entry, ref)`` makes an Item or an Unparseable (yielded as is).
    ``distinct`` skips an item already seen in this walk (a pinned post listed twice).
    ``prepare`` turns a kept item into the one yielded (e.g. with its media downloaded), then
    ``children(item, entry)`` yields its comments. ``start`` is where the newest key starts:
    the key type's zero, so that a run that saw nothing yields no bookmark.
    """
    full, window = ctx.full_sweep, ctx.site.recheck_recent
    since = bookmark_since(ctx, bookmark, start)
    seen = unreadable = 0
    ids: set[str] = set()
    newest = start
    for ref, entries in pages:
        oldest_on_page: K | None = None
        for entry in entries:
            item = parse(entry, ref)
            if isinstance(item, Unparseable):
                unreadable += 1
                yield item
                continue
            if distinct and item.platform_id in ids:
                continue
            ids.add(item.platform_id)
            seen += 1
            stamp = key(item)
            newest = max(newest, stamp)
            oldest_on_page = stamp if oldest_on_page is None else min(oldest_on_page, stamp)
            yield prepare(item) if prepare else item
            yield from children(item, entry)
        caught_up = bool(since) and oldest_on_page is not None and oldest_on_page <= since
        if not full and caught_up and seen >= window:
            break
    if full:
        why = None
        if guard is not None and not guard.complete:
            why = guard.stopped
        elif unreadable:
            why = f"{unreadable} {noun} could not be read"
        elif cap is not None and seen + unreadable >= cap:
            why = f"the timeline reaches only the {cap} newest {noun}"
        if why is None:
            yield Sweep("posts", "account")
        else:
            yield Degradation(
                "deletion_detection", f"{why}; {noun} were not checked for deletion this run"
            )
    if newest:
        yield BookmarkUpdate(bookmark, str(max(newest, since)))


def bookmark_since(ctx: HarvestContext, bookmark: str, start: K) -> K:
    """The ``bookmark`` an incremental run reads back to, of ``start``'s type (a full sweep
    reads everything: ``start``)."""
    raw = "" if ctx.full_sweep else ctx.bookmarks.get(bookmark, "")
    if isinstance(start, int):
        return int(raw) if raw.isdigit() else start
    return raw


# -- threads --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """A node whose content the platform withheld (blocked, unreadable): the thread is not
    known complete, so nothing in it may be marked removed."""

    reason: str


N = TypeVar("N")


def walk_thread(
    root_id: str,
    nodes: Iterable[N],
    *,
    parse: Callable[[N], Item | Unparseable | Gap | None],
    children: Callable[[N, Item], Iterable[N]],
    guards: list[PageGuard] | None = None,
) -> Iterator[HarvestRecord]:
    """Every reply under ``root_id``, depth unbounded, iteratively (a stack, not recursion:
    a 5,000-deep chain must not hit Python's recursion limit).

    ``parse(node)`` gives an Item (kept, then its ``children`` are walked), an Unparseable or
    a :class:`Gap` (the thread is incomplete), or None (a node the platform reports deleted:
    not seen, so the sweep marks it removed). A page of nodes that cannot be read
    (``SkippableFetchError``, :class:`UnreadablePage`) is a gap too, kept as an Unparseable. ``guards`` are the
    PageGuards of paged children; one that stopped early is a gap. Only a walk without gaps
    ends with ``Sweep("comments", root_id)``.
    """
    complete = True
    stack: list[Iterator[N]] = [iter(nodes)]
    while stack:
        try:
            node = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        except (SkippableFetchError, UnreadablePage) as exc:
            stack.pop()
            complete = False
            ref = exc.ref if isinstance(exc, UnreadablePage) else None
            words = exc.words if isinstance(exc, UnreadablePage) else exc.message
            yield Unparseable("comments", exc.endpoint or "thread", words, ref)
            continue
        parsed = parse(node)
        if parsed is None:
            continue
        if isinstance(parsed, Gap):
            complete = False
            continue
        yield parsed
        if isinstance(parsed, Unparseable):
            complete = False
            continue
        stack.append(iter(children(node, parsed)))
    if complete and all(g.complete for g in guards or ()):
        yield Sweep("comments", root_id)


# -- followers ------------------------------------------------------------------------------


def follower(
    entry: Any,
    ref: WarcRef,
    endpoint: str,
    *,
    key: str = "id",
    handle: str | None = None,
    name: str = "name",
    url: Callable[[str, Any], str | None] | None = None,
) -> Follower | Unparseable:
    """A listed account (``entry[key]`` its id, ``entry[handle]`` and ``entry[name]``) as a
    Follower, its ``url(id, handle)`` or else the entry's own ``url``; or an Unparseable."""
    fid = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(fid, str | int) or isinstance(fid, bool) or fid == "":
        return Unparseable("followers", endpoint, f"follower without {key}", ref)
    nick = entry.get(handle) if handle else None
    link = url(str(fid), nick) if url else entry.get("url")
    return Follower(str(fid), ref, handle=nick, display_name=entry.get(name), url=link)


def followers_stream(
    pages: Iterable[tuple[WarcRef, Iterable[Any]]],
    *,
    parse: Callable[[Any, WarcRef], Follower | Unparseable],
    guard: PageGuard,
    refused: Callable[[FetchError], bool],
    endpoint: str,
    note: str = "",
    declared: Any = None,
    declared_ref: WarcRef | None = None,
    on_refusal: Callable[[FetchError], Iterator[HarvestRecord]] | None = None,
) -> Iterator[HarvestRecord]:
    """An account's followers, with the count the platform declares (Mastodon, Bluesky) or,
    without one (X, YouTube), the number listed.

    The list when it can be read, then the count (``identities_available`` when the list
    gave anyone), then the sweep (unfollows may be recorded) only for a complete list: one cut
    by a loop or a cap, or with unreadable entries, gets a Degradation instead, and so does a
    list of nobody from an account that declares followers (a hidden network is not a list of
    nobody). When the list alone is ``refused`` (401/403: a locked-down instance, a token
    without the scope or tier), the run goes on with the declared count and a Degradation,
    or what ``on_refusal`` yields instead; nobody is recorded as having unfollowed.
    """
    count = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    listed = unreadable = 0
    last_ref: WarcRef | None = None
    try:
        for last_ref, entries in pages:
            for entry in entries:
                record = parse(entry, last_ref)
                if isinstance(record, Unparseable):
                    unreadable += 1
                else:
                    listed += 1
                yield record
    except FetchError as exc:
        if not refused(exc):
            raise
        if on_refusal is not None:
            yield from on_refusal(exc)
            return
        words = platform_words(exc)
        if count is not None and declared_ref is not None:
            yield FollowerCount(count, declared_ref, note=note)
            if count > 0:
                yield Coverage("followers", None, count, 0, f"tier: the list was refused ({words})")
        yield Degradation(
            "follower_identities",
            f"{endpoint} refused ({words}); only the declared follower count was kept",
        )
        return
    why = guard.stopped or (f"{unreadable} followers could not be read" if unreadable else None)
    ref = declared_ref or last_ref
    if count is not None and ref is not None:
        yield FollowerCount(count, ref, identities_available=listed > 0 or count == 0, note=note)
        if listed < count:
            yield Coverage("followers", None, count, listed, _shortfall(why, listed))
    elif count is None and last_ref is not None:
        yield FollowerCount(listed, last_ref, why is None, note)
    if why is not None:
        yield Degradation(
            "follower_identities",
            f"{why}; {listed} followers listed"
            + (f" of {count}" if count is not None else "")
            + "; nobody was recorded as having unfollowed this run",
        )
    elif listed == 0 and count:
        yield Degradation(
            "follower_identities",
            f"the account reports {count} followers but the list gave none (the owner may "
            "hide their network); only the count was recorded",
        )
    else:
        yield Sweep("followers", "followers")


def _shortfall(why: str | None, listed: int) -> str:
    """Why the list gave fewer followers than the account declares."""
    if why is not None:
        return f"error: {why}"
    if listed == 0:
        return "hidden: the owner hides their network; only the count was recorded"
    return "hidden or deleted before capture: the platform counts followers it does not list"


# -- follower head walks (between complete reads) -------------------------------------------

#: Bookmarks of the last follower read, for a head walk on a cursor-paged list that is newest
#: first (Bluesky): the id of the newest follower then, and the count the platform declared.
FOLLOWER_NEWEST = "follower_newest"
FOLLOWER_COUNT = "follower_count"
HEAD_MAX_PAGES = 3


def followers_head(
    ctx: HarvestContext,
    pages: Iterable[tuple[WarcRef, Iterable[Any]]],
    *,
    key: Callable[[Any], str | None],
    parse: Callable[[Any, WarcRef], Follower | Unparseable],
    declared: Any,
    declared_ref: WarcRef | None,
    note: str,
) -> list[HarvestRecord] | None:
    """A head walk of a newest-first list: the followers listed above the last read's newest,
    or None when the whole list must be read instead (:class:`archiver.model.FollowersHead`).

    Pages are read from the top until the one holding the last read's newest follower
    (bookmark ``follower_newest``), at most :data:`HEAD_MAX_PAGES`. Everyone above it is new.
    The platform's declared count checks the walk: unless it is the last read's count
    (bookmark ``follower_count``) plus the newcomers, someone left, the count drifted or the
    list is not newest first, and the whole list is read. So is it when the last newest is
    gone from the top pages (they may have left) or a page fails (the complete read meets the
    failure again and records it as it always has). Nobody is ever concluded to have left.
    """
    newest = ctx.bookmarks.get(FOLLOWER_NEWEST, "")
    before = ctx.bookmarks.get(FOLLOWER_COUNT, "")
    count = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    if not newest or not before.isdigit() or count is None or declared_ref is None:
        return None
    fresh: list[tuple[WarcRef, Any]] = []
    top: str | None = None
    found = False
    try:
        for n, (ref, entries) in enumerate(pages):
            if n >= HEAD_MAX_PAGES:
                break
            for entry in entries:
                k = key(entry)
                top = k if top is None else top
                if k == newest:
                    found = True
                    break
                fresh.append((ref, entry))
            if found:
                break
    except FetchError as exc:
        ctx.log.info("followers_whole_list", reason=str(exc))
        return None
    if not found or count != int(before) + len(fresh):
        ctx.log.info(
            "followers_whole_list",
            reason=f"declared {before} -> {count}, {len(fresh)} new"
            if found
            else "the last read's newest follower is not at the top of the list",
        )
        return None
    out: list[HarvestRecord] = [parse(entry, ref) for ref, entry in fresh]
    out.append(FollowerCount(count, declared_ref, identities_available=True, note=note))
    out.append(FollowersHead(top or newest))
    out.append(BookmarkUpdate(FOLLOWER_NEWEST, top or newest))
    out.append(BookmarkUpdate(FOLLOWER_COUNT, str(count)))
    return out


def noting_newest(
    pages: Iterable[tuple[WarcRef, Iterable[Any]]],
    key: Callable[[Any], str | None],
    into: list[str],
) -> Iterator[tuple[WarcRef, list[Any]]]:
    """``pages`` unchanged, with the key of the list's first entry put ``into`` (for the head
    walk bookmarks of a complete read: :func:`follower_head_marks`)."""
    for ref, entries in pages:
        listed = list(entries)
        if not into and listed:
            k = key(listed[0])
            if k:
                into.append(k)
        yield ref, listed


def follower_head_marks(
    guard: PageGuard, newest: list[str], declared: Any
) -> Iterator[BookmarkUpdate]:
    """After a complete read: the bookmarks the next run's head walk starts from."""
    count = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    if guard.complete and newest and count is not None:
        yield BookmarkUpdate(FOLLOWER_NEWEST, newest[0])
        yield BookmarkUpdate(FOLLOWER_COUNT, str(count))
