"""What a platform's answer means, decided by the connector and acted on by the recorder.

Platforms signal trouble in their own shapes: Graph API error codes inside a 200/400 body,
YouTube ``quotaExceeded`` reasons, X ``x-rate-limit-reset`` headers. A connector supplies a
:data:`Classifier` that maps one response to a :data:`Verdict`; the recording client owns the
single retry loop and the per-host rate-limit state, so no connector carries its own.

- :class:`Ok`: keep the response and hand it to the connector.
- :class:`Retry`: wait (``after`` seconds, when the platform said) and ask again; the wait
  is shared by every later request to the same host.
- :class:`Fatal`: a person must act (token expired, permission lost); raises
  :class:`~archiver.errors.FatalFetchError` (``AuthError`` when ``auth`` is true).
- :class:`Skip`: this item or thread only; raises
  :class:`~archiver.errors.SkippableFetchError` so the caller records the gap and goes on.

Every response is written to the WARC whatever its verdict: a refusal is evidence too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class Ok:
    """The response is usable."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Transient: rate limit, 5xx, a body-coded "try later"."""

    reason: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Fatal:
    """Stop the site until a person acts; ``hint`` says what to do."""

    reason: str
    hint: str
    auth: bool = False


@dataclass(frozen=True, slots=True)
class Skip:
    """Lose this item or thread only."""

    reason: str


Verdict = Ok | Retry | Fatal | Skip

#: ``classify(status, headers, body)`` with the decoded body bytes (already size-bounded).
Classifier = Callable[[int, httpx.Headers, bytes], Verdict]
