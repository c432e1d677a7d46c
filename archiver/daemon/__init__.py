"""The scheduling daemon: harvests, fixity checks, retention refresh and the monthly report.

``scheduler`` holds the job plan (kept in the catalog database so it survives restarts) and the
``job_runs``/``harvest_backoff`` tables ``archiver status`` reads; ``jobs`` holds the module-level
functions the job store refers to by name; ``service`` runs the process (signals, systemd notify,
graceful stop).
"""

from __future__ import annotations
