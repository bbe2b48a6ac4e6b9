"""Calls whose caller gave up do no more work than they must and publish nothing (real gRPC):
a deadline already past on arrival is answered DEADLINE_EXCEEDED before any model runs; a
cancelled call cancels its models; a verdict made after the caller's deadline is logged as
abandoned and never reaches the stream, so the slow path gets no deferred post for a post
whose service never had a verdict."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from modgate.pb import moderation_pb2 as pb
from modgate.records import Topics
from modgate.types import Post, Scores
from tests.fakes import FunctionClassifier, ListSink, constant
from tests.integration.conftest import StartGateway

pytestmark = pytest.mark.integration

TOPICS = Topics()


def request(post_id: str) -> pb.ModerateRequest:
    return pb.ModerateRequest(post_id=post_id, text="Are we still on for lunch tomorrow?")


async def test_a_deadline_past_on_arrival_runs_nothing_and_publishes_nothing(
    start_gateway: StartGateway,
) -> None:
    hate = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.5), delay_s=0.2)
    gateway, stub = await start_gateway({"hate-model": hate})
    await stub.Moderate(request("warm-up"), timeout=5)  # the channel connected: the late call
    hate.calls = 0  # is sent at once, not held waiting for a connection past its deadline
    sink = gateway.service.sink = ListSink()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Moderate(request("late"), timeout=0.0005)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.3)
    assert hate.calls == 0
    assert sink.records == []
    abandoned = gateway.service.metrics.abandoned.labels("Moderate", "ingress")
    assert abandoned._value.get() == 1


async def test_a_cancelled_call_cancels_its_models_and_publishes_nothing(
    start_gateway: StartGateway,
) -> None:
    hate = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.5), delay_s=0.3)
    gateway, stub = await start_gateway({"hate-model": hate})
    sink = gateway.service.sink = ListSink()
    call = stub.Moderate(request("gone"))
    await asyncio.sleep(0.1)
    call.cancel()
    await asyncio.sleep(0.4)
    assert (hate.calls, hate.cancelled) == (1, 1)
    assert sink.records == []


async def test_a_verdict_made_after_the_callers_deadline_is_not_published(
    start_gateway: StartGateway,
) -> None:
    """A model that holds the process past the caller's deadline (here: blocking, as a
    stalled thread would) leaves a verdict nobody reads: logged, counted, not published."""

    def blocking(_post: Post) -> Scores:
        time.sleep(0.12)
        return {"hate": 0.5}

    hate = FunctionClassifier("hate-model", ("hate",), blocking)
    gateway, stub = await start_gateway({"hate-model": hate})
    sink = gateway.service.sink = ListSink()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Moderate(request("slow"), timeout=0.06)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.3)
    assert hate.calls == 1
    assert sink.records == []
    abandoned = gateway.service.metrics.abandoned.labels("Moderate", "verdict")
    assert abandoned._value.get() == 1

    # The same call with time to spare is published as usual: decision and deferred post.
    hate.score = constant("hate", 0.5)
    verdict = await stub.Moderate(request("fine"), timeout=5)
    assert verdict.action == pb.DEFER
    assert sink.keys(TOPICS.decisions) == [b"fine"]
    assert sink.keys(TOPICS.deferred) == [b"fine"]
