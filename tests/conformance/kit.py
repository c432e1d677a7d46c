"""Plumbing for the conformance suite: a scene (fake world + server + config), real harvests,
and what the catalog says afterwards.

Everything goes through the real harvester, recorder, bundles and catalog (as in
tests/helpers.py); only the reading of results is shared here, so each case in
``test_conformance.py`` reads as the property it checks.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from fakeplatforms import FakeServer

from archiver import config as config_module
from archiver.config import HttpSettings
from archiver.errors import ArchiverError, RateLimitedError
from archiver.harvest import RunResult
from connectors.base import Capabilities
from connectors.registry import get_connector
from tests.conformance.adapters import PAGE, Adapter
from tests.helpers import harvest

SITE = "conf"
TOKEN_ENV = "CONFORMANCE_TOKEN"

# Fast but honest HTTP settings: two attempts, and waits long enough that a one-second
# Retry-After can be honoured (the run may also end early as rate limited instead).
BASE_HTTP: dict[str, Any] = {"timeout": 5, "max_attempts": 2, "max_retry_wait": 5}


def token_for(platform: str) -> str:
    """A token no fake or connector would produce by chance, so a hit anywhere is a leak."""
    return f"CONFtok-{platform}-9f8e7d6c5b4a3210"


def capabilities(platform: str) -> Capabilities:
    return get_connector(platform).capabilities


def http_setting(*words: str, exclude: tuple[str, ...] = ("media",)) -> str | None:
    """The ``[http]`` key whose name holds all ``words`` (settings the REC helper adds, e.g. a
    maximum decoded body size or a per-request time budget), or None while it does not exist."""
    for f in dataclasses.fields(HttpSettings):
        name = f.name
        wanted = all(w in name for w in words) and not any(x in name for x in exclude)
        if wanted and name in config_module.HTTP_KEYS:
            return name
    return None


def body_cap_setting() -> str | None:
    for words in (("body", "bytes"), ("decoded", "bytes"), ("body", "size"), ("response", "bytes")):
        name = http_setting(*words)
        if name:
            return name
    return None


def time_budget_setting() -> str | None:
    for words in (("budget",), ("request", "seconds"), ("request", "time"), ("deadline",)):
        name = http_setting(*words)
        if name:
            return name
    return None


@dataclass
class Scene:
    """One platform's fake world on a live loopback server, and a config for one site on it."""

    adapter: Adapter
    server: FakeServer
    tmp: Path
    token: str
    config: Path = field(init=False)
    ids: dict[str, str] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=lambda: dict(BASE_HTTP))

    def __post_init__(self) -> None:
        self.write_config()

    @property
    def platform(self) -> str:
        return self.adapter.platform

    @property
    def caps(self) -> Capabilities:
        return capabilities(self.platform)

    def write_config(self, **http: Any) -> Path:
        self.http.update(http)
        site = self.adapter.site(self.server)
        lines = [
            f'[archive]\nroot = "{self.tmp / "archive"}"\n',
            "[http]",
            *(f"{k} = {json.dumps(v)}" for k, v in self.http.items()),
            "",
            "[[sites]]",
            f'id = "{SITE}"',
            f'platform = "{self.platform}"',
            f'base_url = "{site.base_url}"',
            f'account = "{site.account}"',
            'department = "Communications"',
            'administrators = [{ name = "Ivan Tech", role = "IT" }]',
            f'token_env = "{TOKEN_ENV}"',
        ]
        if site.options:
            pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in site.options.items())
            lines.append(f"options = {{ {pairs} }}")
        self.config = self.tmp / "archiver.toml"
        self.config.write_text("\n".join(lines) + "\n")
        return self.config

    # -- planting ------------------------------------------------------------------------------
    def plant(
        self, *, posts: int = 3, comments: int = 0, replies: int = 0, followers: int = 0
    ) -> None:
        """``posts`` city posts (P0 planted first, so the oldest), ``comments`` on P0 (C0..), a
        chain of ``replies`` under C0 (R0 answers C0, R1 answers R0, ...), and ``followers``
        (F0..). Planted in that order; ids kept in ``ids``."""
        a = self.adapter
        for i in range(posts):
            self.ids[f"P{i}"] = a.post(f"City notice number {i}: street sweeping on route {i}.")
        for i in range(comments):
            self.ids[f"C{i}"] = a.comment(self.ids["P0"], f"Resident question {i} about sweeping")
        parent = self.ids.get("C0", "")
        for i in range(replies):
            self.ids[f"R{i}"] = a.reply(self.ids["P0"], parent, f"Answer {i} in the thread")
            parent = self.ids[f"R{i}"]
        for i in range(followers):
            self.ids[f"F{i}"] = a.add_follower()

    def standard(self) -> None:
        """Every list of the platform over at least two pages: three posts, three comments and
        a reply chain of two under the first post, three followers (pages of ``PAGE``)."""
        c = self.caps
        self.plant(
            posts=PAGE + 1,
            comments=PAGE + 1 if c.comments else 0,
            replies=2 if c.replies else 0,
            followers=PAGE + 1 if c.follower_identities else 0,
        )

    # -- running -------------------------------------------------------------------------------
    def run(self, *, full: bool | None = True) -> Outcome:
        """One real harvest. An ``ArchiverError`` is an outcome; anything else is a crash and
        fails the test with its type (the clerk would have seen a traceback)."""
        runs_before = len(self.rows("SELECT id FROM runs")) if self.catalog_exists() else 0
        error: ArchiverError | None = None
        result: RunResult | None = None
        try:
            result = harvest(self.config, SITE, full=full)
        except ArchiverError as exc:
            error = exc
        except Exception as exc:  # a crash is what the suite reports
            pytest.fail(f"harvest crashed with a traceback: {type(exc).__name__}: {exc}")
        finally:
            structlog.reset_defaults()
        runs = self.rows("SELECT * FROM runs ORDER BY started_at")
        assert len(runs) == runs_before + 1, "the harvest left no run row"
        return Outcome(result, error, runs[-1])

    def run_ok(self, *, full: bool | None = True) -> Outcome:
        out = self.run(full=full)
        assert out.error is None, f"a clean harvest failed: {out.error}"
        return out

    def run_with_deadline(
        self, seconds: float, *, full: bool = True
    ) -> tuple[Outcome | None, float]:
        """Harvest in a thread; if it is still running after ``seconds``, stop the fake server
        (which ends any drip) and return None with the time it had taken."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = harvest(self.config, SITE, full=full)
            except BaseException as exc:  # reported by the caller
                box["exc"] = exc

        import time

        start = time.monotonic()
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
        took = time.monotonic() - start
        if thread.is_alive():
            # The fake going away ends a drip at once; a run asleep in back-off ends at its next
            # request. Not waited for long: the case has already failed.
            self.server.stop()
            thread.join(10)
            structlog.reset_defaults()
            return None, took
        structlog.reset_defaults()
        exc = box.get("exc")
        if exc is not None and not isinstance(exc, ArchiverError):
            pytest.fail(f"harvest crashed with a traceback: {type(exc).__name__}: {exc}")
        run = self.rows("SELECT * FROM runs ORDER BY started_at")[-1]
        return Outcome(box.get("out"), exc, run), took

    # -- reading the catalog -------------------------------------------------------------------
    def catalog_exists(self) -> bool:
        return (self.tmp / "archive" / "catalog.sqlite").exists()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = sqlite3.connect(self.tmp / "archive" / "catalog.sqlite")
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def items(self, record_class: str | None = None) -> dict[str, sqlite3.Row]:
        sql = "SELECT * FROM items WHERE site_id = ?"
        params: tuple[Any, ...] = (SITE,)
        if record_class:
            sql += " AND record_class = ?"
            params += (record_class,)
        return {r["platform_id"]: r for r in self.rows(sql, params)}

    def versions(self, platform_id: str) -> list[sqlite3.Row]:
        return self.rows(
            "SELECT v.*, i.record_class FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE i.site_id = ? AND i.platform_id = ? ORDER BY i.record_class, v.version",
            (SITE, platform_id),
        )

    def version_count(self) -> int:
        return int(self.rows("SELECT COUNT(*) AS n FROM item_versions")[0]["n"])

    def bookmarks(self) -> dict[str, str]:
        rows = self.rows("SELECT key, value FROM bookmarks WHERE site_id = ?", (SITE,))
        return {r["key"]: r["value"] for r in rows}

    def followers(self) -> set[str]:
        rows = self.rows("SELECT platform_id FROM followers WHERE site_id = ?", (SITE,))
        return {r["platform_id"] for r in rows}

    def snapshot(self) -> Snapshot:
        removed = {
            (r["record_class"], r["platform_id"])
            for r in self.rows(
                "SELECT record_class, platform_id FROM items WHERE site_id = ? AND "
                "(removal_state IS NOT NULL OR disappeared_at IS NOT NULL)",
                (SITE,),
            )
        }
        unfollowed = {
            r["platform_id"]
            for r in self.rows(
                "SELECT platform_id FROM follower_events WHERE site_id = ? AND event = 'unfollowed'",
                (SITE,),
            )
        } | {
            r["platform_id"]
            for r in self.rows(
                "SELECT platform_id FROM followers WHERE site_id = ? AND unfollowed_at IS NOT NULL",
                (SITE,),
            )
        }
        return Snapshot(removed, unfollowed, self.bookmarks(), self.version_count())

    def gaps(self, run_id: str) -> list[str]:
        """What the run wrote down as not captured (degradations and unreadable answers)."""
        deg = self.rows("SELECT capability, reason FROM degradations WHERE run_id = ?", (run_id,))
        bad = self.rows("SELECT endpoint, reason FROM unparseable WHERE run_id = ?", (run_id,))
        return [f"{r[0]}: {r[1]}" for r in deg] + [f"{r[0]}: {r[1]}" for r in bad]

    # -- evidence of leaks ---------------------------------------------------------------------
    def archive_files(self) -> Iterator[tuple[Path, bytes]]:
        """Every file under the archive root, gzip members decompressed (WARCs are gzip)."""
        for path in sorted((self.tmp / "archive").rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    pass
            yield path, data


@dataclass
class Snapshot:
    removed: set[tuple[str, str]]
    unfollowed: set[str]
    bookmarks: dict[str, str]
    versions: int


@dataclass
class Outcome:
    result: RunResult | None
    error: ArchiverError | BaseException | None
    run: sqlite3.Row

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.run["status"] == "succeeded"


def bookmark_key(value: str) -> tuple[int, Any]:
    """Order bookmark values the way connectors mean them: numbers, times, then text. An
    entity tag is an opaque validator (RFC 9110 8.8.3), not a position: kind 3, unordered."""
    if value.isdigit():
        return (0, int(value))
    if value.startswith(('"', 'W/"')):
        return (3, value)
    try:
        return (1, datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return (1, email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return (2, value)


def assert_bookmarks_not_backwards(before: dict[str, str], after: dict[str, str]) -> None:
    for key, old in before.items():
        assert key in after, f"bookmark {key!r} vanished (was {old!r})"
        new = after[key]
        ko, kn = bookmark_key(old), bookmark_key(new)
        if ko[0] == kn[0] == 3:
            continue
        if ko[0] == kn[0]:
            assert kn[1] >= ko[1], f"bookmark {key!r} moved backwards: {old!r} -> {new!r}"
        else:
            pytest.fail(f"bookmark {key!r} changed kind: {old!r} -> {new!r}")


def assert_survived(scene: Scene, out: Outcome, before: Snapshot, *, what: str) -> None:
    """A hostile answer must end in a clean failure or a success that wrote the gap down; it
    must never conclude that anything was deleted or that anyone unfollowed, and never move a
    bookmark backwards."""
    after = scene.snapshot()
    new_removed = after.removed - before.removed
    kinds = Counter(cls for cls, _ in new_removed)
    assert not new_removed, f"{what} led to removals being concluded: {dict(kinds)}"
    new_unfollowed = after.unfollowed - before.unfollowed
    assert not new_unfollowed, f"{what} led to {len(new_unfollowed)} unfollow(s) being concluded"
    if out.error is not None:
        run = out.run
        # A wait the run cannot afford ends it as rate limited (issue 10 part 2), not failed.
        want = "rate_limited" if isinstance(out.error, RateLimitedError) else "failed"
        assert run["status"] == want, f"run status {run['status']!r} after {out.error}"
        assert run["error_kind"] == type(out.error).__name__
        assert "\n" not in (run["error"] or ""), f"multi-line error: {run['error']!r}"
        assert "Traceback" not in (run["error"] or "")
        assert f"site {SITE}" in str(out.error), f"the error does not name the site: {out.error}"
    else:
        assert out.run["status"] == "succeeded"
        served = [r.path for r in scene.server.requests if r.fault is not None]
        if served:  # a platform with no such list (one feed document) never got the fault
            gaps = scene.gaps(out.run["id"])
            assert gaps, f"the run succeeded after {what} ({served[0]}) without recording a gap"
    assert_bookmarks_not_backwards(before.bookmarks, after.bookmarks)
