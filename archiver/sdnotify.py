"""A dependency-free sd_notify client for ``Type=notify`` with a watchdog.

The daemon runs under systemd with ``Type=notify`` and ``WatchdogSec=``: systemd only
considers it started after ``READY=1`` and restarts it when the pings stop. Outside
systemd (tests, a clerk running the daemon by hand) ``NOTIFY_SOCKET`` is unset and every
call is a no-op, so callers never need to check where they run.

A failed notification must never take the archiver down: a lost ``STATUS=`` line is
cosmetic, and a lost watchdog ping is exactly what the watchdog exists to notice. So sends
log a warning and return ``False`` instead of raising.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

from archiver.log import get_logger

log = get_logger(__name__)

__all__ = ["Notifier"]


class Notifier:
    """Talks to the service manager named by ``$NOTIFY_SOCKET`` (if any).

    The environment is read once, at construction, so a test can pass its own mapping and
    a daemon that later scrubs its environment keeps working.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = self._parse_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = env.get("WATCHDOG_USEC")
        self._watchdog_pid = env.get("WATCHDOG_PID")

    @staticmethod
    def _parse_address(raw: str) -> str | bytes | None:
        if not raw:
            return None
        if raw.startswith("@"):
            # Linux abstract namespace: a leading NUL instead of '@', no filesystem entry.
            return b"\0" + raw[1:].encode()
        if raw.startswith("/"):
            return raw
        # vsock:… and other exotic addresses are not used by our deployment.
        log.warning("sdnotify.unsupported_socket", notify_socket=raw)
        return None

    @property
    def enabled(self) -> bool:
        """True when a service manager is listening; lets callers skip building messages."""
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one raw notification (``KEY=value`` lines); ``False`` if not delivered."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message.encode())
        except OSError as exc:
            log.warning(
                "sdnotify.send_failed",
                notify_socket=self._printable_address(),
                message=message.split("\n", 1)[0],
                error=str(exc),
            )
            return False
        return True

    def _printable_address(self) -> str:
        if isinstance(self._address, bytes):
            return "@" + self._address[1:].decode(errors="replace")
        return str(self._address)

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete; until then dependent units wait."""
        return self.notify("READY=1" if status is None else f"READY=1\nSTATUS={status}")

    def status(self, text: str) -> bool:
        """One line shown by ``systemctl status``; newlines would start a new key."""
        return self.notify("STATUS=" + text.replace("\n", " "))

    def watchdog(self) -> bool:
        """Ping the watchdog; call at least every :meth:`watchdog_interval` seconds."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Announce an orderly shutdown so systemd does not treat the wait as a hang."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """Announce a config reload; MONOTONIC_USEC lets systemd ≥ 253 match READY to it."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half the timeout, as sd_watchdog_enabled advises), or None.

        None when no watchdog is configured or it is meant for another process (the
        environment was inherited from a parent that systemd watches).
        """
        if not self._watchdog_usec:
            return None
        if self._watchdog_pid:
            try:
                if int(self._watchdog_pid) != os.getpid():
                    return None
            except ValueError:
                return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            log.warning("sdnotify.bad_watchdog_usec", watchdog_usec=self._watchdog_usec)
            return None
        if usec <= 0:
            return None
        return usec / 2_000_000
