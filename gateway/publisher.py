"""Publishing stream records to Kafka without ever blocking a verdict, and without losing one.

``KafkaPublisher.publish`` only puts the record on an in-memory buffer and returns. A pump
task ships buffered records to the broker in batches (aiokafka, ``acks=all``). When the
broker cannot take them (down, unreachable, too slow for ``send_timeout_s``) the batch is
appended to the disk spool (``gateway/spool.py``) instead, and from then on every new record
goes to the spool behind it, so order is kept. A supervisor task reconnects every
``reconnect_s`` and, once the broker answers, replays the spool segment by segment, oldest
first (segments are read on a worker thread, never on the event loop), deleting a segment
only after the broker acknowledged all of its records, and keeps draining until the spool is
empty, so steady traffic returns to direct sends. Segments left by a previous process (a
crash, a restart) are replayed at start-up.

Delivery is at least once: a batch that failed half-way is spooled whole and sent again, so
consumers dedupe on post id (the slow path does). A full buffer never blocks: records wait in
an overflow list behind it, in order, and only the pump writes the disk. What cannot be kept
is dropped, counted (``modgate_stream_records_dropped_total{topic,reason}``) and logged, never
raised into a call: a second buffer's worth of overflow while the pump is stuck, a spool past
``spool_max_bytes``, or a disk that refuses the write (full). The publisher creates its topics
(partitions and replication from settings) each time it connects, since an embedded broker
forgets them on restart.

Acknowledged is not yet delivered: with Redis configured, every deferred post is also kept in
an on-disk ledger until the slow path's done mark shows it arrived, and published again if it
does not (``gateway/confirm.py``); a reconnect after losing the broker makes them due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from gateway.confirm import DoneMarks, UnconfirmedLedger
from gateway.metrics import GatewayMetrics
from gateway.spool import Spool, SpoolError, SpoolRecord
from modgate.records import Topics
from modgate.settings import ConfirmSettings, StreamSettings

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
_TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
_SEND_ERRORS = (KafkaError, OSError, TimeoutError)


class RecordSink(Protocol):
    """Where the gateway's records go: ``publish`` never blocks and never raises."""

    def publish(self, topic: str, key: bytes, value: bytes) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


