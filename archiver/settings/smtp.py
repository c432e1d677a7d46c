"""``[smtp]``: the mail server the monthly report and compliance alerts go through.

The config holds only the *name* of the secret with the SMTP password (``password_secret``),
never the password, so the file can be shown to anyone who helps with the set-up. Recipients come
from both tables: ``[smtp] recipients`` for the mail system's standing list and ``[report]
recipients`` for the people the City Clerk adds; duplicates are sent once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from archiver.config_sections import SMTP_KEYS
from archiver.errors import ConfigError, ReportError
from archiver.settings.report import ReportSettings, addresses
from archiver.settings.values import no_unknown_keys

Security = Literal["starttls", "tls", "none"]
_SECURITY: tuple[Security, ...] = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send the report.

    ``security``: "starttls" (port 587, the usual choice), "tls" (implicit TLS, port 465) or
    "none" (a relay on the local network; AUTH is refused in that mode so a password never
    crosses the wire in clear). ``password_secret`` is the *name* of a systemd credential or
    environment variable holding the password, never the password itself. ``cafile`` adds a CA
    for a private or test server on top of the system trust store. Waits between attempts are
    ``backoff_seconds``, then double, then double again.
    """

    host: str
    port: int
    security: Security
    username: str | None
    password_secret: str | None
    sender: str
    recipients: list[str]
    timeout: float = 30
    cafile: str | None = None
    attempts: int = 4
    backoff_seconds: float = 30

    def __post_init__(self) -> None:
        if self.security not in _SECURITY:
            raise ReportError(
                f"SMTP security {self.security!r} is not one of starttls, tls, none",
                hint="use starttls for port 587 or tls for port 465",
            )
        if not 0 < self.port < 65536:
            raise ReportError(f"SMTP port {self.port} is out of range", hint="use 587 or 465")
        if not self.recipients:
            raise ReportError(
                "the report has no recipients",
                hint="list the City Clerk, the IT Director and the site administrators",
            )
        if self.attempts < 1:
            raise ReportError(f"SMTP attempts must be at least 1, not {self.attempts}")
        if self.backoff_seconds < 0 or self.timeout <= 0:
            raise ReportError("SMTP timeout must be positive and backoff_seconds not negative")
        if (self.username is None) != (self.password_secret is None):
            raise ReportError(
                "SMTP username and password_secret must be set together",
                hint="set both for an authenticated server, or neither for an open relay",
            )
        if self.username is not None and self.security == "none":
            raise ReportError(
                f"refusing to send the SMTP password to {self.endpoint} without encryption",
                hint='set security = "starttls" (port 587) or "tls" (port 465)',
            )

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_from(raw: Mapping[str, Any], *, file: str, report: ReportSettings) -> SmtpSettings | None:
    """Validated mail settings, or None without ``[smtp]``; a ConfigError names the key."""
    if not raw:
        return None
    no_unknown_keys(raw, SMTP_KEYS, "smtp", file)
    for required in ("host", "sender"):
        if not isinstance(raw.get(required), str) or not raw[required].strip():
            raise ConfigError(
                "is required", file=file, key=f"smtp.{required}", hint="a non-empty string"
            )
    secret = raw.get("password_secret")
    if secret is not None and (
        not isinstance(secret, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", secret)
    ):
        raise ConfigError(
            "must be the NAME of an environment variable or systemd credential",
            file=file,
            key="smtp.password_secret",
            hint='never the password itself, e.g. password_secret = "ARCHIVER_SMTP_PASSWORD"',
        )
    recipients = addresses(raw.get("recipients"), file=file, key="smtp.recipients")
    for r in report.recipients:
        if r.lower() not in {x.lower() for x in recipients}:
            recipients.append(r)
    security = raw.get("security", "starttls")
    port = raw.get("port", {"starttls": 587, "tls": 465}.get(str(security), 25))
    try:
        return SmtpSettings(
            host=str(raw["host"]).strip(),
            port=int(port),
            security=security,
            username=raw.get("username"),
            password_secret=secret,
            sender=str(raw["sender"]).strip(),
            recipients=recipients,
            timeout=float(raw.get("timeout", 30)),
            cafile=raw.get("cafile"),
            attempts=int(raw.get("attempts", 4)),
            backoff_seconds=float(raw.get("backoff_seconds", 30)),
        )
    except ReportError as exc:
        raise ConfigError(exc.message, file=file, key="smtp", hint=exc.hint) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"bad value: {exc}", file=file, key="smtp", hint="port/attempts are whole numbers"
        ) from None
