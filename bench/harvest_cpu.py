"""Benchmark: CPU of a real ``archiver harvest`` vs a minimal httpx + warcio fetch of the same pages.

Issue 14 part 5 (target: <= 2x). The account is the demo city account
(``fakeplatforms.demo_data.build_demo_world``: timeline with threads, replies, media and a
3,000-row follower list), served by the fake Mastodon in its own process. The harvest runs as
a real ``archiver harvest`` subprocess; afterwards every URL it recorded (response records in
its bundles' ``records.sqlite``) is fetched again by a ~40-line httpx + warcio script (request
and response records, gzip), also in a subprocess. CPU is user+sys of each child (``wait4``),
interpreter start-up and imports included for both; medians of ``--runs`` runs. Our modules
are byte-compiled first, as an installed package is (httpx and warcio in site-packages are):
with ``PYTHONDONTWRITEBYTECODE=1`` each harvest would otherwise compile ~150 modules anew.

    .venv/bin/python bench/harvest_cpu.py [--runs 3] [--profile out.html]

``--profile`` also runs one harvest under pyinstrument (``pip install pyinstrument``) and
writes its report there (HTML for a ``.html`` name, text otherwise); a ``.prof`` name uses
cProfile instead (CPU only, for ``pstats``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from archiver.bundle_format import open_records

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MINIMAL = textwrap.dedent(
    """
    import io, sys
    import httpx
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    urls = open(sys.argv[1]).read().split()
    with open(sys.argv[2], "wb") as fh, httpx.Client(timeout=60) as client:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        for u in urls:
            r = client.get(u)
            http = StatusAndHeaders(
                f"{r.status_code} {r.reason_phrase}", list(r.headers.items()), protocol="HTTP/1.1"
            )
            resp = writer.create_warc_record(
                u, "response", payload=io.BytesIO(r.content), length=len(r.content),
                http_headers=http,
            )
            writer.write_record(resp)
            req_http = StatusAndHeaders(
                f"GET {r.request.url.raw_path.decode()} HTTP/1.1",
                list(r.request.headers.items()), is_http_request=True,
            )
            req = writer.create_warc_record(
                u, "request", payload=io.BytesIO(b""), length=0, http_headers=req_http
            )
            req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers["WARC-Record-ID"])
            writer.write_record(req)
    """
)


PACKAGES = ("archiver", "connectors", "fakes")


def _serve(q: mp.Queue) -> None:  # type: ignore[type-arg]
    from fakeplatforms.demo_data import build_demo_world
    from fakeplatforms.server import FakeServer

    world, _city = build_demo_world()
    world.rate_limit = 10**9
    with FakeServer(world) as server:
        q.put(server.url)
        q.get()


def _config(tmp: Path, url: str) -> Path:
    from fakeplatforms.demo_data import CITY_USERNAME

    cfg = tmp / "archiver.toml"
    cfg.write_text(
        f'[archive]\nroot = "{tmp / "archive"}"\ncity = "City of Bozeman"\n\n'
        f'[[sites]]\nid = "bench"\nplatform = "mastodon"\nbase_url = "{url}"\n'
        f'account = "{CITY_USERNAME}"\ndepartment = "Bench"\n'
        'administrators = [{ name = "IT", role = "IT" }]\n'
    )
    return cfg


def _child(cmd: list[str]) -> float:
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, ARCHIVER_LOG_LEVEL="ERROR"),
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read() if proc.stderr else b""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[:4]} failed ({code}):\n{err.decode()[-3000:]}")
    return usage.ru_utime + usage.ru_stime


def _recorded_urls(root: Path) -> list[str]:
    urls: list[str] = []
    for db in sorted(root.glob("bundles/**/data/records.sqlite")):
        con = open_records(db)
        urls += [
            r[0]
            for r in con.execute(
                "SELECT target_uri FROM warc_records WHERE record_type = 'response' "
                "ORDER BY warc_file, offset"
            )
        ]
        con.close()
    return urls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=Path, default=None)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(root / p) for p in PACKAGES)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    server = ctx.Process(target=_serve, args=(q,), daemon=True)
    server.start()
    url = q.get(timeout=600)
    ours: list[float] = []
    fresh: list[float] = []
    base: list[float] = []
    pages = 0
    try:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="bench-harvest-") as d:
                tmp = Path(d)
                cfg = _config(tmp, url)
                harvest = [sys.executable, "-m", "archiver", "--config", str(cfg)]
                # First into a new archive (creating the catalog schema counts), then the same
                # account into an archive that exists (the steady state: what a run costs).
                fresh.append(_child([*harvest, "harvest", "--json"]))
                (tmp / "archive2").mkdir()
                cfg2 = tmp / "archiver2.toml"
                cfg2.write_text(cfg.read_text().replace('/archive"', '/archive2"'))
                _child([sys.executable, "-m", "archiver", "--config", str(cfg2), "status"])
                ours.append(
                    _child([sys.executable, "-m", "archiver", "--config", str(cfg2), "harvest"])
                )
                urls = _recorded_urls(tmp / "archive")
                pages = len(urls)
                (tmp / "urls.txt").write_text("\n".join(urls))
                (tmp / "minimal.py").write_text(MINIMAL)
                base.append(
                    _child(
                        [
                            sys.executable,
                            str(tmp / "minimal.py"),
                            str(tmp / "urls.txt"),
                            str(tmp / "min.warc.gz"),
                        ]
                    )
                )
        if args.profile:
            with tempfile.TemporaryDirectory(prefix="bench-harvest-") as d:
                cfg = _config(Path(d), url)
                t = time.perf_counter()
                profiler = (
                    ["-m", "cProfile", "-o", str(args.profile)]
                    if args.profile.suffix == ".prof"
                    else ["-m", "pyinstrument", "-o", str(args.profile)]
                )
                _child(
                    [
                        sys.executable,
                        *profiler,
                        *(
                            []
                            if args.profile.suffix == ".prof"
                            else ["-r", "html" if args.profile.suffix == ".html" else "text"]
                        ),
                        "-m",
                        "archiver",
                        "--config",
                        str(cfg),
                        "harvest",
                        "--json",
                    ]
                )
                print(f"profile written to {args.profile} ({time.perf_counter() - t:.1f} s)")
    finally:
        q.put("stop")
        server.join(timeout=10)
    o, f, b = statistics.median(ours), statistics.median(fresh), statistics.median(base)
    print(f"harvest of the demo city account ({pages} recorded responses), median of {args.runs}")
    print(f"  minimal httpx + warcio (baseline)           CPU {b:6.2f} s  1.00x")
    print(f"  archiver harvest, new archive (schema too)  CPU {f:6.2f} s  {f / b:4.2f}x")
    print(
        f"  archiver harvest, existing archive          CPU {o:6.2f} s  {o / b:4.2f}x  "
        "[target <= 2x]"
    )


if __name__ == "__main__":
    main()
