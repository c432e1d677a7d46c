"""The monthly report carries the audit head, the newest checkpoint, the key fingerprint and
quarantined bundles, so a copy lives outside the server."""

from __future__ import annotations

import sqlite3

from archiver.app import open_app
from archiver.report.build import build_report_data
from archiver.report.render import render_html, render_text
from tests.integrity.conftest import Archive, forge_copy


def test_report_prints_audit_head_checkpoint_key_and_quarantine(archive: Archive) -> None:
    assert archive.cli("audit", "checkpoint").returncode == 0
    new_id, _ = forge_copy(archive, "FORGED for the report")
    archive.cli("recover")
    app = open_app(str(archive.config))
    try:
        data = build_report_data(app, "2026-11")
    finally:
        app.close()
    db = sqlite3.connect(archive.root / "catalog.sqlite")
    seq, digest = db.execute(
        "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    text = render_text(data)
    assert f"Audit log head: seq {seq} {digest}" in text
    assert "Newest sealed audit checkpoint: checkpoint 1: seq" in text
    fp = (archive.bundles.rglob("signature-key.txt").__next__()).read_text().split()[1]
    assert f"Signing key: ed25519 {fp} (current)" in text
    assert f"QUARANTINED: city/2026/{new_id}" in text.replace("\n  ", " ")
    html = render_html(data)
    assert digest in html and "Bundle QUARANTINED" in html
