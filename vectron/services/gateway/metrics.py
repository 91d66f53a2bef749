"""Prometheus metrics of one gateway process (its own registry: nothing module-level).

Owns :class:`GatewayMetrics`: request counts and latency per protocol and operation,
the same per collection, the process collector (CPU, memory, open files) and any
extra collector a caller registers (the node's Raft and worker series:
:class:`~vectron.services.node_metrics.NodeCollector`). ``*_created`` series are
turned off: they doubled every counter and histogram without telling anything new.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["GatewayMetrics", "CONTENT_TYPE_LATEST"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    def __init__(self) -> None:
        disable_created_metrics()
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "vectron_gateway_requests", "Requests answered, by protocol, operation and status",
            ["protocol", "operation", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "vectron_gateway_request_seconds", "Request latency, by protocol and operation",
            ["protocol", "operation"], registry=self.registry, buckets=_BUCKETS,
        )
        self.collection_requests = Counter(
            "vectron_collection_requests", "Requests on a collection, by collection name, operation and status",
            ["collection", "operation", "status"], registry=self.registry,
        )
        self.collection_latency = Histogram(
            "vectron_collection_request_seconds", "Latency of requests on a collection, by collection name and operation",
            ["collection", "operation"], registry=self.registry, buckets=_BUCKETS,
        )

    def observe(self, protocol: str, operation: str, status: str | int, seconds: float, collection: str | None = None) -> None:
        self.requests.labels(protocol, operation, str(status)).inc()
        self.latency.labels(protocol, operation).observe(seconds)
        if collection:
            self.collection_requests.labels(collection, operation, str(status)).inc()
            self.collection_latency.labels(collection, operation).observe(seconds)

    def register(self, collector: Collector) -> None:
        """Add a collector read at every scrape (e.g. the node's Raft groups)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
