"""Baseline: the catalog schema of release 0.1.0, the last one without schema versioning.

FROZEN. This file is what every catalog written by 0.1.0 looks like; never edit it to follow a
change of a table module: add a new revision instead. It was generated once from the table
modules of commit 19835d6 (``alembic.autogenerate.produce_migrations``) plus the raw DDL those
modules ran on ``create_all`` (the FTS5 index of item texts on SQLite, its GIN counterpart on
PostgreSQL, and the append-only triggers of ``audit_log``).

Every table is created only if it is absent, so ``archiver migrate`` can adopt a pre-versioning
catalog whose tables it has checked against this baseline (``migrate.baseline_differences``):
on a new, empty catalog every table is absent and this is a plain ``CREATE``.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_APPEND_ONLY = "audit_log is append-only"

_SQLITE_AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
)
_PG_AUDIT_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $fn$ BEGIN "
    f"RAISE EXCEPTION '{_APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege'; "
    "END $fn$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS item_versions_fts USING fts5("
    "text, content='item_versions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
_PG_FTS = (
    "CREATE INDEX IF NOT EXISTS ix_item_versions_tsv ON item_versions "
    "USING gin (to_tsvector('simple', text))"
)


def _dialect() -> str:
    return str(op.get_bind().dialect.name)


def _absent(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def _audit_triggers() -> None:
    ddl = {"sqlite": _SQLITE_AUDIT_TRIGGERS, "postgresql": _PG_AUDIT_TRIGGERS}.get(_dialect(), ())
    for statement in ddl:
        op.execute(statement)


def _full_text() -> None:
    if _dialect() == "sqlite":
        op.execute(_SQLITE_FTS)
    elif _dialect() == "postgresql":
        op.execute(_PG_FTS)


def upgrade() -> None:
    if _absent("audit_log"):
        op.create_table(
            "audit_log",
            sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("at", sa.String(length=40), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("action", sa.String(length=64), nullable=False),
            sa.Column("subject", sa.Text(), nullable=False),
            sa.Column("details", sa.Text(), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("entry_hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("seq"),
            sa.UniqueConstraint("prev_hash"),
            sa.UniqueConstraint("entry_hash"),
        )
        _audit_triggers()

    if _absent("batch_bundles"):
        op.create_table(
            "batch_bundles",
            sa.Column("batch_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("record_class", sa.String(length=16), nullable=False),
            sa.Column("refs_json", sa.Text(), nullable=False),
            sa.Column("eligible_on", sa.String(length=10), nullable=False),
            sa.Column("record_count", sa.Integer(), nullable=False),
            sa.Column("size_bytes", sa.Integer(), nullable=False),
            sa.Column("first_posted_at", sa.String(length=40), nullable=True),
            sa.Column("last_posted_at", sa.String(length=40), nullable=True),
            sa.Column("oldest_record_at", sa.String(length=40), nullable=True),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("note", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("batch_id", "bundle_id"),
        )

    if _absent("bookmarks"):
        op.create_table(
            "bookmarks",
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("key", sa.String(length=128), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=True),
            sa.PrimaryKeyConstraint("site_id", "key"),
        )

    if _absent("bundle_eligibility"):
        op.create_table(
            "bundle_eligibility",
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("own_eligible_on", sa.String(length=10), nullable=True),
            sa.Column("eligible_on", sa.String(length=10), nullable=True),
            sa.Column("refs_json", sa.Text(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("oldest_record_at", sa.String(length=40), nullable=True),
            sa.Column("computed_at", sa.String(length=40), nullable=False),
            sa.Column("worm_until", sa.String(length=10), nullable=True),
            sa.PrimaryKeyConstraint("bundle_id"),
        )

    if _absent("comment_removals"):
        op.create_table(
            "comment_removals",
            sa.Column("item_id", sa.Integer(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("platform_id", sa.String(length=256), nullable=False),
            sa.Column("category", sa.Integer(), nullable=False),
            sa.Column("recorded_by", sa.Text(), nullable=False),
            sa.Column("recorded_at", sa.String(length=40), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("decision", sa.String(length=16), nullable=True),
            sa.Column("attorney", sa.Text(), nullable=True),
            sa.Column("reviewed_at", sa.String(length=40), nullable=True),
            sa.Column("review_note", sa.Text(), nullable=True),
            sa.Column("reviewed", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("item_id"),
        )

    if _absent("confidential_bundles"):
        op.create_table(
            "confidential_bundles",
            sa.Column("batch_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("marked_by", sa.Text(), nullable=False),
            sa.Column("marked_at", sa.String(length=40), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("batch_id", "bundle_id"),
        )

    if _absent("degradations"):
        op.create_table(
            "degradations",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("capability", sa.String(length=64), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_degradations_site_id"), "degradations", ["site_id"], unique=False)

    if _absent("disposal_record_copies"):
        op.create_table(
            "disposal_record_copies",
            sa.Column("batch_id", sa.String(length=40), nullable=False),
            sa.Column("form", sa.String(length=8), nullable=False),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("storage", sa.String(length=16), nullable=False),
            sa.Column("storage_key", sa.Text(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("retain_until", sa.String(length=10), nullable=True),
            sa.Column("stored_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("batch_id", "form", "kind", name="pk_disposal_record_copies"),
        )

    if _absent("disposal_records"):
        op.create_table(
            "disposal_records",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("batch_id", sa.String(length=40), nullable=False),
            sa.Column("form", sa.String(length=8), nullable=False),
            sa.Column("html_path", sa.Text(), nullable=False),
            sa.Column("pdf_path", sa.Text(), nullable=False),
            sa.Column("html_sha256", sa.String(length=64), nullable=False),
            sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.String(length=40), nullable=False),
            sa.Column("keep_until", sa.String(length=10), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("batch_id", "form", name="uq_disposal_records_batch_form"),
        )

    if _absent("disposition_batches"):
        op.create_table(
            "disposition_batches",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("as_of", sa.String(length=10), nullable=False),
            sa.Column("path", sa.String(length=8), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("proposed_by", sa.Text(), nullable=False),
            sa.Column("proposed_at", sa.String(length=40), nullable=False),
            sa.Column("approved_by", sa.Text(), nullable=True),
            sa.Column("approved_title", sa.Text(), nullable=True),
            sa.Column("approved_at", sa.String(length=40), nullable=True),
            sa.Column("authority", sa.Text(), nullable=True),
            sa.Column("rm60_approved", sa.String(length=10), nullable=True),
            sa.Column("offer_to", sa.Text(), nullable=True),
            sa.Column("offer_notified", sa.String(length=10), nullable=True),
            sa.Column("executed_by", sa.Text(), nullable=True),
            sa.Column("executed_at", sa.String(length=40), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )

    if _absent("exports"):
        op.create_table(
            "exports",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("request_id", sa.String(length=16), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("at", sa.String(length=40), nullable=False),
            sa.Column("out_path", sa.Text(), nullable=False),
            sa.Column("package_sha256", sa.String(length=64), nullable=False),
            sa.Column("counts_json", sa.Text(), nullable=False),
            sa.Column("query_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_exports_request_id"), "exports", ["request_id"], unique=False)

    if _absent("follower_events"):
        op.create_table(
            "follower_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("platform_id", sa.String(length=256), nullable=False),
            sa.Column("handle", sa.Text(), nullable=True),
            sa.Column("event", sa.String(length=16), nullable=False),
            sa.Column("at", sa.String(length=40), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_follower_events_site_id"), "follower_events", ["site_id"], unique=False
        )

    if _absent("follower_snapshots"):
        op.create_table(
            "follower_snapshots",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("taken_at", sa.String(length=40), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.Column("identities", sa.Boolean(), nullable=False),
            sa.Column("note", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_follower_snapshots_site_id"), "follower_snapshots", ["site_id"], unique=False
        )

    if _absent("harvest_backoff"):
        op.create_table(
            "harvest_backoff",
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("consecutive_failures", sa.Integer(), nullable=False),
            sa.Column("last_failure_at", sa.String(length=40), nullable=True),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("skip_until", sa.String(length=40), nullable=True),
            sa.Column("backoff_seconds", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("site_id"),
        )

    if _absent("job_runs"):
        op.create_table(
            "job_runs",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("job_id", sa.String(length=191), nullable=False),
            sa.Column("started_at", sa.String(length=40), nullable=False),
            sa.Column("finished_at", sa.String(length=40), nullable=True),
            sa.Column("result", sa.String(length=16), nullable=False),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("detail_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_job_runs_job_id"), "job_runs", ["job_id"], unique=False)
        op.create_index(op.f("ix_job_runs_started_at"), "job_runs", ["started_at"], unique=False)

    if _absent("legal_holds"):
        op.create_table(
            "legal_holds",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("matter", sa.Text(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=True),
            sa.Column("since", sa.String(length=10), nullable=True),
            sa.Column("until", sa.String(length=10), nullable=True),
            sa.Column("query", sa.Text(), nullable=True),
            sa.Column("author", sa.Text(), nullable=True),
            sa.Column("placed_by", sa.Text(), nullable=False),
            sa.Column("placed_at", sa.String(length=40), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("released_by", sa.Text(), nullable=True),
            sa.Column("released_at", sa.String(length=40), nullable=True),
            sa.Column("release_reason", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name"),
        )

    if _absent("payload_index"):
        op.create_table(
            "payload_index",
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("uri_hash", sa.String(length=40), nullable=False),
            sa.Column("payload_digest", sa.String(length=64), nullable=False),
            sa.Column("target_uri", sa.Text(), nullable=False),
            sa.Column("record_id", sa.String(length=80), nullable=False),
            sa.Column("warc_date", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.PrimaryKeyConstraint("site_id", "uri_hash", "payload_digest"),
        )

    if _absent("records_requests"):
        op.create_table(
            "records_requests",
            sa.Column("id", sa.String(length=16), nullable=False),
            sa.Column("year", sa.Integer(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("requester", sa.Text(), nullable=False),
            sa.Column("received", sa.String(length=10), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("acknowledge_by", sa.String(length=10), nullable=False),
            sa.Column("respond_by", sa.String(length=10), nullable=False),
            sa.Column("estimated_minutes", sa.Integer(), nullable=True),
            sa.Column("fee_estimate", sa.String(length=16), nullable=True),
            sa.Column("opened_at", sa.String(length=40), nullable=False),
            sa.Column("opened_by", sa.String(length=200), nullable=False),
            sa.Column("closed_at", sa.String(length=40), nullable=True),
            sa.Column("closed_by", sa.String(length=200), nullable=True),
            sa.Column("outcome", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("year", "seq", name="uq_records_requests_year_seq"),
        )

    if _absent("report_deliveries"):
        op.create_table(
            "report_deliveries",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("month", sa.String(length=7), nullable=False),
            sa.Column("attempted_at", sa.String(length=40), nullable=False),
            sa.Column("ok", sa.Boolean(), nullable=False),
            sa.Column("recipients", sa.Integer(), nullable=False),
            sa.Column("endpoint", sa.Text(), nullable=True),
            sa.Column("out_dir", sa.Text(), nullable=False),
            sa.Column("error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_report_deliveries_month"), "report_deliveries", ["month"], unique=False
        )

    if _absent("revisit_refs"):
        op.create_table(
            "revisit_refs",
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("refers_to_bundle_id", sa.String(length=128), nullable=False),
            sa.PrimaryKeyConstraint("bundle_id", "refers_to_bundle_id"),
        )

    if _absent("schedule_confirmations"):
        op.create_table(
            "schedule_confirmations",
            sa.Column("ref", sa.String(length=64), nullable=False),
            sa.Column("confirmed_by", sa.Text(), nullable=False),
            sa.Column("confirmed_at", sa.String(length=40), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("ref"),
        )

    if _absent("schedule_item_confirmations"):
        op.create_table(
            "schedule_item_confirmations",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("ref", sa.String(length=64), nullable=False),
            sa.Column("digest", sa.String(length=64), nullable=False),
            sa.Column("content_json", sa.Text(), nullable=False),
            sa.Column("confirmed_by", sa.Text(), nullable=False),
            sa.Column("confirmed_at", sa.String(length=40), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_schedule_item_confirmations_ref"),
            "schedule_item_confirmations",
            ["ref"],
            unique=False,
        )

    if _absent("sites"):
        op.create_table(
            "sites",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("platform", sa.String(length=32), nullable=False),
            sa.Column("account", sa.Text(), nullable=False),
            sa.Column("department", sa.Text(), nullable=False),
            sa.Column("base_url", sa.Text(), nullable=False),
            sa.Column("created_at", sa.String(length=40), nullable=False),
            sa.Column("token_expires", sa.String(length=40), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )

    if _absent("store_holds"):
        op.create_table(
            "store_holds",
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("set_at", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("bundle_id"),
        )

    if _absent("tombstones"):
        op.create_table(
            "tombstones",
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("batch_id", sa.String(length=40), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("record_class", sa.String(length=16), nullable=False),
            sa.Column("schedule_items_json", sa.Text(), nullable=False),
            sa.Column("record_count", sa.Integer(), nullable=False),
            sa.Column("first_posted_at", sa.String(length=40), nullable=True),
            sa.Column("last_posted_at", sa.String(length=40), nullable=True),
            sa.Column("tagmanifest_sha256", sa.String(length=64), nullable=False),
            sa.Column("files_json", sa.Text(), nullable=False),
            sa.Column("approvals_json", sa.Text(), nullable=False),
            sa.Column("executed_at", sa.String(length=40), nullable=False),
            sa.Column("executed_by", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("bundle_id"),
        )

    if _absent("unparseable"):
        op.create_table(
            "unparseable",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("endpoint", sa.Text(), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("warc_file", sa.String(length=256), nullable=True),
            sa.Column("warc_offset", sa.Integer(), nullable=True),
            sa.Column("warc_length", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_unparseable_site_id"), "unparseable", ["site_id"], unique=False)

    if _absent("worm_checks"):
        op.create_table(
            "worm_checks",
            sa.Column("endpoint", sa.String(length=255), nullable=False),
            sa.Column("bucket", sa.String(length=255), nullable=False),
            sa.Column("checked_at", sa.String(length=40), nullable=False),
            sa.Column("unsafe", sa.Boolean(), nullable=False),
            sa.Column("overridden", sa.Boolean(), nullable=False),
            sa.Column("refused", sa.Boolean(), nullable=False),
            sa.Column("result_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("endpoint", "bucket", name="pk_worm_checks"),
        )

    if _absent("bundles"):
        op.create_table(
            "bundles",
            sa.Column("id", sa.String(length=128), nullable=False),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("record_class", sa.String(length=16), nullable=False),
            sa.Column("storage", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.String(length=40), nullable=False),
            sa.Column("sealed_at", sa.String(length=40), nullable=False),
            sa.Column("cataloged_at", sa.String(length=40), nullable=False),
            sa.Column("tagmanifest_sha256", sa.String(length=64), nullable=False),
            sa.Column("size_bytes", sa.Integer(), nullable=False),
            sa.Column("file_count", sa.Integer(), nullable=False),
            sa.Column("record_count", sa.Integer(), nullable=False),
            sa.Column("first_posted_at", sa.String(length=40), nullable=True),
            sa.Column("last_posted_at", sa.String(length=40), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("eligible_on", sa.String(length=10), nullable=True),
            sa.Column("last_verified_at", sa.String(length=40), nullable=True),
            sa.Column("last_verify_ok", sa.Boolean(), nullable=True),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["sites.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_bundles_run_id"), "bundles", ["run_id"], unique=False)
        op.create_index(op.f("ix_bundles_site_id"), "bundles", ["site_id"], unique=False)

    if _absent("followers"):
        op.create_table(
            "followers",
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("platform_id", sa.String(length=256), nullable=False),
            sa.Column("handle", sa.Text(), nullable=True),
            sa.Column("display_name", sa.Text(), nullable=True),
            sa.Column("url", sa.Text(), nullable=True),
            sa.Column("first_seen_at", sa.String(length=40), nullable=False),
            sa.Column("last_seen_at", sa.String(length=40), nullable=False),
            sa.Column("last_seen_run", sa.String(length=40), nullable=False),
            sa.Column("unfollowed_at", sa.String(length=40), nullable=True),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["sites.id"],
            ),
            sa.PrimaryKeyConstraint("site_id", "platform_id"),
        )

    if _absent("items"):
        op.create_table(
            "items",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("platform_id", sa.String(length=256), nullable=False),
            sa.Column("record_class", sa.String(length=16), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("parent_id", sa.String(length=256), nullable=True),
            sa.Column("root_id", sa.String(length=256), nullable=True),
            sa.Column("author_id", sa.String(length=256), nullable=True),
            sa.Column("author_handle", sa.Text(), nullable=True),
            sa.Column("author_name", sa.Text(), nullable=True),
            sa.Column("by_owner", sa.Boolean(), nullable=False),
            sa.Column("permalink", sa.Text(), nullable=True),
            sa.Column("posted_at", sa.String(length=40), nullable=True),
            sa.Column("first_captured_at", sa.String(length=40), nullable=False),
            sa.Column("last_seen_at", sa.String(length=40), nullable=False),
            sa.Column("last_seen_run", sa.String(length=40), nullable=False),
            sa.Column("disappeared_at", sa.String(length=40), nullable=True),
            sa.Column("removal_state", sa.String(length=24), nullable=True),
            sa.Column("current_version", sa.Integer(), nullable=False),
            sa.Column("current_hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint(
                "site_id", "record_class", "platform_id", name="uq_items_site_platform_id"
            ),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["sites.id"],
            ),
        )
        op.create_index(op.f("ix_items_author"), "items", ["author_handle"], unique=False)
        op.create_index(op.f("ix_items_posted_at"), "items", ["posted_at"], unique=False)
        op.create_index(op.f("ix_items_root"), "items", ["site_id", "root_id"], unique=False)

    if _absent("runs"):
        op.create_table(
            "runs",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("started_at", sa.String(length=40), nullable=False),
            sa.Column("finished_at", sa.String(length=40), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("full_sweep", sa.Boolean(), nullable=False),
            sa.Column("requests", sa.Integer(), nullable=False),
            sa.Column("counts_json", sa.Text(), nullable=False),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("error_kind", sa.String(length=64), nullable=True),
            sa.ForeignKeyConstraint(
                ["site_id"],
                ["sites.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_runs_site_id"), "runs", ["site_id"], unique=False)
        op.create_index(op.f("ix_runs_started_at"), "runs", ["started_at"], unique=False)

    if _absent("bundle_files"):
        op.create_table(
            "bundle_files",
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("relpath", sa.String(length=512), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["bundle_id"],
                ["bundles.id"],
            ),
            sa.PrimaryKeyConstraint("bundle_id", "relpath"),
        )

    if _absent("item_events"):
        op.create_table(
            "item_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("item_id", sa.Integer(), nullable=False),
            sa.Column("event", sa.String(length=24), nullable=False),
            sa.Column("at", sa.String(length=40), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=True),
            sa.Column("detail", sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(
                ["item_id"],
                ["items.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_item_events_at"), "item_events", ["at"], unique=False)
        op.create_index(op.f("ix_item_events_item_id"), "item_events", ["item_id"], unique=False)

    if _absent("item_versions"):
        op.create_table(
            "item_versions",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("item_id", sa.Integer(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("content_hash", sa.String(length=64), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("html", sa.Text(), nullable=True),
            sa.Column("media_json", sa.Text(), nullable=False),
            sa.Column("edited_at", sa.String(length=40), nullable=True),
            sa.Column("hidden", sa.Boolean(), nullable=False),
            sa.Column("extra_json", sa.Text(), nullable=False),
            sa.Column("captured_at", sa.String(length=40), nullable=False),
            sa.Column("run_id", sa.String(length=40), nullable=False),
            sa.Column("bundle_id", sa.String(length=128), nullable=False),
            sa.Column("warc_file", sa.String(length=256), nullable=False),
            sa.Column("warc_offset", sa.Integer(), nullable=False),
            sa.Column("warc_length", sa.Integer(), nullable=False),
            sa.Column("warc_record_id", sa.String(length=80), nullable=False),
            sa.Column("warc_type", sa.String(length=16), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("item_id", "version", name="uq_item_versions_item_version"),
            sa.ForeignKeyConstraint(
                ["item_id"],
                ["items.id"],
            ),
            sa.ForeignKeyConstraint(
                ["bundle_id"],
                ["bundles.id"],
            ),
        )
        op.create_index(
            op.f("ix_item_versions_bundle_id"), "item_versions", ["bundle_id"], unique=False
        )
    _full_text()


def downgrade() -> None:
    if _dialect() == "sqlite":
        op.execute("DROP TABLE IF EXISTS item_versions_fts")
    for table in reversed(_TABLES):
        op.drop_table(table)
    if _dialect() == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


# Creation order (referenced tables first); dropped in reverse.
_TABLES = (
    "audit_log",
    "batch_bundles",
    "bookmarks",
    "bundle_eligibility",
    "comment_removals",
    "confidential_bundles",
    "degradations",
    "disposal_record_copies",
    "disposal_records",
    "disposition_batches",
    "exports",
    "follower_events",
    "follower_snapshots",
    "harvest_backoff",
    "job_runs",
    "legal_holds",
    "payload_index",
    "records_requests",
    "report_deliveries",
    "revisit_refs",
    "schedule_confirmations",
    "schedule_item_confirmations",
    "sites",
    "store_holds",
    "tombstones",
    "unparseable",
    "worm_checks",
    "bundles",
    "followers",
    "items",
    "runs",
    "bundle_files",
    "item_events",
    "item_versions",
)
