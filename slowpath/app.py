"""The Faust app of the slow path: consume ``modgate.deferred``, route, relay the outbox.

``SlowpathWorker`` owns one Faust app and what it needs: the moderator queue (Redis), the LLM
judge (when configured) and the policy. Its agent runs ``process_with_retries`` over every
deferred post with ``worker_concurrency`` concurrent actors; Faust commits an offset only
after the record was handled, so a crash or an outage redelivers rather than loses.
A timer on the group leader relays moderator labels/actions from the Redis outbox to
``modgate.labels``/``modgate.actions`` (a decision is stored and its records queued in one
Redis transaction, so a broker outage never loses a label).

It runs in-process (``await worker.start()`` / ``await worker.stop()``: ``modgate up``,
tests, benchmarks) or on its own (``modgate worker``, ``run_worker``). Scale out by running
more workers with the same ``app_id`` and more topic partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import faust

from decision import Policy, load_policy
from modgate.errors import ConfigError
from modgate.records import Topics
from modgate.settings import ClassifierUrl, SlowpathSettings
from slowpath.errors import QueueUnavailableError
from slowpath.image_text import ImageTextCheck
from slowpath.interface import LlmJudge
from slowpath.llm_openai import OpenAiJudge
from slowpath.media_check import KnownMediaCheck
from slowpath.metrics import SlowpathMetrics
from slowpath.queue_redis import RedisModeratorQueue
from slowpath.worker import DeferredRouter, process_with_retries

log = logging.getLogger(__name__)

OUTBOX_BATCH = 500


class FaustEmitter:
    """``RecordEmitter`` over the Faust app's producer (waits for the broker's ack)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    async def send_and_wait(self, topic: str, key: bytes, value: bytes) -> None:
        await self._app.producer.send_and_wait(topic, key, value, None, None, None)


def faust_broker(settings: SlowpathSettings) -> str:
    return ";".join(f"kafka://{server}" for server in settings.stream.bootstrap_servers())


def image_text_check(settings: SlowpathSettings) -> ImageTextCheck | None:
    """The OCR check the settings ask for (None with ``ocr.engine = off``)."""
    from models.factory import build_classifier
    from models.ocr import OcrTextClassifier, build_ocr_engine
    from models.text import TextClassifier

    engine = build_ocr_engine(settings.ocr)
    if engine is None:
        return None
    url = ClassifierUrl.parse("text_model", settings.text_model)
    text = build_classifier("text", url, settings.onnx, triton=settings.triton)
    if not isinstance(text, TextClassifier):
        raise ConfigError(f"text_model {settings.text_model!r} is not a text classifier")
    reader = OcrTextClassifier(engine, text.model, settings.ocr, cache_entries=0)
    return ImageTextCheck(reader, settings.images)


class SlowpathWorker:
    def __init__(
        self,
        settings: SlowpathSettings,
        *,
        policy: Policy | None = None,
        judge: LlmJudge | None = None,
        queue: RedisModeratorQueue | None = None,
        metrics: SlowpathMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or load_policy(settings.policy_path)
        self.metrics = metrics or SlowpathMetrics()
        self.topics = Topics(settings.stream.topic_prefix)
        self.queue = queue or RedisModeratorQueue.from_url(
            settings.redis.url,
            settings.queue,
            key_prefix=settings.redis.key_prefix,
            timeout_s=settings.redis_timeout_s,
        )
        if judge is None and settings.judge.enabled:
            judge = OpenAiJudge(settings.judge, self.policy)
        self.judge = judge
        self.image_text = image_text_check(settings)
        self.known_media = (
            KnownMediaCheck(settings.hashbank, settings.images)
            if settings.hashbank.enabled
            else None
        )
        self.app = self._build_app()
        self.router = DeferredRouter(
            queue=self.queue,
            emitter=FaustEmitter(self.app),
            policy=self.policy,
            topics=self.topics,
            judge=self.judge,
            metrics=self.metrics,
            image_text=self.image_text,
            known_media=self.known_media,
        )

    def _build_app(self) -> faust.App:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            s.app_id,
            broker=faust_broker(s),
            web_enabled=False,
            store="memory://",
            datadir=str(s.data_dir / s.app_id),
            key_serializer="raw",
            value_serializer="raw",
            topic_partitions=s.stream.topic_partitions,
            topic_replication_factor=s.stream.topic_replication,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=s.broker_session_timeout_s,
            broker_rebalance_timeout=s.broker_rebalance_timeout_s,
        )
        topics = {
            name: app.topic(name, key_type=bytes, value_type=bytes) for name in self.topics.all()
        }

        @app.agent(topics[self.topics.deferred], concurrency=s.worker_concurrency)
        async def route_deferred(stream: Any) -> None:
            async for event in stream.events():
                await process_with_retries(self.router, event.key or b"", event.value, s)

        @app.timer(s.outbox_poll_s, on_leader=True)  # type: ignore[untyped-decorator]
        async def relay_outbox() -> None:
            await self.relay_outbox()

        return app

    async def relay_outbox(self) -> int:
        """Move moderator labels/actions from the Redis outbox to Kafka; return how many."""
        names = {"labels": self.topics.labels, "actions": self.topics.actions}
        try:
            entries = await self.queue.outbox_read(OUTBOX_BATCH)
            for entry in entries:
                topic = names.get(entry.topic, entry.topic)
                await FaustEmitter(self.app).send_and_wait(topic, entry.key, entry.value)
                self.metrics.relayed.labels(topic).inc()
            if entries:
                await self.queue.outbox_ack([e.entry_id for e in entries])
        except QueueUnavailableError as exc:
            log.warning("outbox relay paused, Redis unavailable: %s", exc)
            return 0
        return len(entries)

    async def start(self) -> None:
        await self.app.start()
        log.info(
            "slow-path worker %s consuming %s (judge %s, image text %s, hash bank %s, "
            "concurrency %d)",
            self.settings.app_id,
            self.topics.deferred,
            self.judge.model if self.judge else "off: deferred posts go to moderators",
            self.image_text.reader.version if self.image_text else "off",
            self.settings.hashbank.path if self.known_media else "off",
            self.settings.worker_concurrency,
        )

    async def stop(self) -> None:
        await self.app.stop()
        if self.judge is not None:
            await self.judge.aclose()
        if self.image_text is not None:
            self.image_text.close()
        if self.known_media is not None:
            self.known_media.close()
        await self.queue.aclose()
        log.info("slow-path worker %s stopped", self.settings.app_id)


async def run_worker(settings: SlowpathSettings) -> None:
    """Run one worker until SIGINT/SIGTERM (``modgate worker``)."""
    worker = SlowpathWorker(settings)
    if settings.metrics_port:
        worker.metrics.serve_http("127.0.0.1", settings.metrics_port)
    await worker.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    with contextlib.suppress(asyncio.CancelledError):
        await stopping.wait()
    await worker.stop()
