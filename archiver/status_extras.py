"""Extra sections for ``archiver status`` contributed by optional features (daemon, report).

Each contributor is a function ``(app) -> dict``; failures in one never hide the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

CONTRIBUTORS: list[str] = [
    "archiver.daemon.scheduler:status_section",
    "archiver.report.build:status_section",
    "archiver.retention.disposition:status_section",
    "archiver.integrity.status:status_section",
    "archiver.fastlane.latency:status_section",
    "archiver.coverage:status_section",
]


def collect(app: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"notes": []}
    for target in CONTRIBUTORS:
        module, _, name = target.partition(":")
        try:
            part = getattr(importlib.import_module(module), name)(app)
        except Exception as exc:
            out["notes"].append(f"status section {target} unavailable: {exc}")
            continue
        notes = part.pop("notes", [])
        out.update(part)
        out["notes"].extend(notes)
    return out
