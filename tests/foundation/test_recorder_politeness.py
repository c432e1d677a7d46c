"""Host-level politeness: a platform's wait holds every later request to that host, and a wait
the run cannot afford ends it as "rate limited until ..." with the next run after that time.

Real loopback servers; the client's clock and sleep are a recorded fake pair, so the test
measures the waits the client *chose* without spending them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakeplatforms import FakeServer, MastodonWorld
from fakeplatforms.demo_data import CITY_USERNAME
from fakeplatforms.server import FakeResponse, json_response

from archiver.config import HttpSettings
from archiver.daemon import jobs
from archiver.daemon import scheduler as sched
from archiver.errors import RateLimitedError, RetriableFetchError
from archiver.ratelimit import HostLimits
from archiver.recorder import RecordingClient
from archiver.warc import WarcSink
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config


class FakeTime:
    """``clock`` and ``sleep`` for the client: sleeping moves the clock, nothing else does."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Limited:
    """``/limited`` always answers 429 ``Retry-After: 1``; anything else is fine. Notes the
    client's clock at every request, so the gap between requests can be measured."""

    def __init__(self, t: FakeTime, retry_after: str = "1") -> None:
        self.t = t
        self.retry_after = retry_after
        self.seen: list[tuple[str, float]] = []

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse:
        self.seen.append((path, self.t.now))
        if path == "/limited":
            return json_response(
                {"error": "Too many requests"}, 429, {"Retry-After": self.retry_after}
            )
        return json_response({"ok": path})


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[WarcSink]:
    s = WarcSink(tmp_path, "t", info={}, on_record=lambda _r: None)
    yield s
    s.close()


def client_for(
    sink: WarcSink,
    t: FakeTime,
    limits: HostLimits | None = None,
    *,
    max_attempts: int = 2,
    max_retry_wait: float = 60,
    run_budget: float = 6 * 3600,
) -> RecordingClient:
    settings = HttpSettings(
        max_attempts=max_attempts, max_retry_wait=max_retry_wait, run_budget=run_budget
    )
    return RecordingClient(
        site_id="s",
        settings=settings,
        sinks=lambda _c: sink,
        sleep=t.sleep,
        clock=t.clock,
        limits=limits,
        timezone="America/Denver",
    )


def test_retry_after_holds_the_next_request_even_after_retries_ran_out(sink: WarcSink) -> None:
    t = FakeTime()
    app = Limited(t)
    other_app = Limited(t)
    with FakeServer(app) as api, FakeServer(other_app) as other:
        client = client_for(sink, t, max_retry_wait=60)
        with pytest.raises(RetriableFetchError, match="gave up after 2 attempts"):
            client.get(f"{api.url}/limited", record_class="posts")
        # Another host is not held by this host's limit.
        client.get(f"{other.url}/elsewhere", record_class="posts")
        assert len(t.slept) == 1  # only between the two attempts
        client.get(f"{api.url}/next", record_class="posts")
        client.close()
    (_, first), (_, last_429), (path, after) = app.seen
    assert path == "/next"
    assert 1.0 <= last_429 - first <= 1.3  # the retry waited the Retry-After
    assert 1.0 <= after - last_429 <= 1.3  # ... and so did the next request to the host
    assert len(t.slept) == 2


def test_a_shared_host_limits_holds_every_client(sink: WarcSink) -> None:
    t = FakeTime()
    app = Limited(t)
    shared = HostLimits()
    with FakeServer(app) as api:
        first = client_for(sink, t, shared, max_retry_wait=60, max_attempts=1)
        second = client_for(sink, t, shared, max_retry_wait=60)
        with pytest.raises(RetriableFetchError):
            first.get(f"{api.url}/limited", record_class="posts")
        second.get(f"{api.url}/next", record_class="posts")
        first.close()
        second.close()
    assert len(t.slept) == 1 and 1.0 <= t.slept[0] <= 1.3


def test_a_reset_an_hour_away_ends_the_request_instead_of_sleeping(sink: WarcSink) -> None:
    t = FakeTime()
    app = Limited(t, retry_after="3600")
    with FakeServer(app) as api:
        client = client_for(sink, t, max_retry_wait=300)
        with pytest.raises(RateLimitedError) as err:
            client.get(f"{api.url}/limited", record_class="posts")
        # Every later request to that host stops at once too, without asking the server.
        with pytest.raises(RateLimitedError):
            client.get(f"{api.url}/next", record_class="posts")
        client.close()
    assert t.slept == []
    assert [p for p, _ in app.seen] == ["/limited"]
    until = err.value.until
    expected = datetime.fromtimestamp(t.now, UTC) + timedelta(seconds=3600)
    assert abs((until - expected).total_seconds()) < 1
    local = until.astimezone(ZoneInfo("America/Denver"))
    assert f"rate limited until {local:%Y-%m-%d %H:%M} M" in str(err.value)  # MST / MDT
    assert "http.max_retry_wait" in str(err.value)


