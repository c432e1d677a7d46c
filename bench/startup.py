"""Benchmark: start-up cost of ``archiver --help`` and ``archiver status``.

Issue 14 part 2: every command paid ~0.75 s of imports plus an S3 self-check. Target: both
commands < 0.3 s wall on this machine. The baseline, measured in the same run and interleaved
with the commands so machine load hits both alike, is an empty interpreter
(``python -c pass``). Each figure is the median of ``--runs`` runs; CPU time (user+sys of the
child, from ``wait4``) is printed too because it is less sensitive to other load on a shared
machine than wall time.

Our own modules are byte-compiled first (``compileall``), as ``pip install`` does for an
installed package: in an editable checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as some
shells and CI set) every start would otherwise compile ~90 modules from source, a cost no
installed archiver pays. ``--no-compile`` measures that case too.

    .venv/bin/python bench/startup.py [--runs 15] [--no-compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-compile", action="store_true", help="Do not byte-compile first.")
    args = ap.parse_args()
    exe = Path(sys.executable)
    if not args.no_compile:
        subprocess.run(
            [str(exe), "-m", "compileall", "-q", str(ROOT / "archiver"), str(ROOT / "connectors")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    archiver = exe.parent / "archiver"
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp) / "archive"
        root.mkdir()
        config = Path(tmp) / "archiver.toml"
        config.write_text(f'[archive]\nroot = "{root}"\ncity = "City of Bozeman"\n', "utf-8")
        env = dict(os.environ, ARCHIVER_CONFIG=str(config), COLUMNS="120")
        cmds = {
            "python -c pass": [str(exe), "-c", "pass"],
            "archiver --help": [str(archiver), "--help"],
            "archiver status": [str(archiver), "status"],
        }
        _run(cmds["archiver status"], env)  # creates the catalog; not timed
        walls: dict[str, list[float]] = {k: [] for k in cmds}
        cpus: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.runs):
            for name, cmd in cmds.items():  # interleaved: load hits every command alike
                w, c = _run(cmd, env)
                walls[name].append(w)
                cpus[name].append(c)
    base_w = statistics.median(walls["python -c pass"])
    base_c = statistics.median(cpus["python -c pass"])
    print(f"start-up, median of {args.runs} runs (baseline: python -c pass)")
    for name in cmds:
        w = statistics.median(walls[name])
        c = statistics.median(cpus[name])
        target = "" if name.startswith("python") else "  [target < 0.300 s]"
        print(
            f"  {name:<16} wall {w:6.3f} s ({w / base_w:5.1f}x)  cpu {c:6.3f} s "
            f"({c / base_c:5.1f}x){target}"
        )


if __name__ == "__main__":
    main()
