"""structlog set-up: JSON lines for journald and files, readable colours on a terminal.

structlog is not imported until something logs (issue 14 part 2): importing it loads its
console renderer's rich tracebacks and the asyncio-aware stdlib bridge, about a fifth of the
start-up of a short command such as ``archiver status`` that logs nothing. So modules take
their logger from :func:`get_logger` (a lazy stand-in), and :func:`configure` keeps the
settings until the first log call, or applies them at once if structlog is already loaded
(an in-process test run, a daemon that imported it). Every logger in archiver and connectors
comes from here, so none can log before the settings are applied.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is *now* (test runners swap and close streams)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


# (json, numeric level) from the last configure() not yet given to structlog.
_pending: tuple[bool, int] | None = None


def configure(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure once per process; ``json=None`` picks JSON unless stderr is a terminal."""
    global _pending
    if json is None:
        json = not sys.stderr.isatty() or bool(os.environ.get("JOURNAL_STREAM"))
    numeric = getattr(logging, level.upper(), logging.INFO)
    _pending = (json, numeric)
    if "structlog" in sys.modules:
        _apply()
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)


def _apply() -> None:
    global _pending
    if _pending is None:
        return
    json, numeric = _pending
    _pending = None
    import structlog

    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors += [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


class _LazyLogger:
    """Stands in for ``structlog.get_logger(name)``; imports and configures structlog on the
    first log call. Each call asks structlog afresh, as its own lazy proxy does, so a later
    ``configure`` (or a test's ``capture_logs``) applies to loggers made before it."""

    __slots__ = ("_args",)

    def __init__(self, args: tuple[str, ...]) -> None:
        self._args = args

    def __getattr__(self, name: str) -> Any:
        if _pending is not None:
            _apply()
        import structlog

        return getattr(structlog.get_logger(*self._args), name)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger (bound lazily: see the module docstring)."""
    return _LazyLogger(() if name is None else (name,))
