"""A whole Moderate call over loopback gRPC with the shipped spam model: client stub →
decode → validate → fan-out → decide → verdict → decision log line → reply.

The gateway runs on its own event loop in a background thread; the benchmark drives a
synchronous client, as a post service would. Decision log lines go to a null handler so the
figure is the service, not the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from decision import load_policy
from gateway.server import Gateway
from models.spam import SpamClassifier
from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import ARTIFACTS_DIR, GatewaySettings, OnnxSettings


@pytest.fixture(scope="module")
def stub() -> Iterator[pb_grpc.ModerationStub]:
    logging.getLogger("modgate.decisions").propagate = False
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> Gateway:
        settings = GatewaySettings(port=0, metrics_port=0)
        spam = SpamClassifier.from_artifact(
            ARTIFACTS_DIR / "spam" / "model.onnx", name="spam", onnx=OnnxSettings()
        )
        return await Gateway.start(settings, load_policy(settings.policy_path), {"spam": spam})

    gateway = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        yield pb_grpc.ModerationStub(channel)
    asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_gateway_moderate_text_post_over_grpc(benchmark: Any, stub: pb_grpc.ModerationStub) -> None:
    request = pb.ModerateRequest(
        post_id="bench-1",
        text="Are we still on for lunch tomorrow? I'll bring the notes from class.",
        author=pb.Author(id="a1", followers=120, account_age_days=400),
        region="DE",
    )
    verdict = benchmark(stub.Moderate, request, timeout=2.0)
    assert verdict.action == pb.ALLOW
    assert not verdict.degraded
