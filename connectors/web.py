"""The City's principal website: a bounded crawl whose pages are items (issue 18 parts 4-5).

Why a small frontier loop and not a crawler library: every byte must go through the
``RecordingClient`` (WARC, secret masking, size and time bounds, per-host rate limits), and the
maintained Python crawlers (Scrapy, its Twisted downloader; trafilatura's fetcher on urllib3)
bring their own HTTP stacks that cannot write through it. What a crawler library would add
beyond fetching is the frontier and its guards, which are a page of code here: robots.txt via
the stdlib ``urllib.robotparser``, text and links via the stdlib ``html.parser``.

Scope and bounds, each reported as a ``Degradation`` when it cuts the crawl:
- only the start URL's host (an off-host link is listed on its page, never fetched; an
  off-host redirect is recorded as the page's last hop and not followed);
- robots.txt is obeyed unless ``ignore_robots = true``;
- ``max_pages`` and ``max_bytes`` per run, ``max_depth`` link hops from a start page;
- calendar and search traps: at most ``max_per_path`` distinct URLs (query strings) per path,
  and a path repeating one segment three times is not followed;
- a redirect loop ends at the recorder's redirect cap (every hop is in the WARC).

Linked context (part 5): City posts of every *other* site in the catalog that were captured
in the last ``linked_days`` days are read for links to this site's host; each linked URL is a
start page of this run, so it is captured again as long as the post is recent, and a new
version is kept only when the page's text changes.

A page is an item of class ``posts`` (kind ``post``) whose id is its URL and whose text is the
page's title and visible text: a change in markup alone (a rotating token, a new stylesheet)
adds no version; a change a reader would see does. The raw HTML stays in the WARC.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from archiver.errors import ConfigError, FatalFetchError, FetchError, RateLimitedError
from archiver.model import Author, Degradation, HarvestRecord, Item, Sweep, Unparseable
from archiver.recorder import status_classifier
from archiver.verdict import Ok, Skip, Verdict
from connectors._options import read_options
from connectors.base import Capabilities, HarvestContext, platform_words

MAX_ID = 256  # the catalog's platform_id width
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"}
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class WebOptions:
    """``options`` a website site may set (``account`` is the first start page)."""

    sections: tuple[str, ...] = ()  # more start pages (paths on the host or full URLs)
    allow_prefixes: tuple[str, ...] = ()  # only paths under these are crawled (empty: all)
    max_pages: int = 200
    max_bytes: int = 50_000_000
    max_depth: int = 3
    max_per_path: int = 25  # distinct query strings per path (calendar/search traps)
    delay_seconds: float | int = 1.0  # politeness pause between requests (seconds)
    ignore_robots: bool = False
    linked_pages: bool = True  # also capture pages City posts link to (part 5)
    linked_days: int = 30
    detect_removals: bool = False  # a complete crawl marks pages it no longer reaches removed


class _Page(HTMLParser):
    """Title, visible text and link targets of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.links: list[str] = []
        self._chunks: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")
        if tag in ("a", "area"):
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self._chunks).splitlines())
        return "\n".join(line for line in lines if line)


def canonical(url: str) -> str:
    """The URL without fragment, with a lower-case scheme and host and a path of at least /."""
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def page_id(url: str) -> str:
    """The page's URL as its id, or a digest of it when longer than the catalog holds."""
    if len(url) <= MAX_ID:
        return url
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def _repeats(path: str) -> bool:
    """A path that repeats one segment three times (``/a/b/a/b/a/b``): a relative-link trap."""
    counts = Counter(seg for seg in path.split("/") if seg)
    return bool(counts) and max(counts.values()) >= 3


def _page_classifier(status: int, headers: object, body: bytes) -> Verdict:
    """A page deeper in the site: an off-host redirect is kept as the answer, a members-only
    page (401/403) costs that page only, never the run."""
    if 300 <= status < 400:
        return Ok()
    if status in (401, 403):
        return Skip(f"HTTP {status}: the page asks for a login")
    return status_classifier(status, headers, body)  # type: ignore[arg-type]


def _robots_classifier(status: int, headers: object, body: bytes) -> Verdict:
    """RFC 9309 2.3.1: a robots.txt that is unavailable (4xx) allows everything."""
    if 400 <= status < 500 and status != 429:
        return Ok()
    return status_classifier(status, headers, body)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Crawl:
    """What the crawl left out, and so whether it saw every page in scope."""

    pages: int = 0
    bytes: int = 0
    complete: bool = True
    cut: str | None = None


