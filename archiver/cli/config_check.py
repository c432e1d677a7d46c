"""``archiver config check``'s deep pass: the checks that need more than the config file.

Every section is typed and checked at load (:mod:`archiver.settings`); what is left here
reads other files or other features: the retention mapping against the schedule files, the
daemon's job plan, a worker's harvest slots. It imports the daemon, retention, cluster... so
it sits at the top, with the CLI; the foundation imports no feature.
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
    """Run the cross-file checks on ``cfg``; one entry per check that fails.

    A check stops at its first problem, so a second one can hide until the first is fixed;
    ``config check`` says so by being run again.
    """
    from archiver.daemon.scheduler import desired_jobs
    from archiver.retention.eligibility import load_settings

    problems: list[ConfigError] = []
    _collect(problems, lambda: desired_jobs(cfg, cfg.daemon))
    if cfg.cluster is not None:  # a worker's config: every site's slots
        from archiver.cluster.slots import site_slots

        for site in cfg.sites:
            _collect(problems, partial(site_slots, cfg, site))
    _collect(problems, lambda: load_settings(cfg))
    return problems
