"""Chaos: every DEFER verdict reaches the moderator queue while the parts around the gateway
crash. A real broker (Tansu, memory storage) and a real redis-server run as separate
processes, and so does the slow-path worker (``modgate worker``); the gateway serves an
open-loop load of posts while the broker is killed -9 and restarted (an in-memory broker
forgets the records it had acknowledged), Redis is frozen (SIGSTOP) and thawed, and the
worker is killed -9 and restarted. At the end every post that got DEFER is in the queue,
exactly once, and nothing else is: counts and ids checked."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import grpc
import pytest

from bench.chaos import Child, chaos_actions
from modgate.embedded import LocalBroker, LocalRedis
from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import ConfirmSettings, QueueSettings, RedisSettings, StreamSettings
from slowpath.queue_redis import RedisModeratorQueue
from tests.fakes import FunctionClassifier, constant
from tests.integration.conftest import StartGateway
from tests.integration.streams import eventually

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

RATE = 20  # posts per second, open loop
DURATION_S = 16.0
# (seconds into the load, what happens)
SCHEDULE = [
    (3.0, "kill broker"),
    (6.0, "start broker"),
    (8.0, "freeze redis"),
    (10.0, "thaw redis"),
    (11.5, "kill worker"),
    (13.5, "start worker"),
]


def worker_process(broker: LocalBroker, redis: LocalRedis, state: Path) -> Child:
    """``modgate worker`` as a child process (no judge, no OCR: every post is queued)."""
    env = {
        **os.environ,
        "MODGATE_STREAM__KAFKA_URL": broker.url,
        "MODGATE_STREAM__SPOOL_DIR": str(state / "worker-spool"),
        "MODGATE_REDIS__URL": redis.url,
        "MODGATE_APP_ID": f"modgate-chaos-{uuid.uuid4().hex[:8]}",
        "MODGATE_DATA_DIR": str(state / "faust"),
        "MODGATE_BROKER_SESSION_TIMEOUT_S": "2",
        "MODGATE_BROKER_REBALANCE_TIMEOUT_S": "2",
        "MODGATE_RETRY_BACKOFF_S": "0.05",
        "MODGATE_RETRY_BACKOFF_MAX_S": "0.5",
        "MODGATE_REDIS_TIMEOUT_S": "0.5",
        "MODGATE_METRICS_PORT": "0",
        "MODGATE_OCR__ENGINE": "off",
        "MODGATE_HASHBANK__ENABLED": "false",
        "MODGATE_JUDGE__BASE_URL": "",
        "MODGATE_LOG_JSON": "false",
        "MODGATE_LOG_LEVEL": "WARNING",
    }
    return Child("worker", env, state / "worker.log")


async def open_loop_with_chaos(
    stub: pb_grpc.ModerationStub, broker: LocalBroker, redis: LocalRedis, worker: Child
) -> tuple[dict[str, pb.Verdict], dict[str, str]]:
    """Send ``RATE`` posts a second for ``DURATION_S`` while ``SCHEDULE`` happens; return the
    verdicts and the failed calls (post id -> status code), both by post id."""
    loop = asyncio.get_running_loop()
    verdicts: dict[str, pb.Verdict] = {}
    failures: dict[str, str] = {}
    actions = chaos_actions(broker, redis, worker)

    async def send(post_id: str) -> None:
        request = pb.ModerateRequest(
            post_id=post_id, text="they are all the same", author=pb.Author(id=post_id)
        )
        try:
            verdicts[post_id] = await stub.Moderate(request, timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            failures[post_id] = exc.code().name

    async def chaos(start: float) -> None:
        for at, event in SCHEDULE:
            await asyncio.sleep(max(start + at - loop.time(), 0))
            await asyncio.to_thread(actions[event])

    start = loop.time()
    chaos_task = asyncio.create_task(chaos(start))
    calls = []
    for n in range(int(RATE * DURATION_S)):
        await asyncio.sleep(max(start + n / RATE - loop.time(), 0))
        calls.append(asyncio.create_task(send(f"chaos-{n:04d}")))
    await asyncio.gather(*calls)
    await chaos_task
    return verdicts, failures


async def test_every_deferred_post_reaches_the_queue_through_crashes(
    kafka_broker: LocalBroker,
    redis_server: LocalRedis,
    start_gateway: StartGateway,
    tmp_path: Path,
) -> None:
    worker = worker_process(kafka_broker, redis_server, tmp_path)
    worker.start()
    # Every post scores hate 0.5: DEFER (severe, between the policy's lines), queued.
    hate = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.5))
    _, stub = await start_gateway(
        {"hate-model": hate},
        stream=StreamSettings(
            kafka_url=kafka_broker.url,
            spool_dir=tmp_path / "gateway-spool",
            send_timeout_s=1.0,
            reconnect_s=0.2,
        ),
        redis=RedisSettings(url=redis_server.url),
        confirm=ConfirmSettings(
            interval_s=0.5, grace_s=2.0, republish_after_s=5.0, republish_max_s=10.0
        ),
    )
    queue = RedisModeratorQueue.from_url(redis_server.url, QueueSettings(), timeout_s=1.0)
    try:
        await asyncio.sleep(4.0)  # the worker joins its group
        verdicts, failures = await open_loop_with_chaos(stub, kafka_broker, redis_server, worker)
        assert failures == {}  # the gateway answered every call through it all
        deferred = sorted(p for p, v in verdicts.items() if v.action == pb.DEFER)
        assert len(deferred) == len(verdicts) == int(RATE * DURATION_S)

        async def all_queued() -> bool:
            return await queue.depth() >= len(deferred)

        await eventually(all_queued, timeout_s=90, what="every deferred post in the queue")
        await asyncio.sleep(2.0)  # late duplicates would show now
        waiting = await queue.peek(len(deferred) + 100)
        assert sorted(i.post_id for i in waiting) == deferred  # each exactly once
    finally:
        worker.stop()
        await queue.aclose()
        redis_server.pause(False)
