"""``audit verify`` and ``audit checkpoint`` on a whole archive: the chain, the anchor and the
newest sealed checkpoint, read without writing anything first."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archiver import audit
from archiver.integrity.checkpoints import Checkpoint, check_against_checkpoint, write_checkpoint
from archiver.parts import ArchiveParts


def verify_with_checkpoint(app: ArchiveParts) -> tuple[audit.AuditReport, dict[str, Any] | None]:
    settings = app.cfg.integrity.tsa
    with app.catalog.begin() as conn:
        report = audit.verify(conn, anchor_path=app.cfg.audit_anchor)
        cp, extra = check_against_checkpoint(
            conn,
            app.storage,
            root=app.cfg.root,
            ca_file=settings.ca_file if settings else None,
        )
    if extra:
        problems = tuple(sorted((*report.problems, *extra), key=lambda p: p.seq))
        report = replace(report, ok=False, problems=problems, first_bad_seq=problems[0].seq)
    info = (
        None if cp is None else {"n": cp.n, "seq": cp.seq, "entry_hash": cp.entry_hash, "at": cp.at}
    )
    return report, info


def seal_checkpoint(app: ArchiveParts) -> Checkpoint:
    """Only a log that verifies is checkpointed: sealing a tampered head would bless it."""
    report, _ = verify_with_checkpoint(app)
    report.raise_if_bad()
    with app.catalog.begin() as conn:
        return write_checkpoint(conn, app.storage, root=app.cfg.root, tsa=app.cfg.integrity.tsa)
