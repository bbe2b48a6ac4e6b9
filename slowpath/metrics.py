"""Prometheus metrics of the slow-path worker: routing outcomes, judge latency, retries,
dead letters and the outbox relay. One registry per worker, so tests can run several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

_JUDGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)


class SlowpathMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.routed = Counter(
            "modgate_slowpath_routed",
            "Deferred posts by route (queued, llm_remove, llm_allow, ocr_allow, ocr_remove, "
            "media_remove, duplicate, dead_letter).",
            ["route"],
            registry=self.registry,
        )
        self.judge_latency = Histogram(
            "modgate_slowpath_judge_latency_seconds",
            "LLM judge round trips, by outcome.",
            ["outcome"],
            buckets=_JUDGE_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "modgate_slowpath_retries",
            "Processing attempts retried after a transient error, by error kind.",
            ["error"],
            registry=self.registry,
        )
        self.relayed = Counter(
            "modgate_slowpath_outbox_relayed",
            "Moderator labels/actions relayed from the Redis outbox to Kafka, by topic.",
            ["topic"],
            registry=self.registry,
        )

        self.ocr_checks = Counter(
            "modgate_slowpath_ocr_checks",
            "Posts whose image text the slow path read, by result (allow, remove, review).",
            ["result"],
            registry=self.registry,
        )
        self.media_checks = Counter(
            "modgate_slowpath_known_media_checks",
            "Posts whose images the slow path matched against the hash bank again, by the "
            "policy's action on the match (remove, defer, allow).",
            ["result"],
            registry=self.registry,
        )
        self.judge_held = Counter(
            "modgate_slowpath_judge_held",
            "Posts the judge found clean that still went to moderators, because they were "
            "deferred for something it cannot see (images).",
            registry=self.registry,
        )

    def serve_http(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
