"""The recording client over real loopback sockets: redirect hops and URL-valued headers.

Every redirect hop must be in the WARC (the archive has to show how the final URL was
reached), the token must never follow a redirect off the API host, and a token inside a URL
the server echoes back (``Link``, ``Location``) must never be written, while connectors still
read the original header to paginate.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakeplatforms.server import FakeResponse, FakeServer
from warcio.archiveiterator import ArchiveIterator

from archiver.config import HttpSettings
from archiver.errors import FetchError
from archiver.recorder import MAX_REDIRECTS, RecordingClient
from archiver.warc import WarcSink
from connectors._paging import link_pages as follow_links

Route = Callable[[Mapping[str, list[str]]], FakeResponse]


class Routes:
    """A fake app from a path -> response table (filled in after the servers have ports)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> FakeResponse | None:
        route = self.routes.get(path)
        return route(query) if route else None


def redirect(status: int, location: str) -> Route:
    return lambda _q: FakeResponse(status, b"moved\n", {"Location": location})


def ok(body: bytes, headers: dict[str, str] | None = None) -> Route:
    return lambda _q: FakeResponse(200, body, {"Content-Type": "text/plain", **(headers or {})})


@dataclass
class Exchange:
    """One response record and the request record written with it."""

    uri: str
    status: int
    response_headers: list[tuple[str, str]]
    request_headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Harness:
    client: RecordingClient
    sink: WarcSink
    directory: Path

    def warc_bytes(self) -> bytes:
        self.client.close()
        self.sink.close()
        return b"".join(gzip.decompress(p.read_bytes()) for p in sorted(self.directory.iterdir()))

    def exchanges(self) -> list[Exchange]:
        self.client.close()
        self.sink.close()
        out: list[Exchange] = []
        for path in sorted(self.directory.iterdir()):
            with path.open("rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_type == "response":
                        out.append(
                            Exchange(
                                uri=record.rec_headers.get_header("WARC-Target-URI"),
                                status=int(record.http_headers.get_statuscode()),
                                response_headers=list(record.http_headers.headers),
                                request_headers=[],
                                body=record.content_stream().read(),
                            )
                        )
                    elif record.rec_type == "request":
                        assert out and out[-1].uri == record.rec_headers.get_header(
                            "WARC-Target-URI"
                        ), "a request record must follow its response"
                        out[-1].request_headers = list(record.http_headers.headers)
        return out


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*, auth_host: str | None = None) -> Harness:
        directory = tmp_path / f"warc{len(made)}"
        sink = WarcSink(directory, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s",
            settings=HttpSettings(max_attempts=1),
            sinks=lambda _c: sink,
            auth_header="Bearer tok",
            auth_host=auth_host,
            sleep=lambda _s: None,
        )
        made.append(Harness(client, sink, directory))
        return made[-1]

    yield make
    for h in made:
        h.client.close()
        h.sink.close()


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def test_every_redirect_hop_is_recorded_in_order(harness: Callable[..., Harness]) -> None:
    app = Routes()
    app.routes["/old"] = redirect(301, "/new")
    app.routes["/new"] = ok(b"the new page")
    with FakeServer(app) as server:
        h = harness()
        response = h.client.get(f"{server.url}/old", record_class="posts")

        assert response.status_code == 200
        assert response.content == b"the new page"
        assert response.url == f"{server.url}/new"
        assert [r.path for r in server.requests] == ["/old", "/new"]
        assert h.client.requests_made == 2
        assert response.ref.target_uri == f"{server.url}/new"

        hops = h.exchanges()
        assert [(x.uri, x.status) for x in hops] == [
            (f"{server.url}/old", 301),
            (f"{server.url}/new", 200),
        ]
        assert header(hops[0].response_headers, "Location") == "/new"
        assert hops[0].body == b"moved\n"
        assert hops[1].body == b"the new page"
        # the token goes to the same origin on every hop, and is redacted in every record
        assert all(r.headers.get("authorization") == "Bearer tok" for r in server.requests)
        assert [header(x.request_headers, "Authorization") for x in hops] == [
            "Bearer REDACTED",
            "Bearer REDACTED",
        ]


