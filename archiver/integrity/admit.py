"""The gate between storage and the catalog: only a bundle whose seal checks out is cataloged.

Recovery, harvest and verify all ask :func:`check_stored`/:func:`check_folder`; a bundle that
fails is written to ``quarantined_bundles`` (with an audit entry) and never reaches
``bundles``, search or exports. A quarantined bundle stays in storage untouched: it is
evidence, and deleting it is a records decision for a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, select

from archiver.bundle import read_manifest, sha256_file
from archiver.catalog.store import now_iso
from archiver.errors import StorageError
from archiver.integrity.keys import TrustStore, trusted_keys_path
from archiver.integrity.seal import TIMESTAMP_FILE, Reader, SealCheck, check_seal
from archiver.integrity.status import quarantined as quarantined
from archiver.integrity.tables import bundle_seals, quarantined_bundles
from archiver.integrity.tsa import TokenCheck, verify_token
from archiver.storage.base import Storage


def load_trust(root: Path) -> TrustStore | None:
    return TrustStore.load(trusted_keys_path(root))


def folder_reader(folder: Path) -> Reader:
    def read(name: str) -> bytes | None:
        p = folder / name
        return p.read_bytes() if p.is_file() else None

    return read


def storage_reader(storage: Storage, key: str) -> Reader:
    names: set[str] | None = None

    def read(name: str) -> bytes | None:
        nonlocal names
        if names is None:
            try:
                names = {f.relpath for f in storage.list_files(key)}
            except StorageError:
                names = set()
        if name not in names:
            return None
        with storage.open(key, name) as fh:
            return fh.read()

    return read


def payload_problems(folder: Path) -> list[str]:
    """Every file the manifests list must be there with that digest (before cataloging it)."""
    out: list[str] = []
    for manifest in ("tagmanifest-sha256.txt", "manifest-sha256.txt"):
        path = folder / manifest
        if not path.is_file():
            out.append(f"{manifest} is missing")
            continue
        for rel, digest in read_manifest(path.read_text("utf-8", "replace")).items():
            f = folder / rel
            if not f.is_file():
                out.append(f"{rel} is missing")
            elif sha256_file(f) != digest:
                out.append(f"{rel} does not match its manifest")
    return out


#: A token stored in the bundle is requested seconds after sealing; far later means the
#: stated seal time is not when the bundle was sealed (back-dating).
IN_BUNDLE_TOKEN_SLACK = timedelta(hours=1)


def judge_token(token: bytes, check: SealCheck, ca_file: Path, *, late: bool) -> TokenCheck:
    """The token must stamp exactly this tagmanifest, chain to the CA, and fit the seal time."""
    assert check.tagmanifest_sha256 is not None
    result = verify_token(token, check.tagmanifest_sha256, ca_file)
    if not result.ok or not (result.time and check.sealed_at):
        return result
    stamped = datetime.fromisoformat(result.time)
    sealed = datetime.fromisoformat(check.sealed_at)
    if stamped < sealed - timedelta(minutes=5):
        return TokenCheck(
            False,
            f"token time {result.time} is before the stated seal time {check.sealed_at}",
            result.time,
            result.imprint,
        )
    if not late and stamped - sealed > IN_BUNDLE_TOKEN_SLACK:
        return TokenCheck(
            False,
            f"BACK-DATED: bundle says sealed {check.sealed_at} but its timestamp token proves "
            f"only {result.time}",
            result.time,
            result.imprint,
        )
    return result


def check_folder(
    folder: Path, key: str, trust: TrustStore | None, ca_file: Path | None = None
) -> SealCheck:
    """Seal, timestamp (when a TSA CA is configured) and fixity of every payload file: what
    recovery runs before cataloging."""
    check = check_seal(folder_reader(folder), key, trust)
    if not check.admissible:
        return check
    token = folder / TIMESTAMP_FILE
    if ca_file is not None and token.is_file():
        verdict = judge_token(token.read_bytes(), check, ca_file, late=False)
        if not verdict.ok:
            return SealCheck(
                "quarantine",
                verdict.reason,
                check.bundle_id,
                check.fingerprint,
                check.sealed_at,
                check.tagmanifest_sha256,
            )
    bad = payload_problems(folder)
    if bad:
        return SealCheck(
            "quarantine",
            f"content differs from its sealed manifests: {'; '.join(bad[:3])}",
            check.bundle_id,
            check.fingerprint,
            check.sealed_at,
            check.tagmanifest_sha256,
        )
    return check


def is_quarantined(conn: Connection, key: str) -> bool:
    return (
        conn.execute(
            select(quarantined_bundles.c.key).where(quarantined_bundles.c.key == key)
        ).first()
        is not None
    )


def quarantine(
    conn: Connection, check: SealCheck, *, key: str, found_by: str, anchor_path: Path | None
) -> bool:
    """Record the bundle as quarantined (once) with an audit entry; True if newly recorded."""
    from archiver import audit

    if is_quarantined(conn, key):
        return False
    conn.execute(
        quarantined_bundles.insert().values(
            key=key,
            bundle_id=check.bundle_id,
            reason=check.reason,
            tagmanifest_sha256=check.tagmanifest_sha256,
            found_at=now_iso(),
            found_by=found_by,
        )
    )
    audit.append(
        conn,
        action="quarantine",
        subject=check.bundle_id,
        details={"key": key, "reason": check.reason, "found_by": found_by},
        anchor_path=anchor_path,
    )
    return True


def record_seal(
    conn: Connection,
    check: SealCheck,
    *,
    timestamp_state: str = "none",
    timestamp_time: str | None = None,
) -> None:
    """Keep the seal verdict with the catalog row (replaced when verify re-checks)."""
    conn.execute(bundle_seals.delete().where(bundle_seals.c.bundle_id == check.bundle_id))
    conn.execute(
        bundle_seals.insert().values(
            bundle_id=check.bundle_id,
            state=check.state,
            key_fingerprint=check.fingerprint,
            sealed_at=check.sealed_at,
            tagmanifest_sha256=check.tagmanifest_sha256 or "",
            timestamp_state=timestamp_state,
            timestamp_time=timestamp_time,
            checked_at=now_iso(),
        )
    )
