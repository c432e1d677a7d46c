"""Catalog tables: what was captured, when, where its bytes are, and how it changed.

Items are never overwritten: a changed text or media is a new row in ``item_versions``; an
item that disappears upstream keeps its rows and gains ``disappeared_at``. Four times per item
(posted, first captured, last seen, disappeared) answer "was this comment visible on date D?".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)

from archiver.db import metadata

sites = Table(
    "sites",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("account", Text, nullable=False),
    Column("department", Text, nullable=False, default=""),
    Column("base_url", Text, nullable=False, default=""),
    Column("created_at", String(40), nullable=False),
    Column("token_expires", String(40)),
    # The tenant (city, county, department) the site belongs to; None on a one-city archive.
    Column("organization_id", String(64), index=True),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    # The PostgreSQL role whose row-level security policies show this organization's rows.
    Column("db_role", String(63)),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("db_role", name="uq_organizations_db_role"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("site_id", String(64), ForeignKey("sites.id"), nullable=False, index=True),
    Column("started_at", String(40), nullable=False, index=True),
    Column("finished_at", String(40)),
    Column(
        "status", String(16), nullable=False
    ),  # running | succeeded | failed | abandoned | rate_limited
    Column("full_sweep", Boolean, nullable=False, default=False),
    Column("requests", Integer, nullable=False, default=0),
    Column("counts_json", Text, nullable=False, default="{}"),
    Column("error", Text),
    Column("error_kind", String(64)),
    # Which process runs it (archiver.liveness): a run whose process is gone is shown as
    # "interrupted", not "running". Null for runs started before revision 0003_run_owner.
    Column("pid", Integer),
    Column("host", String(255)),
)

bundles = Table(
    "bundles",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("key", Text, nullable=False),
    Column("site_id", String(64), ForeignKey("sites.id"), nullable=False, index=True),
    Column("run_id", String(40), nullable=False, index=True),
    Column("record_class", String(16), nullable=False),
    Column("storage", String(16), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("sealed_at", String(40), nullable=False),
    Column("cataloged_at", String(40), nullable=False),
    Column("tagmanifest_sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("first_posted_at", String(40)),
    Column("last_posted_at", String(40)),
    Column("status", String(16), nullable=False, default="sealed"),  # sealed | disposed
    Column("eligible_on", String(10)),
    Column("last_verified_at", String(40)),
    Column("last_verify_ok", Boolean),
)

bundle_files = Table(
    "bundle_files",
    metadata,
    Column("bundle_id", String(128), ForeignKey("bundles.id"), primary_key=True),
    Column("relpath", String(512), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), ForeignKey("sites.id"), nullable=False),
    Column("platform_id", String(256), nullable=False),
    Column("record_class", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_id", String(256)),
    Column("root_id", String(256)),
    Column("author_id", String(256)),
    Column("author_handle", Text),
    Column("author_name", Text),
    Column("by_owner", Boolean, nullable=False, default=False),
    Column("permalink", Text),
    Column("posted_at", String(40), index=True),
    Column("first_captured_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("last_seen_run", String(40), nullable=False),
    Column("disappeared_at", String(40)),
    Column("removal_state", String(24)),  # None | removed_upstream | hidden_upstream
    Column("current_version", Integer, nullable=False),
    Column("current_hash", String(64), nullable=False),
    UniqueConstraint("site_id", "record_class", "platform_id", name="uq_items_site_platform_id"),
    Index("ix_items_root", "site_id", "root_id"),
    Index("ix_items_author", "author_handle"),
)

item_versions = Table(
    "item_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text),
    Column("media_json", Text, nullable=False, default="[]"),
    Column("edited_at", String(40)),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("extra_json", Text, nullable=False, default="{}"),
    Column("captured_at", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("bundle_id", String(128), ForeignKey("bundles.id"), nullable=False, index=True),
    Column("warc_file", String(256), nullable=False),
    Column("warc_offset", Integer, nullable=False),
    Column("warc_length", Integer, nullable=False),
    Column("warc_record_id", String(80), nullable=False),
    Column("warc_type", String(16), nullable=False),
    UniqueConstraint("item_id", "version", name="uq_item_versions_item_version"),
)

item_events = Table(
    "item_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    Column("event", String(24), nullable=False),
    Column("at", String(40), nullable=False, index=True),
    Column("run_id", String(40), nullable=False),
    Column("bundle_id", String(128)),
    Column("detail", Text),
)

followers = Table(
    "followers",
    metadata,
    Column("site_id", String(64), ForeignKey("sites.id"), primary_key=True),
    Column("platform_id", String(256), primary_key=True),
    Column("handle", Text),
    Column("display_name", Text),
    Column("url", Text),
    Column("first_seen_at", String(40), nullable=False),
    Column("last_seen_at", String(40), nullable=False),
    Column("last_seen_run", String(40), nullable=False),
    Column("unfollowed_at", String(40)),
)

follower_events = Table(
    "follower_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("platform_id", String(256), nullable=False),
    Column("handle", Text),
    Column("event", String(16), nullable=False),  # followed | unfollowed
    Column("at", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("bundle_id", String(128)),
)

follower_snapshots = Table(
    "follower_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("run_id", String(40), nullable=False),
    Column("bundle_id", String(128), nullable=False),
    Column("taken_at", String(40), nullable=False),
    Column("count", Integer, nullable=False),
    Column("identities", Boolean, nullable=False),
    Column("note", Text),
)

# One row per follower list kept in the format 3 forms (issue 14): a checkpoint holds the whole
# list, a diff or partial bundle only changes against ``previous_bundle_id``. Derived from the
# bundles' ``bundle_info`` at ingest, so a rebuild recreates it.
follower_lists = Table(
    "follower_lists",
    metadata,
    Column("bundle_id", String(128), primary_key=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("form", String(16), nullable=False),  # checkpoint | diff | partial
    Column("checkpoint_bundle_id", String(128)),
    Column("previous_bundle_id", String(128)),
    Column("taken_at", String(40), nullable=False),
    Column("count", Integer, nullable=False),
)

# When each reply thread was last read and last showed activity (a reply posted or edited),
# for adaptive re-polling; derived from the bundles' sweeps and items at ingest, and journaled
# (a disposition may destroy the bundle that last read a thread).
thread_polls = Table(
    "thread_polls",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("root_id", String(256), primary_key=True),
    Column("polled_at", String(40)),
    Column("activity_at", String(40)),
)

bookmarks = Table(
    "bookmarks",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("bundle_id", String(128)),
)

payload_index = Table(
    "payload_index",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("uri_hash", String(40), primary_key=True),
    Column("payload_digest", String(64), primary_key=True),
    Column("target_uri", Text, nullable=False),
    Column("record_id", String(80), nullable=False),
    Column("warc_date", String(40), nullable=False),
    Column("bundle_id", String(128), nullable=False),
)

revisit_refs = Table(
    "revisit_refs",
    metadata,
    Column("bundle_id", String(128), primary_key=True),  # the referrer (holds the revisit)
    Column("refers_to_bundle_id", String(128), primary_key=True),  # holds the original
)

degradations = Table(
    "degradations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("run_id", String(40), nullable=False),
    Column("capability", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

coverage = Table(
    "coverage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("run_id", String(40), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("thread_platform_id", String(128), nullable=True, index=True),
    Column("reported", Integer, nullable=False),
    Column("captured", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

unparseable = Table(
    "unparseable",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", String(64), nullable=False, index=True),
    Column("run_id", String(40), nullable=False),
    Column("bundle_id", String(128), nullable=False),
    Column("endpoint", Text),
    Column("reason", Text),
    Column("warc_file", String(256)),
    Column("warc_offset", Integer),
    Column("warc_length", Integer),
)

# Full text: FTS5 on SQLite (external content over item_versions), tsvector GIN on PostgreSQL.
_SQLITE_FTS = text(
    "CREATE VIRTUAL TABLE IF NOT EXISTS item_versions_fts USING fts5("
    "text, content='item_versions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
_PG_FTS = text(
    "CREATE INDEX IF NOT EXISTS ix_item_versions_tsv ON item_versions "
    "USING gin (to_tsvector('simple', text))"
)


def _after_create(target: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_FTS)
    elif connection.dialect.name == "postgresql":
        connection.execute(_PG_FTS)


event.listen(item_versions, "after_create", _after_create)
