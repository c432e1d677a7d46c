"""Benchmark: full-text search over a large catalog, and a 10,000-record request export.

Targets (issue "Answer a public records request"): median two-word search < 200 ms on
1,000,000 records; export of a query matching 10,000 records < 60 s with peak memory
< 500 MB. Figures are printed next to a baseline measured in the same run (a plain ``LIKE``
scan for search), never against fixed timings, because machines differ.

The archive is synthetic but real: sealed-style bundles whose WARC files are written by
``archiver.warc.WarcSink`` (API pages of 40 statuses, as a Mastodon harvest stores them), each
with a ``records.sqlite`` in the bundle schema and BagIt manifests, and a catalog in the real
schema filled with ``sqlite3.executemany`` plus an FTS5 rebuild. Each phase runs in its own
process so ``ru_maxrss`` measures that phase alone.

    .venv/bin/python bench/search_export.py                 # 1,000,000 records
    .venv/bin/python bench/search_export.py --records 200000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SITE = "bench-mastodon"
PER_PAGE = 40
PAGES_PER_BUNDLE = 2500
MARKER = "zamboni sidewalk"
EXPORT_MATCHES = 10_000

COMMON = [
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "for",
    "on",
    "is",
    "at",
    "with",
    "this",
    "we",
    "our",
    "city",
    "will",
    "be",
    "are",
    "please",
    "from",
    "by",
    "road",
    "street",
    "park",
    "snow",
    "plow",
    "closed",
    "open",
    "today",
    "tomorrow",
    "meeting",
    "council",
    "public",
    "water",
    "traffic",
    "bozeman",
    "crews",
    "main",
    "avenue",
    "thanks",
    "residents",
    "event",
    "library",
    "trail",
    "lane",
    "night",
    "week",
    "parking",
]


def vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    syll = ["ka", "lo", "mi", "ra", "te", "un", "bo", "ze", "ma", "ny", "st", "ri", "ve", "ol"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def make_text(rng: random.Random, vocab: list[str], kind: str) -> str:
    # Posts run longer than comments; lengths roughly as on municipal Mastodon accounts.
    target = (
        int(rng.lognormvariate(5.0, 0.5)) if kind == "post" else int(rng.lognormvariate(4.2, 0.6))
    )
    target = max(12, min(target, 500))
    words: list[str] = []
    size = 0
    while size < target:
        w = rng.choice(COMMON) if rng.random() < 0.55 else rng.choice(vocab)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)


# -- phase 1: generate -----------------------------------------------------------------------


def generate(work: Path, records: int, seed: int = 11) -> None:
    from archiver.bundle import _SCHEMA as BUNDLE_SCHEMA
    from archiver.bundle import sha256_file
    from archiver.catalog.store import Catalog
    from archiver.warc import WarcSink, WrittenRecord

    rng = random.Random(seed)
    vocab = vocabulary(rng)
    root = work / "archive"
    (root / "bundles").mkdir(parents=True)
    config = work / "archiver.toml"
    config.write_text(f'[archive]\nroot = "{root}"\ncity = "City of Bozeman"\n', "utf-8")
    Catalog(f"sqlite:///{root / 'catalog.sqlite'}").close()  # real schema, FTS table included

    marked = set(rng.sample(range(records), min(EXPORT_MATCHES, records)))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    pages = (records + PER_PAGE - 1) // PER_PAGE
    n_bundles = max(1, (pages + PAGES_PER_BUNDLE - 1) // PAGES_PER_BUNDLE)
    cat = sqlite3.connect(root / "catalog.sqlite")
    cat.execute("PRAGMA journal_mode=WAL")
    cat.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).isoformat()
    cat.execute(
        "INSERT INTO sites (id, platform, account, department, base_url, created_at) "
        "VALUES (?, 'mastodon', 'cityofbozeman', 'Communications', 'https://mastodon.example', ?)",
        (SITE, now),
    )
    n = 0
    for b in range(n_bundles):
        bid = f"{SITE}-bench-{b:04d}-posts"
        key = f"{SITE}/2026/{bid}"
        bdir = root / "bundles" / key
        (bdir / "data" / "warc").mkdir(parents=True)
        rec = sqlite3.connect(bdir / "data" / "records.sqlite")
        rec.executescript(BUNDLE_SCHEMA)
        warc_rows: list[tuple[Any, ...]] = []

        def on_record(w: WrittenRecord, rows: list[tuple[Any, ...]] = warc_rows) -> None:
            r = w.ref
            rows.append(
                (r.record_id, r.record_type, r.target_uri, w.warc_date, r.warc_file, r.offset,
                 r.length, w.payload_digest, w.http_status, w.concurrent_to, None, None, None, None)
            )  # fmt: skip

        sink = WarcSink(bdir / "data" / "warc", "posts", info={"x-bundle-id": bid},
                        on_record=on_record, bundle_id=bid)  # fmt: skip
        item_rows: list[tuple[Any, ...]] = []
        version_rows: list[tuple[Any, ...]] = []
        bundle_items: list[tuple[Any, ...]] = []
        first_page = b * PAGES_PER_BUNDLE
        for page in range(first_page, min(pages, first_page + PAGES_PER_BUNDLE)):
            statuses = []
            for j in range(PER_PAGE):
                if n >= records:
                    break
                kind = "post" if n % 4 == 0 else ("comment" if n % 4 != 3 else "reply")
                text = make_text(rng, vocab, kind)
                if n in marked:
                    text += f" {MARKER}"
                posted = start + timedelta(seconds=n * 30)
                statuses.append((n, kind, text, posted, j))
                n += 1
            if not statuses:
                break
            body = json.dumps(
                [
                    {"id": str(10**12 + s[0]), "content": s[2], "created_at": s[3].isoformat()}
                    for s in statuses
                ]
            ).encode()
            uri = f"https://mastodon.example/api/v1/accounts/1/statuses?limit=40&page={page}"
            ref = sink.write_exchange(
                uri=uri,
                request_line=f"GET /api/v1/accounts/1/statuses?limit=40&page={page} HTTP/1.1",
                request_headers=[("Host", "mastodon.example"), ("Authorization", "REDACTED")],
                status_line="200 OK",
                status=200,
                response_headers=[("Content-Type", "application/json")],
                body=body,
            )
            captured = (start + timedelta(days=400)).isoformat()
            for idx, kind, text, posted, _j in statuses:
                pid = str(10**12 + idx)
                digest = hashlib.sha256(text.encode()).hexdigest()
                root_pid = str(10**12 + idx - idx % 4)
                parent = (
                    None
                    if kind == "post"
                    else (root_pid if kind == "comment" else str(10**12 + idx - 1))
                )
                item_rows.append(
                    (idx + 1, SITE, pid, "posts" if kind == "post" else "comments", kind, parent,
                     root_pid, f"acct{idx % 5000}", f"resident{idx % 5000}", f"Resident {idx % 5000}",
                     kind == "post", f"https://mastodon.example/@resident{idx % 5000}/{pid}",
                     posted.isoformat(), captured, captured, "run-bench", 1, digest)
                )  # fmt: skip
                version_rows.append(
                    (idx + 1, idx + 1, 1, digest, text, None, "[]", None, 0, "{}", captured,
                     "run-bench", bid, ref.warc_file, ref.offset, ref.length, ref.record_id,
                     "response")
                )  # fmt: skip
                bundle_items.append(
                    (pid, kind, posted.isoformat(), None, f"acct{idx % 5000}", f"resident{idx % 5000}",
                     None, None, text, None, None, parent, root_pid, "[]", 0, 0, "{}", digest,
                     ref.warc_file, ref.offset, ref.length, ref.record_id, "response")
                )  # fmt: skip
        sink.close()
        rec.executemany("INSERT INTO warc_records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", warc_rows)
        rec.executemany(
            "INSERT INTO items (platform_id, kind, posted_at, edited_at, author_id, author_handle,"
            " author_name, author_url, text, html, url, parent_id, root_id, media_json, by_owner,"
            " hidden, extra_json, content_hash, warc_file, warc_offset, warc_length,"
            " warc_record_id, warc_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            bundle_items,
        )
        rec.executemany(
            "INSERT INTO bundle_info VALUES (?, ?)",
            [
                ("bundle_id", bid),
                ("site_id", SITE),
                ("record_class", "posts"),
                ("schema_version", "1"),
            ],
        )
        rec.commit()
        rec.close()
        files: dict[str, tuple[str, int]] = {}
        lines = []
        for p in sorted((bdir / "data").rglob("*")):
            if p.is_file():
                rel = p.relative_to(bdir).as_posix()
                files[rel] = (sha256_file(p), p.stat().st_size)
                lines.append(f"{files[rel][0]}  {rel}\n")
        (bdir / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        (bdir / "bag-info.txt").write_text(f"External-Identifier: {bid}\n")
        (bdir / "manifest-sha256.txt").write_text("".join(lines))
        tag = "".join(
            f"{sha256_file(bdir / t)}  {t}\n"
            for t in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
        )
        (bdir / "tagmanifest-sha256.txt").write_text(tag)
        for t in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
            files[t] = (sha256_file(bdir / t), (bdir / t).stat().st_size)
        sealed = (start + timedelta(days=400, seconds=b)).isoformat()
        cat.execute(
            "INSERT INTO bundles (id, key, site_id, run_id, record_class, storage, started_at,"
            " sealed_at, cataloged_at, tagmanifest_sha256, size_bytes, file_count, record_count,"
            " status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, 'sealed')",
            (bid, key, SITE, "run-bench", "posts", "local", sealed, sealed, now,
             files["tagmanifest-sha256.txt"][0], sum(v[1] for v in files.values()), len(files),
             len(bundle_items)),
        )  # fmt: skip
        cat.executemany(
            "INSERT INTO bundle_files VALUES (?,?,?,?)",
            [(bid, rel, d, size) for rel, (d, size) in files.items()],
        )
        cat.executemany(
            "INSERT INTO items (id, site_id, platform_id, record_class, kind, parent_id, root_id,"
            " author_id, author_handle, author_name, by_owner, permalink, posted_at,"
            " first_captured_at, last_seen_at, last_seen_run, current_version, current_hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            item_rows,
        )
        cat.executemany(
            "INSERT INTO item_versions (id, item_id, version, content_hash, text, html, media_json,"
            " edited_at, hidden, extra_json, captured_at, run_id, bundle_id, warc_file,"
            " warc_offset, warc_length, warc_record_id, warc_type)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            version_rows,
        )
        cat.commit()
        print(f"  bundle {b + 1}/{n_bundles}: {len(bundle_items)} records", file=sys.stderr)
    cat.execute("INSERT INTO item_versions_fts(item_versions_fts) VALUES('rebuild')")
    cat.commit()
    cat.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cat.close()
    (work / "vocab.json").write_text(json.dumps(vocab))


# -- phase 2: search ---------------------------------------------------------------------


def bench_search(work: Path, queries: int = 60) -> dict[str, Any]:
    from archiver.catalog.store import Catalog
    from archiver.search import SearchFilters, search

    vocab = json.loads((work / "vocab.json").read_text())
    rng = random.Random(3)
    # A third rare+rare, a third rare+common, a third common+common (hundreds of thousands of
    # hits, so ordering by date dominates): the mix a clerk's searches have.
    pools = [(vocab, vocab), (vocab, COMMON), (COMMON, COMMON)]
    pairs = []
    for i in range(queries):
        first, second = pools[i % 3]
        pairs.append((rng.choice(first), rng.choice(second)))
    catalog = Catalog(f"sqlite:///{work / 'archive' / 'catalog.sqlite'}")
    fts_ms: list[float] = []
    hits: list[int] = []
    by_pool: dict[int, list[float]] = {0: [], 1: [], 2: []}

    # Baseline in the same run, interleaved: the pre-issue-14 plan (one statement that joins
    # and sorts every match, text included, then LIMIT), through SQLAlchemy like search().
    def sort_all(q: str) -> list[Any]:
        from sqlalchemy import and_, select

        from archiver.catalog import schema as s
        from archiver.search import RESULT_COLUMNS, _conditions, _params

        cond = _conditions(catalog, q, SearchFilters())
        v, i = s.item_versions, s.items
        stmt = (
            select(*RESULT_COLUMNS)
            .select_from(
                v.join(i, i.c.id == v.c.item_id).join(s.sites, s.sites.c.id == i.c.site_id)
            )
            .where(and_(*(cond or [])))
            .order_by(i.c.posted_at.desc(), i.c.id, v.c.version)
            .limit(100)
        )
        with catalog.begin() as conn:
            return list(conn.execute(stmt, _params(catalog, q)))

    old_by_pool: dict[int, list[float]] = {0: [], 1: [], 2: []}
    # CPU time of this process too: on a shared machine wall time mostly measures the queue.
    cpu_by_pool: dict[int, list[float]] = {0: [], 1: [], 2: []}
    old_cpu_by_pool: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for n, (a, b) in enumerate(pairs):
        # Alternate which plan runs first, so neither always finds the pages the other warmed.
        for which in (0, 1) if n % 2 == 0 else (1, 0):
            t = time.perf_counter()
            c = time.process_time()
            if which == 0:
                rows = search(catalog, f"{a} {b}", SearchFilters(), limit=100)
                fts_ms.append((time.perf_counter() - t) * 1000)
                by_pool[n % 3].append(fts_ms[-1])
                cpu_by_pool[n % 3].append((time.process_time() - c) * 1000)
                hits.append(len(rows))
            else:
                old = sort_all(f"{a} {b}")
                old_by_pool[n % 3].append((time.perf_counter() - t) * 1000)
                old_cpu_by_pool[n % 3].append((time.process_time() - c) * 1000)
        if len(old) != len(rows):
            raise SystemExit(f"{a} {b}: search gave {len(rows)} rows, the baseline {len(old)}")
    catalog.close()
    db = sqlite3.connect(work / "archive" / "catalog.sqlite")
    like_ms: list[float] = []
    for a, b in pairs[:6]:
        t = time.perf_counter()
        db.execute(
            "SELECT v.id FROM item_versions v JOIN items i ON i.id = v.item_id "
            "WHERE v.text LIKE ? AND v.text LIKE ? ORDER BY i.posted_at DESC LIMIT 100",
            (f"%{a}%", f"%{b}%"),
        ).fetchall()
        like_ms.append((time.perf_counter() - t) * 1000)
    db.close()
    return {
        "queries": len(pairs),
        "fts_median_ms": round(statistics.median(fts_ms), 1),
        "fts_p95_ms": round(sorted(fts_ms)[int(len(fts_ms) * 0.95) - 1], 1),
        "like_median_ms": round(statistics.median(like_ms), 1),
        "median_hits": statistics.median(hits),
        "median_ms_rare_rare": round(statistics.median(by_pool[0]), 1),
        "median_ms_rare_common": round(statistics.median(by_pool[1]), 1),
        "median_ms_common_common": round(statistics.median(by_pool[2]), 1),
        **{
            f"{stat}_ms_{name}": round(fn(pool), 1)
            for name, (pool, old) in {
                "rare_rare": (by_pool[0], old_by_pool[0]),
                "rare_common": (by_pool[1], old_by_pool[1]),
                "common_common": (by_pool[2], old_by_pool[2]),
                "sort_all_rare_rare": (old_by_pool[0], old_by_pool[0]),
                "sort_all_rare_common": (old_by_pool[1], old_by_pool[1]),
                "sort_all_common_common": (old_by_pool[2], old_by_pool[2]),
                "cpu_rare_rare": (cpu_by_pool[0], cpu_by_pool[0]),
                "cpu_rare_common": (cpu_by_pool[1], cpu_by_pool[1]),
                "cpu_common_common": (cpu_by_pool[2], cpu_by_pool[2]),
                "cpu_sort_all_rare_rare": (old_cpu_by_pool[0], old_cpu_by_pool[0]),
                "cpu_sort_all_rare_common": (old_cpu_by_pool[1], old_cpu_by_pool[1]),
                "cpu_sort_all_common_common": (old_cpu_by_pool[2], old_cpu_by_pool[2]),
            }.items()
            for stat, fn in (("p50", statistics.median), ("p95", _p95))
        },
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


# -- phase 3: export -----------------------------------------------------------------------


def bench_export(work: Path, trace: bool = False) -> dict[str, Any]:
    from archiver.app import open_app
    from archiver.prr.export import ExportOptions, run_export
    from archiver.prr.requests import open_request
    from archiver.search import SearchFilters
    from archiver.settings.requests import RequestPolicy

    app = open_app(str(work / "archiver.toml"))
    try:
        req = open_request(
            app.catalog,
            requester="Bench",
            received=datetime.now(UTC).date(),
            description="benchmark",
            policy=RequestPolicy(),
        )
        out = work / f"export-{req.id}"
        steps: dict[str, float] = {}
        last_t = [time.perf_counter()]
        last_name = [""]

        def on_step(name: str) -> None:
            now = time.perf_counter()
            if last_name[0]:
                steps[last_name[0]] = round(now - last_t[0], 2)
            last_t[0], last_name[0] = now, name

        if trace:  # Python-level peak; slows allocation-heavy code, so off by default
            tracemalloc.start()
        t = time.perf_counter()
        result = run_export(
            app,
            ExportOptions(request_id=req.id, query=MARKER, filters=SearchFilters(), out=out),
            on_step=on_step,
        )
        seconds = time.perf_counter() - t
        on_step("")
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
    finally:
        app.close()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "matched_versions": result.counts["versions"],
        "warc_records": result.counts["warc_records"],
        "bundles_verified": result.counts["bundles"],
        "seconds": round(seconds, 2),
        "steps_seconds": steps,
        "tracemalloc_peak_mb": round(peak / 2**20, 1) if trace else None,
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "package_mb": round(size / 2**20, 1),
    }


def _phase(phase: str, work: Path, records: int, *extra: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--workdir",
        str(work),
        "--records",
        str(records),
        *extra,
    ]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"phase {phase} failed:\n{done.stderr[-4000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    data["wall_seconds"] = round(time.perf_counter() - t, 1)
    return dict(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=None, help="Keep the archive here.")
    ap.add_argument("--phase", choices=["generate", "search", "export"], default=None)
    ap.add_argument("--tracemalloc", action="store_true", help="Also trace Python allocations.")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.phase:
        result: dict[str, Any] = {}
        if args.phase == "generate":
            generate(args.workdir, args.records)
        elif args.phase == "search":
            result = bench_search(args.workdir)
        else:
            result = bench_export(args.workdir, trace=args.tracemalloc)
        print(json.dumps(result))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-prr-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if (work / "vocab.json").exists():
            print(f"reusing the archive in {work}")
        else:
            gen = _phase("generate", work, args.records)
            print(f"generated {args.records:,} records in {gen['wall_seconds']} s ({work})")
        search = _phase("search", work, args.records)
        print(
            f"search: median {search['fts_median_ms']} ms (p95 {search['fts_p95_ms']} ms) over "
            f"{search['queries']} two-word queries via archiver.search; baseline LIKE scan median "
            f"{search['like_median_ms']} ms  [target < 200 ms]; median hits per query "
            f"{search['median_hits']} (limit 100)"
        )
        print("  by query kind: p50 / p95 ms via archiver.search; baseline in the same run: the")
        print("  pre-issue-14 plan (join and sort every match with its text, then LIMIT)")
        for kind in ("rare_rare", "rare_common", "common_common"):
            p50, p95 = search[f"p50_ms_{kind}"], search[f"p95_ms_{kind}"]
            b50, b95 = search[f"p50_ms_sort_all_{kind}"], search[f"p95_ms_sort_all_{kind}"]
            target = "  [target p95 < 100 ms]" if kind == "common_common" else ""
            print(
                f"    {kind.replace('_', '+'):<14} {p50:7.1f} / {p95:7.1f}   baseline "
                f"{b50:7.1f} / {b95:7.1f}   p50 ratio {p50 / max(b50, 0.01):5.2f}x{target}"
            )
        print("  the same queries, CPU time of the searching process (insensitive to other load):")
        for kind in ("rare_rare", "rare_common", "common_common"):
            p50, p95 = search[f"p50_ms_cpu_{kind}"], search[f"p95_ms_cpu_{kind}"]
            b50, b95 = search[f"p50_ms_cpu_sort_all_{kind}"], search[f"p95_ms_cpu_sort_all_{kind}"]
            print(
                f"    {kind.replace('_', '+'):<14} {p50:7.1f} / {p95:7.1f}   baseline "
                f"{b50:7.1f} / {b95:7.1f}   p50 ratio {p50 / max(b50, 0.01):5.2f}x"
            )
        exp = _phase("export", work, args.records, *(["--tracemalloc"] if args.tracemalloc else []))
        print(
            f"export: {exp['matched_versions']:,} versions, {exp['warc_records']:,} WARC records, "
            f"{exp['bundles_verified']} bundles verified in {exp['seconds']} s  [target < 60 s]; "
            f"max RSS {exp['maxrss_mb']} MB (tracemalloc peak {exp['tracemalloc_peak_mb']} MB) "
            f"[target < 500 MB]; package {exp['package_mb']} MB"
        )
        print(f"export steps (s): {exp['steps_seconds']}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
