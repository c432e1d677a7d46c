"""A connector's ``classify`` decides what an answer means; the recorder acts on the verdict.

Real loopback server, real WARC; only the client's sleep is recorded instead of slept.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from fakeplatforms.server import FakeResponse, FakeServer, json_response
from warcio.archiveiterator import ArchiveIterator

from archiver.config import HttpSettings
from archiver.errors import (
    AuthError,
    FatalFetchError,
    NotFoundError,
    RetriableFetchError,
    SkippableFetchError,
)
from archiver.recorder import RecordingClient, status_classifier
from archiver.verdict import Fatal, Ok, Retry, Skip, Verdict
from archiver.warc import WarcSink


class GraphLike:
    """Errors inside a 200 body, the way Graph and YouTube report some of theirs."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse:
        n = self.calls[path] = self.calls.get(path, 0) + 1
        if path == "/busy" and n == 1:
            return json_response({"error": {"code": 4, "message": "busy"}})
        if path == "/expired":
            return json_response({"error": {"code": 190, "message": "token expired"}})
        if path == "/private":
            return json_response({"error": {"code": 10, "message": "no access to this"}})
        if path == "/gone":
            return json_response({"error": "Record not found"}, status=404)
        return json_response({"data": [path]})


def graph_classify(status: int, headers: httpx.Headers, body: bytes) -> Verdict:
    if b'"code":4' in body:
        return Retry("application request limit reached", after=3)
    if b'"code":190' in body:
        return Fatal("token expired", "renew the Page token", auth=True)
    if b'"code":10' in body:
        return Skip("no permission for this object")
    if status == 404:
        return Ok()  # absence is the answer here
    return status_classifier(status, headers, body)


def test_verdicts_decide_and_every_answer_is_recorded(tmp_path: Path) -> None:
    slept: list[float] = []
    app = GraphLike()
    with FakeServer(app) as server:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s",
            settings=HttpSettings(max_retry_wait=60),
            sinks=lambda _c: sink,
            sleep=slept.append,
        )
        url = server.url
        busy = client.get(f"{url}/busy", record_class="posts", classify=graph_classify)
        assert busy.json() == {"data": ["/busy"]} and app.calls["/busy"] == 2
        assert len(slept) == 1 and 3 <= slept[0] <= 3.3  # the classifier's ``after``
        with pytest.raises(AuthError) as fatal:
            client.get(f"{url}/expired", record_class="posts", classify=graph_classify)
        assert "token expired" in str(fatal.value) and "renew the Page token" in str(fatal.value)
        assert isinstance(fatal.value, FatalFetchError) and app.calls["/expired"] == 1
        with pytest.raises(SkippableFetchError, match="no permission"):
            client.get(f"{url}/private", record_class="posts", classify=graph_classify)
        gone = client.get(f"{url}/gone", record_class="posts", classify=graph_classify)
        assert gone.status_code == 404
        # The default classifier: 404 is skippable (NotFoundError), 5xx retried then given up.
        with pytest.raises(NotFoundError) as nf:
            client.get(f"{url}/gone", record_class="posts")
        assert isinstance(nf.value, SkippableFetchError)
        client.close()
        sink.close()
    uris = []
    with (tmp_path / "t-00000.warc.gz").open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                uris.append(rec.rec_headers.get_header("WARC-Target-URI").split("/")[-1])
    assert uris == ["busy", "busy", "expired", "private", "gone", "gone"]


def test_retry_verdict_gives_up_as_retriable(tmp_path: Path) -> None:
    class Down:
        def handle(self, *_a: object) -> FakeResponse:
            return FakeResponse(503, b"<h1>Service Unavailable</h1>", {"Content-Type": "text/html"})

    slept: list[float] = []
    with FakeServer(Down()) as server:
        sink = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
        client = RecordingClient(
            site_id="s",
            settings=HttpSettings(max_attempts=3),
            sinks=lambda _c: sink,
            sleep=slept.append,
        )
        with pytest.raises(RetriableFetchError, match="gave up after 3 attempts"):
            client.get(f"{server.url}/x", record_class="posts")
        client.close()
        sink.close()
    assert len(slept) == 2  # backoff between the three attempts
