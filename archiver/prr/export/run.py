"""The export run: check the request and target, stage, run the phases in order, clean up.

:func:`run_export` owns the staging folder (``<out>.partial``, removed whatever happens) and
turns a disk or permission failure into one :class:`ExportError`; :func:`_build` only calls
the phases, each passing its typed result to the next.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from archiver import audit, filters
from archiver.bundle import remove_tree
from archiver.errors import ExportError
from archiver.log import get_logger
from archiver.parts import ArchiveParts
from archiver.prr.export.collect import collect_originals, copy_originals
from archiver.prr.export.options import ExportOptions, ExportResult, Job, Step
from archiver.prr.export.package import bag_package, publish
from archiver.prr.export.render import (
    finish_readable,
    render_readable,
    write_index,
    write_replay,
)
from archiver.prr.export.selection import select_versions
from archiver.prr.requests import get_request
from archiver.resources import RESOURCE_ERRNOS, describe, hint_for
from archiver.search import SearchFilters

log = get_logger(__name__)


def check_filters(app: ArchiveParts, f: SearchFilters) -> None:
    """Refuse a filter value that names nothing (see :mod:`archiver.filters`).

    Otherwise a typo gives a valid, empty package whose certification says no records
    matched: true of the typo, false of the records the requester asked for.
    """
    filters.check_filters(app, site=f.site, platform=f.platform, kinds=f.kinds, author=f.author)


def _check_target(out: Path, *, zip_: bool) -> None:
    if out.is_file() or (out.exists() and not out.is_dir()):
        kind = "file" if out.is_file() else "thing that is not a folder"
        raise ExportError(
            f"--out {out} is an existing {kind}; an export never overwrites one",
            hint="choose a new path for the package",
        )
    if out.is_dir() and zip_:
        raise ExportError(
            f"--out {out} is an existing folder; --zip writes a single .zip file",
            hint="choose a new file name, e.g. PRR-2026-0001.zip",
        )
    if out.is_dir() and any(out.iterdir()):
        raise ExportError(
            f"--out {out} exists and is not empty",
            hint="choose a new path; an export never overwrites or mixes with other files",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ExportError(
                    f"--out {out}: {parent} is a file, not a folder",
                    hint="choose a path inside an existing folder",
                )
            break


def _target(opts: ExportOptions) -> Path:
    """The absolute ``--out``, checked, with its parent folder created."""
    out = Path(os.path.abspath(opts.out.expanduser()))
    _check_target(out, zip_=opts.zip)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create {out.parent}: {exc.strerror}", hint="check the path and permissions"
        ) from exc
    return out


def run_export(
    app: ArchiveParts, opts: ExportOptions, *, on_step: Step | None = None
) -> ExportResult:
    """Search, verify sources, build the bag in ``<out>.partial``, record custody, rename."""
    step: Step = on_step or (lambda _s: None)
    req = get_request(app.catalog, opts.request_id)
    check_filters(app, opts.filters)
    out = _target(opts)
    staging = out.parent / f"{out.name}.partial"
    zip_tmp = out.parent / f"{out.name}.partial.zip"
    for leftover in (staging, zip_tmp):
        if leftover.is_dir():
            remove_tree(leftover)  # left by a killed export: never complete, never published
        elif leftover.exists():
            leftover.unlink()
    try:
        staging.mkdir()
        job = Job(app, opts, req, audit.current_actor(), datetime.now(UTC), step)
        result = _build(job, out, staging, zip_tmp)
        log.info(
            "export_finished",
            request=result.request_id,
            export_id=result.export_id,
            bundles=len(result.bundles),
            counts=result.counts,
        )
        return result
    except OSError as exc:
        raise _write_failed(exc, out) from exc
    finally:
        if staging.exists():
            remove_tree(staging)
        zip_tmp.unlink(missing_ok=True)


def _write_failed(exc: OSError, out: Path) -> ExportError:
    if exc.errno in RESOURCE_ERRNOS:
        return ExportError(
            f"writing the package {out} failed: {describe(exc.errno)}; nothing was published",
            hint=hint_for(exc.errno, out.parent),
        )
    return ExportError(
        f"writing the package under {out.parent} failed: {exc.strerror or exc}",
        hint="check free disk space and permissions; nothing was published",
    )


def _build(job: Job, out: Path, staging: Path, zip_tmp: Path) -> ExportResult:
    """The phases in order: select, collect originals, render, package (certify), publish."""
    # Scratch space (downloaded records maps) lives inside the staging folder, so a killed
    # export leaves only ``.partial`` names behind; the payload is staged beside it and
    # becomes the bag's ``data/`` when bagged.
    work = staging / ".work"
    work.mkdir()
    data = staging / "payload"
    sel = select_versions(job)
    orig = collect_originals(job, sel, work)
    copied = copy_originals(job, sel, orig, data)
    # The PDF prints in worker processes while the WACZ and the index are written.
    with render_readable(job, sel, orig, copied, data) as started:
        wacz = write_replay(job, sel, copied, data)
        write_index(job, sel, orig, copied, data)
        summary = finish_readable(job, started)
    package_sha256 = bag_package(job, staging, sel, orig, summary, wacz)
    bundles = [str(v["bundle_id"]) for v in orig.verified]
    export_id, zip_sha = publish(
        job,
        out,
        staging,
        zip_tmp,
        package_sha256=package_sha256,
        summary=summary,
        bundles=bundles,
    )
    return ExportResult(
        request_id=job.req.id,
        path=out,
        package_sha256=package_sha256,
        counts=summary.counts,
        export_id=export_id,
        zip_sha256=zip_sha,
        bundles=bundles,
    )
