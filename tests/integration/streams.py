"""Test helpers for the stream side: read a topic from the start, and poll until true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from modgate.settings import parse_kafka_url


async def read_topic(
    kafka_url: str, topic: str, *, at_least: int, timeout_s: float = 20.0
) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on ``topic`` from offset 0, once ``at_least`` arrived (or timeout)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=parse_kafka_url(kafka_url), enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] | None = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()  # topic may not exist yet
                await asyncio.sleep(0.1)
        if partitions is None:
            return records
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while len(records) < at_least and time.monotonic() < deadline:
            batches = await consumer.getmany(*tps, timeout_ms=200)
            for messages in batches.values():
                records.extend((m.key or b"", m.value or b"") for m in messages)
        # Catch stragglers (duplicates would show here).
        batches = await consumer.getmany(*tps, timeout_ms=300)
        for messages in batches.values():
            records.extend((m.key or b"", m.value or b"") for m in messages)
    finally:
        await consumer.stop()
    return records


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it is true; fail the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
