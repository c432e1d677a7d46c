"""Phase 4, package: the BagIt bag with its tag files, then phase 5, publish it.

:func:`bag_package` turns the staged payload into the bag, adds the redaction log, the
authenticity evidence and ``certification.txt`` as tag files, re-saves the tagmanifest and
signs it. :func:`publish` zips it if asked, writes the custody row and the audit entry, and
renames the package into place inside that same transaction, so a failed rename leaves no
custody row and a crash leaves only ``.partial`` names.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Final

import bagit

from archiver import __version__, audit
from archiver.bundle import sha256_file
from archiver.csvsafe import SafeDictWriter
from archiver.fsutil import fsync_dir, fsync_tree
from archiver.prr import authenticity
from archiver.prr.export.certification import certification_text
from archiver.prr.export.collect import Originals
from archiver.prr.export.options import Job, query_dict
from archiver.prr.export.render import Summary
from archiver.prr.export.selection import Selection
from archiver.prr.requests import exports
from archiver.prr.wacz_sign import WaczSignature
from archiver.resources import make_private

REDACTION_LOG_FIELDS: Final = ("record", "warc_record_id", "field", "rule", "reason", "occurrences")
#: Already compressed: stored in the zip as they are.
STORED_SUFFIXES: Final = (".gz", ".wacz", ".pdf", ".zip")


def bag_package(
    job: Job,
    staging: Path,
    sel: Selection,
    orig: Originals,
    summary: Summary,
    wacz: WaczSignature | None,
) -> str:
    """Bag ``staging`` (its payload staged in ``staging/payload``); returns the package digest
    (sha256 of ``tagmanifest-sha256.txt``)."""
    job.step("bagging")
    app, req = job.app, job.req
    data = staging / "payload"
    for child in data.iterdir():
        shutil.move(str(child), staging / child.name)
    data.rmdir()
    bag = bagit.make_bag(
        str(staging),
        {
            "Source-Organization": app.cfg.city,
            "External-Identifier": req.id,
            "External-Description": f"Public records export for {req.id}: {req.description}"[:500],
            "Bag-Software-Agent": f"muni-archiver/{__version__}",
            "Contact-Name": job.actor,
        },
        checksums=["sha256"],
    )
    if job.opts.rules:
        _write_redaction_log(staging / "redaction-log.csv", sel.redaction.log)
    evidence = authenticity.write_evidence(
        app,
        staging,
        sel.seals,
        source_ids=[str(v["bundle_id"]) for v in orig.verified],
        request_id=req.id,
        wacz=wacz,
    )
    manifest = (staging / "manifest-sha256.txt").read_text("utf-8")
    (staging / "certification.txt").write_text(
        certification_text(job, sel, orig, summary, manifest)
        + authenticity.certification_section(app, evidence, actor=job.actor),
        encoding="utf-8",
    )
    bag.save()  # rewrites tagmanifest-sha256.txt to cover certification.txt and the log
    authenticity.sign_package(app, staging)
    package_sha256 = sha256_file(staging / "tagmanifest-sha256.txt")
    fsync_tree(staging)
    return package_sha256


def _write_redaction_log(path: Path, log: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeDictWriter(fh, fieldnames=list(REDACTION_LOG_FIELDS))
        w.writeheader()
        w.writerows(log)


def publish(
    job: Job,
    out: Path,
    staging: Path,
    zip_tmp: Path,
    *,
    package_sha256: str,
    summary: Summary,
    bundles: list[str],
) -> tuple[int, str | None]:
    """Zip if asked, record custody and audit, rename into place; (export id, zip sha256)."""
    job.step("publishing")
    zip_sha: str | None = None
    if job.opts.zip:
        _zip_bag(staging, zip_tmp, out.name[:-4] if out.name.endswith(".zip") else out.name)
        zip_sha = sha256_file(zip_tmp)
    with job.app.catalog.begin() as conn:
        audit.append(
            conn,
            actor=job.actor,
            action="export",
            subject=job.req.id,
            details={
                "request_id": job.req.id,
                "out": str(out),
                "package_sha256": package_sha256,
                "zip_sha256": zip_sha,
                "counts": summary.counts,
                "query": query_dict(job.opts),
                "bundles": bundles,
            },
            anchor_path=job.app.cfg.audit_anchor,
        )
        counts = summary.counts | ({"zip_sha256": zip_sha} if zip_sha else {})
        inserted = conn.execute(
            exports.insert().values(
                request_id=job.req.id,
                actor=job.actor,
                at=job.started.isoformat(timespec="microseconds"),
                out_path=str(out),
                package_sha256=package_sha256,
                counts_json=json.dumps(counts),
                query_json=json.dumps(query_dict(job.opts), sort_keys=True),
            )
        ).inserted_primary_key
        _rename_into_place(out, staging, zip_tmp if job.opts.zip else None)
    return (int(inserted[0]) if inserted else 0), zip_sha


def _rename_into_place(out: Path, staging: Path, zip_tmp: Path | None) -> None:
    """Called inside the custody transaction: if the rename fails the row rolls back."""
    # Owner and group only, whatever the umask: a package names requesters.
    make_private(zip_tmp or staging)
    if zip_tmp is not None:
        os.replace(zip_tmp, out)
    else:
        if out.is_dir():
            out.rmdir()  # empty, checked before the export started
        os.rename(staging, out)
    fsync_dir(out.parent)


def _zip_bag(bag_dir: Path, zip_path: Path, top: str) -> None:
    with zipfile.ZipFile(zip_path, "x", allowZip64=True) as z:
        for p in sorted(bag_dir.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(bag_dir).as_posix()
            stored = p.suffix in STORED_SUFFIXES
            z.write(p, f"{top}/{rel}", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    fd = os.open(zip_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
