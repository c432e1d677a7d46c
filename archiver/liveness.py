"""Is a "running" harvest really running? Tell a live run from one whose process is gone.

A run row says ``running`` from ``start_run`` until ``finish_run``; a SIGKILL, a power cut or
an OOM kill leaves it so. The row records the process (pid, host), and the harvest holds the
site lock (``BundleLock`` ``site-<id>``, an ``flock`` the kernel drops when the process dies)
for the whole run. On the same host: no such process, or a process that does not hold the
site lock (its pid was reused), means the run was interrupted. A run from another host, or
one recorded before the pid was kept, cannot be judged here and is shown as stored.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archiver.catalog.store import Catalog

INTERRUPTED = "interrupted"


def run_alive(run: dict[str, Any], staging: Path, site_id: str) -> bool | None:
    """True/False for a run of this host; None when it cannot be told from here."""
    pid, host = run.get("pid"), run.get("host")
    if pid is None or host is None or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user has that pid: the lock decides
    return _site_lock_held(staging / f"site-{site_id}.lock")


def _site_lock_held(path: Path) -> bool | None:
    """Whether a process holds the site's harvest lock; read-only, never creates the file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # a live harvest always has its lock file
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we just took
    return False


def mark_interrupted(rows: list[dict[str, Any]], staging: Path) -> list[dict[str, Any]]:
    """In ``Catalog.site_status`` rows: a ``running`` last run whose process is gone becomes
    ``interrupted``, with an error saying what happened and what heals it."""
    for row in rows:
        last = row.get("last_run")
        if not last or last.get("status") != "running":
            continue
        if run_alive(last, staging, row["site"]) is False:
            last["status"] = INTERRUPTED
            last["error"] = (
                f"the harvest process (pid {last['pid']} on {last['host']}) stopped before the "
                "run finished; nothing from it was sealed. `archiver recover` or the next "
                "harvest cleans up"
            )
    return rows


def abandon_dead_runs(catalog: Catalog, staging: Path) -> int:
    """For ``recover``: every ``running`` run whose process is gone becomes ``abandoned``.

    SQLAlchemy is loaded here, not at module top: ``status`` uses ``mark_interrupted`` and
    reads an embedded catalog without it (issue 14 part 2)."""
    from sqlalchemy import select, update

    from archiver.catalog import schema as s
    from archiver.catalog.store import now_iso

    with catalog.begin() as conn:
        running = [
            dict(r._mapping)
            for r in conn.execute(
                select(s.runs.c.id, s.runs.c.site_id, s.runs.c.pid, s.runs.c.host).where(
                    s.runs.c.status == "running"
                )
            )
        ]
    dead = [r["id"] for r in running if run_alive(r, staging, r["site_id"]) is False]
    if not dead:
        return 0
    with catalog.begin() as conn:
        conn.execute(
            update(s.runs)
            .where(s.runs.c.id.in_(dead), s.runs.c.status == "running")
            .values(
                status="abandoned",
                finished_at=now_iso(),
                error="the process stopped before the run finished; nothing was sealed from it",
            )
        )
    return len(dead)