class WebConnector:
    Options: ClassVar[type] = WebOptions
    platform: ClassVar[str] = "web"
    capabilities: ClassVar[Capabilities] = Capabilities(
        posts=True,
        edits=True,
        notes=(
            "A website has no comments or followers: each page is one item whose versions "
            "follow its visible text.",
            "Only what the server sends is captured: text a page builds with JavaScript "
            "after loading is not in the archive.",
        ),
    )

    def __init__(self, ctx: HarvestContext, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.options = read_options(WebOptions, ctx.site)
        for key in ("sections", "allow_prefixes"):
            value = getattr(self.options, key)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"site {ctx.site.id}: option {key!r} must be a list of paths or URLs, "
                    f"not {value!r}",
                    key="options",
                )
        self._sleep = sleep
        self.start = canonical(self._absolute(ctx.site.account))
        self.host = urlsplit(self.start).netloc
        self._robots: RobotFileParser | None = None
        self._requested = False

    # -- scope ----------------------------------------------------------------------------
    def _absolute(self, ref: str) -> str:
        if ref.startswith(("http://", "https://")):
            return ref
        return f"{self.ctx.site.base_url.rstrip('/')}/{ref.lstrip('/')}"

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != self.host:
            return False
        prefixes = self.options.allow_prefixes
        return not prefixes or any(parts.path.startswith(p) for p in prefixes)

    def _same_host(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self.host

    # -- requests -------------------------------------------------------------------------
    def _polite(self) -> None:
        if self._requested and self.options.delay_seconds > 0:
            self._sleep(self.options.delay_seconds)
        self._requested = True

    def _allowed(self, url: str) -> bool:
        if self.options.ignore_robots:
            return True
        if self._robots is None:
            robots_url = urlunsplit((urlsplit(self.start).scheme, self.host, "/robots.txt", "", ""))
            self._polite()
            response = self.ctx.http.get(
                robots_url,
                record_class="posts",
                endpoint="GET robots.txt",
                classify=_robots_classifier,
                follow=self._same_host,
            )
            parser = RobotFileParser(robots_url)
            # A missing robots.txt (4xx) is parsed as an empty one: everything is allowed.
            ok = 200 <= response.status_code < 300
            parser.parse(response.text.splitlines() if ok else [])
            self._robots = parser
        return self._robots.can_fetch("muni-archiver", url)

    # -- the crawl ------------------------------------------------------------------------
    def linked_urls(self) -> list[str]:
        """Part 5: links to this host in City posts of the other sites, newest first."""
        if not self.options.linked_pages:
            return []
        since = datetime.now(UTC) - timedelta(days=self.options.linked_days)
        out: list[str] = []
        for text in self.ctx.recent_owner_posts(since):
            for match in _URL.findall(text):
                url = canonical(match.rstrip(".,;:!?"))
                if self.in_scope(url) and url not in out:
                    out.append(url)
        return out

    def harvest(self) -> Iterator[HarvestRecord]:
        opts = self.options
        starts = [self.start, *(canonical(self._absolute(s)) for s in opts.sections)]
        linked = self.linked_urls()
        frontier: deque[tuple[str, int]] = deque()
        queued: set[str] = set()
        for url in [*starts, *linked]:
            if url not in queued:
                queued.add(url)
                frontier.append((url, 0))
        per_path: Counter[str] = Counter()
        for url in queued:
            per_path[urlsplit(url).path] += 1
        crawl = _Crawl()
        trapped: Counter[str] = Counter()
        too_deep = 0
        offsite: set[str] = set()
        disallowed: list[str] = []
        empty_start: str | None = None
        while frontier:
            url, depth = frontier.popleft()
            if crawl.pages >= opts.max_pages:
                crawl.cut = f"the crawl stopped at the cap of {opts.max_pages} pages"
                break
            if crawl.bytes >= opts.max_bytes:
                crawl.cut = f"the crawl stopped at the cap of {opts.max_bytes} bytes"
                break
            if not self._allowed(url):
                disallowed.append(url)
                continue
            page = yield from self._fetch(url, first=url == self.start, crawl=crawl)
            if url in starts and not any(self.in_scope(link) for link in page or ()):
                # A start page that links nowhere is more likely a maintenance or error page
                # answered with 200 than a site with no pages: never conclude removals from it.
                empty_start = empty_start or url
            if page is None:
                continue
            for link in page:
                if not self.in_scope(link):
                    if not self._same_host(link):
                        offsite.add(link)
                    continue
                if link in queued:
                    continue
                path = urlsplit(link).path
                if _repeats(path) or per_path[path] >= opts.max_per_path:
                    trapped[path] += 1
                    continue
                if depth + 1 > opts.max_depth:
                    too_deep += 1
                    continue
                queued.add(link)
                per_path[path] += 1
                frontier.append((link, depth + 1))
        yield from self._gaps(crawl, frontier, trapped, too_deep, disallowed)
        if offsite:
            self.ctx.log.info("web_offsite_links", count=len(offsite))
        complete = crawl.complete and crawl.cut is None and not trapped and not too_deep
        if opts.detect_removals:
            if empty_start is not None:
                yield Degradation(
                    "deletion_detection",
                    f"start page {empty_start} links to no page of the site (an error or "
                    "maintenance page?); pages were not checked for removal this run",
                )
            elif not complete:
                yield Degradation(
                    "deletion_detection",
                    "the crawl did not reach every page in scope; pages were not checked for "
                    "removal this run",
                )
            else:
                yield Sweep("posts", "account")

    def _fetch(
        self, url: str, *, first: bool, crawl: _Crawl
    ) -> Generator[HarvestRecord, None, list[str] | None]:
        """Fetch one page and yield its item; return its in-page links (None: no page)."""
        self._polite()
        try:
            response = self.ctx.http.get(
                url,
                record_class="posts",
                endpoint="GET page",
                follow=self._same_host,
                classify=status_classifier if first else _page_classifier,
            )
        except (FatalFetchError, RateLimitedError):
            raise
        except FetchError as exc:
            if first:
                raise
            crawl.complete = False
            yield Degradation("web_pages", f"{url} was not captured: {platform_words(exc)}")
            return None
        crawl.pages += 1
        crawl.bytes += len(response.content)
        if 300 <= response.status_code < 400:
            target = response.headers.get("location", "?")
            yield Degradation(
                "web_scope", f"{url} redirects off the site to {target}; the target was not fetched"
            )
            return None
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        final = canonical(response.url)
        author = Author(id=self.host, display_name=self.ctx.site.account)
        extra: dict[str, object] = {"content_type": ctype or "unknown", "status": 200}
        if final != url:
            extra["final_url"] = final
        if ctype and ctype not in _HTML_TYPES:
            digest = hashlib.sha256(response.content).hexdigest()
            yield Item(
                record_class="posts",
                kind="post",
                platform_id=page_id(url),
                author=author,
                text=f"[{ctype} document, {len(response.content)} bytes, sha256 {digest}]",
                ref=response.ref,
                url=url,
                root_id=page_id(url),
                by_owner=True,
                extra=extra,
            )
            return []
        parser = _Page()
        try:
            parser.feed(response.text)
            parser.close()
        except AssertionError as exc:  # html.parser's own guard on broken markup
            yield Unparseable("posts", "GET page", f"{url}: unreadable HTML ({exc})", response.ref)
            return None
        title = " ".join(parser.title.split())
        extra["title"] = title
        yield Item(
            record_class="posts",
            kind="post",
            platform_id=page_id(url),
            author=author,
            text=f"{title}\n{parser.text}".strip(),
            ref=response.ref,
            url=url,
            root_id=page_id(url),
            by_owner=True,
            extra=extra,
        )
        return [canonical(urljoin(response.url, href)) for href in parser.links]

    def _gaps(
        self,
        crawl: _Crawl,
        left: deque[tuple[str, int]],
        trapped: Counter[str],
        too_deep: int,
        disallowed: list[str],
    ) -> Iterator[HarvestRecord]:
        if crawl.cut is not None:
            yield Degradation("web_pages", f"{crawl.cut}; {len(left) + 1} queued pages not fetched")
        for path, count in sorted(trapped.items()):
            yield Degradation(
                "web_pages",
                f"{count} links under {path} not followed: more than {self.options.max_per_path} "
                "distinct pages on one path or a repeating path (a calendar or search trap)",
            )
        if too_deep:
            yield Degradation(
                "web_pages",
                f"{too_deep} links not followed: deeper than {self.options.max_depth} hops",
            )
        if disallowed:
            yield Degradation(
                "web_robots",
                f"{len(disallowed)} pages not fetched because robots.txt disallows them "
                f"(first: {disallowed[0]}); set ignore_robots = true only with the City's consent",
            )
