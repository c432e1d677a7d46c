"""A fake City website with the traps a real municipal site has (issue 18 part 4).

Plain HTML pages under paths the test sets, plus, each switchable:
- ``robots.txt`` with ``Disallow`` lines (``disallow``);
- a calendar that links to next month forever (``/calendar?month=N``);
- a redirect loop (``/loop-a`` -> ``/loop-b`` -> ``/loop-a``);
- an off-host redirect (``/away``) and off-host links, both to ``localhost`` on the same port,
  so that a crawler which wrongly follows them is seen in the request log, never on the internet.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping, Sequence

from fakeplatforms.server import FakeResponse, header

__all__ = ["WebsiteWorld"]

_HTML = "text/html; charset=utf-8"


def page_html(title: str, body: str, links: Sequence[str] = ()) -> str:
    items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in links)
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}</style>"
        "<script>var csrf = 'rotating-token';</script></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
        f"<ul>{items}</ul></body></html>"
    )


class WebsiteWorld:
    """Serves the City's pages; implements ``FakeApp``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.pages: dict[str, str] = {}
        self.disallow: list[str] = []
        self.calendar = False
        self.loop = False
        self.away = False

    def set_page(self, path: str, title: str, body: str, links: list[str] | None = None) -> None:
        with self._lock:
            self.pages[path] = page_html(title, body, links or [])

    def remove_page(self, path: str) -> None:
        with self._lock:
            self.pages.pop(path, None)

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        host = header(headers, "Host") or "127.0.0.1"
        port = host.rsplit(":", 1)[-1]
        with self._lock:
            if path == "/robots.txt":
                if not self.disallow:
                    return FakeResponse(404, b"not found", {"Content-Type": "text/plain"})
                lines = ["User-agent: *", *(f"Disallow: {d}" for d in self.disallow)]
                return FakeResponse(
                    200, ("\n".join(lines) + "\n").encode(), {"Content-Type": "text/plain"}
                )
            if self.calendar and path == "/calendar":
                month = int((query.get("month") or ["1"])[0] or 1)
                doc = page_html(
                    f"Calendar month {month}",
                    f"Events in month {month}",
                    [f"/calendar?month={month + 1}", f"/calendar?month={month - 1}"],
                )
                return FakeResponse(200, doc.encode(), {"Content-Type": _HTML})
            if self.loop and path in ("/loop-a", "/loop-b"):
                other = "/loop-b" if path == "/loop-a" else "/loop-a"
                return FakeResponse(302, b"", {"Location": other})
            if self.away and path == "/away":
                return FakeResponse(302, b"", {"Location": f"http://localhost:{port}/elsewhere"})
            found = self.pages.get(path)
        if found is None:
            return FakeResponse(
                404, b"<html><title>Not found</title></html>", {"Content-Type": _HTML}
            )
        return FakeResponse(200, found.encode(), {"Content-Type": _HTML})
