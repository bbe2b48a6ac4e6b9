"""Integration fixtures: a real gRPC gateway on 127.0.0.1 with the shipped models, and real
servers (redis-server, a Kafka-protocol broker, Triton Inference Server) started as child
processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from decision import load_policy
from gateway.server import Gateway
from models.interface import Classifier
from models.spam import SpamClassifier
from models.text import TextClassifier
from modgate.embedded import EmbeddedServerError, LocalBroker, LocalRedis
from modgate.embedded_triton import LocalTriton, TritonInstall
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import (
    ARTIFACTS_DIR,
    GatewaySettings,
    OnnxSettings,
    QueueSettings,
    RedisSettings,
    SlowpathSettings,
    StreamSettings,
)
from slowpath.app import SlowpathWorker
from slowpath.queue_redis import RedisModeratorQueue
from tests.conftest import skip_or_fail
from tests.integration.chat_server import ScriptedChatServer

StartGateway = Callable[..., Awaitable[tuple[Gateway, pb_grpc.ModerationStub]]]


def spam_classifier() -> SpamClassifier:
    return SpamClassifier.from_artifact(
        ARTIFACTS_DIR / "spam" / "model.onnx", name="spam", onnx=OnnxSettings()
    )


def text_classifier() -> TextClassifier:
    return TextClassifier.from_artifact(
        ARTIFACTS_DIR / "text" / "model.onnx", name="text", onnx=OnnxSettings()
    )


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    """Start gateways on 127.0.0.1:0; stopped (and their channels closed) after the test."""
    running: list[tuple[Gateway, grpc.aio.Channel]] = []

    async def start(
        classifiers: dict[str, Classifier] | None = None, **overrides: Any
    ) -> tuple[Gateway, pb_grpc.ModerationStub]:
        settings = GatewaySettings(port=0, metrics_port=0, shutdown_grace_s=2.0, **overrides)
        clfs = classifiers if classifiers is not None else {"spam": spam_classifier()}
        gateway = await Gateway.start(settings, load_policy(settings.policy_path), clfs)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}")
        running.append((gateway, channel))
        return gateway, pb_grpc.ModerationStub(channel)

    yield start
    for gateway, channel in running:
        await channel.close()
        await gateway.stop()


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    """A fresh redis-server on 127.0.0.1 for one test (starts in a few ms)."""
    try:
        server = LocalRedis().start()
    except EmbeddedServerError as exc:
        skip_or_fail(f"redis-server unavailable: {exc}")
        raise
    yield server
    server.stop()


@pytest.fixture
def kafka_broker() -> Iterator[LocalBroker]:
    """A fresh Kafka-protocol broker (Tansu, memory storage) on 127.0.0.1 for one test."""
    try:
        broker = LocalBroker().start()
    except EmbeddedServerError as exc:
        skip_or_fail(f"Kafka-protocol broker unavailable: {exc}")
        raise
    yield broker
    broker.stop()


StartWorker = Callable[..., Awaitable[SlowpathWorker]]


def slowpath_settings(
    broker: LocalBroker, redis: LocalRedis, state_dir: Path, **overrides: Any
) -> SlowpathSettings:
    """Worker settings for tests: fast group joins, a fresh app id, local state in tmp."""
    values: dict[str, Any] = {
        "stream": StreamSettings(kafka_url=broker.url, spool_dir=state_dir / "spool"),
        "redis": RedisSettings(url=redis.url),
        "app_id": f"modgate-test-{uuid.uuid4().hex[:8]}",
        "data_dir": state_dir / "faust",
        "broker_session_timeout_s": 2.0,
        "broker_rebalance_timeout_s": 2.0,
        "outbox_poll_s": 0.1,
        "retry_backoff_s": 0.05,
        "retry_backoff_max_s": 0.5,
        "metrics_port": 0,
    }
    values.update(overrides)
    return SlowpathSettings(**values)


@pytest.fixture
async def start_worker(tmp_path: Path) -> AsyncIterator[StartWorker]:
    """Start in-process slow-path workers (Faust); stopped after the test."""
    running: list[SlowpathWorker] = []

    async def start(broker: LocalBroker, redis: LocalRedis, **overrides: Any) -> SlowpathWorker:
        worker = SlowpathWorker(slowpath_settings(broker, redis, tmp_path, **overrides))
        await worker.start()
        running.append(worker)
        return worker

    yield start
    for worker in running:
        await worker.stop()


@pytest.fixture(scope="session")
def triton_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[TritonInstall, Path]:
    """The shipped text, spam and nsfw models exported for the pytriton server binary: the
    python runtime, running the same ONNX files through the same onnxruntime version."""
    from export.triton_repo import export_python_repo

    try:
        install = TritonInstall.find()
    except EmbeddedServerError as exc:
        skip_or_fail(f"Triton server unavailable: {exc}")
        raise
    repo = tmp_path_factory.mktemp("triton") / "repo"
    export_python_repo(repo, [str(install.site_packages)])
    return install, repo


def _start_triton(triton_repo: tuple[TritonInstall, Path]) -> LocalTriton:
    install, repo = triton_repo
    try:
        return LocalTriton(install, repo).start(timeout_s=120.0)
    except EmbeddedServerError as exc:
        skip_or_fail(f"Triton server did not start: {exc}")
        raise


@pytest.fixture(scope="session")
def triton_server(triton_repo: tuple[TritonInstall, Path]) -> Iterator[LocalTriton]:
    """One Triton server shared by the tests that leave it running."""
    server = _start_triton(triton_repo)
    yield server
    server.stop()


@pytest.fixture
def own_triton_server(triton_repo: tuple[TritonInstall, Path]) -> Iterator[LocalTriton]:
    """A Triton server of this test's own, which it may stop and start again."""
    server = _start_triton(triton_repo)
    yield server
    server.stop()


@pytest.fixture
async def queue(redis_server: LocalRedis) -> AsyncIterator[RedisModeratorQueue]:
    """The moderator queue on a fresh redis-server (short timeouts, default settings)."""
    q = RedisModeratorQueue.from_url(redis_server.url, QueueSettings(), timeout_s=0.5)
    yield q
    await q.aclose()


@pytest.fixture
async def chat() -> AsyncIterator[ScriptedChatServer]:
    """A scripted OpenAI-compatible chat-completions server on 127.0.0.1."""
    server = ScriptedChatServer()
    await server.start()
    yield server
    await server.stop()
