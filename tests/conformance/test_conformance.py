"""The connector conformance suite: what "a connector works" means, checked for every
registered connector against its local fake platform (issue 10 part 5).

Each case is one property, run once per platform (``test_gzip_bomb[youtube]``). A case is
skipped for a platform only where the connector's declared ``Capabilities`` say the feature
does not exist (RSS has no comments), and the skip asserts that declaration. Harvests are real:
recorder, WARC, bundles, catalog, over loopback HTTP; hostile answers come from
``FakeServer.inject`` (fakes/fakeplatforms/server.py), aimed at the lists the adapter names.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from archiver.errors import FatalFetchError, RateLimitedError
from connectors.registry import BUILTIN
from tests.conformance.adapters import ADAPTERS, PAGE
from tests.conformance.kit import (
    SITE,
    Scene,
    assert_bookmarks_not_backwards,
    assert_survived,
    body_cap_setting,
    capabilities,
    time_budget_setting,
)

# -- helpers ----------------------------------------------------------------------------------


def need(scene: Scene, capability: str) -> None:
    """Skip when, and only when, the connector declares it cannot capture ``capability``."""
    if not getattr(scene.caps, capability):
        notes = " ".join(scene.caps.notes)
        pytest.skip(f"{scene.platform} declares {capability}=False. {notes}"[:300])


def ids_captured(scene: Scene) -> set[str]:
    return set(scene.items())


# -- the adapter table --------------------------------------------------------------------------


def test_every_registered_connector_has_an_adapter() -> None:
    missing = set(BUILTIN) - set(ADAPTERS)
    assert not missing, f"registered connectors without a conformance adapter: {sorted(missing)}"
    stale = set(ADAPTERS) - set(BUILTIN)
    assert not stale, f"adapters for connectors that are not registered: {sorted(stale)}"


@pytest.mark.parametrize("platform", sorted(BUILTIN))
def test_adapter_plants_exactly_what_the_connector_declares(platform: str) -> None:
    """A case may be skipped only on a declared capability, so the adapter must be able to
    plant every feature the connector claims, and claim nothing it cannot plant."""
    caps = capabilities(platform)
    plants = ADAPTERS[platform].plants
    assert caps.posts, f"{platform} declares posts=False: nothing would be archived"
    assert ("comment" in plants) == caps.comments
    assert ("reply" in plants) == caps.replies
    assert ("delete_comment" in plants) == caps.comments
    assert ("edit" in plants) == caps.edits
    assert ("follower" in plants) == caps.follower_identities
    if not (caps.comments and caps.replies and caps.edits and caps.follower_identities):
        assert caps.notes, f"{platform} lacks a capability but its notes do not say why"


# -- completeness -------------------------------------------------------------------------------


def test_pages_every_list_to_exhaustion(scene: Scene) -> None:
    """More items than a page holds in every list; all of them arrive, over several pages."""
    c = scene.caps
    n = 2 * PAGE + 1
    scene.plant(
        posts=n,
        comments=n if c.comments else 0,
        followers=n if c.follower_identities else 0,
    )
    scene.run_ok()
    items = scene.items()
    posts = [scene.ids[f"P{i}"] for i in range(n)]
    assert set(posts) <= set(scene.items("posts")), f"missing posts: {set(posts) - set(items)}"
    if scene.adapter.paged:
        pages = scene.server.requests_to(scene.adapter.posts_path())
        assert len(pages) >= 3, f"{n} posts at {PAGE} a page came in {len(pages)} request(s)"
    if c.comments:
        comments = {scene.ids[f"C{i}"] for i in range(n)}
        assert comments <= set(scene.items("comments")), (
            f"missing comments: {comments - set(items)}"
        )
    if c.follower_identities:
        fans = {scene.ids[f"F{i}"] for i in range(n)}
        assert fans <= scene.followers(), f"missing followers: {fans - scene.followers()}"
        pages = scene.server.requests_to(scene.adapter.followers_path())
        assert len(pages) >= 3, f"{n} followers at {PAGE} a page came in {len(pages)} request(s)"


def test_captures_every_post_comment_and_reply(scene: Scene) -> None:
    need(scene, "comments")
    c = scene.caps
    scene.plant(posts=PAGE + 1, comments=PAGE + 1, replies=3 if c.replies else 0)
    scene.run_ok()
    posts = set(scene.items("posts"))
    comments = set(scene.items("comments"))
    for key, pid in scene.ids.items():
        held = posts if key.startswith("P") else comments
        assert pid in held, f"{key} ({pid}) was not captured"


def test_captures_a_new_reply_to_an_old_post(scene: Scene) -> None:
    """Issue 10: a reply written today to a two-week-old post is within every API's limits
    (X's recent search sees every reply written in the last seven days)."""
    need(scene, "comments")
    scene.ids["OLD"] = scene.adapter.post(
        "Road work notice from two weeks ago", age=timedelta(days=14)
    )
    scene.plant(posts=1)
    scene.run_ok()
    late = scene.adapter.comment(scene.ids["OLD"], "Is the road open again?")
    scene.run_ok()
    assert late in scene.items("comments"), "a new comment on a 14-day-old post was missed"


def test_keeps_edits_as_versions(scene: Scene) -> None:
    need(scene, "edits")
    scene.plant(posts=PAGE + 1)
    scene.run_ok()
    pid = scene.ids["P0"]
    scene.adapter.edit(pid, "City notice number 0: CORRECTED route and date.")
    scene.run_ok()
    versions = [v for v in scene.versions(pid) if v["record_class"] == "posts"]
    assert len(versions) >= 2, f"the edit of {pid} did not add a version"
    assert "CORRECTED" in versions[-1]["text"]
    assert "CORRECTED" not in versions[0]["text"], "the original wording was not kept"


def test_reharvest_without_upstream_change_adds_no_versions(scene: Scene) -> None:
    scene.standard()
    scene.run_ok()
    before = scene.snapshot()
    items = len(scene.items())
    scene.run_ok(full=True)
    scene.run_ok(full=False)
    after = scene.snapshot()
    assert after.versions == before.versions, "an unchanged platform produced new versions"
    assert len(scene.items()) == items
    assert after.removed == before.removed and after.unfollowed == before.unfollowed


def test_bookmarks_never_move_backwards(scene: Scene) -> None:
    scene.standard()
    scene.run_ok()
    first = scene.bookmarks()
    scene.adapter.post("A newer notice")
    scene.run_ok(full=False)
    second = scene.bookmarks()
    assert_bookmarks_not_backwards(first, second)
    scene.server.inject(scene.adapter.posts_path(), "status_500", times=100)
    failed = scene.run(full=False)
    scene.server.clear_faults()
    assert_bookmarks_not_backwards(second, scene.bookmarks())
    if failed.error is not None:
        assert scene.bookmarks() == second, "a failed run changed the bookmarks"
    scene.run_ok(full=True)
    assert_bookmarks_not_backwards(second, scene.bookmarks())


def test_marks_deletions_only_after_a_complete_sweep(scene: Scene) -> None:
    c = scene.caps
    a = scene.adapter
    n = 2 * PAGE + 1  # one deletion still leaves two pages, so a failing last page matters
    scene.plant(
        posts=n,
        comments=PAGE + 1 if c.comments else 0,
        followers=n if c.follower_identities else 0,
    )
    scene.run_ok()
    gone_post = scene.ids["P1"]
    a.delete_post(gone_post)
    gone_comment = scene.ids.get("C1")
    if c.comments and gone_comment:
        a.delete_comment(gone_comment)
    gone_fan = scene.ids.get("F1")
    if c.follower_identities and gone_fan:
        a.remove_follower(gone_fan)
    # An incomplete sweep: the last page of each list (a feed's only page) keeps failing.
    after = 1 if a.paged else 0
    scene.server.inject(a.posts_path(), "status_500", times=100, after=after)
    if c.follower_identities:
        scene.server.inject(a.followers_path(), "status_500", times=100, after=1)
    before = scene.snapshot()
    scene.run(full=True)
    scene.server.clear_faults()
    partial = scene.snapshot()
    assert ("posts", gone_post) not in partial.removed - before.removed, (
        "a post was marked removed by a sweep that did not reach the end of the list"
    )
    assert gone_fan not in partial.unfollowed, "an unfollow was concluded from an incomplete list"
    # A complete sweep now settles all of it.
    scene.run_ok(full=True)
    done = scene.snapshot()
    assert ("posts", gone_post) in done.removed, "a deleted post was not marked removed"
    if c.comments and gone_comment:
        assert ("comments", gone_comment) in done.removed, "a deleted comment was not marked"
    if c.follower_identities and gone_fan:
        assert gone_fan in done.unfollowed, "an unfollow was not recorded"
    live = {("posts", scene.ids[f"P{i}"]) for i in range(n)} - {("posts", gone_post)}
    assert not live & done.removed, f"live posts marked removed: {sorted(live & done.removed)}"


# -- hostile platforms ----------------------------------------------------------------------------


def _baseline(scene: Scene) -> None:
    scene.standard()
    scene.run_ok()


def test_survives_a_looping_cursor(scene: Scene) -> None:
    """Every paged list answers its next page with its first page again, forever."""
    _baseline(scene)
    before = scene.snapshot()
    a = scene.adapter
    paths = [a.posts_path()]
    if scene.caps.follower_identities:
        paths.append(a.followers_path())
    if scene.caps.comments:
        paths.append(a.comments_path(scene.ids["P0"]))
    for path in paths:
        scene.server.inject(path, "loop_cursor", times=10_000)
    scene.server.clear_requests()
    out = scene.run(full=True)
    assert_survived(scene, out, before, what="a looping cursor")
    for path in paths:
        served = len(scene.server.requests_to(path))
        assert served < 50, f"{served} requests to looping {path}: the loop was not caught"


def test_survives_a_429_storm(scene: Scene) -> None:
    _baseline(scene)
    before = scene.snapshot()
    path = scene.adapter.posts_path()
    scene.server.inject(path, "rate_limit_429", times=10_000, after=1 if scene.adapter.paged else 0)
    scene.server.clear_requests()
    out = scene.run(full=True)
    assert_survived(scene, out, before, what="a 429 storm")
    hits = [r for r in scene.server.requests if r.fault == "rate_limit_429"]
    assert len(hits) <= scene.http["max_attempts"], f"{len(hits)} requests into a 429 storm"
    for first, second in itertools.pairwise(hits):
        gap = second.at - first.at
        assert gap >= 0.9, f"retried {gap:.2f}s after a 429 with Retry-After: 1"


def test_survives_5xx(scene: Scene) -> None:
    _baseline(scene)
    before = scene.snapshot()
    path = scene.adapter.posts_path()
    scene.server.inject(path, "status_500", times=10_000, after=1 if scene.adapter.paged else 0)
    out = scene.run(full=True)
    assert_survived(scene, out, before, what="HTTP 500 on a list page")


@pytest.mark.parametrize("fault", ["html_page", "truncated", "malformed_json", "empty_body"])
def test_survives_bad_bodies(scene: Scene, fault: str) -> None:
    _baseline(scene)
    before = scene.snapshot()
    path = scene.adapter.posts_path()
    scene.server.inject(path, fault, times=10_000, after=1 if scene.adapter.paged else 0)  # type: ignore[arg-type]
    out = scene.run(full=True)
    assert_survived(scene, out, before, what=f"a {fault} answer on a list page")


def test_survives_a_gzip_bomb(scene: Scene) -> None:
    """A list page that inflates to 256 MiB: the read must stop at the configured cap, with
    memory bounded, and end in a classified error or a recorded gap."""
    cap = body_cap_setting()
    assert cap is not None, "HttpSettings has no maximum decoded body size setting"
    scene.write_config(**{cap: 2_000_000})
    _baseline(scene)
    before = scene.snapshot()
    scene.server.inject(scene.adapter.posts_path(), "gzip_bomb", times=10_000)
    tracemalloc.start()
    try:
        out = scene.run(full=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"reading the bomb peaked at {peak >> 20} MiB"
    assert_survived(scene, out, before, what="a gzip bomb")


def test_survives_a_drip_body(scene: Scene) -> None:
    """One byte a second: the per-request time budget ends the request, not the read timeout."""
    budget = time_budget_setting()
    assert budget is not None, "HttpSettings has no per-request time budget setting"
    scene.write_config(**{budget: 1.0})
    _baseline(scene)
    before = scene.snapshot()
    scene.server.inject(scene.adapter.posts_path(), "drip_body", times=10_000)
    limit = 1.0 * scene.http["max_attempts"] + 5
    out, took = scene.run_with_deadline(limit)
    assert out is not None, f"the run was still reading a drip after {took:.1f}s"
    assert_survived(scene, out, before, what="a drip body")


def test_expired_token_is_fatal_and_names_the_fix(scene: Scene) -> None:
    _baseline(scene)
    before = scene.snapshot()
    scene.adapter.expire_token(scene.server)
    out = scene.run(full=True)
    assert isinstance(out.error, FatalFetchError), f"expected a fatal error, got {out.error!r}"
    text = str(out.error)
    assert f"site {SITE}" in text and "\n" not in text
    assert out.error.hint, "no hint saying what to do"
    assert "token" in text.lower(), f"the error does not say the token is the problem: {text}"
    assert_survived(scene, out, before, what="an expired token")


def test_survives_a_lone_surrogate_in_a_comment(scene: Scene) -> None:
    need(scene, "comments")
    from fakeplatforms.server import SURROGATE_MARKER

    scene.plant(posts=PAGE + 1, comments=1)
    scene.ids["BAD"] = scene.adapter.comment(scene.ids["P0"], f"broken emoji {SURROGATE_MARKER}!")
    scene.server.inject("/", "lone_surrogate", times=100_000)
    out = scene.run(full=True)
    assert out.error is None, f"one comment with a lone surrogate failed the run: {out.error}"
    comments = scene.items("comments")
    assert scene.ids["BAD"] in comments and scene.ids["C0"] in comments
    assert {scene.ids[f"P{i}"] for i in range(PAGE + 1)} <= set(scene.items("posts"))
    hits = [r for r in scene.server.requests if r.fault == "lone_surrogate"]
    assert hits


# -- secrets ----------------------------------------------------------------------------------


def _assert_no_token(scene: Scene, logs: Iterable[Mapping[str, object]]) -> None:
    token = scene.token.encode()
    for path, data in scene.archive_files():
        assert token not in data, f"the token is in {path.relative_to(scene.tmp)}"
    for entry in logs:
        assert scene.token not in repr(entry), f"the token is in a log line: {entry}"
    for run in scene.rows("SELECT error FROM runs"):
        assert scene.token not in (run["error"] or "")


def test_never_writes_the_token(scene: Scene) -> None:
    scene.standard()
    with capture_logs() as logs:
        scene.run_ok()
        scene.run_ok(full=False)
    assert any(
        scene.token in (r.headers.get("authorization", "") + str(r.query))
        for r in scene.server.requests
    ), "the token was never sent, so this case proves nothing"
    _assert_no_token(scene, logs)


def test_masks_a_token_the_platform_echoes(scene: Scene) -> None:
    scene.standard()
    scene.server.inject("/", "echo_secret", times=100_000)
    with capture_logs() as logs:
        out = scene.run(full=True)
    assert any(r.fault == "echo_secret" for r in scene.server.requests)
    _assert_no_token(scene, logs)
    assert out.run["status"] in ("succeeded", "failed")


# -- politeness ---------------------------------------------------------------------------------


def test_honours_retry_after_for_the_next_request(scene: Scene) -> None:
    """A media download answered 429 with only ``Retry-After: 1`` (no reset headers) on every
    allowed attempt is given up (media is skippable everywhere); the connector moves on to the
    next file, but the host's rate limit still holds: no request of any kind for that second."""
    need(scene, "media")
    scene.plant(posts=2)
    scene.ids["M1"] = scene.adapter.media_post("Snow plow routes map")
    scene.ids["M2"] = scene.adapter.media_post("Leaf pickup zones map")
    path = scene.adapter.media_path
    scene.server.rate_limit_reset_headers = False
    scene.server.inject(path, "rate_limit_429", times=scene.http["max_attempts"])
    scene.run(full=True)
    reqs = scene.server.requests
    marks = [i for i, r in enumerate(reqs) if r.fault == "rate_limit_429"]
    assert marks, f"the connector never downloaded media from {path}"
    last = marks[-1]
    assert last + 1 < len(reqs), "the run made no request after giving up on one media file"
    gap = reqs[last + 1].at - reqs[last].at
    assert gap >= 0.9, (
        f"next request ({reqs[last + 1].path}) {gap:.2f}s after a 429 with Retry-After: 1"
    )


def test_a_long_retry_after_ends_the_run_as_rate_limited(scene: Scene) -> None:
    """``Retry-After: 3600`` with one second allowed per wait: the run must neither sleep for
    an hour nor ask again early; it ends at once as rate limited until a stated time."""
    scene.write_config(max_retry_wait=1)
    _baseline(scene)
    before = scene.snapshot()
    scene.server.retry_after = 3600
    path = scene.adapter.posts_path()
    scene.server.inject(path, "rate_limit_429", times=1, after=1 if scene.adapter.paged else 0)
    scene.server.clear_requests()
    out, took = scene.run_with_deadline(4)
    assert out is not None, f"the run was still waiting out the rate limit after {took:.0f}s"
    reqs = scene.server.requests
    marks = [i for i, r in enumerate(reqs) if r.fault == "rate_limit_429"]
    assert marks, f"the connector never requested {path} twice"
    early = reqs[marks[-1] + 1 :]
    assert not early, f"{len(early)} request(s) (first: {early[0].path}) inside Retry-After: 3600"
    assert isinstance(out.error, RateLimitedError), f"expected RateLimitedError, got {out.error!r}"
    wait = out.error.until - datetime.now(UTC)
    assert wait > timedelta(minutes=50), f"rate limited until {out.error.until}, not ~1 h ahead"
    assert_survived(scene, out, before, what="a one-hour Retry-After")
