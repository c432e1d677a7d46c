"""Benchmark: the PDF's share of a records-request export, before (xhtml2pdf) and after (WeasyPrint).

Issue 16 asks that printing the export as PDF/A-2b with WeasyPrint does not make the PDF a
bigger share of the export than xhtml2pdf's was. Both are measured in the same run on the same
synthetic archive (``bench/search_export.py``'s generator, real WARC bundles and catalog):

* after: the real export (``run_export``), timed step by step; the PDF share is the
  "rendering PDF" step over the whole export;
* before: the same threads rendered by xhtml2pdf from the template the project used until
  then (``bench/legacy/``), substituted for the WeasyPrint step in the same export's total.

Both are also given in CPU seconds (every process, the PDF workers included). On a machine
shared with other sessions the wall-clock share depends on how busy it is (Linux gives each
session one share of the cores, so parallel workers only help on idle cores); the CPU share
does not, but it also cannot show what parallel volumes gain on free cores.

xhtml2pdf is no longer a dependency; install it into the venv to measure "before"
(``.venv/bin/pip install 'xhtml2pdf>=0.2.16,<0.3'``), otherwise only "after" is printed.

    .venv/bin/python bench/pdf_share.py                      # 20,000 records, 1,000 matches
    .venv/bin/python bench/pdf_share.py --matches 3000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _threads(work: Path, out: Path) -> tuple[list[Any], dict[str, Any]]:
    """The exported package's threads and PDF context, rebuilt from its index.json."""
    from archiver.prr import readable

    rows = json.loads((out / "data" / "index.json").read_text("utf-8"))
    threads = readable.build_threads(rows, "America/Denver")
    context = {
        "city": "City of Bozeman", "request": {"id": "PRR-BENCH", "requester": "Bench",
        "received": "2026-11-20", "description": "benchmark"}, "query_text": "zamboni sidewalk",
        "exported_at": "now", "actor": "bench", "tz": "America/Denver",
        "counts": {"items": len({r["item_id"] for r in rows}), "versions": len(rows)},
        "redacted": False, "rules": "",
    }  # fmt: skip
    return threads, context


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def export_with_pdf_cpu(work: Path) -> dict[str, Any]:
    """``search_export.bench_export`` with the CPU seconds of the export and of its PDF step."""
    import search_export

    from archiver.prr import readable

    real = readable.write_pdf
    spent = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = _cpu()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += _cpu() - started

    readable.write_pdf = timed
    started = _cpu()
    try:
        result = dict(search_export.bench_export(work))
    finally:
        readable.write_pdf = real
    result["cpu_seconds"] = round(_cpu() - started, 2)
    result["pdf_cpu_seconds"] = round(spent[0], 2)
    return result


def before_pdf_seconds(work: Path, out: Path) -> tuple[float, float] | None:
    """xhtml2pdf on the old template, in chunks of 1,000 versions as the old code did."""
    try:
        from xhtml2pdf import pisa  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from xhtml2pdf.pdf import pisaPDF  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    import jinja2

    threads, context = _threads(work, out)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "legacy"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("xhtml2pdf_document.html.j2")
    chunks: list[list[Any]] = [[]]
    size = 0
    for t in threads:
        n = sum(len(i.versions) for i in t.flat) or 1
        if chunks[-1] and size + n > 1000:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += n
    started = time.perf_counter()
    cpu = _cpu()
    joined = pisaPDF()
    parts = []
    for n, chunk in enumerate(chunks):
        part = work / f"before-{n}.pdf"
        html = template.render(threads=chunk, first=n == 0, all_threads=threads, **context)
        with part.open("wb") as fh:
            pisa.CreatePDF(html, dest=fh, encoding="utf-8")
        parts.append(part.open("rb"))
        joined.addFromFile(parts[-1])
    with (work / "before.pdf").open("wb") as fh:
        joined.join(fh)
    for f in parts:
        f.close()
    return time.perf_counter() - started, _cpu() - cpu


def _phase(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{args} failed:\n{done.stderr[-4000:]}")
    lines = done.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--matches", type=int, default=1_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--phase", choices=["generate", "export", "before"], default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import search_export

    if args.phase == "generate":
        search_export.EXPORT_MATCHES = args.matches
        search_export.generate(args.workdir, args.records)
        print("{}")
        return
    if args.phase == "export":
        print(json.dumps(export_with_pdf_cpu(args.workdir)))
        return
    if args.phase == "before":
        out = next(args.workdir.glob("export-*"))
        measured = before_pdf_seconds(args.workdir, out)
        print(json.dumps({"seconds": measured and measured[0], "cpu": measured and measured[1]}))
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    work.mkdir(parents=True, exist_ok=True)
    me = [str(Path(__file__).resolve()), "--workdir", str(work), "--records", str(args.records)]
    try:
        if not (work / "vocab.json").exists():
            _phase([*me, "--matches", str(args.matches), "--phase", "generate"])
        for old in work.glob("export-*"):
            shutil.rmtree(old)
        after = _phase([*me, "--phase", "export"])
        before = _phase([*me, "--phase", "before"])
        total = float(after["seconds"])
        pdf_after = float(after["steps_seconds"]["rendering PDF"])
        share_after = pdf_after / total
        print(
            f"export of {after['matched_versions']:,} versions: {total:.1f} s, of which PDF "
            f"(WeasyPrint, PDF/A-2b) {pdf_after:.1f} s = {share_after:.0%} of the export; "
            f"max RSS {after['maxrss_mb']} MB"
        )
        print(f"export steps (s): {after['steps_seconds']}")
        if before["seconds"] is None:
            print("before: xhtml2pdf is not installed; pip install it to measure the old share")
            return
        pdf_before = float(before["seconds"])
        total_before = total - pdf_after + pdf_before
        share_before = pdf_before / total_before
        print(
            f"before (xhtml2pdf, same threads, same run): PDF {pdf_before:.1f} s = "
            f"{share_before:.0%} of a {total_before:.1f} s export"
        )
        print(
            f"PDF share after/before = {share_after / share_before:.2f} "
            f"(< 1 means the PDF's share dropped); PDF time after/before = "
            f"{pdf_after / pdf_before:.2f}"
        )
        cpu_total, cpu_after = float(after["cpu_seconds"]), float(after["pdf_cpu_seconds"])
        cpu_before = float(before["cpu"])
        cpu_share_after = cpu_after / cpu_total
        cpu_share_before = cpu_before / (cpu_total - cpu_after + cpu_before)
        print(
            f"CPU seconds (all processes): PDF after {cpu_after:.1f} of {cpu_total:.1f} = "
            f"{cpu_share_after:.0%}, before {cpu_before:.1f} = {cpu_share_before:.0%}; "
            f"PDF CPU after/before = {cpu_after / cpu_before:.2f}"
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
