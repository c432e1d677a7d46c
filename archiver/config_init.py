"""The commented example configuration behind ``archiver config init`` and ``archiver.example.toml``.

A new clerk should not have to assemble ``archiver.toml`` from README fragments. The example
is generated here (one block per platform, with that platform's real API root and what
``account`` and ``token_env`` hold) so the repository's ``archiver.example.toml`` and what
``config init`` writes cannot drift apart; a test checks both pass ``config check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _PlatformExample:
    base_url: str
    account: str
    account_note: str
    token_env: str | None
    token_note: str


PLATFORM_EXAMPLES: dict[str, _PlatformExample] = {
    "mastodon": _PlatformExample(
        "https://mastodon.social",
        "cityofbozeman",
        "the account's handle on that instance",
        "BOZEMAN_MASTODON_TOKEN",
        "optional: a token with read scope raises the reply limit",
    ),
    "rss": _PlatformExample(
        "https://www.bozeman.net",
        "/news/rss.xml",
        "the feed's path on that site",
        None,
        "no token: the feed is public",
    ),
    "facebook": _PlatformExample(
        "https://graph.facebook.com/v21.0",
        "123456789012345",
        "the Page id",
        "BOZEMAN_FACEBOOK_TOKEN",
        "a Page access token (moderator rights show hidden comments)",
    ),
    "instagram": _PlatformExample(
        "https://graph.facebook.com/v21.0",
        "17841400000000000",
        "the Instagram business account id linked to the Page",
        "BOZEMAN_INSTAGRAM_TOKEN",
        "the Page token with instagram_manage_comments",
    ),
    "x": _PlatformExample(
        "https://api.x.com",
        "CityofBozeman",
        "the username",
        "BOZEMAN_X_TOKEN",
        "an app bearer token",
    ),
    "youtube": _PlatformExample(
        "https://www.googleapis.com/youtube/v3",
        "@cityofbozeman",
        "the @handle or the UC... channel id",
        "BOZEMAN_YOUTUBE_KEY",
        "an API key (see docs/platforms.md for the owner's OAuth token)",
    ),
    "bluesky": _PlatformExample(
        "https://public.api.bsky.app",
        "cityofbozeman.bsky.social",
        "the handle",
        None,
        "no token: the public AppView",
    ),
    "web": _PlatformExample(
        "https://www.bozeman.net",
        "/news",
        "the first start page (a path on that site): docs/platforms.md",
        None,
        "no token: the public website",
    ),
    "meta_messages": _PlatformExample(
        "https://graph.facebook.com/v21.0",
        "123456789012345",
        "the Page id whose inbox (and linked Instagram inbox) is kept",
        "BOZEMAN_PAGE_MESSAGING_TOKEN",
        "a Page access token with pages_messaging (instagram_manage_messages for Instagram)",
    ),
    "threads": _PlatformExample(
        "https://graph.threads.net/v1.0",
        "17841401234567890",
        "the numeric Threads user id of the City's profile",
        "BOZEMAN_THREADS_TOKEN",
        "a long-lived Threads user token with threads_basic, threads_read_replies "
        "(threads_manage_insights for the follower count); it lasts 60 days",
    ),
    "linkedin": _PlatformExample(
        "https://api.linkedin.com/rest",
        "2414183",
        "the numeric organization id of the City's LinkedIn Page",
        "BOZEMAN_LINKEDIN_TOKEN",
        "a Community Management API token of a Page admin with r_organization_social "
        "and rw_organization_admin (needs LinkedIn's approval); it lasts 60 days",
    ),
}

DEFAULT_PLATFORMS = ("mastodon", "rss")

_HEAD = """\
# archiver.toml: what the archiver keeps and where. Written by `archiver config init`.
# Check it with `archiver config check`; every problem is named with its key and a fix.
# Secrets (tokens, passwords) NEVER go in this file: it names the environment variable or
# systemd credential that holds each one (token_env, password_secret).

[archive]
root = "/var/lib/archiver"          # catalog + sealed bundles; a folder (created if missing)
timezone = "America/Denver"         # times shown to people, crontab lines, report months
city = "City of Bozeman"
# catalog_url = "postgresql+psycopg://archiver@db/archiver"   # optional; default SQLite in root

# [storage]                         # default: bundles in <root>/bundles
# backend = "s3"                    # "local" or "s3" (MinIO / S3 with Object Lock): docs/storage.md
# endpoint = "minio.city.local:9000"
# bucket = "social-archive"

# [retention]                       # the records manager's mapping: docs/retention.md
# audit_received = { 2025 = "2025-12-15" }
# [retention.classes]
# city_post = "LG1.2006-1"          # copy retention_schedules/mapping.example.toml

# [requests]                        # public records request targets: docs/export.md
# acknowledge_business_days = 5
# respond_business_days = 10

# [daemon]                          # the service's schedule: docs/operations.md
# max_concurrent_harvests = 2
# fixity_schedule = "30 2 * * *"

# [smtp]                            # the monthly report by e-mail: docs/operations.md
# host = "mail.bozeman.net"
# security = "starttls"             # starttls | tls | none
# sender = "records-archiver@bozeman.net"
# password_secret = "ARCHIVER_SMTP_PASSWORD"   # the NAME of the variable/credential
# recipients = ["cityclerk@bozeman.net"]

# [report]
# schedule = "0 7 1 * *"            # 07:00 on the 1st, archive time zone
"""


def _site(platform: str) -> str:
    ex = PLATFORM_EXAMPLES[platform]
    lines = [
        "",
        f"# One [[sites]] block per account the City runs. {platform}: docs/platforms.md",
        "[[sites]]",
        f'id = "bozeman-{platform}"' + " " * max(1, 22 - len(platform)) + "# your name for it",
        f'platform = "{platform}"',
        f'base_url = "{ex.base_url}"',
        f'account = "{ex.account}"' + "  # " + ex.account_note,
        'department = "City Manager\'s Office"',
        "# The policy asks for an administrator from the IT Department on every site.",
        'administrators = [{ name = "Ann Lee", role = "Communications" }, '
        '{ name = "Ivan Tech", role = "IT" }]',
    ]
    if ex.token_env:
        lines.append(f'token_env = "{ex.token_env}"  # the NAME of the variable: {ex.token_note}')
    else:
        lines.append(f"# token_env: {ex.token_note}")
    lines += ['interval = "1h"', 'full_sweep_every = "1d"  # a full sweep detects deletions']
    return "\n".join(lines) + "\n"


def example_config(platforms: Sequence[str] = DEFAULT_PLATFORMS) -> str:
    """The commented config text, with one example site per platform (in the given order)."""
    unknown = [p for p in platforms if p not in PLATFORM_EXAMPLES]
    if unknown:
        raise ValueError(f"no example for platform(s) {', '.join(unknown)}")
    seen: list[str] = []
    for p in platforms:
        if p not in seen:
            seen.append(p)
    return _HEAD + "".join(_site(p) for p in seen)
