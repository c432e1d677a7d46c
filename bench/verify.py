"""Benchmark: fixity-check throughput of ``archiver verify`` vs ``openssl dgst -sha256``.

Issue 14 part 4. The archive is synthetic: ``--bundles`` bundle folders in local storage, each
with a few WARC-sized files of random bytes (``--mib`` in total), cataloged in the real schema
with their sha256 digests. The baseline, measured in the same run over the same files (and
interleaved with our runs, so page cache and load treat both alike), is one
``openssl dgst -sha256`` process over every file. Targets: >= 0.9x openssl with 1 worker,
>= 1.7x with 2 workers. Figures are medians of ``--runs`` runs; the files are read once first
so every run hashes from the page cache (the test is the hashing, not the disk).

    .venv/bin/python bench/verify.py [--mib 2048] [--bundles 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SITE = "bench-verify"


def build(work: Path, mib: int, bundles: int) -> list[Path]:
    from archiver.catalog.store import Catalog

    root = work / "archive"
    (root / "bundles").mkdir(parents=True)
    Catalog(f"sqlite:///{root / 'catalog.sqlite'}").close()
    cat = sqlite3.connect(root / "catalog.sqlite")
    now = datetime.now(UTC).isoformat()
    cat.execute(
        "INSERT INTO sites (id, platform, account, department, base_url, created_at) "
        "VALUES (?, 'mastodon', 'city', 'Bench', 'https://mastodon.example', ?)",
        (SITE, now),
    )
    per_bundle = mib * 2**20 // bundles
    files_per_bundle = 4
    block = os.urandom(2**20)
    paths: list[Path] = []
    for b in range(bundles):
        bid = f"{SITE}-{b:04d}-posts"
        key = f"{SITE}/2026/{bid}"
        bdir = root / "bundles" / key
        (bdir / "data" / "warc").mkdir(parents=True)
        rows = []
        for f in range(files_per_bundle):
            rel = f"data/warc/part-{f:02d}.warc.gz"
            size = per_bundle // files_per_bundle
            h = hashlib.sha256()
            with (bdir / rel).open("wb") as fh:
                left = size
                salt = f"{b}-{f}".encode()
                while left > 0:
                    chunk = (salt + block)[: min(left, len(block))]
                    fh.write(chunk)
                    h.update(chunk)
                    left -= len(chunk)
            rows.append((bid, rel, h.hexdigest(), size))
            paths.append(bdir / rel)
        cat.execute(
            "INSERT INTO bundles (id, key, site_id, run_id, record_class, storage, started_at,"
            " sealed_at, cataloged_at, tagmanifest_sha256, size_bytes, file_count, record_count,"
            " status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, 'sealed')",
            (bid, key, SITE, "run-bench", "posts", "local", now, now, now, "0" * 64,
             sum(r[3] for r in rows), len(rows), 0),
        )  # fmt: skip
        cat.executemany("INSERT INTO bundle_files VALUES (?,?,?,?)", rows)
    cat.commit()
    cat.close()
    return paths


def _ours(work: Path, workers: int | None) -> tuple[float, int, float]:
    from archiver.catalog.store import Catalog
    from archiver.storage.local import LocalStorage
    from archiver.verify import verify_archive

    root = work / "archive"
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    storage = LocalStorage(root / "bundles")
    kw = {"workers": workers} if workers is not None else {}
    t = time.perf_counter()
    c = time.process_time()
    report = verify_archive(catalog, storage, **kw)  # type: ignore[arg-type]
    secs = time.perf_counter() - t
    cpu = time.process_time() - c
    catalog.close()
    if not report.ok:
        sys.exit(f"verify found problems: {report.problems[:3]}")
    return secs, report.bytes_checked, cpu


def _openssl(paths: list[Path]) -> tuple[float, float]:
    t = time.perf_counter()
    proc = subprocess.Popen(
        ["openssl", "dgst", "-sha256", *map(str, paths)], stdout=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("openssl dgst failed")
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime


def _openssl_pair(paths: list[Path]) -> float:
    """Two openssl processes over half the files each, at once: what 2 cores give right now
    (on a shared machine, less than 2x; the ceiling for ``--workers 2``)."""
    t = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["openssl", "dgst", "-sha256", *map(str, paths[i::2])], stdout=subprocess.DEVNULL
        )
        for i in range(2)
    ]
    for p in procs:
        p.wait()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=2048)
    ap.add_argument("--bundles", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from archiver.verify import verify_archive

    has_workers = "workers" in inspect.signature(verify_archive).parameters
    modes: list[int | None] = [1, 2] if has_workers else [None]
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        paths = build(work, args.mib, args.bundles)
        _openssl(paths)  # warm the page cache
        # Wall-time ratios need the cores free; CPU time shows the hashing cost per byte even
        # on a shared machine (imports and the catalog included for archiver).
        base: list[float] = []
        base_cpu: list[float] = []
        pair: list[float] = []
        ours: dict[int | None, list[float]] = {m: [] for m in modes}
        ours_cpu: dict[int | None, list[float]] = {m: [] for m in modes}
        nbytes = 0
        for _ in range(args.runs):
            w, c = _openssl(paths)
            base.append(w)
            base_cpu.append(c)
            pair.append(_openssl_pair(paths))
            for m in modes:
                secs, nbytes, cpu = _ours(work, m)
                ours[m].append(secs)
                ours_cpu[m].append(cpu)
        b = statistics.median(base)
        mib = nbytes / 2**20
        print(
            f"verify of {mib:,.0f} MiB in {args.bundles} bundles, median of {args.runs} runs; "
            f"{os.cpu_count()} cores"
        )
        bc = statistics.median(base_cpu)
        print(
            f"  openssl dgst -sha256 (baseline)  {b:6.2f} s  {mib / b:7.0f} MiB/s  1.00x   "
            f"CPU {bc:5.2f} s"
        )
        p2 = statistics.median(pair)
        print(
            f"  2x openssl in parallel (ceiling)  {p2:6.2f} s  {mib / p2:7.0f} MiB/s  "
            f"{b / p2:4.2f}x  (what 2 cores give under the current load)"
        )
        for m, times in ours.items():
            t = statistics.median(times)
            label = "archiver verify" if m is None else f"archiver verify --workers {m}"
            target = {None: ">= 0.9x", 1: ">= 0.9x", 2: ">= 1.7x"}.get(m, "")
            c = statistics.median(ours_cpu[m])
            print(
                f"  {label:<31} {t:6.2f} s  {mib / t:7.0f} MiB/s  {b / t:4.2f}x   CPU {c:5.2f} s "
                f"({bc / c:4.2f}x openssl's bytes per CPU-second)  [target {target}]"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
