"""``[integrity]``: the trusted timestamp authority (RFC 3161) asked at every seal, if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.config_sections import INTEGRITY_KEYS
from archiver.errors import ConfigError
from archiver.settings.values import no_unknown_keys


@dataclass(frozen=True)
class TsaSettings:
    url: str
    ca_file: Path
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class IntegritySettings:
    tsa: TsaSettings | None = None
    """None: bundles are signed but not timestamped (no ``tsa_url``)."""


def tsa_from(raw: Mapping[str, Any], *, file: str) -> TsaSettings | None:
    url = raw.get("tsa_url")
    if url is None:
        return None
    ca = raw.get("tsa_ca_file")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"tsa_url must be an http(s) URL (got {url!r})",
            file=file,
            key="integrity.tsa_url",
            hint='e.g. tsa_url = "https://freetsa.org/tsr"',
        )
    if not isinstance(ca, str) or not Path(ca).is_file():
        raise ConfigError(
            f"tsa_ca_file must name the TSA's CA certificate bundle (got {ca!r})",
            file=file,
            key="integrity.tsa_ca_file",
            hint="download the TSA's root certificate (PEM) and give its path",
        )
    timeout = raw.get("tsa_timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(
            f"{timeout!r} is not a number of seconds > 0",
            file=file,
            key="integrity.tsa_timeout",
            hint="e.g. tsa_timeout = 10",
        )
    return TsaSettings(url=url, ca_file=Path(ca), timeout=float(timeout))


def integrity_from(raw: Mapping[str, Any], *, file: str) -> IntegritySettings:
    no_unknown_keys(raw, INTEGRITY_KEYS, "integrity", file)
    return IntegritySettings(tsa=tsa_from(raw, file=file))
