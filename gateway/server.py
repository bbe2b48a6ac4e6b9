"""The gRPC server: handlers, health checking, reflection, boot checks and graceful drain.

Reflection is served on a loopback bind and off on a public one unless ``reflection`` says
otherwise; metrics listen on ``metrics_host`` (loopback by default), never simply beside a
public gRPC port.

``Gateway`` is the library object tests and the CLI share: ``await Gateway.start(...)``
binds (port 0 picks a free one) and, when settings name them, starts the Kafka publisher
and the Redis author-counter reader (neither needs its server to be up at boot);
``await gateway.stop()`` flips health to NOT_SERVING, drains in-flight calls for
``shutdown_grace_s``, flushes the publisher (what the broker won't take stays in the spool)
and closes the classifiers. ``serve`` is the
process entry point behind ``modgate serve``: it loads policy and models from settings, and
stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from typing import Self

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from decision import Policy, load_policy
from gateway.author_store import AuthorStore
from gateway.behaviour import BehaviourStore
from gateway.confirm import DoneMarks
from gateway.features import TextAnalyzer
from gateway.metrics import GatewayMetrics
from gateway.publisher import KafkaPublisher
from gateway.readiness import ReadinessMonitor
from gateway.service import ModerationService
from models.factory import build_classifier
from models.interface import Classifier
from models.lists import Lists
from modgate.errors import ConfigError
from modgate.pb import moderation_pb2 as pb
from modgate.settings import GatewaySettings, OcrEngine, redact_url

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Moderation"].full_name


def check_coverage(policy: Policy, classifiers: Mapping[str, Classifier]) -> None:
    """Fail at boot if a classifier scores a category the policy does not define."""
    for name, clf in classifiers.items():
        unknown = [c for c in clf.categories if c not in policy.categories]
        if unknown:
            raise ConfigError(
                f"classifier {name!r} scores {unknown} but policy {policy.version} has no "
                "thresholds for them; add them under `categories:` in the policy file"
            )
    served = {c for clf in classifiers.values() for c in clf.categories}
    unserved = sorted(set(policy.categories) - served)
    if unserved:
        log.warning("policy categories with no classifier configured (never scored): %s", unserved)


def _handlers(service: ModerationService) -> grpc.GenericRpcHandler:
    # Raw bytes in (request_deserializer=None): gateway.wire decodes strictly, so a malformed
    # payload becomes INVALID_ARGUMENT naming the field instead of an opaque INTERNAL.
    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "Moderate": grpc.unary_unary_rpc_method_handler(
                service.moderate, response_serializer=pb.Verdict.SerializeToString
            ),
            "ModerateBatch": grpc.unary_unary_rpc_method_handler(
                service.moderate_batch,
                response_serializer=pb.ModerateBatchResponse.SerializeToString,
            ),
        },
    )


class Gateway:
    """A running gateway: the gRPC server plus what it owns."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        health_servicer: health.aio.HealthServicer,
        service: ModerationService,
        grace_s: float,
        *,
        readiness: ReadinessMonitor,
    ) -> None:
        self.server = server
        self.port = port
        self.health = health_servicer
        self.service = service
        self.readiness = readiness
        self._grace_s = grace_s
        self._stopped = False
        self._lists_task: asyncio.Task[None] | None = None
        lists = service.text_analyzer.lists
        if lists is not None:
            self._lists_task = asyncio.create_task(
                _reload_lists(lists, service.settings.lists.reload_s), name="lists-reload"
            )

    @classmethod
    async def start(
        cls,
        settings: GatewaySettings,
        policy: Policy,
        classifiers: Mapping[str, Classifier],
        *,
        metrics: GatewayMetrics | None = None,
    ) -> Self:
        check_coverage(policy, classifiers)
        metrics = metrics or GatewayMetrics()
        lists = Lists(settings.lists.path) if settings.lists.enabled else None
        service = ModerationService(
            settings,
            policy,
            classifiers,
            metrics,
            TextAnalyzer(lists=lists),
            sink=_publisher(settings, metrics) if settings.stream.enabled else None,
            author_store=AuthorStore.from_url(
                settings.redis.url,
                key_prefix=settings.redis.key_prefix,
                timeout_s=settings.author_lookup_timeout_ms / 1000.0,
                metrics=metrics,
            )
            if settings.redis.url
            else None,
            behaviour_store=BehaviourStore.from_url(
                settings.redis.url,
                key_prefix=settings.redis.key_prefix,
                timeout_s=settings.author_lookup_timeout_ms / 1000.0,
                window_s=settings.behaviour.near_duplicate_window_s,
                metrics=metrics,
            )
            if settings.redis.url and settings.behaviour.enabled
            else None,
            ocr_configured=OCR_CLASSIFIER in classifiers,
        )
        if service.sink is not None:
            await service.sink.start()
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        server.add_generic_rpc_handlers([_handlers(service)])
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        if settings.reflection_enabled:
            reflection.enable_server_reflection(
                (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
            )
        port = server.add_insecure_port(f"{settings.host}:{settings.port}")
        if port == 0:
            raise ConfigError(f"cannot bind {settings.host}:{settings.port}")
        await server.start()
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        readiness = ReadinessMonitor(
            classifiers, health_servicer, metrics, interval_s=settings.triton.probe_interval_s
        )
        await readiness.start()
        log.info(
            "gateway serving on %s:%d (policy %s, classifiers %s, deadline %.0f ms, stream %s, "
            "redis %s)",
            settings.host,
            port,
            policy.version,
            {n: c.version for n, c in classifiers.items()},
            settings.deadline_ms,
            redact_url(settings.stream.kafka_url) or "off",
            redact_url(settings.redis.url) or "off",
        )
        return cls(
            server, port, health_servicer, service, settings.shutdown_grace_s, readiness=readiness
        )

    async def stop(self) -> None:
        """Stop taking calls, drain in-flight ones for the grace period, close the models."""
        if self._stopped:
            return
        self._stopped = True
        await self.readiness.aclose()
        if self._lists_task is not None:
            self._lists_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lists_task
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self._grace_s)
        if self.service.sink is not None:
            await self.service.sink.aclose()
        if self.service.author_store is not None:
            await self.service.author_store.aclose()
        if self.service.behaviour_store is not None:
            await self.service.behaviour_store.aclose()
        for clf in self.service.classifiers.values():
            await clf.aclose()
        self.service.close()
        log.info("gateway stopped")


