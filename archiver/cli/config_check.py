"""``archiver config check``'s deep pass: every feature's own validator over a loaded config.

It imports the daemon, report, retention, storage... so it sits at the top, with the CLI;
the foundation (:mod:`archiver.config`, :mod:`archiver.config_sections`) imports no feature.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from archiver.config import Config
from archiver.errors import ConfigError


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
    if cfg.section("cluster"):  # a worker's config: its settings and every site's slots
        from archiver.cluster.settings import cluster_settings
        from archiver.cluster.slots import site_slots

        _collect(problems, lambda: cluster_settings(cfg))
        for site in cfg.sites:
            _collect(problems, partial(site_slots, cfg, site))
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
