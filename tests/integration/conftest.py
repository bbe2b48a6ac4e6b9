"""Integration fixtures: a real gRPC gateway on 127.0.0.1 with the shipped models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest

from decision import load_policy
from gateway.server import Gateway
from models.interface import Classifier
from models.spam import SpamClassifier
from models.text import TextClassifier
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import ARTIFACTS_DIR, GatewaySettings, OnnxSettings

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
