"""``[retention]``: where the schedules are, audit dates, self-approval, the class mapping.

The class mapping (``[retention.classes]``, ``[retention.sites.<id>]``) is kept here as
written: whether each item reference resolves depends on the schedule files, which
:mod:`archiver.retention` loads and checks (``config check`` runs that too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from archiver.config_sections import RETENTION_KEYS
from archiver.errors import ConfigError
from archiver.settings.values import boolean, no_unknown_keys


@dataclass(frozen=True)
class RetentionConfig:
    schedules_dir: Path | None = None
    """``schedules_dir`` resolved against the config's folder; None: the shipped schedules."""
    audit_received: Mapping[int, date] = field(default_factory=dict)
    """Fiscal year -> the date its final audit report arrived (starts fiscal-year clocks)."""
    allow_self_approval: bool = False
    classes: Mapping[str, Any] | None = None
    """``[retention.classes]`` as written, or None when the City has not mapped any yet."""
    sites: Mapping[str, Any] = field(default_factory=dict)
    """``[retention.sites.<site id>]`` overrides as written."""

    def mapping_document(self) -> dict[str, Any]:
        """The mapping tables in the shape :func:`archiver.retention.mapping.load_mapping` reads."""
        table: dict[str, Any] = {"sites": dict(self.sites)}
        if self.classes is not None:
            table["classes"] = dict(self.classes)
        return {"retention": table}


def _audit_received(raw: object, file: str) -> dict[int, date]:
    key = "retention.audit_received"
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "must be a table of fiscal year = date",
            file=file,
            key=key,
            hint='write e.g. audit_received = { 2025 = "2025-12-15" }',
        )
    out: dict[int, date] = {}
    for fy, value in raw.items():
        try:
            year = int(fy)
        except ValueError:
            raise ConfigError(
                f"fiscal year {fy!r} is not a year",
                file=file,
                key=f"{key}.{fy}",
                hint="name the fiscal year by the year it ends, e.g. 2025",
            ) from None
        if isinstance(value, date) and not isinstance(value, datetime):
            out[year] = value
            continue
        try:
            out[year] = date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(
                f"{value!r} is not a date",
                file=file,
                key=f"{key}.{fy}",
                hint="write the date the final audit report arrived as YYYY-MM-DD",
            ) from None
    return out


def retention_from(raw: Mapping[str, Any], *, file: str, config_dir: Path) -> RetentionConfig:
    no_unknown_keys(raw, RETENTION_KEYS, "retention", file)
    raw_dir = raw.get("schedules_dir")
    schedules_dir: Path | None = None
    if raw_dir is not None:
        if not isinstance(raw_dir, str) or not raw_dir.strip():
            raise ConfigError(
                "must be a folder path string", file=file, key="retention.schedules_dir"
            )
        path = Path(raw_dir)
        schedules_dir = path if path.is_absolute() else config_dir / path
    audit = _audit_received(raw.get("audit_received", {}), file)
    self_approval = boolean(
        raw.get("allow_self_approval", False),
        file=file,
        key="retention.allow_self_approval",
        hint="write allow_self_approval = true (or remove the line)",
    )
    classes = raw.get("classes")
    if classes is not None and not isinstance(classes, Mapping):
        raise ConfigError(
            "must be a table of record class = item ref",
            file=file,
            key="retention.classes",
            hint='write e.g. [retention.classes] then city_post = "LG1.2006-1"',
        )
    sites = raw.get("sites", {})
    if not isinstance(sites, Mapping):
        raise ConfigError(
            "must be a table of per-site tables",
            file=file,
            key="retention.sites",
            hint="write [retention.sites.<site id>] with class = item ref lines",
        )
    return RetentionConfig(
        schedules_dir=schedules_dir,
        audit_received=MappingProxyType(audit),
        allow_self_approval=self_approval,
        classes=None if classes is None else MappingProxyType(dict(classes)),
        sites=MappingProxyType(dict(sites)),
    )