def test_a_redirect_off_the_api_host_never_carries_the_token(
    harness: Callable[..., Harness],
) -> None:
    api_app, cdn_app = Routes(), Routes()
    with FakeServer(api_app) as api, FakeServer(cdn_app) as cdn:
        # api -> cdn -> back to api: the token, once dropped, must not come back either
        api_app.routes["/media/1"] = redirect(302, f"{cdn.url}/signed/1")
        cdn_app.routes["/signed/1"] = redirect(307, f"{api.url}/final/1")
        api_app.routes["/final/1"] = ok(b"JPEG")
        h = harness(auth_host=api.url.split("//")[1])
        response = h.client.get(f"{api.url}/media/1", record_class="media")

        assert response.content == b"JPEG"
        assert api.requests[0].headers.get("authorization") == "Bearer tok"
        assert "authorization" not in cdn.requests[0].headers
        assert "authorization" not in api.requests[1].headers
        hops = h.exchanges()
        assert [(x.uri, x.status) for x in hops] == [
            (f"{api.url}/media/1", 302),
            (f"{cdn.url}/signed/1", 307),
            (f"{api.url}/final/1", 200),
        ]
        assert header(hops[1].request_headers, "Authorization") is None
        assert header(hops[1].request_headers, "Host") == cdn.url.split("//")[1]


def test_a_redirect_off_the_host_drops_the_token_even_without_auth_host(
    harness: Callable[..., Harness],
) -> None:
    api_app, other_app = Routes(), Routes()
    with FakeServer(api_app) as api, FakeServer(other_app) as other:
        api_app.routes["/go"] = redirect(308, f"{other.url}/there")
        other_app.routes["/there"] = ok(b"ok")
        h = harness(auth_host=None)
        h.client.get(f"{api.url}/go", record_class="posts")
        assert api.requests[0].headers.get("authorization") == "Bearer tok"
        assert "authorization" not in other.requests[0].headers


def test_redirect_loops_stop_with_a_clear_error_and_every_hop_recorded(
    harness: Callable[..., Harness],
) -> None:
    app = Routes()
    app.routes["/loop"] = redirect(302, "/loop?access_token=SECRET")
    with FakeServer(app) as server:
        h = harness()
        with pytest.raises(FetchError, match=f"more than {MAX_REDIRECTS} redirects") as err:
            h.client.get(f"{server.url}/loop", record_class="posts")
        assert "SECRET" not in str(err.value)
        assert len(server.requests) == MAX_REDIRECTS + 1
        hops = h.exchanges()
        assert len(hops) == MAX_REDIRECTS + 1
        assert all(x.status == 302 for x in hops)
        assert b"SECRET" not in h.warc_bytes()


def test_a_token_in_a_location_is_followed_but_never_written(
    harness: Callable[..., Harness],
) -> None:
    app = Routes()
    app.routes["/login"] = redirect(302, "/files/1?X-Amz-Signature=SECRET&part=2")
    app.routes["/files/1"] = ok(b"file", {"Content-Location": "/files/1?access_token=SECRET"})
    with FakeServer(app) as server:
        h = harness()
        response = h.client.get(f"{server.url}/login", record_class="media")

        assert server.requests[1].query["X-Amz-Signature"] == ["SECRET"]
        assert response.url == f"{server.url}/files/1?X-Amz-Signature=SECRET&part=2"
        hops = h.exchanges()
        assert header(hops[0].response_headers, "Location") == (
            "/files/1?X-Amz-Signature=REDACTED&part=2"
        )
        assert hops[1].uri == f"{server.url}/files/1?X-Amz-Signature=REDACTED&part=2"
        assert header(hops[1].response_headers, "Content-Location") == (
            "/files/1?access_token=REDACTED"
        )
        assert b"SECRET" not in h.warc_bytes()


def test_link_pagination_reads_the_real_link_but_the_warc_holds_it_redacted(
    harness: Callable[..., Harness],
) -> None:
    app = Routes()
    with FakeServer(app) as server:
        nxt = f"{server.url}/statuses?max_id=5&access_token=SECRET"
        app.routes["/statuses"] = lambda q: (
            FakeResponse(200, b"[2]", {"Content-Type": "application/json"})
            if q.get("max_id")
            else FakeResponse(
                200, b"[1]", {"Content-Type": "application/json", "Link": f'<{nxt}>; rel="next"'}
            )
        )
        h = harness()
        pages = list(
            follow_links(h.client, f"{server.url}/statuses", record_class="posts", endpoint="st")
        )

        assert [p.json() for p in pages] == [[1], [2]]
        assert pages[0].links["next"] == nxt  # the connector sees the header as sent
        assert server.requests[1].query["access_token"] == ["SECRET"]
        raw = h.warc_bytes()
        assert b"SECRET" not in raw
        redacted = f"{server.url}/statuses?max_id=5&access_token=REDACTED"
        assert f'<{redacted}>; rel="next"'.encode() in raw
        assert [x.uri for x in h.exchanges()] == [f"{server.url}/statuses", redacted]
