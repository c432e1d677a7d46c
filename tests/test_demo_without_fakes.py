"""Without the fake platforms installed, `archiver demo` is one clear line, not a traceback."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = (
    "import sys; sys.modules['fakeplatforms'] = None; "  # as if not installed
    "sys.argv = ['archiver', 'demo']; from archiver.cli import main; main()"
)


def test_demo_without_the_fakes_says_how_to_get_them() -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2, run.stderr
    assert "muni-archiver-fakes" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
