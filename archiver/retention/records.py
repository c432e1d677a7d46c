"""The disposal records (RM88 after execution, the RM60 request at proposal): HTML and PDF
under ``<archive root>/disposal-records/``, registered in ``disposal_records`` and copied into
the configured storage (``Storage.put_document``) under Object Lock until keep-until.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from archiver.bundle import sha256_file
from archiver.clock import now_iso
from archiver.errors import ArchiverError, RetentionError
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.retention import tables as t
from archiver.retention.dates import (
    DISPOSAL_LOG_RETENTION_YEARS,
    add_years,
)
from archiver.retention.eligibility import (
    RetentionSettings,
)
from archiver.retention.views import batch_detail

if TYPE_CHECKING:
    import jinja2

log = get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"


def _env() -> jinja2.Environment:
    import jinja2  # only to render a certificate: `status` reads the retention tables

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_record(
    app: ArchiveParts, settings: RetentionSettings, batch_id: str, *, form: str
) -> list[str]:
    """Write the RM88 disposal record (or RM60 request) as HTML and PDF; register it once.

    The PDF is PDF/A-2b (WeasyPrint, :mod:`archiver.pdf`), every page headed with the City,
    the form and the disposition id, and numbered "page N of M".
    """
    from archiver import pdf

    detail = batch_detail(app, batch_id)
    items = [
        settings.schedules.item(r) for r in detail["schedule_items"] if r in settings.schedules
    ]
    with app.catalog.begin() as conn:
        tombs = {
            r.bundle_id: r
            for r in conn.execute(select(t.tombstones).where(t.tombstones.c.batch_id == batch_id))
        }
    rows = []
    for r in detail["bundles"]:
        tomb = tombs.get(r["bundle_id"])
        rows.append(
            {
                **r,
                "tagmanifest_sha256": tomb.tagmanifest_sha256 if tomb else "",
                "executed_at": tomb.executed_at if tomb else "",
                "executed_by": tomb.executed_by if tomb else "",
            }
        )
    destroyed = [r for r in rows if r["state"] == "disposed"]
    executed_on = (detail.get("executed_at") or now_iso())[:10]
    keep_until = (
        add_years(date.fromisoformat(executed_on), DISPOSAL_LOG_RETENTION_YEARS).isoformat()
        if form == "RM88"
        else None
    )
    title = (
        "Records disposal record (RM88 equivalent)"
        if form == "RM88"
        else "Request for disposal approval (RM60 equivalent)"
    )
    html = (
        _env()
        .get_template("disposal_record.html.j2")
        .render(
            form=form,
            title=title,
            pdf_css=pdf.page_css(
                f"{app.cfg.city} — {title}, disposition {batch_id}", size="letter landscape"
            ),
            city=app.cfg.city,
            batch=detail,
            items=items,
            rows=rows if form == "RM60" else destroyed,
            skipped=[r for r in rows if r["state"] == "skipped"],
            keep_until=keep_until,
            generated_at=now_iso(),
        )
    )
    folder = app.cfg.root / "disposal-records"
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{batch_id}-{form}.html"
    pdf_path = folder / f"{batch_id}-{form}.pdf"
    html_path.write_text(html, encoding="utf-8")
    try:
        pdf.write_pdf(html, pdf_path)
    except pdf.PdfRenderError as exc:
        raise RetentionError(
            str(exc), hint=f"the HTML record is at {html_path}; report this as a bug"
        ) from exc
    values = {
        "html_path": str(html_path),
        "pdf_path": str(pdf_path),
        "html_sha256": hashlib.sha256(html_path.read_bytes()).hexdigest(),
        "pdf_sha256": hashlib.sha256(pdf_path.read_bytes()).hexdigest(),
        "created_at": now_iso(),
        "keep_until": keep_until,
    }
    with app.catalog.begin() as conn:
        exists = conn.execute(
            select(t.disposal_records.c.id).where(
                t.disposal_records.c.batch_id == batch_id, t.disposal_records.c.form == form
            )
        ).first()
        if exists is None:
            conn.execute(t.disposal_records.insert().values(batch_id=batch_id, form=form, **values))
        else:
            conn.execute(
                update(t.disposal_records)
                .where(t.disposal_records.c.id == exists.id)
                .values(**values)
            )
    return [str(html_path), str(pdf_path)]


def store_records(app: ArchiveParts, batch_id: str) -> list[str]:
    """Put the batch's disposal record files in the configured storage; returns warnings.

    Each file is stored once per content: a ``disposal_record_copies`` row with the file's
    current SHA-256 means done. The store verifies the upload by hash, and the copy is locked
    until the record's keep-until date (30 years for an RM88; an RM60 request, which has no
    keep-until of its own, gets the store's default lock). A failure is a warning, not an
    error: the disposal already happened and the local record exists; the next ``disposition
    execute`` of the batch tries again.
    """
    copies = t.disposal_record_copies
    with app.catalog.begin() as conn:
        records = list(
            conn.execute(
                select(t.disposal_records)
                .where(t.disposal_records.c.batch_id == batch_id)
                .order_by(t.disposal_records.c.form)
            )
        )
        done = {
            (c.form, c.kind): c.sha256
            for c in conn.execute(select(copies).where(copies.c.batch_id == batch_id))
        }
    warnings: list[str] = []
    for rec in records:
        keep = date.fromisoformat(rec.keep_until) if rec.keep_until else None
        for kind, path, sha in (
            ("html", rec.html_path, rec.html_sha256),
            ("pdf", rec.pdf_path, rec.pdf_sha256),
        ):
            if done.get((rec.form, kind)) == sha:
                continue
            source = Path(path)
            try:
                if not source.is_file() or sha256_file(source) != sha:
                    raise RetentionError(
                        f"{source} is missing or no longer matches its registered sha256"
                    )
                key = app.storage.put_document(
                    source, f"{batch_id}-{rec.form}.{kind}", retain_until=keep
                )
            except (ArchiverError, OSError) as exc:
                warnings.append(
                    f"disposal record {source.name} not stored in {app.storage.name} storage: "
                    f"{exc}; run archiver disposition execute {batch_id} again to store it"
                )
                continue
            with app.catalog.begin() as conn:
                conn.execute(
                    copies.delete().where(
                        copies.c.batch_id == batch_id,
                        copies.c.form == rec.form,
                        copies.c.kind == kind,
                    )
                )
                conn.execute(
                    copies.insert().values(
                        batch_id=batch_id,
                        form=rec.form,
                        kind=kind,
                        storage=app.storage.name,
                        storage_key=key,
                        sha256=sha,
                        retain_until=rec.keep_until,
                        stored_at=now_iso(),
                    )
                )
    return warnings
