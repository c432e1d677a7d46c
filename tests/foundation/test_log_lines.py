"""Every log event is one whole line, even when threads log at once (the daemon does)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import sys, threading
from archiver.log import configure, get_logger
configure(json=True, level="INFO")
log = get_logger()
def work(n):
    for i in range(400):
        log.info("thread_event", thread=n, i=i, pad="x" * 200)
threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_threads_logging_at_once_never_share_a_line() -> None:
    """Regression: two JSON events on one line made the daemon's journal unparseable
    (``print`` wrote each event and its newline in two writes)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    lines = done.stderr.splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 8 * 400
    assert {(e["thread"], e["i"]) for e in events} == {(n, i) for n in range(8) for i in range(400)}
