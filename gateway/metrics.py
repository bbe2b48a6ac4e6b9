"""Prometheus metrics for operators: request outcomes, latency, missing models, bad input.

Exposed over HTTP on ``metrics_port`` (0 disables it). Each gateway owns its own registry
so tests and embedded runs can hold several gateways in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
        self.model_ready = Gauge(
            "modgate_model_ready",
            "1 while a remote model (Triton) reports ready, 0 while it is missing.",
            ["model"],
            registry=self.registry,
        )
        self.invalid = Counter(
            "modgate_invalid_requests",
            "Requests rejected as INVALID_ARGUMENT.",
            ["method"],
            registry=self.registry,
        )
        self.refused = Counter(
            "modgate_refused_calls",
            "Calls refused with RESOURCE_EXHAUSTED before any work, by method and limit.",
            ["method", "limit"],
            registry=self.registry,
        )
        self.abandoned = Counter(
            "modgate_abandoned_calls",
            "Calls whose caller gave up (cancelled, or its deadline passed): at ingress (no work "
            "done) or by the time the verdict was made (logged, never published).",
            ["method", "stage"],
            registry=self.registry,
        )
        self.errors = Counter(
            "modgate_internal_errors",
            "Requests that failed with INTERNAL.",
            ["method"],
            registry=self.registry,
        )

        self.records_published = Counter(
            "modgate_stream_records_published",
            "Stream records the broker acknowledged, by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.records_spooled = Counter(
            "modgate_stream_records_spooled",
            "Stream records written to the disk spool (broker unreachable or behind).",
            registry=self.registry,
        )
        self.records_dropped = Counter(
            "modgate_stream_records_dropped",
            "Stream records that could not be kept (reason: overflow, spool_full, spool_error).",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.records_replayed = Counter(
            "modgate_stream_records_replayed",
            "Spooled records replayed to the broker.",
            registry=self.registry,
        )
        self.spool_records = Gauge(
            "modgate_stream_spool_records",
            "Records waiting in the disk spool.",
            registry=self.registry,
        )
        self.spool_bytes = Gauge(
            "modgate_stream_spool_bytes", "Bytes waiting in the disk spool.", registry=self.registry
        )
        self.deferred_unconfirmed = Gauge(
            "modgate_deferred_unconfirmed",
            "Deferred posts kept on disk until the slow path confirms them.",
            registry=self.registry,
        )
        self.deferred_confirmed = Counter(
            "modgate_deferred_confirmed",
            "Deferred posts the slow path confirmed (queued or finalized).",
            registry=self.registry,
        )
        self.deferred_republished = Counter(
            "modgate_deferred_republished",
            "Deferred posts published again because the slow path had not confirmed them.",
            registry=self.registry,
        )
        self.deferred_unkept = Counter(
            "modgate_deferred_unkept",
            "Deferred posts not kept until confirmed (ledger full or disk error), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.stream_connected = Gauge(
            "modgate_stream_connected", "1 while the broker takes records.", registry=self.registry
        )
        self.list_hits = Counter(
            "modgate_list_hits",
            "Posts that hit a trust-and-safety list entry, by reason code.",
            ["code"],
            registry=self.registry,
        )
        self.behaviour_lookups = Counter(
            "modgate_behaviour_lookups",
            "Posts whose behaviour features (near-duplicates, post rate) were measured in "
            "Redis, by result (ok, unavailable).",
            ["result"],
            registry=self.registry,
        )
        self.strikes_recorded = Counter(
            "modgate_strikes_recorded",
            "Auto-removals counted as strikes against their author in Redis, by result "
            "(ok, unavailable).",
            ["result"],
            registry=self.registry,
        )
        self.author_lookups = Counter(
            "modgate_author_lookups",
            "Author-counter lookups in Redis by result (hit, miss, unavailable).",
            ["result"],
            registry=self.registry,
        )

        self.image_decode_timeouts = Counter(
            "modgate_image_decode_timeouts",
            "Images not decoded within images.decode_timeout_ms (their posts are deferred).",
            registry=self.registry,
        )
        self.image_decode = Histogram(
            "modgate_image_decode_seconds",
            "Time to decode the images of one call.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ocr = Counter(
            "modgate_ocr_posts",
            "Posts with images by OCR status (done, skipped_budget, deferred, failed, off).",
            ["status"],
            registry=self.registry,
        )

        self.shed = Counter(
            "modgate_shed_posts",
            "Posts decided without model scoring because the gateway was overloaded.",
            registry=self.registry,
        )

    def serve_http(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
