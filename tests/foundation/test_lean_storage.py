"""Change-proportional storage (issue 14): bundle format 3 keeps what changed, and proves the
rest was seen.

Real harvests of a fake Mastodon account on loopback, through the real recorder, bundles,
storage and catalog; "from sealed data" means a catalog rebuilt from storage alone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakeplatforms import FakeServer, MastodonWorld
from typer.testing import CliRunner

from archiver.bundle import RECORDS_DB
from archiver.bundle_format import open_records
from archiver.catalog import Catalog
from archiver.catalog.rebuild import rebuild
from archiver.cli import app as cli_app
from archiver.followers import followers_at, sealed_follower_list
from archiver.harvest import Harvester
from tests.helpers import catalog_rows, harvest, open_test_app, site_toml, write_config

OLD = datetime.now(UTC) - timedelta(days=30)


@dataclass
class Account:
    world: MastodonWorld
    server: FakeServer
    config: Path
    city: str
    ids: dict[str, str]


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    """A quiet city account: two posts a month old, a thread with a nested reply, and 120
    followers over several pages."""
    world = MastodonWorld(clock_start=OLD)
    world.page_cap = 40
    city = world.add_account("cityofbozeman", "City of Bozeman", created_at=OLD)["id"]
    ids: dict[str, str] = {}
    for name in ("maria", "dale"):
        ids[name] = world.add_account(name, name.title(), created_at=OLD)["id"]
    ids["P"] = world.post_status(city, "Water main break.", created_at=OLD)["id"]
    ids["R1"] = world.post_status(
        ids["maria"], "brown water?", in_reply_to_id=ids["P"], created_at=OLD
    )["id"]
    ids["R2"] = world.post_status(
        ids["dale"], "@maria same here", in_reply_to_id=ids["R1"], created_at=OLD
    )["id"]
    ids["Q"] = world.post_status(city, "Snow plow routes.", created_at=OLD)["id"]
    for i in range(120):
        acc = world.add_account(f"follower{i}", f"Follower {i}", created_at=OLD)
        world.follow(city, str(acc["id"]), at=OLD + timedelta(seconds=i))
    with FakeServer(world) as server:
        config = write_config(tmp_path, site_toml("masto", "mastodon", server.url, "cityofbozeman"))
        yield Account(world, server, config, city, ids)


def _set(config: Path, line: str) -> None:
    """Add a site setting to the test config."""
    config.write_text(config.read_text().replace("[[sites]]\n", f"[[sites]]\n{line}\n", 1))


def _bundle_dbs(config: Path, run_id: str) -> dict[str, sqlite3.Connection]:
    """record class -> the sealed records.sqlite of that run's bundle."""
    out = {}
    for r in catalog_rows(
        config, "SELECT record_class, key FROM bundles WHERE run_id = ?", (run_id,)
    ):
        path = config.parent / "archive" / "bundles" / r["key"] / RECORDS_DB
        out[r["record_class"]] = open_records(path)
    return out


def _last_seen(config: Path) -> dict[tuple[str, str], str]:
    rows = catalog_rows(config, "SELECT record_class, platform_id, last_seen_run FROM items")
    return {(r["record_class"], r["platform_id"]): r["last_seen_run"] for r in rows}


def _rebuilt(config: Path, tmp: Path) -> Catalog:
    app = open_test_app(config)
    try:
        rebuild(app.cfg, app.storage, str(tmp / "rebuilt.sqlite"))
    finally:
        app.close()
    return Catalog(f"sqlite:///{tmp / 'rebuilt.sqlite'}")


