"""Typed settings, one frozen dataclass per config section, built and validated at load.

:func:`archiver.config.check_config` builds every section once (:mod:`.sections`), collects
every problem as a one-line ``ConfigError`` naming the file, the key and the fix, and hands
the result to the program as typed attributes of ``Config`` (``cfg.daemon``, ``cfg.storage``,
``cfg.retention``...). Domain code never reads a raw TOML table: it receives the settings it
uses, already checked, so a typo fails ``archiver status`` and ``config check`` alike instead
of a nightly job weeks later.

Why frozen dataclasses and not pydantic: the checks are the City's own (crontab lines in the
archive's zone, secret *names* never values, durations like ``"6h"``, did-you-mean hints) and
each must produce our one-line message, which means custom validators and error translation
in pydantic anyway; dataclasses add no dependency, keep ``mypy --strict`` exact, compare by
value (the daemon's reload compares ``[storage]`` old and new), and stay importable by the
lowest layer. These modules import only the foundation (errors, schedule, config_sections),
never a feature, so every feature may import its settings from here.
"""

from __future__ import annotations

from archiver.settings.cluster import ClusterSettings
from archiver.settings.compliance import ComplianceSettings, SiteCompliance
from archiver.settings.daemon import DaemonSettings
from archiver.settings.fastlane import FastLaneSettings, WebhookSettings
from archiver.settings.integrity import IntegritySettings, TsaSettings
from archiver.settings.report import ReportSettings
from archiver.settings.requests import RequestPolicy
from archiver.settings.retention import RetentionConfig
from archiver.settings.smtp import SmtpSettings
from archiver.settings.storage import S3Settings, StorageSettings

__all__ = [
    "ClusterSettings",
    "ComplianceSettings",
    "DaemonSettings",
    "FastLaneSettings",
    "IntegritySettings",
    "ReportSettings",
    "RequestPolicy",
    "RetentionConfig",
    "S3Settings",
    "SiteCompliance",
    "SmtpSettings",
    "StorageSettings",
    "TsaSettings",
    "WebhookSettings",
]
