"""Local fake platforms (real HTTP on loopback) for the test suite and ``archiver demo``.

``server`` holds the platform-neutral part: ``FakeServer`` runs any number of ``FakeApp``
objects and injects faults. Each platform is one app module (``mastodon``, ``rss``); new
platforms add a module with a class that has a ``handle`` method and nothing else.
"""

from archiver.testing.mastodon import MastodonWorld
from archiver.testing.rss import FeedWorld
from archiver.testing.server import (
    FAULTS,
    FakeApp,
    FakeResponse,
    FakeServer,
    Fault,
    RecordedRequest,
)

__all__ = [
    "FAULTS",
    "FakeApp",
    "FakeResponse",
    "FakeServer",
    "Fault",
    "FeedWorld",
    "MastodonWorld",
    "RecordedRequest",
]
