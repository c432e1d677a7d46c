"""One call for ``archiver verify`` and the daemon: fixity, then authenticity, then (deep)
the catalog against the sealed records; every problem in one report, each with a kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from archiver.integrity.authenticate import authenticate
from archiver.integrity.deep import deep_check
from archiver.parts import ArchiveParts
from archiver.verify import VerifyReport, verify_archive


def tsa_ca(app: ArchiveParts) -> Path | None:
    settings = app.cfg.integrity.tsa
    return settings.ca_file if settings is not None else None


def check_archive(
    app: ArchiveParts,
    *,
    sample: int | None = None,
    site_id: str | None = None,
    deep: bool = False,
    on_bundle: Callable[[str], None] | None = None,
    in_disposal: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """``workers``: bundles hashed at a time by fixity and the deep check (default: cores)."""
    report = verify_archive(
        app.catalog,
        app.storage,
        sample=sample,
        site_id=site_id,
        on_bundle=on_bundle,
        in_disposal=in_disposal,
        workers=workers,
    )
    everything = sample is None and site_id is None
    # Seal checks read only the small tag files, so even the nightly sample checks them all.
    # A bundle whose approved disposal was interrupted is partly deleted on purpose: verify
    # reports it as "disposal in progress"; its seal and records are not checked.
    bundles = [
        b for b in app.catalog.bundles(site_id=site_id) if b["id"] not in (in_disposal or {})
    ]
    auth = authenticate(
        app.catalog,
        app.storage,
        root=app.cfg.root,
        ca_file=tsa_ca(app),
        bundles=bundles,
        scan_storage=everything,
        anchor_path=app.cfg.audit_anchor,
    )
    report.problems.extend(auth.problems)
    report.extra.update(auth.as_dict())
    if deep:
        d = deep_check(
            app.catalog, app.storage, bundles=bundles, scan_storage=everything, workers=workers
        )
        report.problems.extend(d.problems)
        report.extra["deep"] = {"bundles": d.bundles, "rows_compared": d.rows_compared}
    return report
