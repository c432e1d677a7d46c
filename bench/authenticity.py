"""Authenticity benchmark: signing + timestamp cost per bundle, ``verify --deep`` throughput.

Run: ``.venv/bin/python bench/authenticity.py [--bundles 50] [--rows 200000]``
(the issue's figure is for 1M catalog rows: ``--rows 1000000``, a few minutes on 2 cores).

Baselines measured in the same run, on the same bytes:
* signing: Ed25519 over each bundle's tagmanifest vs plain SHA-256 of the same bytes;
* timestamp: a real RFC 3161 round trip to a local ``openssl ts -reply`` TSA on 127.0.0.1
  (request + HTTP + reply + our ``openssl ts -verify``) vs SHA-256 of the same tagmanifest,
  and vs the whole seal of a small bundle (hashing its payload and writing its manifests);
* deep verify: catalog rows compared per second, vs plain SHA-256 of the bundle's
  ``records.sqlite`` (which deep verify must read anyway).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakeplatforms.tsa import LocalTsa

from archiver.bundle import RECORDS_DB, BundleWriter
from archiver.catalog.ingest import ingest_bundle
from archiver.catalog.store import Catalog
from archiver.integrity.deep import deep_check
from archiver.integrity.tsa import request_token
from archiver.model import Author, Item, WarcRef
from archiver.settings.integrity import TsaSettings
from archiver.storage.local import LocalStorage


def _writer(staging: Path, started: datetime) -> BundleWriter:
    return BundleWriter(
        staging,
        site_id="bench",
        platform="mastodon",
        run_id="run-bench",
        record_class="comments",
        started=started,
        organization="City of Bench",
        warc_info={},
    )


def _item(i: int, bundle_id: str) -> Item:
    return Item(
        record_class="comments",
        kind="comment",
        platform_id=f"{i:012d}",
        author=Author(id=f"a{i % 5000}", handle=f"resident{i % 5000}"),
        text=f"Comment {i} about snow plows on route {i % 7} and Main Street parking.",
        ref=WarcRef(
            "comments-00000.warc.gz",
            i * 10,
            10,
            f"<urn:uuid:{i:032d}>",
            "response",
            "https://example.test/api",
            bundle_id,
        ),
        posted_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
        root_id=f"{i // 20:012d}",
        parent_id=f"{i // 20:012d}",
    )


def bench_signing(n: int) -> None:
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as d, LocalTsa() as tsa:
        staging = Path(d)
        tags: list[bytes] = []
        t0 = time.perf_counter()
        for b in range(n):
            w = _writer(staging, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=b))
            for i in range(20):
                w.add_item(_item(i, w.bundle_id))
            sealed = w.seal(staging)
            tags.append((sealed.path / "tagmanifest-sha256.txt").read_bytes())
        seal_s = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for t in tags:
            hashlib.sha256(t).hexdigest()
        sha_s = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for t in tags:
            key.sign(t)
        sign_s = (time.perf_counter() - t0) / n
        settings = TsaSettings(tsa.url, tsa.ca_file)
        t0 = time.perf_counter()
        for t in tags:
            request_token(settings, hashlib.sha256(t).hexdigest())
        tsa_s = (time.perf_counter() - t0) / n
    print(f"{n} bundles of 20 items, tagmanifest ~{sum(map(len, tags)) // n} bytes")
    print(f"  sha256 of the tagmanifest (baseline): {sha_s * 1e6:9.1f} us/bundle")
    print(f"  Ed25519 signature:                    {sign_s * 1e6:9.1f} us/bundle "
          f"= {sign_s / sha_s:7.1f}x sha256")  # fmt: skip
    print(f"  RFC 3161 timestamp (local TSA):       {tsa_s * 1e3:9.1f} ms/bundle "
          f"= {tsa_s / sha_s:7.0f}x sha256, {tsa_s / seal_s:5.2f}x a whole 20-item seal "
          f"({seal_s * 1e3:.1f} ms)")  # fmt: skip


def bench_deep(rows: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        staging, store = tmp / "staging", LocalStorage(tmp / "bundles")
        catalog = Catalog(f"sqlite:///{tmp / 'catalog.sqlite'}")
        started = datetime(2026, 1, 1, tzinfo=UTC)
        w = _writer(staging, started)
        t0 = time.perf_counter()
        for i in range(rows):
            w.add_item(_item(i, w.bundle_id))
        sealed = w.seal(staging)
        store.publish(sealed.path, sealed.key)
        folder = store.local_path(sealed.key)
        assert folder is not None
        with catalog.begin() as conn:
            ingest_bundle(conn, folder, key=sealed.key, storage="local")
        build_s = time.perf_counter() - t0
        records = folder / RECORDS_DB
        size = records.stat().st_size
        t0 = time.perf_counter()
        hashlib.sha256(records.read_bytes()).hexdigest()
        sha_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = deep_check(catalog, store, bundles=catalog.bundles(), scan_storage=True)
        deep_s = time.perf_counter() - t0
        catalog.close()
    assert not report.problems, report.problems[:3]
    print(f"verify --deep on {rows:,} items (catalog items + versions; built in {build_s:.0f} s)")
    print(f"  sha256 of records.sqlite ({size / 2**20:.0f} MiB, baseline): {sha_s:7.2f} s")
    print(f"  deep check: {report.rows_compared:,} rows compared in {deep_s:7.2f} s = "
          f"{report.rows_compared / deep_s:,.0f} rows/s = {deep_s / sha_s:.1f}x the sha256")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bundles", type=int, default=50)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    bench_signing(args.bundles)
    bench_deep(args.rows)


if __name__ == "__main__":
    main()