def test_an_unchanged_run_seals_no_copy_and_still_proves_last_seen(
    account: Account, tmp_path: Path
) -> None:
    _set(account.config, "follower_walk_every = 0")  # the whole list in every run
    first = harvest(account.config, "masto")
    assert first.full_sweep
    second = harvest(account.config, "masto", full=True)  # nothing changed upstream
    assert second.status == "succeeded"

    dbs = _bundle_dbs(account.config, second.run_id)
    try:
        assert set(dbs) == {"posts", "comments", "followers"}
        for record_class in ("posts", "comments"):
            db = dbs[record_class]
            # No second copy of any text: only the ledger of what was seen, and where.
            assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 0
            ledger = db.execute(
                "SELECT platform_id, warc_file, warc_record_id FROM seen"
            ).fetchall()
            assert ledger
            for pid, warc_file, record_id in ledger:
                row = db.execute(
                    "SELECT record_type FROM warc_records WHERE record_id = ? AND warc_file = ?",
                    (record_id, warc_file),
                ).fetchone()
                assert row is not None and row[0] in ("revisit", "response"), pid
        fdb = dbs["followers"]
        info = dict(fdb.execute("SELECT key, value FROM bundle_info").fetchall())
        assert info["followers_form"] == "diff"
        assert fdb.execute("SELECT count(*) FROM followers").fetchone()[0] == 0
        assert fdb.execute("SELECT count(*) FROM follower_diffs").fetchone()[0] == 0
    finally:
        for db in dbs.values():
            db.close()

    # Every item and every follower was last seen by the unchanged run ...
    seen = _last_seen(account.config)
    assert len(seen) == 5  # profile, P, Q, R1, R2
    assert set(seen.values()) == {second.run_id}
    followers = catalog_rows(account.config, "SELECT last_seen_run FROM followers")
    assert len(followers) == 120 and {r[0] for r in followers} == {second.run_id}
    assert not catalog_rows(account.config, "SELECT * FROM item_events WHERE event != 'captured'")

    # ... and a catalog rebuilt from the sealed bundles alone says the same.
    catalog = _rebuilt(account.config, tmp_path)
    try:
        with catalog.begin() as conn:
            rebuilt = {
                (r[0], r[1]): r[2]
                for r in conn.exec_driver_sql(
                    "SELECT record_class, platform_id, last_seen_run FROM items"
                )
            }
            rebuilt_followers = {
                r[0] for r in conn.exec_driver_sql("SELECT last_seen_run FROM followers")
            }
            versions = conn.exec_driver_sql("SELECT count(*) FROM item_versions").scalar()
            gaps = conn.exec_driver_sql("SELECT count(*) FROM degradations").scalar()
    finally:
        catalog.close()
    assert rebuilt == seen
    assert rebuilt_followers == {second.run_id}
    assert versions == 5 and gaps == 0

    out = CliRunner().invoke(cli_app, ["verify", "--deep", "--config", str(account.config)])
    assert out.exit_code == 0, out.output


