"""Prometheus metrics for operators: request outcomes, latency, missing models, bad input.

Exposed over HTTP on ``metrics_port`` (0 disables it). Each gateway owns its own registry
so tests and embedded runs can hold several gateways in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.verdicts = Counter(
            "modgate_verdicts",
            "Verdicts by action.",
            ["action", "degraded"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modgate_request_latency_seconds",
            "Ingress-to-verdict latency per RPC.",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_missing = Counter(
            "modgate_model_missing",
            "Models missing from a verdict.",
            ["model", "reason"],
            registry=self.registry,
        )
        self.invalid = Counter(
            "modgate_invalid_requests",
            "Requests rejected as INVALID_ARGUMENT.",
            ["method"],
            registry=self.registry,
        )
        self.errors = Counter(
            "modgate_internal_errors",
            "Requests that failed with INTERNAL.",
            ["method"],
            registry=self.registry,
        )

    def serve_http(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
