"""``archiver status``: quarantined bundles and waiting timestamps, under NEEDS ATTENTION.

Reads the catalog only (what the last harvest, recovery or verify found); it does not
re-check seals, so it stays fast and never writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archiver.catalog.sql import Reader, SAReader
from archiver.integrity.keys import TrustStore, trusted_keys_path

if TYPE_CHECKING:
    from archiver.catalog.store import Catalog
    from archiver.config import Config

QUARANTINED = (
    'SELECT "key", bundle_id, reason, tagmanifest_sha256, found_at, found_by '
    'FROM quarantined_bundles ORDER BY "key"'
)
SEAL_STATES = "SELECT state, count(*) AS n FROM bundle_seals GROUP BY state"
TIMESTAMPS_PENDING = "SELECT count(*) FROM bundle_seals WHERE timestamp_state = 'pending'"


def quarantined_rows(db: Reader) -> list[dict[str, str]]:
    """Bundles held back from the catalog, by key."""
    return db.rows(QUARANTINED)


def quarantined(catalog: Catalog) -> list[dict[str, str]]:
    """Bundles held back from the catalog. Defined here, not in ``archiver.integrity.admit``
    (which re-exports it), because admission loads the seal checks, cryptography and the
    timestamp client, which ``archiver status`` does not need (issue 14 part 2)."""
    with catalog.begin() as conn:
        return quarantined_rows(SAReader(conn))


def status_section(cfg: Config, db: Reader) -> dict[str, Any]:
    held = quarantined_rows(db)
    states = {r["state"]: int(r["n"]) for r in db.rows(SEAL_STATES)}
    pending = int(db.scalar(TIMESTAMPS_PENDING) or 0)
    trust = TrustStore.load(trusted_keys_path(cfg.root))
    notes = []
    if held:
        notes.append(
            f"NEEDS ATTENTION: {len(held)} QUARANTINED bundle(s), not cataloged and never exported:"
        )
        notes += [f"  {q['key']}: {q['reason']}" for q in held]
    if pending:
        notes.append(
            f"NEEDS ATTENTION: {pending} bundle(s) wait for a trusted timestamp "
            "(run `archiver keys timestamp`)"
        )
    if trust is None:
        notes.append("signing is not enabled: new bundles are unsigned (`archiver keys init`)")
    return {
        "integrity": {
            "signing_key": trust.current.fingerprint if trust is not None else None,
            "seals": states,
            "timestamps_pending": pending,
            "quarantined": held,
        },
        "notes": notes,
    }
