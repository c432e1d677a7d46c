"""structlog set-up: JSON lines for journald and files, readable colours on a terminal.

structlog is not imported until something logs (issue 14 part 2): importing it loads its
console renderer's rich tracebacks and the asyncio-aware stdlib bridge, a cost paid by the
start-up of ``archiver status``, which logs nothing (about 25 ms of 0.4 s). So modules take
their logger from :func:`get_logger` (a lazy stand-in), and :func:`configure` keeps the
settings until the first log call at or above the level (a call below it does nothing, as
structlog's filtering logger would, without loading it), or applies them at once if
structlog is already loaded (an in-process test run, a daemon that imported it). Every
logger in archiver and connectors comes from here, so none can log before the settings are
applied.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import structlog


# One line is one write under one lock: ``print`` writes the text and its newline separately,
# so two threads (the daemon's scheduler and a fast-lane lane) could interleave two JSON
# events on one journal line, which no reader can parse.
_write_lock = threading.Lock()


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is *now* (test runners swap and close streams)."""

    def msg(self, message: str) -> None:
        line = message + "\n"
        with _write_lock:
            stream = sys.stderr
            stream.write(line)
            stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


# (json, numeric level) from the last configure() not yet given to structlog.
_pending: tuple[bool, int] | None = None
_said_by_caller: set[str] = set()
_level = logging.INFO


def _drop_said_by_caller(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    if event.get("event") in _said_by_caller:
        import structlog

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
    global _pending, _level
    if json is None:
        json = not sys.stderr.isatty() or bool(os.environ.get("JOURNAL_STREAM"))
    numeric = getattr(logging, level.upper(), logging.INFO)
    _level = numeric
    _said_by_caller.clear()
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


# The level of each logging method of structlog's filtering bound logger.
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _nop(*_args: Any, **_kw: Any) -> None:
    return None


class _LazyLogger:
    """Stands in for ``structlog.get_logger(name)``; imports and configures structlog on the
    first log call that is not filtered out. Each call asks structlog afresh, as its own lazy
    proxy does, so a later ``configure`` (or a test's ``capture_logs``) applies to loggers made
    before it. ``bind`` stays lazy too: a harvest binds its run's logger before it logs
    anything, and at the default level (WARNING) a successful run logs nothing, so binding
    must not load structlog (issue 14 part 5)."""

    __slots__ = ("_args", "_context")

    def __init__(self, args: tuple[str, ...], context: dict[str, Any] | None = None) -> None:
        self._args = args
        self._context = context or {}

    def bind(self, **values: Any) -> _LazyLogger:
        return _LazyLogger(self._args, {**self._context, **values})

    def __getattr__(self, name: str) -> Any:
        if _pending is not None:
            if _LEVELS.get(name, logging.CRITICAL + 1) < _pending[1]:
                return _nop  # what structlog's filtering logger would do, without loading it
            _apply()
        import structlog

        logger = structlog.get_logger(*self._args)
        if self._context:
            logger = logger.bind(**self._context)
        return getattr(logger, name)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger (bound lazily: see the module docstring)."""
    return _LazyLogger(() if name is None else (name,))
