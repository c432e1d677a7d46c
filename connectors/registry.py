"""Which connector serves which ``platform`` value in the config."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from archiver.errors import ConfigError
from connectors._options import option_errors

if TYPE_CHECKING:  # the connectors (and the HTTP stack) load only when a site is harvested
    from connectors.base import Connector

BUILTIN = {
    "mastodon": "connectors.mastodon:MastodonConnector",
    "facebook": "connectors.facebook:FacebookConnector",
    "instagram": "connectors.instagram:InstagramConnector",
    "bluesky": "connectors.bluesky:BlueskyConnector",
    "rss": "connectors.rss:RssConnector",
    "x": "connectors.x:XConnector",
    "youtube": "connectors.youtube:YouTubeConnector",
    "web": "connectors.web:WebConnector",
    "meta_messages": "connectors.meta_messages:MetaMessagesConnector",
    "threads": "connectors.threads:ThreadsConnector",
    "linkedin": "connectors.linkedin:LinkedInConnector",
}


def platforms() -> set[str]:
    return set(BUILTIN)


def get_connector(platform: str) -> type[Connector]:
    target = BUILTIN.get(platform)
    if target is None:
        raise ConfigError(
            f"unknown platform {platform!r}", hint="supported: " + ", ".join(sorted(BUILTIN))
        )
    module, _, name = target.partition(":")
    cls: type[Connector] = getattr(importlib.import_module(module), name)
    return cls


def option_problems(platform: str, site_id: str, options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a site's ``options`` for its platform's connector (for config check)."""
    if platform not in BUILTIN:
        return []  # the unknown platform is reported on its own
    return option_errors(get_connector(platform).Options, site_id, options)
