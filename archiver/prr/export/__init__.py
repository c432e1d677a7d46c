"""Build the package that answers a public-records request.

The package is a BagIt bag (sha256) that a requester can open and a court can check without
this software::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    certification.txt            who exported what, why, from which verified bundles
    redaction-log.csv            (only when redaction rules were given)
    data/originals/export-00000.warc.gz   the matched records' WARC records, byte for byte
    data/replay/export.wacz      the same WARC, replayable (pages.jsonl, CDXJ index)
    data/readable/index.html, posts/*.html, media/*, export.pdf
    data/index.csv, data/index.json       one row per record version, with provenance
    data/media.csv               one row per attachment of an exported version
    data/followers.csv, data/follower-snapshots.csv   (only with --include-followers)

It is built in ``<out>.partial`` next to the target and renamed into place only when whole
(and after the custody row and audit entry are written in the same transaction), so a kill or
a full disk never leaves something that looks like a finished package. Every source bundle
is re-verified first; the export refuses to copy from a bundle that fails, naming it.

One module per phase, run in this order by :func:`run.run_export`, each handing a small
typed result to the next:

* :mod:`.selection` — search hits, every version, conversations, review trail, redaction,
  follower snapshots (:class:`~.selection.Selection`);
* :mod:`.collect` — which original WARC records, withheld ones dropped, source bundles
  re-verified, the records and attachments copied (:class:`~.collect.Originals`,
  :class:`~.collect.Copied`);
* :mod:`.render` — WACZ, ``index.csv``/``.json``, follower files, the readable HTML and PDF,
  the counts (:class:`~.render.Summary`);
* :mod:`.package` — the bag, redaction log, evidence, ``certification.txt`` (its text from
  :mod:`.certification`), signature; then publish: zip, custody row, rename.

:mod:`.options` holds the shared types; :mod:`.followers` what every phase says about follower
snapshots. The WARC subset, attachments, readable copy, holdings and gaps, and authenticity
evidence are the sibling modules :mod:`archiver.prr.originals`, :mod:`~archiver.prr.media`,
:mod:`~archiver.prr.readable`, :mod:`~archiver.prr.certify` and
:mod:`~archiver.prr.authenticity`.
"""

from __future__ import annotations

from archiver.filters import UnknownFilterError as UnknownFilterError
from archiver.prr.export.followers import COUNT_ONLY as COUNT_ONLY
from archiver.prr.export.options import WARC_NAME as WARC_NAME
from archiver.prr.export.options import ExportOptions as ExportOptions
from archiver.prr.export.options import ExportResult as ExportResult
from archiver.prr.export.options import Step as Step
from archiver.prr.export.render import INDEX_FIELDS as INDEX_FIELDS
from archiver.prr.export.run import check_filters as check_filters
from archiver.prr.export.run import run_export as run_export
from archiver.prr.export.selection import REMOVAL_COLUMNS as REMOVAL_COLUMNS

__all__ = [
    "COUNT_ONLY",
    "INDEX_FIELDS",
    "REMOVAL_COLUMNS",
    "WARC_NAME",
    "ExportOptions",
    "ExportResult",
    "Step",
    "UnknownFilterError",
    "check_filters",
    "run_export",
]