async def ensure_topics(
    servers: list[str], topics: Sequence[str], settings: StreamSettings
) -> None:
    """Create ``topics`` if they do not exist (an existing topic is fine)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
    await admin.start()
    try:
        wanted = [
            NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in topics
        ]
        response = await admin.create_topics(wanted)
        for name, code, message in response.topic_errors:
            if code not in (0, _TOPIC_EXISTS):
                raise KafkaError(f"cannot create topic {name}: error {code} {message}")
    finally:
        await admin.close()


class KafkaPublisher:
    """The gateway's ``RecordSink`` for a Kafka-protocol broker, backed by a disk spool; with
    ``done_marks``, deferred posts are also kept until the slow path confirms them
    (``gateway/confirm.py``)."""

    def __init__(
        self,
        settings: StreamSettings,
        metrics: GatewayMetrics | None = None,
        *,
        done_marks: DoneMarks | None = None,
        confirm: ConfirmSettings | None = None,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.metrics = metrics or GatewayMetrics()
        self.ledger = (
            UnconfirmedLedger(
                settings.spool_dir,
                confirm or ConfirmSettings(),
                done_marks,
                self._enqueue,
                self.metrics,
                fsync=settings.spool_fsync,
            )
            if done_marks is not None
            else None
        )
        self.spool = Spool(
            settings.spool_dir,
            segment_bytes=settings.spool_segment_bytes,
            fsync=settings.spool_fsync,
        )
        self._servers = settings.bootstrap_servers()
        self._buffer: asyncio.Queue[SpoolRecord] = asyncio.Queue(settings.buffer_records)
        self._producer: AIOKafkaProducer | None = None
        self._connected = False
        self._was_connected = False
        self._overflow: list[SpoolRecord] = []
        self._replaying = False
        self._replay_done = asyncio.Event()
        self._dropped_logged_at = -1e9
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._update_gauges()

    @property
    def connected(self) -> bool:
        return self._connected

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        record = SpoolRecord(topic, key, value)
        if self.ledger is not None and topic == self.topics.deferred:
            self.ledger.add(record)
        self._enqueue(record)

    def _enqueue(self, record: SpoolRecord) -> None:
        """Buffer ``record`` for the pump; never blocks, never touches the disk, never raises.
        Past a full buffer records wait in an overflow list *behind* the buffer (the pump
        takes the buffer first), so order is kept; past a second buffer's worth they are
        dropped, counted and logged (the pump is stuck: the disk and the broker both fail)."""
        if not self._overflow:
            try:
                self._buffer.put_nowait(record)
                return
            except asyncio.QueueFull:
                pass
        if len(self._overflow) >= self.settings.buffer_records:
            self._drop([record], "overflow")
            return
        self._overflow.append(record)

    async def start(self) -> None:
        """Start the pump and the supervisor; a broker that is down now is not an error."""
        if not self.spool.empty:
            log.warning(
                "spool %s holds %d records from a previous run; replaying when the broker answers",
                self.settings.spool_dir,
                self.spool.pending_records,
            )
        self._tasks = [
            asyncio.create_task(self._pump(), name="publisher-pump"),
            asyncio.create_task(self._supervise(), name="publisher-supervisor"),
        ]
        if self.ledger is not None:
            await self.ledger.start()

    async def flush(self, timeout_s: float) -> bool:
        """Wait until the buffer and the spool are empty; False if that took too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self._buffer.empty() and not self._overflow and self.spool.empty and self._connected:
                await asyncio.sleep(0)
                if self._buffer.empty() and not self._overflow and self.spool.empty:
                    return True
            self._wake.set()
            await asyncio.sleep(0.02)
        return False

    async def aclose(self, flush_timeout_s: float = 2.0) -> None:
        """Ship what the broker will take within ``flush_timeout_s``; spool the rest (the
        unconfirmed ledger stays on disk for the next process)."""
        await self.flush(flush_timeout_s)
        if self.ledger is not None:
            await self.ledger.aclose()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        leftover = []
        while not self._buffer.empty():
            leftover.append(self._buffer.get_nowait())
        leftover.extend(self._overflow)
        self._overflow.clear()
        if leftover:
            self._spool_records(leftover)
        await self._drop_producer()
        log.info("publisher closed (%d records left in the spool)", self.spool.pending_records)

    async def _pump(self) -> None:
        while True:
            batch = [await self._buffer.get()]
            while len(batch) < BATCH_RECORDS and not self._buffer.empty():
                batch.append(self._buffer.get_nowait())
            if self._buffer.empty() and self._overflow:
                batch.extend(self._overflow)  # newer than all the buffer held: order kept
                self._overflow.clear()
            await self._behind_replay()
            if self._connected and self.spool.empty and await self._send(batch):
                continue
            self._spool_records(batch)
            if self._connected:
                self._wake.set()  # behind a spool while connected: drain it now

    async def _behind_replay(self) -> None:
        """While the spool is being replayed, hold the batch in memory behind it (it is newer)
        rather than spool it, so the replay has nothing new to chase and traffic returns to
        direct sends when it ends; once the buffer fills up, spool after all."""
        while self._replaying and not self._buffer.full():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_done.wait(), 0.05)

    async def _supervise(self) -> None:
        while True:
            if not self._connected:
                await self._connect()
            if self._connected and not self.spool.empty:
                await self._replay()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.reconnect_s)

    async def _connect(self) -> None:
        await self._drop_producer()
        producer = AIOKafkaProducer(
            bootstrap_servers=self._servers,
            acks="all",
            linger_ms=self.settings.linger_ms,
            max_request_size=self.settings.max_record_bytes + 64 * 1024,
            request_timeout_ms=int(self.settings.send_timeout_s * 1000),
            retry_backoff_ms=100,
        )
        try:
            async with asyncio.timeout(self.settings.send_timeout_s):
                await producer.start()
                await ensure_topics(self._servers, self.topics.all(), self.settings)
        except (*_SEND_ERRORS, asyncio.CancelledError) as exc:
            with contextlib.suppress(*_SEND_ERRORS):
                await producer.stop()
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.debug("broker %s not reachable: %s", self._servers, exc)
            return
        self._producer = producer
        self._set_connected(True)

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(*_SEND_ERRORS):
                await producer.stop()

    async def _send(self, records: Sequence[SpoolRecord]) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(self.settings.send_timeout_s):
                futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
                await asyncio.gather(*futures)
        except _SEND_ERRORS as exc:
            log.warning("broker did not take %d records (%s); spooling", len(records), exc)
            self._set_connected(False)
            self._wake.set()
            return False
        for record in records:
            self.metrics.records_published.labels(record.topic).inc()
        return True

    async def _replay(self) -> None:
        """Send the spool, oldest segment first, until it is empty. Records that arrive
        meanwhile follow into the spool (order), so each pass leaves fewer behind, and the
        pass that finds nothing new returns the pump to sending directly (the pump holds new
        records in memory behind a replay while its buffer has room)."""
        self._replaying = True
        self._replay_done.clear()
        try:
            while not self.spool.empty:
                for segment in self.spool.seal():
                    records = await asyncio.to_thread(_read_segment, segment)  # off the loop
                    for start in range(0, len(records), BATCH_RECORDS):
                        if not await self._send(records[start : start + BATCH_RECORDS]):
                            return
                    self.spool.discard(segment)
                    self.metrics.records_replayed.inc(len(records))
                    self._update_gauges()
                    log.info("replayed %d spooled records from %s", len(records), segment.name)
        finally:
            self._replaying = False
            self._replay_done.set()

    def _spool_records(self, records: Sequence[SpoolRecord]) -> None:
        """Append ``records`` to the disk spool; past ``spool_max_bytes`` or when the disk
        fails they are dropped, counted and logged: verdicts go on being served."""
        size = sum(len(r.key) + len(r.value) for r in records)
        if self.spool.pending_bytes + size > self.settings.spool_max_bytes:
            self._drop(records, "spool_full")
            return
        try:
            self.spool.append(records)
        except (SpoolError, OSError, ValueError) as exc:
            self._drop(records, "spool_error", exc)
            return
        self.metrics.records_spooled.inc(len(records))
        self._update_gauges()

    def _drop(
        self, records: Sequence[SpoolRecord], reason: str, exc: BaseException | None = None
    ) -> None:
        for record in records:
            self.metrics.records_dropped.labels(record.topic, reason).inc()
        now = time.monotonic()
        if now - self._dropped_logged_at >= 10.0:  # once per 10 s, not once per record
            self._dropped_logged_at = now
            log.error(
                "stream records dropped (%s): %d now; broker %s, spool %d bytes%s",
                reason,
                len(records),
                "connected" if self._connected else "unreachable",
                self.spool.pending_bytes,
                f": {exc}" if exc else "",
            )

    def _set_connected(self, value: bool) -> None:
        if value and not self._connected and self._was_connected and self.ledger is not None:
            self.ledger.broker_reconnected()  # a restarted broker may have lost records
        self._was_connected = self._was_connected or value
        if value != self._connected:
            log.log(
                logging.INFO if value else logging.WARNING,
                "broker %s: %s",
                ",".join(self._servers),
                "connected" if value else "unreachable; spooling records to disk",
            )
        self._connected = value
        self.metrics.stream_connected.set(1 if value else 0)

    def _update_gauges(self) -> None:
        self.metrics.spool_records.set(self.spool.pending_records)
        self.metrics.spool_bytes.set(self.spool.pending_bytes)


def _read_segment(path: Path) -> list[SpoolRecord]:
    return list(Spool.read_segment(path))
