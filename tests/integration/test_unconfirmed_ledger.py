"""The gateway's ledger of deferred posts not yet confirmed by the slow path (real Redis,
real files): confirmed posts leave it, unconfirmed ones are published again when due (at
once-ish after a broker reconnect), a Redis outage changes nothing, a previous process's
ledger is picked up, and a full ledger is counted instead of failing a verdict."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from gateway.confirm import LEDGER_DIR, DoneMarks, UnconfirmedLedger
from gateway.metrics import GatewayMetrics
from gateway.spool import SpoolRecord
from modgate.embedded import LocalRedis
from modgate.settings import ConfirmSettings

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PREFIX = "t:"
TOPIC = "modgate.deferred"


def record(post_id: str) -> SpoolRecord:
    return SpoolRecord(TOPIC, post_id.encode(), f"deferred post {post_id}".encode())


@pytest.fixture
async def raw(redis_server: LocalRedis) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


class Ledger:
    """A ledger under test and what it republished."""

    def __init__(self, directory: Path, url: str, **settings: Any) -> None:
        self.republished: list[str] = []
        self.metrics = GatewayMetrics()
        values: dict[str, Any] = {"grace_s": 0.0, "republish_after_s": 0.3} | settings
        self.ledger = UnconfirmedLedger(
            directory,
            ConfirmSettings(**values),
            DoneMarks.from_url(url, key_prefix=PREFIX, timeout_s=0.3),
            lambda r: self.republished.append(r.key.decode()),
            self.metrics,
        )

    def counter(self, name: str) -> float:
        value = self.metrics.registry.get_sample_value(name)
        return 0.0 if value is None else value


async def test_confirmed_posts_leave_and_late_ones_are_published_again(
    tmp_path: Path, redis_server: LocalRedis, raw: redis.asyncio.Redis
) -> None:
    lg = Ledger(tmp_path, redis_server.url)
    for post_id in ("a", "b", "c", "d"):
        lg.ledger.add(record(post_id))
    await raw.set(f"{PREFIX}done:a", "queued")
    await raw.set(f"{PREFIX}done:b", "llm_allow")
    await raw.set(f"{PREFIX}dead:c", "1")  # dead-lettered: a person replays it
    await lg.ledger.check()
    assert lg.republished == []  # "d" is not due yet
    assert lg.ledger.pending == 4  # its segment holds them all until every post is done
    await asyncio.sleep(0.35)
    await lg.ledger.check()
    assert lg.republished == ["d"]
    await raw.set(f"{PREFIX}done:d", "queued")
    await asyncio.sleep(0.05)
    await lg.ledger.check()
    assert lg.ledger.pending == 0
    assert list((tmp_path / LEDGER_DIR).glob("*.spool")) == []
    assert lg.counter("modgate_deferred_confirmed_total") == 4
    assert lg.counter("modgate_deferred_republished_total") == 1
    await lg.ledger.aclose()


async def test_the_wait_doubles_between_republishes(
    tmp_path: Path, redis_server: LocalRedis
) -> None:
    lg = Ledger(tmp_path, redis_server.url, republish_after_s=0.2)
    lg.ledger.add(record("x"))
    await lg.ledger.check()
    times: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    while len(times) < 3 and loop.time() - start < 5:
        await asyncio.sleep(0.02)
        before = len(lg.republished)
        await lg.ledger.check()
        if len(lg.republished) > before:
            times.append(loop.time() - start)
    assert lg.republished == ["x", "x", "x"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.38  # 0.4 s after the first republish
    assert gaps[1] >= 0.78  # then 0.8 s
    await lg.ledger.aclose()


async def test_a_broker_reconnect_makes_unconfirmed_posts_due(
    tmp_path: Path, redis_server: LocalRedis
) -> None:
    lg = Ledger(tmp_path, redis_server.url, republish_after_s=60.0, grace_s=0.0)
    lg.ledger.add(record("lost-by-the-broker"))
    await lg.ledger.check()
    assert lg.republished == []
    lg.ledger.broker_reconnected()
    await lg.ledger.check()
    assert lg.republished == ["lost-by-the-broker"]
    await lg.ledger.aclose()


async def test_while_redis_is_down_nothing_is_dropped_or_republished(
    tmp_path: Path, redis_server: LocalRedis, raw: redis.asyncio.Redis
) -> None:
    lg = Ledger(tmp_path, redis_server.url)
    lg.ledger.add(record("a"))
    await raw.set(f"{PREFIX}done:a", "queued")
    redis_server.pause()
    try:
        await asyncio.sleep(0.35)
        await lg.ledger.check()
        assert (lg.republished, lg.ledger.pending) == ([], 1)
    finally:
        redis_server.pause(False)
    await lg.ledger.check()
    assert lg.ledger.pending == 0
    assert lg.republished == []
    await lg.ledger.aclose()


async def test_a_previous_processs_ledger_is_checked_and_republished(
    tmp_path: Path, redis_server: LocalRedis, raw: redis.asyncio.Redis
) -> None:
    first = Ledger(tmp_path, redis_server.url)
    for post_id in ("kept", "arrived"):
        first.ledger.add(record(post_id))
    await first.ledger.aclose()  # the process stopped: its ledger stays on disk
    await raw.set(f"{PREFIX}done:arrived", "queued")

    second = Ledger(tmp_path, redis_server.url, grace_s=5.0, republish_after_s=0.2)
    await second.ledger.check()  # inherited segments are checked at once, despite the grace
    assert second.ledger.pending == 2
    await asyncio.sleep(0.25)
    await second.ledger.check()
    assert second.republished == ["kept"]
    await second.ledger.aclose()


async def test_a_full_ledger_counts_what_it_cannot_keep(
    tmp_path: Path, redis_server: LocalRedis
) -> None:
    lg = Ledger(tmp_path, redis_server.url, max_bytes=1 << 20)
    big = SpoolRecord(TOPIC, b"big", b"x" * (1 << 20))
    lg.ledger.add(big)
    lg.ledger.add(record("next"))  # over the cap now: not kept, and no exception
    assert lg.ledger.pending == 1
    await lg.ledger.check()  # written on a worker thread
    assert lg.ledger.spool.pending_records == 1
    assert (
        lg.metrics.registry.get_sample_value("modgate_deferred_unkept_total", {"reason": "full"})
        == 1
    )
    await lg.ledger.aclose()


async def test_keeping_a_post_with_megabytes_of_images_does_not_hold_the_event_loop(
    tmp_path: Path, redis_server: LocalRedis
) -> None:
    lg = Ledger(tmp_path, redis_server.url)
    await lg.ledger.start()
    heavy = SpoolRecord(TOPIC, b"heavy", bytes(range(256)) * (32 << 10))  # 8 MiB
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(4):
        lg.ledger.add(heavy)
    assert loop.time() - started < 0.02  # collected now, written on a worker thread
    await asyncio.wait_for(lg.ledger.written(), 10)
    assert lg.ledger.spool.pending_records == 4
    await lg.ledger.aclose()
