"""Prometheus metrics of one worker, on an opt-in port (``[cluster] metrics_port``).

Counters live in this process (harvests by result, bytes sealed); gauges that describe the
cluster (queue depth, oldest waiting job) are read from PostgreSQL when scraped, so every
worker's endpoint shows the same cluster-wide figures. The fast-lane latency is the
catalog's record of it (``fastlane_latency``) where the fast lane runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
HARVESTS = Counter(
    "archiver_harvests", "Harvest jobs run by this worker, by result", ["result"], registry=REGISTRY
)
BYTES_SEALED = Counter(
    "archiver_bytes_sealed", "Bytes of bundles this worker sealed and cataloged", registry=REGISTRY
)
SLOT_LAG = Histogram(
    "archiver_harvest_start_lag_seconds",
    "Seconds from a harvest slot to the start of its job",
    registry=REGISTRY,
    buckets=(1, 5, 15, 60, 300, 900, 3600),
)


def harvest_done(result: str, sealed_bytes: int = 0) -> None:
    HARVESTS.labels(result=result).inc()
    if sealed_bytes:
        BYTES_SEALED.inc(sealed_bytes)


def queue_latency(_site: str, seconds: float) -> None:
    SLOT_LAG.observe(seconds)


class ClusterCollector(Collector):
    """Cluster-wide gauges, read from PostgreSQL at scrape time."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self.read()
        depth = GaugeMetricFamily(
            "archiver_queue_depth", "Jobs waiting in the cluster queue", labels=["queue"]
        )
        for queue, n in sorted(figures.get("queue_depth", {}).items()):
            depth.add_metric([queue], n)
        yield depth
        yield GaugeMetricFamily(
            "archiver_oldest_waiting_seconds",
            "Age of the oldest job waiting to start",
            value=figures.get("oldest_waiting_seconds") or 0.0,
        )
        yield GaugeMetricFamily(
            "archiver_workers_alive", "Workers with a recent heartbeat", value=figures["workers"]
        )
        lane = GaugeMetricFamily(
            "archiver_fastlane_latency_seconds",
            "Newest fast-lane latency (post published to capture cataloged) per site",
            labels=["site"],
        )
        for site, seconds in sorted(figures.get("fastlane_latency", {}).items()):
            lane.add_metric([site], seconds)
        yield lane


def serve(host: str, port: int, read: Callable[[], dict[str, Any]]) -> int:
    """Start the ``/metrics`` endpoint; returns the port it listens on."""
    REGISTRY.register(ClusterCollector(read))
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return int(server.server_port)