def test_a_follower_list_from_checkpoint_plus_diffs_equals_the_list_fetched(
    account: Account, tmp_path: Path
) -> None:
    world, city = account.world, account.city
    fetched: dict[str, set[str]] = {}
    first = harvest(account.config, "masto")
    fetched[first.run_id] = set(world.follower_ids(city))
    runs = [first]
    for step in range(3):
        # Two long-time followers leave (spread over the pages), three people follow.
        for gone in world.follower_ids(city)[-(40 * step + 2) :][:2]:
            world.unfollow(city, gone)
        for i in range(3):
            acc = world.add_account(f"new{step}x{i}", f"New {step} {i}")
            world.follow(city, str(acc["id"]))
        run = harvest(account.config, "masto")
        assert run.status == "succeeded"
        fetched[run.run_id] = set(world.follower_ids(city))
        runs.append(run)

    rows = catalog_rows(
        account.config,
        "SELECT b.run_id, b.id, b.key FROM bundles b WHERE b.record_class = 'followers'",
    )
    by_run = {r["run_id"]: (r["id"], r["key"]) for r in rows}
    root = account.config.parent / "archive" / "bundles"
    opened: dict[str, sqlite3.Connection] = {}
    keys = {bid: key for bid, key in by_run.values()}

    def open_db(bundle_id: str) -> sqlite3.Connection:
        if bundle_id not in opened:
            opened[bundle_id] = open_records(root / keys[bundle_id] / RECORDS_DB)
        return opened[bundle_id]

    checkpoint = by_run[first.run_id][0]
    try:
        forms = []
        for run in runs:
            bid = by_run[run.run_id][0]
            info = dict(open_db(bid).execute("SELECT key, value FROM bundle_info").fetchall())
            forms.append(info["followers_form"])
            assert info["followers_checkpoint"] == checkpoint  # the checkpoint it extends
            # The list rebuilt from the sealed checkpoint and diffs is the list fetched then.
            listed = {row[0] for row in sealed_follower_list(open_db, bid)}
            assert listed == fetched[run.run_id]
        assert forms == ["checkpoint", "diff", "diff", "diff"]
        diff_rows = (
            open_db(by_run[runs[1].run_id][0])
            .execute("SELECT event, count(*) FROM follower_diffs GROUP BY event")
            .fetchall()
        )
        assert dict(diff_rows) == {"followed": 3, "unfollowed": 2}
    finally:
        for db in opened.values():
            db.close()

    # The catalog (and one rebuilt from storage) answers "who followed on date D".
    app = open_test_app(account.config)
    try:
        for run in runs:
            started = catalog_rows(
                account.config, "SELECT started_at FROM runs WHERE id = ?", (run.run_id,)
            )[0][0]
            at = datetime.fromisoformat(started)
            assert followers_at(app.catalog, "masto", at) == fetched[run.run_id]
    finally:
        app.close()
    catalog = _rebuilt(account.config, tmp_path)
    try:
        last = runs[-1]
        at = datetime.now(UTC)
        assert followers_at(catalog, "masto", at) == fetched[last.run_id]
    finally:
        catalog.close()
    out = CliRunner().invoke(
        cli_app, ["followers", "masto", "--json", "--config", str(account.config)]
    )
    assert out.exit_code == 0, out.output
    assert '"followed": 9' in out.output and '"unfollowed": 6' in out.output


def test_a_new_checkpoint_is_sealed_when_the_interval_has_passed(account: Account) -> None:
    text = account.config.read_text()
    account.config.write_text(
        text.replace("[[sites]]\n", '[[sites]]\nfollower_checkpoint_every = "1s"\n', 1)
    )
    first = harvest(account.config, "masto")
    time.sleep(1.1)
    third = harvest(account.config, "masto")
    rows = catalog_rows(
        account.config,
        "SELECT bundle_id, form, checkpoint_bundle_id FROM follower_lists ORDER BY taken_at",
    )
    assert rows[0]["form"] == "checkpoint" and first.bundles
    assert rows[-1]["form"] == "checkpoint" and rows[-1]["bundle_id"] in third.bundles


def test_adaptive_repolling_skips_idle_threads_but_never_a_full_sweep(account: Account) -> None:
    ids, world = account.ids, account.world
    harvest(account.config, "masto")
    context = f"/api/v1/statuses/{ids['P']}/context"
    before = len(account.server.requests_to(context))
    # A nested reply is deleted: the post's reply count (direct replies) does not change.
    world.delete_status(ids["R2"])

    quick = harvest(account.config, "masto", full=False)
    assert not quick.full_sweep
    assert len(account.server.requests_to(context)) == before  # idle thread: not read again
    removed = catalog_rows(
        account.config, "SELECT platform_id FROM items WHERE removal_state = 'removed_upstream'"
    )
    assert removed == []  # not read, so nothing is concluded about it

    sweep = harvest(account.config, "masto", full=True)
    assert sweep.full_sweep
    assert len(account.server.requests_to(context)) == before + 1
    removed = catalog_rows(
        account.config, "SELECT platform_id FROM items WHERE removal_state = 'removed_upstream'"
    )
    assert [r[0] for r in removed] == [ids["R2"]]


