"""A fake city news feed served as both RSS 2.0 and Atom.

The city website only offers a feed, so edits and deletions are only visible by diffing
snapshots; the fake therefore supports editing and removing entries, and the conditional
GET (ETag / Last-Modified) that a polite poller must use.

It also serves the files entries link to (``add_file``): an enclosure given as a site-relative
path (``/news/files/0001.pdf``) is rendered as an absolute URL on whatever host and port the
feed was fetched from, so a harvester downloads it from this fake and never from the internet.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from fakeplatforms.server import FakeResponse, header

__all__ = ["FeedWorld"]


@dataclass
class _Entry:
    guid: str
    title: str
    body_html: str
    published: datetime
    updated: datetime
    link: str
    enclosure: tuple[str, str, int] | None


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _plain(body_html: str, limit: int = 300) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", body_html))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _absolute(url: str, self_url: str) -> str:
    """A site-relative URL (``/news/files/1.pdf``) on the host the feed itself was fetched from."""
    if url.startswith("/") and not url.startswith("//"):
        parts = urlsplit(self_url)
        return f"{parts.scheme}://{parts.netloc}{url}"
    return url


class FeedWorld:
    """Serves ``{prefix}/rss.xml`` and ``{prefix}/atom.xml``; implements ``FakeApp``."""

    def __init__(
        self,
        *,
        title: str = "City of Bozeman News",
        link: str = "https://www.bozeman.net/news",
        prefix: str = "/news",
        description: str = "News releases and public notices from the City of Bozeman, Montana",
    ) -> None:
        self.title = title
        self.link = link
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.description = description
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._files: dict[str, tuple[bytes, str]] = {}  # path -> (body, content type)
        # Feed-level change time; deletions move it too, so Last-Modified never lies.
        self._changed: datetime | None = None

    @property
    def rss_path(self) -> str:
        return f"{self.prefix}/rss.xml"

    @property
    def atom_path(self) -> str:
        return f"{self.prefix}/atom.xml"

    def _bump(self, when: datetime | None) -> datetime:
        """Each change gets a strictly later whole second: HTTP dates have 1 s resolution,
        so two changes in one second would otherwise let If-Modified-Since hide the second."""
        t = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        if self._changed is not None and t <= self._changed:
            t = self._changed + timedelta(seconds=1)
        self._changed = t
        return t

    def add_entry(
        self,
        guid: str,
        title: str,
        body_html: str,
        *,
        published: datetime | None = None,
        link: str | None = None,
        enclosure: tuple[str, str, int] | None = None,
    ) -> None:
        """``enclosure`` is (url, mime type, length in bytes), as RSS 2.0 spells it; a url
        that is a path (``/news/files/1.pdf``, see ``add_file``) is served by this fake."""
        with self._lock:
            if guid in self._entries:
                raise ValueError(f"entry {guid!r} already exists")
            if published is None:
                pub = self._bump(None)
            else:
                pub = published.astimezone(UTC).replace(microsecond=0)
                if self._changed is None or pub > self._changed:
                    self._changed = pub
                else:
                    self._bump(None)  # a back-dated entry still changes the feed now
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
            self._entries[guid] = _Entry(
                guid=guid,
                title=title,
                body_html=body_html,
                published=pub,
                updated=pub,
                link=link or f"{self.link.rstrip('/')}/{slug}",
                enclosure=enclosure,
            )

    def add_file(self, path: str, body: bytes, content_type: str) -> str:
        """Serve ``body`` at ``path`` (e.g. an enclosure's PDF); returns the path, which can be
        given as an enclosure URL as is."""
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"file path {path!r} must start with a single /")
        with self._lock:
            self._files[path] = (body, content_type)
        return path

    def edit_entry(
        self,
        guid: str,
        *,
        title: str | None = None,
        body_html: str | None = None,
        updated: datetime | None = None,
    ) -> None:
        with self._lock:
            e = self._entries[guid]
            if title is not None:
                e.title = title
            if body_html is not None:
                e.body_html = body_html
            t = self._bump(updated)
            e.updated = max(t, e.published + timedelta(seconds=1))

    def delete_entry(self, guid: str) -> None:
        with self._lock:
            del self._entries[guid]
            self._bump(None)

    def guids(self) -> list[str]:
        """Current guids, newest published first (the order both feeds use)."""
        with self._lock:
            return [e.guid for e in self._ordered()]

    def _ordered(self) -> list[_Entry]:
        return sorted(self._entries.values(), key=lambda e: (e.published, e.guid), reverse=True)

    # -- rendering -----------------------------------------------------------------------
    def render_rss(self, self_url: str) -> bytes:
        with self._lock:
            items: list[str] = []
            for e in self._ordered():
                enc = ""
                if e.enclosure is not None:
                    url, mime, length = e.enclosure
                    url = _absolute(url, self_url)
                    enc = (
                        f'\n      <enclosure url={quoteattr(url)} length="{int(length)}"'
                        f" type={quoteattr(mime)}/>"
                    )
                items.append(
                    "    <item>\n"
                    f"      <title>{escape(e.title)}</title>\n"
                    f"      <link>{escape(e.link)}</link>\n"
                    f'      <guid isPermaLink="false">{escape(e.guid)}</guid>\n'
                    f"      <pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>\n"
                    f"      <description>{escape(_plain(e.body_html))}</description>\n"
                    f"      <content:encoded>{_cdata(e.body_html)}</content:encoded>"
                    f"{enc}\n"
                    "    </item>\n"
                )
            built = format_datetime(self._changed or datetime(1970, 1, 1, tzinfo=UTC), True)
            doc = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
                ' xmlns:atom="http://www.w3.org/2005/Atom"'
                ' xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
                "  <channel>\n"
                f"    <title>{escape(self.title)}</title>\n"
                f"    <link>{escape(self.link)}</link>\n"
                f"    <description>{escape(self.description)}</description>\n"
                "    <language>en-us</language>\n"
                f"    <lastBuildDate>{built}</lastBuildDate>\n"
                f'    <atom:link href={quoteattr(self_url)} rel="self"'
                ' type="application/rss+xml"/>\n' + "".join(items) + "  </channel>\n</rss>\n"
            )
            return doc.encode("utf-8")

    def render_atom(self, self_url: str) -> bytes:
        with self._lock:
            entries: list[str] = []
            for e in self._ordered():
                enc = ""
                if e.enclosure is not None:
                    url, mime, length = e.enclosure
                    url = _absolute(url, self_url)
                    enc = (
                        f'\n    <link rel="enclosure" href={quoteattr(url)}'
                        f' type={quoteattr(mime)} length="{int(length)}"/>'
                    )
                entries.append(
                    "  <entry>\n"
                    f"    <id>{escape(self._entry_id(e.guid))}</id>\n"
                    f"    <title>{escape(e.title)}</title>\n"
                    f'    <link rel="alternate" type="text/html" href={quoteattr(e.link)}/>'
                    f"{enc}\n"
                    f"    <published>{_rfc3339(e.published)}</published>\n"
                    f"    <updated>{_rfc3339(e.updated)}</updated>\n"
                    f"    <author><name>{escape(self.title)}</name></author>\n"
                    f'    <summary type="text">{escape(_plain(e.body_html))}</summary>\n'
                    f'    <content type="html">{escape(e.body_html)}</content>\n'
                    "  </entry>\n"
                )
            updated = _rfc3339(self._changed or datetime(1970, 1, 1, tzinfo=UTC))
            doc = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">\n'
                f"  <id>{escape(self.link)}</id>\n"
                f"  <title>{escape(self.title)}</title>\n"
                f"  <subtitle>{escape(self.description)}</subtitle>\n"
                f"  <updated>{updated}</updated>\n"
                f'  <link rel="alternate" type="text/html" href={quoteattr(self.link)}/>\n'
                f'  <link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>\n'
                + "".join(entries)
                + "</feed>\n"
            )
            return doc.encode("utf-8")

    def _entry_id(self, guid: str) -> str:
        return guid if ":" in guid else f"urn:uuid:{_uuidish(self.link, guid)}"

    # -- HTTP ----------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        with self._lock:
            file = self._files.get(path)
        if file is not None:
            body, ctype = file
            return FakeResponse(
                200,
                body,
                {
                    "Content-Type": ctype,
                    "ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"',
                    "Cache-Control": "public, max-age=86400",
                },
            )
        if path not in (self.rss_path, self.atom_path):
            return None
        host = header(headers, "Host") or "localhost"
        self_url = f"http://{host}{path}"
        with self._lock:
            if path == self.rss_path:
                body, ctype = self.render_rss(self_url), "application/rss+xml; charset=utf-8"
            else:
                body, ctype = self.render_atom(self_url), "application/atom+xml; charset=utf-8"
            changed = self._changed or datetime(1970, 1, 1, tzinfo=UTC)
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        last_modified = format_datetime(changed, usegmt=True)
        validators = {
            "ETag": etag,
            "Last-Modified": last_modified,
            "Cache-Control": "max-age=0, must-revalidate",
        }
        inm = header(headers, "If-None-Match")
        ims = header(headers, "If-Modified-Since")
        not_modified = False
        if inm is not None:  # RFC 9110: If-None-Match wins; If-Modified-Since is then ignored
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            not_modified = "*" in tags or etag in tags
        elif ims is not None:
            try:
                since = parsedate_to_datetime(ims)
                if since.tzinfo is None:
                    since = since.replace(tzinfo=UTC)
                not_modified = changed <= since
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            return FakeResponse(304, b"", validators)
        return FakeResponse(200, body, {"Content-Type": ctype, **validators})


def _uuidish(*parts: str) -> str:
    h = hashlib.sha1("|".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-a{h[17:20]}-{h[20:32]}"
