"""``modgate up`` and ``modgate worker``: the whole system on one machine, and a lone worker.

``run_stack`` starts a local Kafka-protocol broker (Tansu) and a redis-server as child
processes, then the gateway and one slow-path worker in this process, all wired together,
and stops them in reverse order when ``stopping`` is set (SIGINT/SIGTERM from the CLI). It
is the library function ``modgate up``, the end-to-end tests and the benchmarks share.
Production runs ``modgate serve`` and ``modgate worker`` separately against a Kafka cluster
and Redis by URL (``MODGATE_STREAM__KAFKA_URL``, ``MODGATE_REDIS__URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modgate.embedded import LocalBroker, LocalRedis
from modgate.settings import (
    RedisSettings,
    StreamSettings,
    load_gateway_settings,
    load_slowpath_settings,
)

if TYPE_CHECKING:
    from gateway.server import Gateway
    from slowpath.app import SlowpathWorker

log = logging.getLogger(__name__)


@dataclass
class Stack:
    broker: LocalBroker
    redis: LocalRedis
    gateway: Gateway
    worker: SlowpathWorker

    def describe(self) -> dict[str, Any]:
        return {
            "gateway": f"{self.gateway.service.settings.host}:{self.gateway.port}",
            "kafka": self.broker.url,
            "redis": self.redis.url,
            "env": {
                "MODGATE_STREAM__KAFKA_URL": self.broker.url,
                "MODGATE_REDIS__URL": self.redis.url,
            },
        }


@contextlib.asynccontextmanager
async def stack(
    *,
    state_dir: Path,
    kafka_port: int = 0,
    redis_port: int = 0,
    gateway_overrides: dict[str, Any] | None = None,
    slowpath_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """Broker + Redis + gateway + worker, torn down in reverse order on exit."""
    from decision import load_policy
    from gateway.server import Gateway, load_classifiers
    from slowpath.app import SlowpathWorker

    with (
        LocalBroker(port=kafka_port or None) as broker,
        LocalRedis(port=redis_port or None, data_dir=state_dir / "redis") as redis,
    ):
        stream = {"kafka_url": broker.url, "spool_dir": state_dir / "spool"}
        gw_over = dict(gateway_overrides or {})
        sp_over = dict(slowpath_overrides or {})
        gw_settings = load_gateway_settings(
            stream=StreamSettings(**{**stream, **gw_over.pop("stream", {})}),
            redis=RedisSettings(url=redis.url),
            **gw_over,
        )
        sp_settings = load_slowpath_settings(
            stream=StreamSettings(**{**stream, **sp_over.pop("stream", {})}),
            redis=RedisSettings(url=redis.url),
            data_dir=state_dir / "faust",
            **sp_over,
        )
        worker = SlowpathWorker(sp_settings)
        await worker.start()
        try:
            policy = load_policy(gw_settings.policy_path)
            gateway = await Gateway.start(gw_settings, policy, load_classifiers(gw_settings))
            try:
                yield Stack(broker, redis, gateway, worker)
            finally:
                await gateway.stop()
        finally:
            await worker.stop()


async def run_stack(
    *, state_dir: Path, kafka_port: int, redis_port: int, gateway_overrides: dict[str, Any]
) -> None:
    """``modgate up``: run until SIGINT/SIGTERM, printing how to reach each part."""
    import json

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with stack(
        state_dir=state_dir,
        kafka_port=kafka_port,
        redis_port=redis_port,
        gateway_overrides=gateway_overrides,
        # One worker on one machine: a short group join (Faust joins in half of it).
        slowpath_overrides={"broker_session_timeout_s": 4.0, "broker_rebalance_timeout_s": 4.0},
    ) as running:
        print(json.dumps({"modgate_up": running.describe()}), flush=True)
        await stopping.wait()
        log.info("shutting down: gateway, worker, broker, redis")