def test_the_repolling_decay_and_its_ceiling(account: Account) -> None:
    harvest(account.config, "masto")
    app = open_test_app(account.config)
    try:
        h = Harvester(app.cfg, app.catalog, app.storage)
        site = app.cfg.site("masto")
        p = account.ids["P"]
        polled, activity, direct = app.catalog.thread_poll("masto", p)
        assert polled is not None and activity is not None and direct == 1
        polled_at = datetime.fromisoformat(polled)
        # Idle for a month: read weekly.
        assert not h.thread_due(site, p, 1, now=polled_at + timedelta(days=6))
        assert h.thread_due(site, p, 1, now=polled_at + timedelta(days=7))
        # A changed reply count is activity: read now.
        assert h.thread_due(site, p, 2, now=polled_at + timedelta(minutes=1))
        # Never read before: read.
        assert h.thread_due(site, "no-such-thread", None)
        # Activity in the last day: every run.
        act = datetime.fromisoformat(activity)
        assert h.thread_due(site, p, 1, now=act + timedelta(hours=1))
        # The per-site ceiling caps the decay; 0 reads every thread every run.
        capped = replace(site, thread_poll_ceiling_seconds=3600)
        assert h.thread_due(capped, p, 1, now=polled_at + timedelta(hours=1))
        assert not h.thread_due(capped, p, 1, now=polled_at + timedelta(minutes=30))
        assert h.thread_due(replace(site, thread_poll_ceiling_seconds=0), p, 1, now=polled_at)
    finally:
        app.close()


def test_new_followers_do_not_make_every_follower_page_new(account: Account) -> None:
    """Pages are re-read on the previous read's boundaries, so the pages below a few new
    followers are the same bytes (revisits), and the whole list is still read."""
    world, city = account.world, account.city
    _set(account.config, "follower_walk_every = 0")  # the whole list in every run
    harvest(account.config, "masto")
    for i in range(2):
        acc = world.add_account(f"newcomer{i}", f"Newcomer {i}")
        world.follow(city, str(acc["id"]))
    run = harvest(account.config, "masto")
    dbs = _bundle_dbs(account.config, run.run_id)
    try:
        kinds = dict(
            dbs["followers"]
            .execute(
                "SELECT record_type, count(*) FROM warc_records WHERE target_uri LIKE "
                "'%/followers%' AND record_type != 'request' GROUP BY record_type"
            )
            .fetchall()
        )
        form = (
            dbs["followers"]
            .execute("SELECT value FROM bundle_info WHERE key = 'followers_form'")
            .fetchone()[0]
        )
    finally:
        for db in dbs.values():
            db.close()
    # 122 followers in pages of 40: the first page and one bridge are new; the 3 pages below
    # the previous boundaries are unchanged.
    assert kinds.get("revisit", 0) >= 2, kinds
    assert form == "diff"
    active = catalog_rows(
        account.config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NULL"
    )
    assert {r[0] for r in active} == set(world.follower_ids(city))
    events = catalog_rows(
        account.config, "SELECT event FROM follower_events WHERE run_id = ?", (run.run_id,)
    )
    assert [e[0] for e in events] == ["followed", "followed"]


