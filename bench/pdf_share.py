"""Benchmark: a records-request export's time, and its PDF's share, before (xhtml2pdf) and after
(WeasyPrint).

Issue 16 asks that printing the export as PDF/A-2b with WeasyPrint does not make the PDF a
bigger share of the export than xhtml2pdf's was. Both exports are run for real, one after the
other in fresh processes, on the same synthetic archive (``bench/search_export.py``'s
generator, real WARC bundles and catalog):

* after: ``run_export`` as it is. Its PDF volumes print in worker processes while the export
  writes its WACZ and index, so the "rendering PDF" step is the time the export waits for
  them after that work; the whole export's time is the figure that cannot flatter it;
* before: the same ``run_export`` with the PDF printed as the project did until then: at the
  "rendering PDF" step, in the export's process, by xhtml2pdf from the old template
  (``bench/legacy/``) in chunks of 1,000 versions joined into one file.

Each is also given in CPU seconds (every process: the PDF workers, and the thread that builds
their HTML, count as PDF). On a machine shared with other sessions the wall-clock figures
depend on how busy it is (Linux gives each session one share of the cores, so parallel
workers only help on idle cores); CPU seconds do not, but they cannot show what parallel
volumes gain on free cores either. Quote ``uptime``'s load with every wall figure.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _export(work: Path, pdf_cpu: list[float]) -> dict[str, Any]:
    """``search_export.bench_export`` with the CPU seconds of the whole export (every process)
    and of its PDF (``pdf_cpu``, summed by the caller's hooks, plus the worker processes)."""
    import search_export

    started, kids = _cpu(), _children_cpu()
    result = dict(search_export.bench_export(work))
    result["cpu_seconds"] = round(_cpu() - started, 2)
    result["pdf_cpu_seconds"] = round(pdf_cpu[0] + _children_cpu() - kids, 2)
    return result


def export_after(work: Path) -> dict[str, Any]:
    """The export as it is; its PDF's CPU is the workers' and that of the threads feeding them."""
    from archiver import pdf

    spent = [0.0]
    feed, wait = pdf.Printing._feed, pdf.Printing.wait

    def timed_feed(self: pdf.Printing) -> None:
        started = time.thread_time()
        try:
            feed(self)
        finally:
            spent[0] += time.thread_time() - started

    def timed_wait(self: pdf.Printing) -> list[int]:  # prints here when there is one worker
        started = time.thread_time()
        try:
            return wait(self)
        finally:
            spent[0] += time.thread_time() - started

    pdf.Printing._feed = timed_feed  # type: ignore[method-assign]
    pdf.Printing.wait = timed_wait  # type: ignore[method-assign]
    return _export(work, spent)


def export_before(work: Path) -> dict[str, Any] | None:
    """The same export with the PDF printed by xhtml2pdf at the "rendering PDF" step, as the
    project did before WeasyPrint (None if xhtml2pdf is not installed)."""
    try:
        from xhtml2pdf import pisa  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from xhtml2pdf.pdf import pisaPDF  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    import jinja2

    from archiver.prr import readable

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "legacy"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("xhtml2pdf_document.html.j2")
    spent = [0.0]

    class OldPrint:
        """xhtml2pdf on the old template, in chunks of 1,000 versions as the old code did."""

        def __init__(self, out: Path, threads: list[Any], context: dict[str, Any]) -> None:
            self.out, self.threads, self.context = out, threads, context

        def wait(self) -> list[tuple[Path, int]]:
            started = time.thread_time()
            chunks: list[list[Any]] = [[]]
            size = 0
            for t in self.threads:
                n = sum(len(i.versions) for i in t.flat) or 1
                if chunks[-1] and size + n > 1000:
                    chunks.append([])
                    size = 0
                chunks[-1].append(t)
                size += n
            joined = pisaPDF()
            parts = []
            for n, chunk in enumerate(chunks):
                part = self.out.with_name(f"before-{n}.pdf")
                html = template.render(
                    threads=chunk, first=n == 0, all_threads=self.threads, **self.context
                )
                with part.open("wb") as fh:
                    pisa.CreatePDF(html, dest=fh, encoding="utf-8")
                parts.append(part.open("rb"))
                joined.addFromFile(parts[-1])
            with self.out.open("wb") as fh:
                joined.join(fh)
            for f in parts:
                f.close()
                Path(f.name).unlink()
            spent[0] += time.thread_time() - started
            return [(self.out, 0)]

        def __enter__(self) -> OldPrint:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    def start_old(
        out: Path,
        threads: list[readable.ThreadView],
        context: Mapping[str, Any],
        *,
        volume_versions: int | None = None,
        workers: int | None = None,
    ) -> Any:
        return OldPrint(out, threads, dict(context))

    readable.start_pdf = start_old
    return _export(work, spent)


def _phase(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{args} failed:\n{done.stderr[-4000:]}")
    lines = done.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def _shares(run: dict[str, Any]) -> tuple[float, float, float, float]:
    """Export seconds, PDF step seconds, export CPU seconds, PDF CPU seconds."""
    return (
        float(run["seconds"]),
        float(run["steps_seconds"]["rendering PDF"]),
        float(run["cpu_seconds"]),
        float(run["pdf_cpu_seconds"]),
    )


def _report(after: dict[str, Any], before: dict[str, Any] | None) -> None:
    total, pdf, cpu, pdf_cpu = _shares(after)
    print(
        f"after (WeasyPrint, PDF/A-2b): export of {after['matched_versions']:,} versions "
        f"{total:.1f} s, waiting for the PDF {pdf:.1f} s = {pdf / total:.0%}; CPU {cpu:.1f} s, "
        f"PDF {pdf_cpu:.1f} s = {pdf_cpu / cpu:.0%}; max RSS {after['maxrss_mb']} MB"
    )
    print(f"after, export steps (s): {after['steps_seconds']}")
    if before is None:
        print("before: xhtml2pdf is not installed; pip install it to measure the old export")
        return
    b_total, b_pdf, b_cpu, b_pdf_cpu = _shares(before)
    print(
        f"before (xhtml2pdf): export {b_total:.1f} s, PDF {b_pdf:.1f} s = {b_pdf / b_total:.0%};"
        f" CPU {b_cpu:.1f} s, PDF {b_pdf_cpu:.1f} s = {b_pdf_cpu / b_cpu:.0%}"
    )
    print(f"before, export steps (s): {before['steps_seconds']}")
    print(
        f"export time after/before = {total / b_total:.2f}; PDF share after/before = "
        f"{(pdf / total) / (b_pdf / b_total):.2f} (< 1 means the PDF's share dropped); "
        f"CPU: export after/before = {cpu / b_cpu:.2f}, PDF after/before = "
        f"{pdf_cpu / b_pdf_cpu:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--matches", type=int, default=1_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--phase", choices=["generate", "after", "before"], default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import search_export

    if args.phase == "generate":
        search_export.EXPORT_MATCHES = args.matches
        search_export.generate(args.workdir, args.records)
        print("{}")
        return
    if args.phase == "after":
        print(json.dumps(export_after(args.workdir)))
        return
    if args.phase == "before":
        print(json.dumps(export_before(args.workdir)))
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    work.mkdir(parents=True, exist_ok=True)
    me = [str(Path(__file__).resolve()), "--workdir", str(work), "--records", str(args.records)]
    try:
        if not (work / "vocab.json").exists():
            _phase([*me, "--matches", str(args.matches), "--phase", "generate"])
        for old in work.glob("export-*"):
            shutil.rmtree(old)
        after = _phase([*me, "--phase", "after"])
        before = _phase([*me, "--phase", "before"])
        _report(after, before or None)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
