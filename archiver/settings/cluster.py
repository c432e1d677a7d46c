"""``[cluster]``: what a worker needs beyond the embedded daemon's settings (issue 19)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config_sections import CLUSTER_KEYS
from archiver.errors import ConfigError
from archiver.settings.values import no_unknown_keys


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    concurrency: int = 2
    """Jobs one worker runs at once (each in its own thread)."""
    heartbeat_seconds: float = 10.0
    """How often a worker tells PostgreSQL it is alive (Procrastinate's heartbeat)."""
    stalled_seconds: float = 30.0
    """A worker silent this long is taken as dead and its running jobs are given to others."""
    metrics_port: int | None = None
    """Prometheus ``/metrics`` on this port; off unless set (0 = any free port)."""
    metrics_host: str = "127.0.0.1"


def _number(raw: object, key: str, file: str, *, minimum: float, hint: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < minimum:
        raise ConfigError(f"{raw!r} is not a number ≥ {minimum:g}", file=file, key=key, hint=hint)
    return float(raw)


def cluster_from(raw: Mapping[str, Any], *, file: str) -> ClusterSettings | None:
    """Validate ``[cluster]`` (None without one); the problem names the file, key and fix."""
    if not raw:
        return None
    no_unknown_keys(raw, CLUSTER_KEYS, "cluster", file)
    d = ClusterSettings()
    concurrency = int(
        _number(
            raw.get("concurrency", d.concurrency),
            "cluster.concurrency",
            file,
            minimum=1,
            hint="jobs per worker at once, e.g. concurrency = 2",
        )
    )
    heartbeat = _number(
        raw.get("heartbeat_seconds", d.heartbeat_seconds),
        "cluster.heartbeat_seconds",
        file,
        minimum=0.5,
        hint="e.g. heartbeat_seconds = 10",
    )
    stalled = _number(
        raw.get("stalled_seconds", d.stalled_seconds),
        "cluster.stalled_seconds",
        file,
        minimum=1,
        hint="e.g. stalled_seconds = 30 (at least twice heartbeat_seconds)",
    )
    if stalled < 2 * heartbeat:
        raise ConfigError(
            f"{stalled:g} is less than twice heartbeat_seconds ({heartbeat:g})",
            file=file,
            key="cluster.stalled_seconds",
            hint="a live worker would be taken for dead; use at least 2 × heartbeat_seconds",
        )
    port = raw.get("metrics_port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise ConfigError(
            f"{port!r} is not a TCP port",
            file=file,
            key="cluster.metrics_port",
            hint="e.g. metrics_port = 9464; leave it out for no metrics endpoint",
        )
    host = raw.get("metrics_host", d.metrics_host)
    if not isinstance(host, str) or not host:
        raise ConfigError(
            f"{host!r} is not a host address",
            file=file,
            key="cluster.metrics_host",
            hint='e.g. metrics_host = "127.0.0.1"',
        )
    return ClusterSettings(
        concurrency=concurrency,
        heartbeat_seconds=heartbeat,
        stalled_seconds=stalled,
        metrics_port=port,
        metrics_host=host,
    )
