"""Key-by-key checks of the config sections other than ``[archive]``, ``[http]`` and sites.

Each feature validates its own section when it runs (the daemon its ``[daemon]``, the report
its ``[smtp]``), which left ``config check`` saying OK for a misspelled key or
``backend = "s4"`` that only failed weeks later, or never. This module gives ``config check``
(and every command, through :func:`archiver.config.check_config`) the same knowledge up front:

* :func:`key_problems` — cheap structural checks run on every load: unknown keys with a
  did-you-mean, and enumerations with their allowed values.
* :func:`deep_problems` — the features' own validators, run by ``config check`` so every value
  problem is reported in one pass, not one per failed command.

The key sets are the features' own (imported, not copied), so a new key is added in one place.
Per-site ``options`` belong to the connectors and are checked there.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from archiver.errors import ConfigError

if TYPE_CHECKING:
    from archiver.config import Config

#: Keys of ``[retention]`` (mapping tables included); read by archiver.retention.
RETENTION_KEYS = frozenset(
    {"schedules_dir", "audit_received", "allow_self_approval", "classes", "sites"}
)
#: Keys of ``[integrity]``; read by archiver.integrity.tsa (the trusted timestamp authority).
INTEGRITY_KEYS = frozenset({"tsa_url", "tsa_ca_file", "tsa_timeout"})
#: Keys of ``[storage]`` for the local backend (``path`` overrides <root>/bundles).
LOCAL_STORAGE_KEYS = frozenset({"backend", "path", "rolling_lock_days"})
STORAGE_BACKENDS = ("local", "s3")
LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
SMTP_SECURITY = ("starttls", "tls", "none")


#: The feature sections whose keys are checked, in the order problems are reported.
SECTIONS = (
    "daemon",
    "smtp",
    "report",
    "requests",
    "retention",
    "integrity",
    "storage",
    "fastlane",
    "webhooks",
)


def keys_of(name: str) -> frozenset[str]:
    """Allowed keys of one section, from the module that reads it (imported only when the
    config has that section: loading a config must not load every feature, issue 14)."""
    if name == "daemon":
        from archiver.daemon.scheduler import DAEMON_KEYS

        return frozenset(DAEMON_KEYS)
    if name in ("smtp", "report"):
        from archiver.report.settings import REPORT_KEYS, SMTP_KEYS

        return frozenset(SMTP_KEYS if name == "smtp" else REPORT_KEYS)
    if name == "requests":
        from archiver.prr.deadlines import REQUEST_KEYS

        return frozenset(REQUEST_KEYS)
    if name == "retention":
        return RETENTION_KEYS
    if name == "integrity":
        return INTEGRITY_KEYS
    if name == "storage":
        from archiver.storage.s3 import _CONFIG_KEYS as S3_KEYS

        return LOCAL_STORAGE_KEYS | frozenset(S3_KEYS)
    if name == "fastlane":
        from archiver.fastlane.runner import FASTLANE_KEYS

        return frozenset(FASTLANE_KEYS)
    if name == "webhooks":
        from archiver.fastlane.webhooks import WEBHOOK_KEYS

        return frozenset(WEBHOOK_KEYS)
    raise KeyError(name)


def section_keys() -> dict[str, frozenset[str]]:
    """Allowed keys per section, from the modules that read them."""
    return {name: keys_of(name) for name in SECTIONS}


def suggest(word: str, options: Collection[str], what: str = "allowed keys") -> str:
    """``did you mean 'x'?`` for a near miss, else the full list (short lists only)."""
    close = difflib.get_close_matches(word, sorted(options), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{what}: " + ", ".join(sorted(options))


def _enum(
    section: Mapping[str, Any], name: str, allowed: tuple[str, ...], *, file: str, prefix: str
) -> ConfigError | None:
    if name not in section:
        return None
    value = section[name]
    if isinstance(value, str) and value in allowed:
        return None
    near = difflib.get_close_matches(str(value), allowed, n=1)
    return ConfigError(
        f"{value!r} is not one of: {', '.join(allowed)}",
        file=file,
        key=f"{prefix}.{name}",
        hint=f"did you mean {near[0]!r}?" if near else f'write e.g. {name} = "{allowed[0]}"',
    )


def key_problems(data: Mapping[str, Any], *, file: str) -> list[ConfigError]:
    """Unknown keys and out-of-range enumerations in the feature sections of ``data``."""
    problems: list[ConfigError] = []
    for name in SECTIONS:
        section = data.get(name)
        if section is None:
            continue
        allowed = keys_of(name)
        if not isinstance(section, Mapping):
            problems.append(
                ConfigError("must be a table", file=file, key=name, hint=f"write [{name}]")
            )
            continue
        for k in section:
            if k not in allowed:
                problems.append(
                    ConfigError(
                        "unknown key", file=file, key=f"{name}.{k}", hint=suggest(k, allowed)
                    )
                )
    storage = data.get("storage")
    if isinstance(storage, Mapping):
        for key, allowed_values in (("backend", STORAGE_BACKENDS), ("lock_mode", LOCK_MODES)):
            bad = _enum(storage, key, allowed_values, file=file, prefix="storage")
            if bad is not None:
                problems.append(bad)
    smtp = data.get("smtp")
    if isinstance(smtp, Mapping):
        bad = _enum(smtp, "security", SMTP_SECURITY, file=file, prefix="smtp")
        if bad is not None:
            problems.append(bad)
    return problems


def _collect(problems: list[ConfigError], check: Callable[[], object]) -> None:
    try:
        check()
    except ConfigError as exc:
        if str(exc) not in {str(p) for p in problems}:
            problems.append(exc)


def deep_problems(cfg: Config) -> list[ConfigError]:
    """Run every feature's own validator on ``cfg``; one entry per section that fails.

    A validator stops at its first problem, so a section can hide a second one until the
    first is fixed; ``config check`` says so by being run again.
    """
    from archiver.compliance.settings import site_compliance
    from archiver.daemon.scheduler import daemon_settings, desired_jobs
    from archiver.fastlane.runner import FastLaneSettings
    from archiver.fastlane.webhooks import WebhookSettings
    from archiver.integrity.sealer import tsa_settings
    from archiver.prr.deadlines import policy_from_config
    from archiver.report.settings import report_settings, smtp_settings
    from archiver.retention.eligibility import load_settings
    from archiver.storage.base import rolling_lock_days
    from archiver.storage.s3 import settings_from_config

    problems: list[ConfigError] = []
    file = str(cfg.path)
    _collect(problems, lambda: desired_jobs(cfg, daemon_settings(cfg)))
    _collect(problems, lambda: report_settings(cfg))
    if cfg.section("smtp"):
        _collect(problems, lambda: smtp_settings(cfg))
    _collect(problems, lambda: policy_from_config(cfg))
    _collect(problems, lambda: FastLaneSettings.from_section(cfg.section("fastlane")))
    for site in cfg.sites:
        _collect(problems, partial(site_compliance, cfg, site))
    _collect(problems, lambda: WebhookSettings.from_section(cfg.section("webhooks")))
    storage = cfg.section("storage")
    if storage.get("backend") == "s3":  # the local backend has nothing more to check
        _collect(
            problems,
            lambda: settings_from_config(storage, file=file, staging=cfg.staging_dir),
        )
    _collect(problems, lambda: rolling_lock_days(cfg.section("storage"), file=file))
    _collect(problems, lambda: load_settings(cfg))
    _collect(problems, lambda: tsa_settings(cfg))
    self_approval = cfg.section("retention").get("allow_self_approval", False)
    if not isinstance(self_approval, bool):
        problems.append(
            ConfigError(
                f"must be true or false, not {self_approval!r}",
                file=file,
                key="retention.allow_self_approval",
                hint="write allow_self_approval = true (or remove the line)",
            )
        )
    return problems