def test_a_wait_past_the_run_budget_ends_the_run(sink: WarcSink) -> None:
    t = FakeTime()
    app = Limited(t, retry_after="30")
    with FakeServer(app) as api:
        client = client_for(sink, t, max_retry_wait=300, run_budget=100)
        client.get(f"{api.url}/ok", record_class="posts")
        t.now += 80  # the run has been going for 80 of its 100 s
        with pytest.raises(RateLimitedError, match=r"http\.run_budget"):
            client.get(f"{api.url}/limited", record_class="posts")
        client.close()
    assert t.slept == []


class HourLongLimit:
    """The fake Mastodon instance, except that its timeline answers 429 with a reset an hour
    away (the ``X-RateLimit-Reset`` form Mastodon sends)."""

    def __init__(self, world: MastodonWorld) -> None:
        self.world = world
        self.limited = False

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> FakeResponse | None:
        if self.limited and path.endswith("/statuses"):
            reset = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return json_response(
                {"error": "Too many requests"},
                429,
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            )
        return self.world.handle(method, path, query, headers)


def test_long_reset_ends_the_run_as_rate_limited_and_the_daemon_waits_for_it(
    tmp_path: Path,
) -> None:
    world = MastodonWorld(clock_start=datetime(2026, 6, 1, 16, 0, tzinfo=UTC))
    city = world.add_account(CITY_USERNAME, "City of Bozeman")["id"]
    world.post_status(city, "Leaf pickup starts Monday.")
    app = HourLongLimit(world)
    with FakeServer(app) as server:
        config = write_config(tmp_path, site_toml("city", "mastodon", server.url, CITY_USERNAME))
        assert harvest(config, "city").status == "succeeded"
        bookmarks_before = catalog_rows(config, "SELECT * FROM bookmarks")
        bundles_before = catalog_rows(config, "SELECT id FROM bundles")
        world.post_status(city, "Leaf pickup postponed.")
        app.limited = True
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as err:
            harvest(config, "city")
        assert time.monotonic() - started < 10  # stopped, did not sleep for an hour
        assert "rate limited until" in str(err.value)
        run = catalog_rows(config, "SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")[0]
        assert (run["status"], run["error_kind"]) == ("rate_limited", "RateLimitedError")
        assert "rate limited until" in run["error"] and "\n" not in run["error"]
        assert catalog_rows(config, "SELECT id FROM bundles") == bundles_before
        assert [tuple(r) for r in catalog_rows(config, "SELECT * FROM bookmarks")] == [
            tuple(r) for r in bookmarks_before
        ]

        # The daemon's job: the run is recorded as rate limited and the site's runs are
        # skipped until the platform's reset, then go ahead.
        application = open_test_app(config)
        try:
            runtime = jobs.Runtime(app=application, settings=application.cfg.daemon)
            jobs.install(runtime)
            assert jobs.harvest_site("city") == "rate_limited"
            backoff = sched.backoff_of(application.catalog, "city")
            assert backoff.skip_until is not None
            in_an_hour = datetime.now(UTC) + timedelta(hours=1)
            assert abs((backoff.skip_until - in_an_hour).total_seconds()) < 30
            assert backoff.consecutive_failures == 0  # a rate limit is not a failure
            app.limited = False  # even if the platform relented early, we wait as told
            assert jobs.harvest_site("city") == "skipped"
            results = [
                r["result"] for r in catalog_rows(config, "SELECT result FROM job_runs ORDER BY id")
            ]
            assert results == ["rate_limited", "skipped"]
            skip = catalog_rows(config, "SELECT error FROM job_runs ORDER BY id DESC LIMIT 1")
            assert skip[0]["error"].startswith("rate limited until")
            # Once the time has passed, the next scheduled run harvests.
            with application.catalog.begin() as conn:
                conn.execute(
                    sched.harvest_backoff.update().values(
                        skip_until=(datetime.now(UTC) - timedelta(seconds=1)).isoformat()
                    )
                )
            assert jobs.harvest_site("city") == "succeeded"
        finally:
            jobs.install(None)
            application.close()
    texts = [
        r["text"]
        for r in catalog_rows(config, "SELECT text FROM item_versions")
        if r["text"] is not None
    ]
    assert any("postponed" in x for x in texts)
