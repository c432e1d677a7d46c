"""The report's mail settings at the moment of sending.

``[smtp]`` and ``[report]`` are typed and checked at load (:mod:`archiver.settings.smtp`,
:mod:`archiver.settings.report`); what is left is the one check that depends on the command:
``report --send`` (and a compliance alert) needs an ``[smtp]`` section, building the report
does not.
"""

from __future__ import annotations

from archiver.config import Config
from archiver.errors import ConfigError
from archiver.settings.smtp import SmtpSettings


def smtp_settings(cfg: Config) -> SmtpSettings:
    """The mail settings, or a ConfigError naming ``[smtp]`` when the config has none."""
    if cfg.smtp is None:
        raise ConfigError(
            "no [smtp] section: the report cannot be e-mailed",
            file=str(cfg.path),
            key="smtp",
            hint="add [smtp] with host, port, security, sender; or run without --send",
        )
    return cfg.smtp
