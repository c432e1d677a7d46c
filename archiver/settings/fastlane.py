"""``[fastlane]`` and ``[webhooks]``: the near-real-time lane beside the scheduled sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config_sections import FASTLANE_KEYS, WEBHOOK_KEYS
from archiver.errors import ConfigError
from archiver.settings.values import no_unknown_keys, parse_duration

DEFAULT_TARGET = 120.0
"""Seconds from posting to sealing that count as captured in time (``[fastlane] target``)."""
DEFAULT_QUIET_SEAL_EVERY = 3600
"""Seconds a quiet tick's exchanges may wait in the staging spool before they are sealed
(``[fastlane] quiet_seal_every``; docs/fastlane.md says why an hour)."""
MAX_BODY = 1 << 20  # Meta's deliveries are a few KB; anything near this is not one
MAX_PER_MINUTE = 600
_ENV_NAME = "e.g. ARCHIVER_META_APP_SECRET (the NAME of a variable, never the secret)"


@dataclass(frozen=True)
class FastLaneSettings:
    enabled: bool = False
    interval: float = 60.0
    target: float = DEFAULT_TARGET
    quiet_seal_every: float = DEFAULT_QUIET_SEAL_EVERY


@dataclass(frozen=True)
class WebhookSettings:
    host: str
    port: int
    verify_token_env: str = "ARCHIVER_WEBHOOK_VERIFY_TOKEN"
    app_secret_env: str = "ARCHIVER_META_APP_SECRET"
    max_body: int = MAX_BODY
    max_per_minute: int = MAX_PER_MINUTE


def fastlane_from(raw: Mapping[str, Any], *, file: str) -> FastLaneSettings:
    """``[fastlane]``; off unless ``enabled = true``."""
    no_unknown_keys(raw, FASTLANE_KEYS, "fastlane", file)
    enabled = raw.get("enabled", False)
    interval = raw.get("interval", 60)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{enabled!r} must be true or false", file=file, key="fastlane.enabled")
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 5 <= interval <= 3600
    ):
        raise ConfigError(
            f"{interval!r} must be seconds between 5 and 3600",
            file=file,
            key="fastlane.interval",
            hint="e.g. interval = 60",
        )
    target = raw.get("target", DEFAULT_TARGET)
    if not isinstance(target, int | float) or isinstance(target, bool) or target < 10:
        raise ConfigError(
            f"{target!r} must be seconds, at least 10",
            file=file,
            key="fastlane.target",
            hint="e.g. target = 120 (a comment sealed later than this by a sweep is a miss)",
        )
    quiet = parse_duration(
        raw.get("quiet_seal_every", DEFAULT_QUIET_SEAL_EVERY),
        file=file,
        key="fastlane.quiet_seal_every",
    )
    if quiet > 86400:
        raise ConfigError(
            f"{raw.get('quiet_seal_every')!r} is longer than a day",
            file=file,
            key="fastlane.quiet_seal_every",
            hint='e.g. quiet_seal_every = "1h": quiet polls wait unsealed in staging until then',
        )
    return FastLaneSettings(enabled, float(interval), float(target), float(quiet))


def webhooks_from(raw: Mapping[str, Any], *, file: str) -> WebhookSettings | None:
    """``[webhooks]`` of the config, or None when it is absent."""
    if not raw:
        return None
    no_unknown_keys(raw, WEBHOOK_KEYS, "webhooks", file)
    listen = raw.get("listen", "")
    host, _, port = str(listen).rpartition(":")
    if not isinstance(listen, str) or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f"{listen!r} is not HOST:PORT",
            file=file,
            key="webhooks.listen",
            hint='e.g. listen = "127.0.0.1:8089" (the reverse proxy forwards to it)',
        )
    names: dict[str, str] = {}
    for key in ("verify_token_env", "app_secret_env"):
        value = raw.get(key, getattr(WebhookSettings, key))
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                "must be the NAME of an environment variable or systemd credential",
                file=file,
                key=f"webhooks.{key}",
                hint=_ENV_NAME,
            )
        names[key] = value
    return WebhookSettings(host, int(port), names["verify_token_env"], names["app_secret_env"])
