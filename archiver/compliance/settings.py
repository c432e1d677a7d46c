"""``[compliance]`` from the config: the City's domains, notice texts, alert contacts.

Defaults sit in ``[compliance]``; a site overrides any of them in
``[compliance.sites.<site-id>]``. A rule is switched off per site with a recorded reason
(``disabled = {city_domain_link = "press-release feed: links are to the county"}``): the
reason is shown wherever the rule would have been, so nothing is silently skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config import Config, SiteConfig, parse_duration
from archiver.errors import ConfigError

RULES = (
    "aup_notice",
    "disclosure_notice",
    "city_domain_link",
    "it_admin",
    "reply_review",
    "principal_counterpart",
    "profile_change",
    "post_burst",
    "deleted_by_city",
)
VANDALISM_RULES = frozenset({"profile_change", "post_burst", "deleted_by_city"})
KEYS = {
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


@dataclass(frozen=True, slots=True)
class SiteCompliance:
    domains: tuple[str, ...]
    aup_text: str
    aup_url: str | None
    disclosure_text: str
    interactive: bool
    grace_seconds: int
    emergency_tags: tuple[str, ...]
    emergency_grace_seconds: int
    burst_posts: int
    burst_window_seconds: int
    alert_to: tuple[str, ...]
    disabled: Mapping[str, str]


def _strings(value: Any, file: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("must be a list of non-empty strings", file=file, key=key)
    return tuple(v.strip() for v in value)


def _merged(cfg: Config, site_id: str) -> dict[str, Any]:
    raw = cfg.section("compliance")
    file = str(cfg.path)
    base = {k: v for k, v in raw.items() if k != "sites"}
    sites = raw.get("sites", {})
    if not isinstance(sites, Mapping):
        raise ConfigError("must be a table of site ids", file=file, key="compliance.sites")
    for sid in sites:
        if sid not in {s.id for s in cfg.sites}:
            raise ConfigError(
                f"no site with id {sid!r}",
                file=file,
                key=f"compliance.sites.{sid}",
                hint="use the id of a [[sites]] entry",
            )
    own = sites.get(site_id, {})
    if not isinstance(own, Mapping):
        raise ConfigError("must be a table", file=file, key=f"compliance.sites.{site_id}")
    for where, table in (("compliance", base), (f"compliance.sites.{site_id}", own)):
        for k in table:
            if k not in KEYS:
                raise ConfigError(
                    "unknown key",
                    file=file,
                    key=f"{where}.{k}",
                    hint="allowed keys: " + ", ".join(sorted(KEYS)),
                )
    return base | dict(own)


def site_compliance(cfg: Config, site: SiteConfig) -> SiteCompliance:
    """The site's effective compliance settings; a ConfigError names the key to fix."""
    raw = _merged(cfg, site.id)
    file = str(cfg.path)
    key = f"compliance.sites.{site.id}"
    disabled = raw.get("disabled", {})
    if not isinstance(disabled, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in disabled.values()
    ):
        raise ConfigError(
            "must map rule names to the reason they are off",
            file=file,
            key=f"{key}.disabled",
            hint='e.g. disabled = {post_burst = "storm-warning feed posts every 5 minutes"}',
        )
    for rule in disabled:
        if rule not in RULES:
            raise ConfigError(
                f"unknown rule {rule!r}",
                file=file,
                key=f"{key}.disabled",
                hint="rules: " + ", ".join(RULES),
            )
    interactive = raw.get("interactive", False)
    if not isinstance(interactive, bool):
        raise ConfigError("must be true or false", file=file, key=f"{key}.interactive")
    burst = raw.get("burst_posts", 10)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise ConfigError("must be a whole number ≥ 1", file=file, key=f"{key}.burst_posts")
    aup_url = raw.get("aup_url")
    return SiteCompliance(
        domains=tuple(d.lower() for d in _strings(raw.get("domains", []), file, "domains")),
        aup_text=str(raw.get("aup_text", "Acceptable Use Policy")),
        aup_url=str(aup_url) if aup_url else None,
        disclosure_text=str(raw.get("disclosure_text", "public record")),
        interactive=interactive,
        grace_seconds=parse_duration(raw.get("grace", "7d"), file=file, key=f"{key}.grace"),
        emergency_tags=tuple(
            t.lower()
            for t in _strings(raw.get("emergency_tags", ["#emergency"]), file, "emergency_tags")
        ),
        emergency_grace_seconds=parse_duration(
            raw.get("emergency_grace", "24h"), file=file, key=f"{key}.emergency_grace"
        ),
        burst_posts=burst,
        burst_window_seconds=parse_duration(
            raw.get("burst_window", "1h"), file=file, key=f"{key}.burst_window"
        ),
        alert_to=_strings(raw.get("alert_to", []), file, "alert_to"),
        disabled={str(k): str(v) for k, v in disabled.items()},
    )
