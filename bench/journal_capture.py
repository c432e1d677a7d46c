"""Journal capture benchmark: what the flush at the end of a command costs as the catalog grows.

Run: ``.venv/bin/python bench/journal_capture.py [--bundles 2000 20000]``

A synthetic SQLite catalog with N sealed bundles (each with 6 ``bundle_files`` rows, a run and
an eligibility row) is journaled once in full; then three flushes are timed:
* ``idle``: nothing changed (status, search): must cost one query, independent of N;
* ``one hold``: one audited change: today a scan of every journaled table (O(rows));
* the first, full capture, as the baseline the others are compared with.

Printed as seconds and as ratios to the full capture, per size, so a regression in the idle
path (which every read-only command pays) or in the per-row cost shows as a changed ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from archiver import audit, journal
from archiver.catalog import schema as s
from archiver.catalog.store import Catalog
from archiver.retention import tables as t
from archiver.storage.local import LocalStorage


def _fill(catalog: Catalog, bundles: int) -> None:
    now = "2026-12-01T00:00:00.000000+00:00"
    with catalog.begin() as conn:
        audit.append(conn, actor="bench", action="config.change", subject="bench")
        conn.execute(
            insert(s.sites),
            [{"id": "city", "platform": "mastodon", "account": "a", "created_at": now}],
        )
        runs, rows, files, elig = [], [], [], []
        for n in range(bundles):
            bid = f"city-2026-{n:08d}"
            runs.append(
                {"id": f"run-{n}", "site_id": "city", "started_at": now, "status": "succeeded"}
            )
            rows.append(
                {
                    "id": bid, "key": f"city/2026/{bid}", "site_id": "city",
                    "run_id": f"run-{n}", "record_class": "comments", "storage": "local",
                    "started_at": now, "sealed_at": now, "cataloged_at": now,
                    "tagmanifest_sha256": "0" * 64, "size_bytes": 1000, "file_count": 6,
                    "record_count": 40, "status": "sealed",
                }
            )  # fmt: skip
            files += [
                {"bundle_id": bid, "relpath": f"data/f{k}", "sha256": "1" * 64, "size": 10}
                for k in range(6)
            ]
            elig.append(
                {"bundle_id": bid, "eligible_on": "2027-12-01", "computed_at": now, "reason": ""}
            )
        conn.execute(insert(s.runs), runs)
        conn.execute(insert(s.bundles), rows)
        conn.execute(insert(s.bundle_files), files)
        conn.execute(insert(t.bundle_eligibility), elig)


def _timed(root: Path, catalog: Catalog, storage: LocalStorage) -> float:
    start = time.perf_counter()
    journal.flush(root, catalog.engine, storage)
    return time.perf_counter() - start


def run(bundles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}")
        storage = LocalStorage(root / "bundles")
        _fill(catalog, bundles)
        full = _timed(root, catalog, storage)
        idle = _timed(root, catalog, storage)
        with catalog.begin() as conn:
            audit.append(conn, actor="bench", action="hold.add", subject="hold:x")
        one = _timed(root, catalog, storage)
        rows = bundles * 9
        print(
            f"bundles={bundles:>7} rows={rows:>8}  full {full:7.3f}s ({rows / full:8.0f} rows/s)"
            f"  idle {idle:7.4f}s (x{idle / full:.4f})  one hold {one:7.3f}s (x{one / full:.2f})"
        )
        catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    for n in args.bundles:
        run(n)


if __name__ == "__main__":
    main()
