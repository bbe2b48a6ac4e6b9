"""Load shedding over real gRPC: past its limits the gateway decides new calls at once without
the models (degraded, models ``shed``, severe categories DEFER), and scores again after."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from pydantic import ValidationError

from modgate.pb import moderation_pb2 as pb
from modgate.settings import GatewaySettings, OverloadSettings
from tests.fakes import FunctionClassifier, constant
from tests.integration.conftest import StartGateway, spam_classifier

pytestmark = pytest.mark.integration

TEXT = "Are we still on for lunch tomorrow?"


async def test_posts_over_the_scoring_limit_are_shed_at_once_and_deferred(
    start_gateway: StartGateway,
) -> None:
    slow = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.0), delay_s=0.3)
    gateway, stub = await start_gateway(
        {"spam": spam_classifier(), "hate-model": slow},
        overload=OverloadSettings(max_scoring_posts=1),
        max_batch_posts=1,
    )
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(stub.Moderate(pb.ModerateRequest(post_id="a", text=TEXT)))
    await asyncio.sleep(0.1)  # "a" is being scored (the hate model takes 300 ms)
    started = loop.time()
    shed = await stub.Moderate(pb.ModerateRequest(post_id="b", text=TEXT), timeout=5)
    shed_ms = (loop.time() - started) * 1000
    scored = await first
    assert shed_ms < 150, shed_ms  # answered without waiting for a model
    assert shed.degraded
    assert sorted(shed.missing_reasons) == ["hate-model: shed", "spam: shed"]
    assert shed.action == pb.DEFER  # hate is severe: never a silent ALLOW
    assert not shed.scores
    assert not scored.degraded
    assert scored.action == pb.ALLOW
    again = await stub.Moderate(pb.ModerateRequest(post_id="c", text=TEXT), timeout=5)
    assert not again.degraded  # the limit is free again: scored as usual
    assert gateway.service.metrics.shed._value.get() == 1


async def test_shedding_can_be_turned_off(start_gateway: StartGateway) -> None:
    slow = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.0), delay_s=0.2)
    _, stub = await start_gateway(
        {"spam": spam_classifier(), "hate-model": slow},
        overload=OverloadSettings(enabled=False, max_scoring_posts=1),
    )
    calls = [stub.Moderate(pb.ModerateRequest(post_id=f"p{i}", text=TEXT)) for i in range(3)]
    verdicts = await asyncio.gather(*calls)
    assert not any(v.degraded for v in verdicts)


async def test_an_idle_gateway_scores_the_largest_batch_in_full(
    start_gateway: StartGateway,
) -> None:
    """With default settings, a ModerateBatch of max_batch_posts (64) posts on an idle gateway
    is scored, not shed (the default bound was 32: every such verdict came back degraded)."""
    _, stub = await start_gateway({"spam": spam_classifier()})
    request = pb.ModerateBatchRequest(
        posts=[pb.ModerateRequest(post_id=f"p{i}", text=TEXT) for i in range(64)]
    )
    reply = await stub.ModerateBatch(request, timeout=10)
    assert len(reply.verdicts) == 64
    assert not any(v.degraded for v in reply.verdicts)


async def test_request_bytes_in_progress_are_bounded(start_gateway: StartGateway) -> None:
    """Calls that would hold more than max_inflight_bytes of requests together are refused
    with RESOURCE_EXHAUSTED before any work; one call is always admitted."""
    slow = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.0), delay_s=0.4)
    _, stub = await start_gateway(
        {"hate-model": slow},
        max_message_bytes=2 << 20,
        max_inflight_bytes=2 << 20,
        max_text_chars=1_000_000,
    )

    def heavy(post_id: str) -> pb.ModerateRequest:
        return pb.ModerateRequest(post_id=post_id, text="a" * (800 << 10))  # 800 KiB

    first = asyncio.ensure_future(stub.Moderate(heavy("a"), timeout=5))
    second = asyncio.ensure_future(stub.Moderate(heavy("b"), timeout=5))
    await asyncio.sleep(0.15)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Moderate(heavy("c"), timeout=5)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "in progress" in (refused.value.details() or "")
    await asyncio.gather(first, second)
    assert (await stub.Moderate(heavy("d"), timeout=5)).post_id == "d"


def test_an_inflight_budget_below_the_largest_message_fails_at_boot() -> None:
    with pytest.raises(ValidationError, match="max_inflight_bytes"):
        GatewaySettings(max_message_bytes=64 << 20, max_inflight_bytes=32 << 20)
