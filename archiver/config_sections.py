"""The allowed keys of the config sections other than ``[archive]``, ``[http]`` and sites.

Every command, through :func:`archiver.config.check_config`, runs :func:`key_problems` first:
unknown keys with a did-you-mean, and enumerations with their allowed values, one line each
for the whole file. Then each section is built into its typed settings
(:mod:`archiver.settings`), which checks the values; a section whose keys already failed is
not built again, so one typo is one line.

The key sets live here, as data, so a new key is added in one place (the docs test reads
them too) and this foundation module imports no feature. Per-site ``options`` belong to the
connectors and are checked there.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from archiver.errors import ConfigError

#: Keys of ``[retention]`` (mapping tables included); built by archiver.settings.retention.
RETENTION_KEYS = frozenset(
    {"schedules_dir", "audit_received", "allow_self_approval", "classes", "sites"}
)
#: Keys of ``[integrity]``; built by archiver.settings.integrity (the trusted timestamp authority).
INTEGRITY_KEYS = frozenset({"tsa_url", "tsa_ca_file", "tsa_timeout"})
#: Keys of ``[storage]`` for the local backend (``path`` overrides <root>/bundles).
LOCAL_STORAGE_KEYS = frozenset({"backend", "path", "rolling_lock_days"})
STORAGE_BACKENDS = ("local", "s3")
LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
SMTP_SECURITY = ("starttls", "tls", "none")


#: Keys of ``[daemon]``; built by archiver.settings.daemon.
DAEMON_KEYS = frozenset(
    {
        "jitter_seconds",
        "fixity_sample",
        "max_concurrent_harvests",
        "stop_grace_seconds",
        "max_job_runtime",
        "fixity_schedule",
        "verify_schedule",
        "retention_schedule",
    }
)
#: Keys of ``[cluster]``; built by archiver.settings.cluster.
CLUSTER_KEYS = frozenset(
    {"concurrency", "heartbeat_seconds", "stalled_seconds", "metrics_port", "metrics_host"}
)
#: Keys of ``[fastlane]``; built by archiver.settings.fastlane.
FASTLANE_KEYS = frozenset({"enabled", "interval", "target", "quiet_seal_every"})
#: Keys of ``[webhooks]``; built by archiver.settings.fastlane.
WEBHOOK_KEYS = frozenset({"listen", "verify_token_env", "app_secret_env"})
#: Keys of ``[requests]``; built by archiver.settings.requests.
REQUEST_KEYS = frozenset(
    {
        "acknowledge_business_days",
        "respond_business_days",
        "fee_per_hour",
        "free_minutes",
        "holidays",
    }
)
#: Keys of ``[smtp]``; built by archiver.settings.smtp.
SMTP_KEYS = frozenset(
    {
        "host",
        "port",
        "security",
        "username",
        "password_secret",
        "sender",
        "recipients",
        "timeout",
        "cafile",
        "attempts",
        "backoff_seconds",
    }
)
#: Keys of ``[compliance]`` and of its ``[compliance.sites.<site id>]`` tables.
COMPLIANCE_KEYS = frozenset(
    {
        "domains",
        "aup_text",
        "aup_url",
        "disclosure_text",
        "interactive",
        "grace",
        "emergency_tags",
        "emergency_grace",
        "burst_posts",
        "burst_window",
        "alert_to",
        "disabled",
    }
)
#: Keys of ``[report]``; built by archiver.settings.report.
REPORT_KEYS = frozenset({"recipients", "schedule"})
#: Keys of ``[storage]`` for the S3 backend with their TOML types; built by archiver.settings.storage.
S3_STORAGE_KEYS: dict[str, type] = {
    "backend": str,
    "endpoint": str,
    "bucket": str,
    "secure": bool,
    "region": str,
    "prefix": str,
    "access_key_secret": str,
    "secret_key_secret": str,
    "lock_mode": str,
    "default_retention_days": int,
    "allow_unsafe_worm": bool,
    "ca_file": str,
    # For every backend (the rolling lock of undated bundles); listed so it is not unknown.
    "rolling_lock_days": int,
}


def section_keys() -> dict[str, frozenset[str]]:
    """Allowed keys per section (the sections other than ``[archive]``, ``[http]``, sites)."""
    return {
        "daemon": DAEMON_KEYS,
        "cluster": CLUSTER_KEYS,
        "smtp": SMTP_KEYS,
        "report": REPORT_KEYS,
        "requests": REQUEST_KEYS,
        "retention": RETENTION_KEYS,
        "integrity": INTEGRITY_KEYS,
        "storage": LOCAL_STORAGE_KEYS | frozenset(S3_STORAGE_KEYS),
        "fastlane": FASTLANE_KEYS,
        "webhooks": WEBHOOK_KEYS,
    }


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
    for name, allowed in section_keys().items():
        section = data.get(name)
        if section is None:
            continue
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
