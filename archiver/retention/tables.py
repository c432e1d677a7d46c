"""Catalog tables for retention workflow state: confirmations, holds, disposition, removals.

None of this can be rebuilt from sealed bundles (it is what people decided about them), so it
lives only in the catalog and every change to it is paired with an audit-log entry in the
same transaction. Rows are never deleted: a released hold or an executed batch keeps its row,
because "who released what, when and why" is itself a record.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from archiver.db import metadata

__all__ = [
    "batch_bundles",
    "bundle_eligibility",
    "comment_removals",
    "confidential_bundles",
    "disposal_record_copies",
    "disposal_records",
    "disposition_batches",
    "legal_holds",
    "schedule_confirmations",
    "schedule_item_confirmations",
    "store_holds",
    "tombstones",
    "worm_checks",
]

#: The records manager's confirmation that an unverified schedule item may be used anyway.
#: Superseded by ``schedule_item_confirmations`` (which keeps the item's digest); kept so old
#: catalogs still open and ``schedules check`` can say who confirmed what before.
schedule_confirmations = Table(
    "schedule_confirmations",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("confirmed_by", Text, nullable=False),
    Column("confirmed_at", String(40), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

#: Confirmations with the digest of the item's content as it was confirmed (number, title,
#: retention, trigger, disposal, source; ``archiver.retention.confirmations.item_digest``) and
#: that content as JSON, so a later edit of the item can be named. One row per confirmation,
#: never deleted; the newest row per ref counts, and only while its digest matches the item.
#: A table of its own because ``create_all`` never adds columns to an existing table; rows of
#: the older ``schedule_confirmations`` (no digest) count as not confirmed (confirm again).
schedule_item_confirmations = Table(
    "schedule_item_confirmations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    Column("content_json", Text, nullable=False),
    Column("confirmed_by", Text, nullable=False),
    Column("confirmed_at", String(40), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

#: Per-bundle eligibility as last computed, with the schedule items behind the date; the date
#: also goes to ``bundles.eligible_on``. ``worm_until`` is the retain-until date we asked the
#: store for, so we only ever extend it.
bundle_eligibility = Table(
    "bundle_eligibility",
    metadata,
    Column("bundle_id", String(128), primary_key=True),
    Column("own_eligible_on", String(10)),
    Column("eligible_on", String(10)),
    Column("refs_json", Text, nullable=False, default="[]"),
    Column("reason", Text, nullable=False, default=""),
    Column("oldest_record_at", String(40)),
    Column("computed_at", String(40), nullable=False),
    Column("worm_until", String(10)),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("matter", Text, nullable=False),
    Column("site_id", String(64)),
    Column("since", String(10)),
    Column("until", String(10)),
    Column("query", Text),
    Column("author", Text),
    Column("placed_by", Text, nullable=False),
    Column("placed_at", String(40), nullable=False),
    Column("status", String(16), nullable=False, default="active"),  # active | released
    Column("released_by", Text),
    Column("released_at", String(40)),
    Column("release_reason", Text),
)

#: Bundles on which we set a store-level legal hold, so a release knows what to clear.
store_holds = Table(
    "store_holds",
    metadata,
    Column("bundle_id", String(128), primary_key=True),
    Column("key", Text, nullable=False),
    Column("set_at", String(40), nullable=False),
)

disposition_batches = Table(
    "disposition_batches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("as_of", String(10), nullable=False),
    Column("path", String(8), nullable=False),  # RM88 | RM60
    # proposed | approved | executing | executed
    Column("status", String(16), nullable=False),
    Column("proposed_by", Text, nullable=False),
    Column("proposed_at", String(40), nullable=False),
    Column("approved_by", Text),
    Column("approved_title", Text),
    Column("approved_at", String(40)),
    Column("authority", Text),
    Column("rm60_approved", String(10)),
    Column("offer_to", Text),
    Column("offer_notified", String(10)),
    Column("executed_by", Text),
    Column("executed_at", String(40)),
)

batch_bundles = Table(
    "batch_bundles",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("bundle_id", String(128), primary_key=True),
    Column("key", Text, nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("record_class", String(16), nullable=False),
    Column("refs_json", Text, nullable=False),
    Column("eligible_on", String(10), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("first_posted_at", String(40)),
    Column("last_posted_at", String(40)),
    Column("oldest_record_at", String(40)),
    # pending | executing (intent written, delete may have happened) | disposed | skipped
    Column("state", String(16), nullable=False, default="pending"),
    Column("note", Text),
)

#: Bundles of a batch the City marked confidential: never offered to the MCA 2-6-1205
#: registry. A table of its own so who decided, when and why is kept with the mark.
confidential_bundles = Table(
    "confidential_bundles",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("bundle_id", String(128), primary_key=True),
    Column("marked_by", Text, nullable=False),
    Column("marked_at", String(40), nullable=False),
    Column("reason", Text, nullable=False),
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("bundle_id", String(128), primary_key=True),
    Column("batch_id", String(40), nullable=False),
    Column("key", Text, nullable=False),
    Column("site_id", String(64), nullable=False),
    Column("record_class", String(16), nullable=False),
    Column("schedule_items_json", Text, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("first_posted_at", String(40)),
    Column("last_posted_at", String(40)),
    Column("tagmanifest_sha256", String(64), nullable=False),
    Column("files_json", Text, nullable=False),
    Column("approvals_json", Text, nullable=False),
    Column("executed_at", String(40), nullable=False),
    Column("executed_by", Text, nullable=False),
)

#: RM88 / RM60 documents; never disposed (kept at least 30 years after destruction).
disposal_records = Table(
    "disposal_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(40), nullable=False),
    Column("form", String(8), nullable=False),  # RM88 | RM60
    Column("html_path", Text, nullable=False),
    Column("pdf_path", Text, nullable=False),
    Column("html_sha256", String(64), nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("keep_until", String(10)),
    UniqueConstraint("batch_id", "form", name="uq_disposal_records_batch_form"),
)

#: Where each disposal record file (html, pdf) was stored by the configured storage backend
#: (``Storage.put_document``), with the hash it was verified against and the store-level
#: retain-until date. A table of its own (not columns of ``disposal_records``) because
#: ``create_all`` adds missing tables to an existing catalog but never missing columns. A
#: record whose file has no row here (or a row with an older hash) is stored on the next run.
disposal_record_copies = Table(
    "disposal_record_copies",
    metadata,
    Column("batch_id", String(40), nullable=False),
    Column("form", String(8), nullable=False),  # RM88 | RM60
    Column("kind", String(8), nullable=False),  # html | pdf
    Column("storage", String(16), nullable=False),  # backend name: local | s3
    Column("storage_key", Text, nullable=False),  # disposal-records/<batch>-<form>.<kind>
    Column("sha256", String(64), nullable=False),
    Column("retain_until", String(10)),
    Column("stored_at", String(40), nullable=False),
    PrimaryKeyConstraint("batch_id", "form", "kind", name="pk_disposal_record_copies"),
)

comment_removals = Table(
    "comment_removals",
    metadata,
    Column("item_id", Integer, primary_key=True),
    Column("site_id", String(64), nullable=False),
    Column("platform_id", String(256), nullable=False),
    Column("category", Integer, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("decision", String(16)),  # None | approve | reject
    Column("attorney", Text),
    Column("reviewed_at", String(40)),
    Column("review_note", Text),
    Column("reviewed", Boolean, nullable=False, default=False),
)

#: The last start-up WORM self-check per S3 endpoint and bucket (``archiver.catalog.worm_state``),
#: so ``archiver status`` and the monthly report can say loudly when the store is not WORM or
#: the check was overridden. One row per store, replaced by each check; the history is in logs.
worm_checks = Table(
    "worm_checks",
    metadata,
    Column("endpoint", String(255), nullable=False),
    Column("bucket", String(255), nullable=False),
    Column("checked_at", String(40), nullable=False),
    Column("unsafe", Boolean, nullable=False),
    Column("overridden", Boolean, nullable=False),
    Column("refused", Boolean, nullable=False),
    Column("result_json", Text, nullable=False),
    PrimaryKeyConstraint("endpoint", "bucket", name="pk_worm_checks"),
)
