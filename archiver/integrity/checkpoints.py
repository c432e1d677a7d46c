"""Audit-log checkpoints: the chain head, signed and timestamped, kept with the bundles.

The hash chain proves the entries agree with each other; it cannot prove none were cut off
the end, or that the whole table was not deleted and restarted. A checkpoint is a small
document ``audit-checkpoint-<n>.json`` (n = 1, 2, 3 …) stored with ``put_document`` — WORM on
S3, so nobody with server access can remove or replace it — holding::

    {"body": "<canonical JSON: n, seq, entry_hash, at, previous>", "signature": "<base64
     Ed25519 over body>", "key": "<fingerprint>", "timestamp": "<base64 RFC 3161 token
     over sha256(body)> | null"}

``previous`` is the SHA-256 of the previous checkpoint's body, so the checkpoints form their
own chain. ``audit verify`` finds the newest one (checkpoints are numbered, so a probe finds
the last without listing) and requires the log to still hold that entry with that hash. The
head is also printed in every monthly report, so a copy lives in people's mailboxes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from archiver import audit
from archiver.errors import StorageError
from archiver.integrity.documents import read_document
from archiver.integrity.keys import (
    TrustStore,
    fingerprint,
    load_private_key,
    now_iso,
    trusted_keys_path,
)
from archiver.integrity.tsa import TimestampError, request_token, verify_token
from archiver.settings.integrity import TsaSettings
from archiver.storage.base import Storage


def checkpoint_name(n: int) -> str:
    return f"audit-checkpoint-{n:06d}.json"


@dataclass(frozen=True)
class Checkpoint:
    n: int
    seq: int
    entry_hash: str
    at: str
    previous: str
    body: str
    signature: bytes | None
    key: str | None
    timestamp: bytes | None

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()


def _parse(raw: bytes) -> Checkpoint:
    doc = json.loads(raw)
    body = str(doc["body"])
    b = json.loads(body)
    return Checkpoint(
        n=int(b["n"]),
        seq=int(b["seq"]),
        entry_hash=str(b["entry_hash"]),
        at=str(b["at"]),
        previous=str(b["previous"]),
        body=body,
        signature=base64.b64decode(doc["signature"]) if doc.get("signature") else None,
        key=doc.get("key"),
        timestamp=base64.b64decode(doc["timestamp"]) if doc.get("timestamp") else None,
    )


def read_checkpoint(storage: Storage, n: int) -> Checkpoint | None:
    raw = read_document(storage, checkpoint_name(n))
    return None if raw is None else _parse(raw)


def latest_checkpoint(storage: Storage) -> Checkpoint | None:
    """Exponential then binary probe for the highest stored number (no listing needed)."""
    if read_document(storage, checkpoint_name(1)) is None:
        return None
    lo, hi = 1, 2
    while read_document(storage, checkpoint_name(hi)) is not None:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if read_document(storage, checkpoint_name(mid)) is not None:
            lo = mid
        else:
            hi = mid
    return read_checkpoint(storage, lo)


def write_checkpoint(
    conn: Connection, storage: Storage, *, root: Path, tsa: TsaSettings | None
) -> Checkpoint:
    """Seal the current head. Signed when signing is enabled; stamped when a TSA answers."""
    seq, digest = audit.head(conn)
    last = latest_checkpoint(storage)
    if last is not None and last.seq == seq and last.entry_hash == digest:
        return last
    n = 1 if last is None else last.n + 1
    body = json.dumps(
        {
            "format": "muni-archiver audit checkpoint 1",
            "n": n,
            "seq": seq,
            "entry_hash": digest,
            "at": now_iso(),
            "previous": last.body_sha256 if last is not None else "0" * 64,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    doc: dict[str, Any] = {"body": body, "signature": None, "key": None, "timestamp": None}
    if TrustStore.load(trusted_keys_path(root)) is not None:
        key = load_private_key(root)
        doc["signature"] = base64.b64encode(key.sign(body.encode("utf-8"))).decode("ascii")
        doc["key"] = fingerprint(key.public_key())
    if tsa is not None:
        try:
            token = request_token(tsa, hashlib.sha256(body.encode("utf-8")).hexdigest())
            doc["timestamp"] = base64.b64encode(token).decode("ascii")
        except TimestampError:
            doc["timestamp"] = None  # the signed head is still worth keeping
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.json"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        storage.put_document(path, checkpoint_name(n), retain_until=None)
    made = read_checkpoint(storage, n)
    if made is None:
        raise StorageError(f"audit checkpoint {n} was stored but cannot be read back")
    return made


def check_against_checkpoint(
    conn: Connection, storage: Storage, *, root: Path, ca_file: Path | None
) -> tuple[Checkpoint | None, list[audit.AuditProblem]]:
    """The log must still hold the newest checkpoint's entry, with its hash."""
    try:
        cp = latest_checkpoint(storage)
    except (StorageError, ValueError, KeyError) as exc:
        return None, [audit.AuditProblem(0, "checkpoint", f"cannot read audit checkpoints: {exc}")]
    if cp is None:
        return None, []
    problems: list[audit.AuditProblem] = []
    trust = TrustStore.load(trusted_keys_path(root))
    if cp.signature is not None:
        tk = trust.key(cp.key or "") if trust is not None else None
        if tk is None or not tk.verify(cp.signature, cp.body.encode("utf-8")):
            problems.append(
                audit.AuditProblem(
                    cp.seq,
                    "checkpoint",
                    f"audit checkpoint {cp.n} is not signed by a trusted key: replaced?",
                )
            )
    if cp.timestamp is not None and ca_file is not None:
        res = verify_token(
            cp.timestamp, hashlib.sha256(cp.body.encode("utf-8")).hexdigest(), ca_file
        )
        if not res.ok:
            problems.append(audit.AuditProblem(cp.seq, "checkpoint", res.reason))
    head_seq, _ = audit.head(conn)
    count = int(conn.execute(select(func.count()).select_from(audit.audit_log)).scalar() or 0)
    if head_seq < cp.seq or count < cp.seq:
        problems.append(
            audit.AuditProblem(
                head_seq + 1,
                "truncated",
                f"audit checkpoint {cp.n} (sealed {cp.at[:19]}) recorded {cp.seq} entries with head "
                f"{cp.entry_hash[:16]}…; the log now has {count} (head seq {head_seq}): "
                "entries were deleted" + (" — the whole log was wiped" if not count else ""),
            )
        )
        return cp, problems
    stored = conn.execute(
        select(audit.audit_log.c.entry_hash).where(audit.audit_log.c.seq == cp.seq)
    ).scalar_one_or_none()
    if stored != cp.entry_hash:
        problems.append(
            audit.AuditProblem(
                cp.seq,
                "checkpoint",
                f"entry seq {cp.seq} is not the one audit checkpoint {cp.n} sealed "
                f"({cp.entry_hash[:16]}…): the log up to there was rewritten",
            )
        )
    return cp, problems
