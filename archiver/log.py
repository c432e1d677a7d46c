"""structlog set-up: JSON lines for journald and files, readable colours on a terminal."""

from __future__ import annotations

import logging
import os
import sys

import structlog


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is *now* (test runners swap and close streams)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


_said_by_caller: set[str] = set()
_level = logging.INFO


def _drop_said_by_caller(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    if event.get("event") in _said_by_caller:
        raise structlog.DropEvent
    return event


def said_by_caller(*events: str) -> None:
    """Leave these events to the command that will print them as a sentence itself.

    A person running ``archiver harvest`` at the default level (WARNING) otherwise reads each
    failure twice: the log event and the command's own ``error:`` line. Only above INFO: whoever
    asked for the log (``--log-level INFO``, the systemd units) keeps every event.
    """
    if _level > logging.INFO:
        _said_by_caller.update(events)


def configure(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure once per process; ``json=None`` picks JSON unless stderr is a terminal."""
    global _level
    if json is None:
        json = not sys.stderr.isatty() or bool(os.environ.get("JOURNAL_STREAM"))
    numeric = getattr(logging, level.upper(), logging.INFO)
    _level = numeric
    _said_by_caller.clear()
    processors: list[structlog.typing.Processor] = [
        _drop_said_by_caller,
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
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
