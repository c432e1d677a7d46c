"""``[smtp]`` and ``[report]`` from the config: where the monthly report goes and when.

The config holds only the *name* of the secret with the SMTP password (``password_secret``),
never the password, so the file can be shown to anyone who helps with the set-up. Recipients come
from both tables: ``[smtp] recipients`` for the mail system's standing list and ``[report]
recipients`` for the people the City Clerk adds; duplicates are sent once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archiver.config import Config
from archiver.config_sections import REPORT_KEYS as REPORT_KEYS
from archiver.config_sections import SMTP_KEYS as SMTP_KEYS
from archiver.errors import ConfigError, ReportError
from archiver.schedule import cron_trigger

if TYPE_CHECKING:
    # The mailer loads jinja2, tenacity and smtplib; ``archiver status`` and the scheduler
    # read the report schedule without sending anything (issue 14 part 2).
    from archiver.report.mailer import SmtpSettings

DEFAULT_SCHEDULE = "0 7 1 * *"
"""07:00 on the 1st, in the archive's zone (America/Denver): last month is complete and the
report is waiting when the Clerk's office opens."""
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True, slots=True)
class ReportSettings:
    schedule: str
    recipients: tuple[str, ...]


def _unknown(raw: Mapping[str, Any], allowed: frozenset[str], section: str, file: str) -> None:
    for k in raw:
        if k not in allowed:
            raise ConfigError(
                "unknown key",
                file=file,
                key=f"{section}.{k}",
                hint="allowed keys: " + ", ".join(sorted(allowed)),
            )


def _addresses(value: Any, *, file: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            "must be a list of e-mail addresses",
            file=file,
            key=key,
            hint='e.g. recipients = ["clerk@bozeman.net", "it-director@bozeman.net"]',
        )
    out = []
    for i, v in enumerate(value):
        if not _ADDRESS.match(v.strip()):
            raise ConfigError(
                f"{v!r} is not an e-mail address", file=file, key=f"{key}[{i}]", hint="name@domain"
            )
        out.append(v.strip())
    return out


def report_settings(cfg: Config) -> ReportSettings:
    """``[report]``: the monthly schedule (crontab, archive zone) and extra recipients."""
    raw = cfg.section("report")
    file = str(cfg.path)
    _unknown(raw, REPORT_KEYS, "report", file)
    schedule = raw.get("schedule", DEFAULT_SCHEDULE)
    if not isinstance(schedule, str):
        raise ConfigError(
            "must be a crontab string", file=file, key="report.schedule", hint='"0 7 1 * *"'
        )
    cron_trigger(schedule, cfg.timezone, file=file, key="report.schedule")
    recipients = _addresses(raw.get("recipients"), file=file, key="report.recipients")
    return ReportSettings(schedule=schedule, recipients=tuple(recipients))


def smtp_settings(cfg: Config) -> SmtpSettings:
    """Validated mail settings; a ConfigError names the key to fix when something is missing."""
    raw = cfg.section("smtp")
    file = str(cfg.path)
    if not raw:
        raise ConfigError(
            "no [smtp] section: the report cannot be e-mailed",
            file=file,
            key="smtp",
            hint="add [smtp] with host, port, security, sender; or run without --send",
        )
    _unknown(raw, SMTP_KEYS, "smtp", file)
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
    recipients = _addresses(raw.get("recipients"), file=file, key="smtp.recipients")
    for r in report_settings(cfg).recipients:
        if r.lower() not in {x.lower() for x in recipients}:
            recipients.append(r)
    from archiver.report.mailer import SmtpSettings

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