def _follower_bundle(config: Path, run_id: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(bundle_info, follower_diffs (event, platform_id)) of a run's followers bundle."""
    db = _bundle_dbs(config, run_id)["followers"]
    try:
        info = dict(db.execute("SELECT key, value FROM bundle_info").fetchall())
        diffs = db.execute("SELECT event, platform_id FROM follower_diffs ORDER BY seq").fetchall()
    finally:
        db.close()
    return info, [(r[0], r[1]) for r in diffs]


def _sealed_list(config: Path, bundle_id: str) -> set[str]:
    rows = catalog_rows(config, "SELECT id, key FROM bundles WHERE record_class = 'followers'")
    keys = {r["id"]: r["key"] for r in rows}
    root = config.parent / "archive" / "bundles"
    opened: list[sqlite3.Connection] = []

    def open_db(bid: str) -> sqlite3.Connection:
        opened.append(open_records(root / keys[bid] / RECORDS_DB))
        return opened[-1]

    try:
        return {row[0] for row in sealed_follower_list(open_db, bundle_id)}
    finally:
        for db in opened:
            db.close()


def test_between_complete_reads_only_the_newest_followers_are_read(account: Account) -> None:
    """A head walk: one request for the follows since the last read, every newcomer recorded,
    and the list rebuilt from the sealed chain is still the list the platform had."""
    world, city, server = account.world, account.city, account.server
    harvest(account.config, "masto")
    before = len(server.requests_to(f"/api/v1/accounts/{city}/followers"))

    quiet = harvest(account.config, "masto")
    info, diffs = _follower_bundle(account.config, quiet.run_id)
    assert info["followers_form"] == "partial" and info["followers_walk"] == "head"
    assert diffs == []
    requests = server.requests_to(f"/api/v1/accounts/{city}/followers")
    assert len(requests) == before + 1 and "since_id" in requests[-1].query

    newcomers = []
    for i in range(3):
        acc = world.add_account(f"newcomer{i}", f"Newcomer {i}")
        world.follow(city, str(acc["id"]))
        newcomers.append(str(acc["id"]))
    run = harvest(account.config, "masto")
    info, diffs = _follower_bundle(account.config, run.run_id)
    assert info["followers_walk"] == "head"
    assert sorted(diffs) == sorted(("followed", pid) for pid in newcomers)
    assert len(server.requests_to(f"/api/v1/accounts/{city}/followers")) == before + 2
    events = catalog_rows(
        account.config,
        "SELECT event, platform_id FROM follower_events WHERE run_id = ?",
        (run.run_id,),
    )
    assert sorted((e[0], e[1]) for e in events) == sorted(("followed", p) for p in newcomers)
    gaps = catalog_rows(
        account.config, "SELECT capability FROM degradations WHERE run_id = ?", (run.run_id,)
    )
    assert gaps == []  # a head walk stops short by design, not through an error
    bundle = next(b for b in run.bundles if "-followers-" in b)
    assert _sealed_list(account.config, bundle) == set(world.follower_ids(city))


def test_a_head_walk_never_concludes_that_anyone_left(account: Account) -> None:
    """Someone leaves while the account's count does not show it (counts lag): the head walk
    records the newcomer and nobody as gone; the next complete read records the unfollow."""
    world, city = account.world, account.city
    harvest(account.config, "masto")
    gone = world.follower_ids(city)[5]
    world.unfollow(city, gone)
    acc = world.add_account("newcomer", "Newcomer")
    world.follow(city, str(acc["id"]))
    world._accounts[int(city)].followers_count += 1  # the platform's count has not caught up

    head = harvest(account.config, "masto")
    info, diffs = _follower_bundle(account.config, head.run_id)
    assert info["followers_walk"] == "head"
    assert diffs == [("followed", str(acc["id"]))]
    left = catalog_rows(
        account.config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert left == []

    _set(account.config, "follower_walk_every = 0")  # the complete read is due
    whole = harvest(account.config, "masto")
    info, diffs = _follower_bundle(account.config, whole.run_id)
    assert info["followers_form"] == "diff" and "followers_walk" not in info
    assert diffs == [("unfollowed", gone)]
    left = catalog_rows(
        account.config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert [r[0] for r in left] == [gone]


def test_a_count_that_shows_an_unfollow_makes_the_run_read_the_whole_list(
    account: Account,
) -> None:
    world, city = account.world, account.city
    harvest(account.config, "masto")
    gone = world.follower_ids(city)[70]
    world.unfollow(city, gone)
    run = harvest(account.config, "masto")
    info, diffs = _follower_bundle(account.config, run.run_id)
    assert info["followers_form"] == "diff" and "followers_walk" not in info
    assert diffs == [("unfollowed", gone)]


def test_the_whole_list_is_read_on_its_own_cadence_and_for_a_checkpoint(account: Account) -> None:
    harvest(account.config, "masto")
    app = open_test_app(account.config)
    try:
        h = Harvester(app.cfg, app.catalog, app.storage)
        site = app.cfg.site("masto")
        last = app.catalog.last_complete_follower_list("masto")
        assert last is not None
        taken = last[0]
        assert site.follower_walk_seconds == 86400  # the default: the whole list daily
        assert not h.follower_walk_due(site, now=taken + timedelta(hours=23))
        assert h.follower_walk_due(site, now=taken + timedelta(days=1))
        assert h.follower_walk_due(replace(site, follower_walk_seconds=0), now=taken)
        weekly = replace(site, follower_walk_seconds=30 * 86400)
        assert not h.follower_walk_due(weekly, now=taken + timedelta(days=6))
        assert h.follower_walk_due(weekly, now=taken + timedelta(days=7))  # checkpoint due
    finally:
        app.close()


def test_a_refused_head_walk_is_the_complete_reads_degradation(account: Account) -> None:
    """The list refused between complete reads: the run reads the whole list instead, which
    meets the refusal and records it as it always has (a gap and the declared count; nobody
    recorded as gone)."""
    harvest(account.config, "masto")
    account.server.inject(f"/api/v1/accounts/{account.city}/followers", "unauthorized_401", 2)
    run = harvest(account.config, "masto")
    assert run.status == "succeeded"
    gaps = catalog_rows(
        account.config,
        "SELECT capability, reason FROM degradations WHERE run_id = ?",
        (run.run_id,),
    )
    assert [g[0] for g in gaps] == ["follower_identities"] and "HTTP 401" in gaps[0][1]
    left = catalog_rows(
        account.config, "SELECT platform_id FROM followers WHERE unfollowed_at IS NOT NULL"
    )
    assert left == []


def test_harvest_full_on_the_command_line_reads_the_whole_follower_list(
    account: Account,
) -> None:
    """A clerk's ``archiver harvest --full`` re-reads everything, the whole follower list
    included, whatever ``follower_walk_every`` says; a scheduled full sweep does not."""
    harvest(account.config, "masto")
    scheduled = harvest(account.config, "masto", full=True)
    info, _ = _follower_bundle(account.config, scheduled.run_id)
    assert info["followers_walk"] == "head"
    out = CliRunner().invoke(
        cli_app, ["harvest", "--full", "--site", "masto", "--config", str(account.config)]
    )
    assert out.exit_code == 0, out.output
    runs = catalog_rows(account.config, "SELECT id FROM runs ORDER BY started_at")
    info, _ = _follower_bundle(account.config, runs[-1][0])
    assert info["followers_form"] == "diff" and "followers_walk" not in info


def test_a_thread_read_again_moves_its_poll_time(account: Account) -> None:
    """The thread-poll rows of threads already known are updated in one statement per chunk
    (issue 14 part 5): each read thread gets this run's time, its activity time stays."""
    harvest(account.config, "masto")
    before = {
        r[0]: (r[1], r[2])
        for r in catalog_rows(
            account.config, "SELECT root_id, polled_at, activity_at FROM thread_polls"
        )
    }
    assert before and all(polled for polled, _ in before.values())
    time.sleep(0.01)  # a later run start, so a moved poll time is visible
    harvest(account.config, "masto", full=True)  # a full sweep reads every thread again
    after = {
        r[0]: (r[1], r[2])
        for r in catalog_rows(
            account.config, "SELECT root_id, polled_at, activity_at FROM thread_polls"
        )
    }
    assert set(after) == set(before)
    for root, (polled, activity) in before.items():
        assert after[root][0] > polled, root
        assert after[root][1] == activity, root  # nothing new was posted