async def _reload_lists(lists: Lists, every_s: float) -> None:
    """Pick up edits of the lists file (``modgate lists``, or by hand) without a restart;
    parsing and compiling run on a worker thread."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(lists.reload_if_changed)
        except Exception:  # background task boundary: log, keep the current lists
            log.exception("reloading the lists failed")


def _publisher(settings: GatewaySettings, metrics: GatewayMetrics) -> KafkaPublisher:
    """The stream publisher; it keeps deferred posts until confirmed when Redis is set."""
    marks = None
    if settings.confirm.enabled and settings.redis.url:
        marks = DoneMarks.from_url(settings.redis.url, key_prefix=settings.redis.key_prefix)
    return KafkaPublisher(settings.stream, metrics, done_marks=marks, confirm=settings.confirm)


OCR_CLASSIFIER = "ocr"
HASHBANK_CLASSIFIER = "hashbank"


def load_classifiers(settings: GatewaySettings) -> dict[str, Classifier]:
    """The configured model classifiers plus the image stages settings turn on: OCR into
    the text model (``ocr``) and the hash-bank matcher (``hashbank``)."""
    cache = settings.images.cache_entries
    classifiers: dict[str, Classifier] = {
        name: build_classifier(
            name, url, settings.onnx, triton=settings.triton, cache_entries=cache
        )
        for name, url in settings.classifier_urls().items()
    }
    for reserved in (OCR_CLASSIFIER, HASHBANK_CLASSIFIER):
        if reserved in classifiers:
            raise ConfigError(f"classifier name {reserved!r} is reserved for the image stages")
    if settings.ocr.engine is not OcrEngine.OFF:
        from models.ocr import OcrTextClassifier, build_ocr_engine
        from models.text import TextClassifier

        text = classifiers.get(settings.ocr.text_classifier)
        if not isinstance(text, TextClassifier):
            raise ConfigError(
                f"OCR scores image text with classifier {settings.ocr.text_classifier!r}, "
                "which is not a configured in-process text classifier; set "
                "MODGATE_OCR__TEXT_CLASSIFIER, or MODGATE_OCR__ENGINE=off"
            )
        engine = build_ocr_engine(settings.ocr)
        if engine is not None:
            classifiers[OCR_CLASSIFIER] = OcrTextClassifier(
                engine, text.model, settings.ocr, cache_entries=cache
            )
    if settings.hashbank.enabled:
        from models.media_match import HashMatchClassifier

        classifiers[HASHBANK_CLASSIFIER] = HashMatchClassifier(
            settings.hashbank, cache_entries=cache
        )
    return classifiers


async def serve(settings: GatewaySettings) -> None:
    """Run a gateway until SIGINT/SIGTERM (``modgate serve``)."""
    policy = load_policy(settings.policy_path)
    classifiers = load_classifiers(settings)
    metrics = GatewayMetrics()
    gateway = await Gateway.start(settings, policy, classifiers, metrics=metrics)
    if settings.metrics_port:
        metrics.serve_http(settings.metrics_host, settings.metrics_port)
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down: draining in-flight calls for up to %.1f s", settings.shutdown_grace_s)
    await gateway.stop()
