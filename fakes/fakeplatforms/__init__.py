"""Local fake platforms (real HTTP on loopback) for the test suite and ``archiver demo``.

Its own distribution (fakes/pyproject.toml), installed by make setup; production installs leave it out.

``server`` holds the platform-neutral part: ``FakeServer`` runs any number of ``FakeApp``
objects and injects faults. Each platform is one app module (``mastodon``, ``rss``); new
platforms add a module with a class that has a ``handle`` method and nothing else.
"""

from fakeplatforms.mastodon import MastodonWorld
from fakeplatforms.rss import FeedWorld
from fakeplatforms.server import (
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
