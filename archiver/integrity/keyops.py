"""Key life cycle and deferred timestamps, on a whole archive (config + catalog + storage).

Every change to the trusted keys is stored as a document with the bundles (WORM on S3) and
audited, so replacing ``trusted-keys.json`` on the server to make a forgery "trusted" leaves
a stored history that disagrees with it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from archiver import audit
from archiver.catalog import schema as s
from archiver.errors import StorageError
from archiver.integrity.keys import SigningKeyError as SigningKeyError
from archiver.integrity.keys import (
    TrustStore,
    init_keys,
    now_iso,
    rotate_keys,
    trusted_keys_path,
)
from archiver.integrity.sealer import late_token_name
from archiver.integrity.tables import bundle_seals
from archiver.integrity.tsa import TimestampError, request_token, token_info
from archiver.parts import ArchiveParts


def _stored_tag_sha(app: ArchiveParts, key: str) -> str | None:
    try:
        with app.storage.open(key, "tagmanifest-sha256.txt") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except (StorageError, OSError):
        return None


def enable_signing(app: ArchiveParts) -> tuple[TrustStore, int]:
    """``keys init``: the first key, and the inventory of bundles that may stay unsigned.

    Only bundles the catalog already holds, whose stored tagmanifest still has the digest
    the catalog took at sealing, enter the inventory; returns how many were left out.
    """
    with app.catalog.begin() as conn:
        rows = conn.execute(
            select(s.bundles.c.id, s.bundles.c.key, s.bundles.c.tagmanifest_sha256).where(
                s.bundles.c.status == "sealed"
            )
        ).all()
    legacy: dict[str, str] = {}
    left_out = 0
    for r in rows:
        stored = _stored_tag_sha(app, r.key)
        if stored is not None and stored == r.tagmanifest_sha256:
            legacy[r.id] = stored
        else:
            left_out += 1
    cataloged = {r.key for r in rows}
    left_out += sum(1 for k in app.storage.list_bundles() if k not in cataloged)
    store = init_keys(app.cfg.root, legacy)
    _publish(app, store)
    with app.catalog.begin() as conn:
        audit.append(
            conn,
            action="keys.init",
            subject=store.current.fingerprint,
            details={
                "fingerprint": store.current.fingerprint,
                "legacy_unsigned_bundles": len(legacy),
                "left_out": left_out,
            },
            anchor_path=app.cfg.audit_anchor,
        )
    return store, left_out


def rotate(app: ArchiveParts) -> TrustStore:
    store = require_trust(app)
    old = store.current.fingerprint
    new = rotate_keys(app.cfg.root, store)
    _publish(app, store)
    with app.catalog.begin() as conn:
        audit.append(
            conn,
            action="keys.rotate",
            subject=new.fingerprint,
            details={"old": old, "new": new.fingerprint, "at": new.valid_from},
            anchor_path=app.cfg.audit_anchor,
        )
    return store


def require_trust(app: ArchiveParts) -> TrustStore:
    store = TrustStore.load(trusted_keys_path(app.cfg.root))
    if store is None:
        raise SigningKeyError(
            "signing is not enabled for this archive", hint="run `archiver keys init` first"
        )
    return store


def _publish(app: ArchiveParts, store: TrustStore) -> str:
    """A copy of the trusted-keys file beside the bundles, named by its content digest."""
    body = (json.dumps(store.as_dict(), indent=2) + "\n").encode()
    digest = hashlib.sha256(body).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trusted-keys.json"
        path.write_bytes(body)
        return app.storage.put_document(
            path, f"trusted-keys-{now_iso()[:10]}-{digest}.json", retain_until=None
        )


@dataclass
class StampResult:
    stamped: int = 0
    still_pending: int = 0
    errors: list[str] | None = None


def pending_count(app: ArchiveParts) -> int:
    with app.catalog.begin() as conn:
        return len(
            conn.execute(
                select(bundle_seals.c.bundle_id).where(bundle_seals.c.timestamp_state == "pending")
            ).all()
        )


def retry_timestamps(app: ArchiveParts) -> StampResult:
    """Stamp every signed bundle whose TSA request failed at sealing."""
    result = StampResult(errors=[])
    tsa = app.cfg.integrity.tsa
    with app.catalog.begin() as conn:
        rows = conn.execute(
            select(s.bundles.c.id, s.bundles.c.key)
            .join(bundle_seals, bundle_seals.c.bundle_id == s.bundles.c.id)
            .where(bundle_seals.c.timestamp_state == "pending")
        ).all()
    if tsa is None:
        result.still_pending = len(rows)
        return result
    stamped: list[str] = []
    for r in rows:
        try:
            with app.storage.open(r.key, "tagmanifest-sha256.txt") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            token = request_token(tsa, digest)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "t.tsr"
                path.write_bytes(token)
                app.storage.put_document(path, late_token_name(r.id), retain_until=None)
        except (TimestampError, StorageError, OSError) as exc:
            result.still_pending += 1
            assert result.errors is not None
            result.errors.append(f"{r.id}: {exc}")
            continue
        when, _ = token_info(token)
        with app.catalog.begin() as conn:
            conn.execute(
                update(bundle_seals)
                .where(bundle_seals.c.bundle_id == r.id)
                .values(timestamp_state="stamped", timestamp_time=when)
            )
        stamped.append(r.id)
        result.stamped += 1
    if stamped:
        with app.catalog.begin() as conn:
            audit.append(
                conn,
                action="timestamp",
                subject="deferred",
                details={"bundles": stamped},
                anchor_path=app.cfg.audit_anchor,
            )
    return result
