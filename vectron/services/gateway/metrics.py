"""Prometheus metrics of one gateway (its own registry: nothing module-level)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["GatewayMetrics", "CONTENT_TYPE_LATEST"]


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vectron_gateway_requests", "Requests answered, by protocol, operation and status",
            ["protocol", "operation", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "vectron_gateway_request_seconds", "Request latency, by protocol and operation",
            ["protocol", "operation"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def observe(self, protocol: str, operation: str, status: str | int, seconds: float) -> None:
        self.requests.labels(protocol, operation, str(status)).inc()
        self.latency.labels(protocol, operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
