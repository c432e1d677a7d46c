"""One exception tree for everything the archiver refuses or cannot do.

Every error carries a message a clerk or an IT administrator can act on: what went
wrong, where (file, key, site, endpoint), and what to do about it. The CLI prints
``str(error)`` as one line and exits non-zero; it never shows a traceback for these.

    ArchiverError
    ├── ConfigError            bad or missing configuration (file, key, fix)
    ├── SecretError            a token or password the config points at is missing
    ├── FetchError             talking to a platform failed
    │   ├── RetriableFetchError    5xx, connection reset, 429: wait, then try again
    │   │   └── RateLimitedError       the wait is longer than the run may spend: stop the
    │   │                              run cleanly, schedule the next one after ``until``
    │   ├── FatalFetchError        a person must act before the site can be harvested again
    │   │   └── AuthError              401/403, expired or revoked token, permission lost
    │   ├── SkippableFetchError    this item or thread only: lose it, record the gap, go on
    │   │   ├── ResponseTooLargeError  a body over the configured decoded-size cap
    │   │   └── NotFoundError          unknown account or removed object
    │   └── MalformedResponseError body is not what the platform documents

What happens next is decided by the class, not by the message: *fatal* stops the site and
tells a person, *retriable* waits (``retry_after`` seconds when the platform said), and
*skippable* costs one item whose gap is written down.
    ├── StorageError           the archive root or object store cannot be written/read
    ├── BundleError            a bundle could not be staged or sealed
    ├── IntegrityError         a stored byte does not match its recorded digest
    ├── CatalogError           the catalog database refused an operation
    ├── RetentionError         schedules, holds, disposition rules
    │   └── HoldCheckError         the hold check could not run: fatal, nothing is disposed
    ├── ExportError            public-records request exports
    └── ReportError            monthly report and mail delivery
"""

from __future__ import annotations

from datetime import datetime


class ArchiverError(Exception):
    """Base of every error the archiver raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} — {hint}")


class ConfigError(ArchiverError):
    """The configuration file is missing, unreadable, or has a bad value."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        where = ""
        if file and key:
            where = f"{file}: {key}: "
        elif file:
            where = f"{file}: "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}", hint=hint)


class SecretError(ArchiverError):
    """A secret named by the configuration could not be found."""


class FetchError(ArchiverError):
    """A platform request failed; ``site`` and ``endpoint`` say which."""

    def __init__(
        self,
        message: str,
        *,
        site: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.site = site
        self.endpoint = endpoint
        self.status = status
        parts = []
        if site:
            parts.append(f"site {site}")
        if endpoint:
            parts.append(endpoint)
        prefix = (": ".join(parts) + ": ") if parts else ""
        super().__init__(f"{prefix}{message}", hint=hint)


class RetriableFetchError(FetchError):
    """Server error, connection problem or rate limit: worth retrying later."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RateLimitedError(RetriableFetchError):
    """The platform asked us to wait past the run's time budget.

    The run ends cleanly ("rate limited until HH:MM") instead of sleeping; ``until`` is when
    the next run may start. ``retry_after`` carries the same wait in seconds from raising.
    """

    def __init__(self, message: str, *, until: datetime, **kw: object) -> None:
        self.until = until
        super().__init__(message, **kw)  # type: ignore[arg-type]


class FatalFetchError(FetchError):
    """Retrying cannot help (token expired, permission withdrawn): stop the site, tell a person."""


class SkippableFetchError(FetchError):
    """Only this item or thread is lost; the run goes on and records the gap."""


class ResponseTooLargeError(SkippableFetchError):
    """A response body exceeded the configured maximum decoded size while streaming."""


class AuthError(FatalFetchError):
    """The platform refused our credentials (expired, revoked, missing scope)."""


class NotFoundError(SkippableFetchError):
    """The account or object does not exist (or no longer exists) upstream.

    Skippable: a 404 costs the one object asked for; a connector that asked for the account
    itself turns it into a site-level failure.
    """


class MalformedResponseError(FetchError):
    """The platform answered with something that is not the documented shape."""


class StorageError(ArchiverError):
    """The archive storage cannot be read or written."""


class BundleError(ArchiverError):
    """A bundle could not be staged, sealed, or opened."""


class IntegrityError(ArchiverError):
    """Stored bytes no longer match the digest recorded when they were sealed."""

    exit_code = 1


class CatalogError(ArchiverError):
    """The catalog database refused an operation or is unreachable."""


class RetentionError(ArchiverError):
    """Retention schedules, legal holds or disposition rules forbid or cannot do this."""


class HoldCheckError(RetentionError):
    """The legal-hold check could not run, so nothing may be disposed of (fatal).

    A hold check fails closed: a missing table or an unreadable request never reads as
    "no holds". Disposal stops until a person repairs the catalog (``archiver migrate``).
    """


class ExportError(ArchiverError):
    """A public-records export could not be produced."""


class ReportError(ArchiverError):
    """The monthly report could not be built or delivered."""
