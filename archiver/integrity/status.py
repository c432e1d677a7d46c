"""``archiver status``: quarantined bundles and waiting timestamps, under NEEDS ATTENTION.

Reads the catalog only (what the last harvest, recovery or verify found); it does not
re-check seals, so it stays fast and never writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from archiver.integrity.keys import TrustStore, trusted_keys_path
from archiver.integrity.tables import bundle_seals, quarantined_bundles

if TYPE_CHECKING:
    from archiver.catalog.store import Catalog


def quarantined(catalog: Catalog) -> list[dict[str, str]]:
    """Bundles held back from the catalog. Defined here, not in ``archiver.integrity.admit``
    (which re-exports it), because admission loads the seal checks, cryptography and the
    timestamp client, which ``archiver status`` does not need (issue 14 part 2)."""
    with catalog.begin() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(quarantined_bundles).order_by(quarantined_bundles.c.key))
        ]


def status_section(app: Any) -> dict[str, Any]:
    held = quarantined(app.catalog)
    with app.catalog.begin() as conn:
        states = dict(
            conn.execute(
                select(bundle_seals.c.state, func.count()).group_by(bundle_seals.c.state)
            ).all()
        )
        pending = (
            conn.execute(
                select(func.count()).where(bundle_seals.c.timestamp_state == "pending")
            ).scalar()
            or 0
        )
    trust = TrustStore.load(trusted_keys_path(app.cfg.root))
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
