"""Authenticity pass of ``archiver verify``: seals, timestamps, stored digests, quarantine.

Fixity (``archiver.verify``) re-hashes bytes against manifests; this pass asks whether each
bundle is one the archiver sealed (signature by a key trusted at its seal time, or listed
in the legacy inventory), whether its RFC 3161 token stamps exactly its tagmanifest, and
whether the catalog's record of the tagmanifest digest is still the stored one. Uncataloged
bundles that fail are quarantined here as in recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.catalog.store import Catalog
from archiver.errors import StorageError
from archiver.integrity.admit import (
    is_quarantined,
    judge_token,
    load_trust,
    quarantine,
    quarantined,
    record_seal,
    storage_reader,
)
from archiver.integrity.documents import read_document
from archiver.integrity.seal import TIMESTAMP_FILE, SealCheck, check_seal
from archiver.integrity.sealer import late_token_name
from archiver.storage.base import Storage
from archiver.verify import Problem


@dataclass
class AuthReport:
    problems: list[Problem] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    timestamps: dict[str, int] = field(default_factory=dict)
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    def bump(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "seals": self.states,
            "timestamps": self.timestamps,
            "quarantined": self.quarantined,
        }


def check_timestamp(
    storage: Storage, key: str, check: SealCheck, ca_file: Path | None
) -> tuple[str, Problem | None]:
    """(state, problem): stamped | late_stamped | none | unchecked."""
    bid = check.bundle_id
    read = storage_reader(storage, key)
    token = read(TIMESTAMP_FILE)
    late = False
    if token is None:
        token = read_document(storage, late_token_name(bid))
        late = token is not None
    if token is None:
        return "none", None
    if ca_file is None:
        return "unchecked", None
    result = judge_token(token, check, ca_file, late=late)
    if not result.ok:
        return "bad", Problem(bid, key, TIMESTAMP_FILE, "timestamp", result.reason)
    return ("late_stamped" if late else "stamped"), None


def authenticate(
    catalog: Catalog,
    storage: Storage,
    *,
    root: Path,
    ca_file: Path | None,
    bundles: list[dict[str, Any]],
    scan_storage: bool,
    anchor_path: Path | None,
) -> AuthReport:
    """Check the given cataloged bundles (and, with ``scan_storage``, every stored one)."""
    trust = load_trust(root)
    report = AuthReport()
    for b in bundles:
        bid, key = b["id"], b["key"]
        try:
            check = check_seal(storage_reader(storage, key), key, trust)
        except (StorageError, OSError) as exc:
            report.problems.append(Problem(bid, key, "", "unreadable", str(exc)))
            continue
        report.bump(report.states, check.state)
        if not check.admissible:
            report.problems.append(Problem(bid, key, "signature.ed25519", "seal", check.reason))
            with catalog.begin() as conn:
                quarantine(conn, check, key=key, found_by="verify", anchor_path=anchor_path)
            continue
        if check.tagmanifest_sha256 != b["tagmanifest_sha256"]:
            report.problems.append(
                Problem(
                    bid,
                    key,
                    "tagmanifest-sha256.txt",
                    "catalog_digest",
                    f"the catalog records tagmanifest sha256 {b['tagmanifest_sha256'][:16]}…, "
                    f"the sealed tagmanifest is {(check.tagmanifest_sha256 or '')[:16]}…: "
                    "the catalog's digest was changed",
                ),
            )
        state, problem = check_timestamp(storage, key, check, ca_file)
        report.bump(report.timestamps, state)
        if problem is not None:
            report.problems.append(problem)
        with catalog.begin() as conn:
            record_seal(
                conn,
                check,
                timestamp_state="stamped"
                if state in ("stamped", "late_stamped", "unchecked")
                else _pending_or_none(catalog, bid),
            )
    if scan_storage:
        known = {b["key"] for b in catalog.bundles()} | {
            b["key"] for b in catalog.bundles(status="disposed")
        }
        for key in storage.list_bundles():
            if key in known:
                continue
            with catalog.begin() as conn:
                if is_quarantined(conn, key):
                    continue
            check = check_seal(storage_reader(storage, key), key, trust)
            if not check.admissible:
                with catalog.begin() as conn:
                    quarantine(conn, check, key=key, found_by="verify", anchor_path=anchor_path)
    report.quarantined = quarantined(catalog)
    named = {p.key for p in report.problems if p.kind == "seal"}
    for q in report.quarantined:
        if q["key"] in named:
            continue
        report.problems.append(
            Problem(q["bundle_id"], q["key"], "", "quarantined", f"QUARANTINED: {q['reason']}")
        )
    return report


def _pending_or_none(catalog: Catalog, bundle_id: str) -> str:
    from sqlalchemy import select

    from archiver.integrity.tables import bundle_seals

    with catalog.begin() as conn:
        state = conn.execute(
            select(bundle_seals.c.timestamp_state).where(bundle_seals.c.bundle_id == bundle_id)
        ).scalar()
    return "pending" if state == "pending" else "none"
