"""The gateway's publisher against a real broker (Tansu) and a real disk: after an outage
it leaves spool mode under steady traffic, a burst past its buffer keeps record order, a
disk that refuses writes (a real EFBIG from the file-size limit) or a full spool drops and
counts records without ever raising into a call, and replaying a large spool never holds
the event loop."""

from __future__ import annotations

import asyncio
import resource
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.metrics import GatewayMetrics
from gateway.publisher import KafkaPublisher
from gateway.spool import Spool, SpoolRecord
from modgate.embedded import LocalBroker
from modgate.settings import StreamSettings
from tests.integration.streams import eventually, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

TOPIC = "modgate.decisions"
MakePublisher = Callable[..., KafkaPublisher]


@pytest.fixture
async def make_publisher(kafka_broker: LocalBroker, tmp_path: Path) -> AsyncIterator[MakePublisher]:
    made: list[KafkaPublisher] = []

    def make(**overrides: Any) -> KafkaPublisher:
        values: dict[str, Any] = {
            "kafka_url": kafka_broker.url,
            "spool_dir": tmp_path / "spool",
            "send_timeout_s": 1.0,
            "reconnect_s": 0.2,
        } | overrides
        publisher = KafkaPublisher(StreamSettings(**values), GatewayMetrics())
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        await publisher.aclose(flush_timeout_s=0.5)


def sample(publisher: KafkaPublisher, name: str, **labels: str) -> float:
    value = publisher.metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


async def connected(publisher: KafkaPublisher) -> None:
    async def check() -> bool:
        return publisher.connected

    await eventually(check, timeout_s=15, what="the publisher connected")


async def test_steady_traffic_returns_to_direct_sends_after_an_outage(
    make_publisher: MakePublisher, kafka_broker: LocalBroker
) -> None:
    publisher = make_publisher()
    await publisher.start()
    await connected(publisher)
    kafka_broker.stop()
    for i in range(100):
        publisher.publish(TOPIC, f"outage-{i}".encode(), b"x")
        await asyncio.sleep(0.005)

    async def spooled() -> bool:
        return publisher.spool.pending_records > 0

    await eventually(spooled, what="records spooled during the outage")
    await asyncio.to_thread(kafka_broker.start)
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    spooled_at: list[float] = []
    while loop.time() - start < 4.0:  # continuous traffic: a record every 2 ms or so
        publisher.publish(TOPIC, f"steady-{sent}".encode(), b"y")
        sent += 1
        if not spooled_at and loop.time() - start >= 2.0:
            spooled_at.append(sample(publisher, "modgate_stream_records_spooled_total"))
        await asyncio.sleep(0.002)
    spooled_at.append(sample(publisher, "modgate_stream_records_spooled_total"))
    assert spooled_at[1] == spooled_at[0]  # the last 2 s went straight to the broker
    assert await publisher.flush(5)
    assert publisher.spool.empty
    records = await read_topic(kafka_broker.url, TOPIC, at_least=100 + sent)
    assert len({key for key, _ in records}) == 100 + sent


async def test_a_burst_past_the_buffer_keeps_its_order(
    make_publisher: MakePublisher, kafka_broker: LocalBroker
) -> None:
    publisher = make_publisher(buffer_records=50)
    await publisher.start()
    await connected(publisher)
    for i in range(90):  # no await: 50 fill the buffer, 40 wait behind it
        publisher.publish(TOPIC, f"{i:03d}".encode(), b"z")
    assert await publisher.flush(10)
    records = await read_topic(kafka_broker.url, TOPIC, at_least=90)
    assert [int(key) for key, _ in records] == list(range(90))
    assert (
        sample(publisher, "modgate_stream_records_dropped_total", topic=TOPIC, reason="overflow")
        == 0
    )


async def test_a_disk_that_refuses_writes_drops_and_counts_records_never_raises(
    make_publisher: MakePublisher, kafka_broker: LocalBroker
) -> None:
    """RLIMIT_FSIZE makes the kernel refuse writes past 64 KiB with EFBIG, as a full disk
    refuses them with ENOSPC: the spool write fails for real."""
    publisher = make_publisher()
    await publisher.start()
    await connected(publisher)
    kafka_broker.stop()
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, old_limit[1]))
    try:
        for i in range(200):
            publisher.publish(TOPIC, f"full-{i}".encode(), b"v" * 1024)  # never raises
            await asyncio.sleep(0.002)

        async def dropped() -> bool:
            return (
                sample(
                    publisher,
                    "modgate_stream_records_dropped_total",
                    topic=TOPIC,
                    reason="spool_error",
                )
                > 0
            )

        await eventually(dropped, what="records dropped on the failing disk")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    await asyncio.to_thread(kafka_broker.start)
    publisher.publish(TOPIC, b"after", b"ok")
    assert await publisher.flush(15)
    keys = [key for key, _ in await read_topic(kafka_broker.url, TOPIC, at_least=1)]
    assert b"after" in keys


async def test_a_full_spool_drops_new_records_instead_of_filling_the_disk(
    make_publisher: MakePublisher, kafka_broker: LocalBroker
) -> None:
    publisher = make_publisher(spool_max_bytes=1 << 20)
    await publisher.start()
    await connected(publisher)
    kafka_broker.stop()
    for i in range(300):
        publisher.publish(TOPIC, f"k{i}".encode(), b"v" * 8192)
        await asyncio.sleep(0.001)

    async def dropped() -> bool:
        return (
            sample(
                publisher, "modgate_stream_records_dropped_total", topic=TOPIC, reason="spool_full"
            )
            > 0
        )

    await eventually(dropped, what="records dropped at the spool cap")
    assert publisher.spool.pending_bytes <= (1 << 20) + 8192 + 64


async def test_replaying_a_large_spool_never_holds_the_event_loop(
    make_publisher: MakePublisher, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append([SpoolRecord(TOPIC, f"k{i}".encode(), b"v" * 20) for i in range(300_000)])
    spool.close()  # a previous process's spool: ~1.6 s to read back on these cores
    publisher = make_publisher()
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)

    task = asyncio.create_task(ticker())
    await publisher.start()
    # Until the replay has sent records (2 s on an idle machine; a loaded one takes longer).
    for _ in range(150):
        await asyncio.sleep(0.1)
        if sample(publisher, "modgate_stream_records_published_total", topic=TOPIC) > 0:
            break
    await asyncio.sleep(0.5)
    task.cancel()
    assert sample(publisher, "modgate_stream_records_published_total", topic=TOPIC) > 0
    # Read on the loop, the segment held it ~1.6 s; sends of 500-record batches remain.
    assert worst < 0.6, f"the event loop was held for {worst * 1000:.0f} ms"
