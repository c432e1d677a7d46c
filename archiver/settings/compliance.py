"""``[compliance]``: the City's domains, notice texts, alert contacts.

Defaults sit in ``[compliance]``; a site overrides any of them in
``[compliance.sites.<site-id>]``. A rule is switched off per site with a recorded reason
(``disabled = {city_domain_link = "press-release feed: links are to the county"}``): the
reason is shown wherever the rule would have been, so nothing is silently skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archiver.config_sections import COMPLIANCE_KEYS as KEYS
from archiver.config_sections import suggest
from archiver.errors import ConfigError
from archiver.settings.values import parse_duration

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


def _merged(
    raw: Mapping[str, Any], site_id: str, *, file: str, site_ids: Collection[str]
) -> dict[str, Any]:
    base = {k: v for k, v in raw.items() if k != "sites"}
    sites = raw.get("sites", {})
    if not isinstance(sites, Mapping):
        raise ConfigError("must be a table of site ids", file=file, key="compliance.sites")
    for sid in sites:
        if sid not in site_ids:
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
                    hint=suggest(k, KEYS),
                )
    return base | dict(own)


def site_compliance(
    section: Mapping[str, Any], site_id: str, *, file: str, site_ids: Collection[str]
) -> SiteCompliance:
    """The site's effective compliance settings; a ConfigError names the key to fix."""
    raw = _merged(section, site_id, file=file, site_ids=site_ids)
    key = f"compliance.sites.{site_id}" if site_id else "compliance"
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


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """Every configured site's effective ``[compliance]`` settings, checked at load."""

    sites: Mapping[str, SiteCompliance]
    default: SiteCompliance

    def for_site(self, site_id: str) -> SiteCompliance:
        """The site's settings; a site the config does not list gets the city-wide defaults."""
        return self.sites.get(site_id, self.default)


def compliance_from(
    raw: Mapping[str, Any], *, file: str, site_ids: Collection[str]
) -> tuple[ComplianceSettings, list[ConfigError]]:
    """Each site's settings, with one problem per site that has one (defaults stand in)."""
    errors: list[ConfigError] = []
    base = {k: v for k, v in raw.items() if k != "sites"}
    try:
        default = site_compliance(base, "", file=file, site_ids=())
    except ConfigError as exc:
        if not site_ids:  # otherwise each site names the problem under its own key
            errors.append(exc)
        default = site_compliance({}, "", file=file, site_ids=())
    sites: dict[str, SiteCompliance] = {}
    for site_id in site_ids:
        try:
            sites[site_id] = site_compliance(raw, site_id, file=file, site_ids=site_ids)
        except ConfigError as exc:
            if str(exc) not in {str(e) for e in errors}:
                errors.append(exc)
    return ComplianceSettings(sites=MappingProxyType(sites), default=default), errors
