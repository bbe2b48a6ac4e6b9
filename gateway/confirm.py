"""Deferred posts kept on disk until the slow path confirms them, and published again if not.

A broker's acknowledgement is not the end of a deferred post's trip: an in-memory broker that
restarts, a topic recreated or a consumer group reset loses records it had acknowledged, and
the post never reaches a moderator. So the gateway keeps every deferred record it publishes in
a ledger on disk (``{stream.spool_dir}/unconfirmed``, the spool's segment format,
``gateway/spool.py``) until the slow path's done mark for the post appears in Redis
(``modgate/keys.py``: set when the post is queued for moderators or finalized, and when it is
dead-lettered). ``UnconfirmedLedger.check`` runs every ``confirm.interval_s``:

1. it closes the segment being written, so each segment holds about one interval of posts;
2. each segment at least ``confirm.grace_s`` old, when its next check is due, is read (off the
   event loop) and its post ids are looked up in Redis in one pipeline; a segment whose posts
   are all done is deleted;
3. the unconfirmed posts of a segment are published again once it is due:
   ``republish_after_s`` after it was closed, doubling after each try up to
   ``republish_max_s``, and ``grace_s`` after the publisher reconnects to a broker it had
   lost (a restarted broker may have lost them). Consumers skip a post already done, so a
   post that was only slow costs one duplicate record.

While Redis does not answer nothing is confirmed or republished (the ledger only grows).
Ledger segments left by a previous process are checked at the first round and republished
``republish_after_s`` later if still unconfirmed. The ledger's disk use is capped
(``confirm.max_bytes``): past it a new deferred post is not kept (metric, WARNING), relying on
the broker alone. ``add`` only collects; a writer task appends to the ledger on a worker
thread, and every use of the ledger's spool holds one lock (the spool is not thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.metrics import GatewayMetrics
from gateway.spool import Spool, SpoolError, SpoolRecord
from modgate.keys import dead_letter_key, done_key
from modgate.settings import ConfirmSettings

log = logging.getLogger(__name__)

LEDGER_DIR = "unconfirmed"
_LOOKUP_BATCH = 1000


class DoneMarks:
    """Which deferred posts the slow path has taken: done (queued or finalized) or
    dead-lettered (``modgate/keys.py``)."""

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = key_prefix

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str, timeout_s: float = 2.0) -> DoneMarks:
        redis = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        return cls(redis, key_prefix=key_prefix)

    async def done(self, post_ids: Collection[str]) -> set[str]:
        """The post ids among ``post_ids`` that are done; raises ``RedisError``/``OSError``."""
        ids = list(post_ids)
        found: set[str] = set()
        for start in range(0, len(ids), _LOOKUP_BATCH):
            batch = ids[start : start + _LOOKUP_BATCH]
            async with self._redis.pipeline(transaction=False) as pipe:
                for post_id in batch:
                    pipe.exists(
                        done_key(self._prefix, post_id), dead_letter_key(self._prefix, post_id)
                    )
                answers = await pipe.execute()
            found.update(post_id for post_id, n in zip(batch, answers, strict=True) if n)
        return found

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass(slots=True)
class _Segment:
    closed_at: float  # loop time
    next_check: float
    due: float  # when its unconfirmed posts are published again
    wait: float  # the current republish interval


class UnconfirmedLedger:
    """The on-disk ledger of deferred posts not yet confirmed (see the module docstring)."""

    def __init__(
        self,
        spool_dir: Path,
        settings: ConfirmSettings,
        marks: DoneMarks,
        republish: Callable[[SpoolRecord], None],
        metrics: GatewayMetrics,
        *,
        fsync: bool = False,
    ) -> None:
        self.settings = settings
        self.marks = marks
        self.metrics = metrics
        self._republish = republish
        self.spool = Spool(spool_dir / LEDGER_DIR, fsync=fsync)
        self._segments: dict[Path, _Segment] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._unwritten: list[SpoolRecord] = []
        self._unwritten_bytes = 0
        self._wake = asyncio.Event()
        self._written = asyncio.Event()
        self._written.set()
        self._redis_down = False
        self._full = False
        self._inherited = bool(self.spool.seal())

    @property
    def pending(self) -> int:
        """Deferred posts kept whose confirmation has not been seen yet."""
        return self.spool.pending_records + len(self._unwritten)

    def add(self, record: SpoolRecord) -> None:
        """Keep ``record`` until its post is confirmed; never blocks and never raises (a
        verdict is not held up by the ledger). The write happens a moment later on a worker
        thread (a deferred post may carry megabytes of images); a full ledger or a failing
        disk is counted and logged."""
        if self.spool.pending_bytes + self._unwritten_bytes >= self.settings.max_bytes:
            self.metrics.deferred_unkept.labels("full").inc()
            if not self._full:
                log.warning(
                    "unconfirmed ledger %s is full (%d bytes): new deferred posts rely on the "
                    "broker alone until the slow path catches up",
                    self.spool.directory,
                    self.spool.pending_bytes,
                )
                self._full = True
            return
        self._full = False
        self._unwritten.append(record)
        self._unwritten_bytes += len(record.value)
        self._written.clear()
        self._wake.set()

    async def _write(self) -> None:
        """Append what ``add`` collected, in order, on a worker thread (under the lock every
        use of the spool takes: the spool is not thread-safe)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        batch, self._unwritten = self._unwritten, []
        self._unwritten_bytes = 0
        if batch:
            async with self._lock:
                try:
                    await asyncio.to_thread(self.spool.append, batch)
                except (SpoolError, OSError, ValueError) as exc:
                    self.metrics.deferred_unkept.labels("disk").inc(len(batch))
                    log.error("cannot keep %d deferred posts until confirmed: %s", len(batch), exc)
            self.metrics.deferred_unconfirmed.set(self.spool.pending_records)
        if not self._unwritten:
            self._written.set()

    async def written(self) -> None:
        """Return once every record added so far is on disk (or counted as not kept)."""
        await self._written.wait()

    def broker_reconnected(self) -> None:
        """The publisher got a broker back after losing it: every unconfirmed post is due."""
        due = asyncio.get_running_loop().time() + self.settings.grace_s
        for segment in self._segments.values():
            segment.due = min(segment.due, due)
            segment.next_check = min(segment.next_check, due)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="unconfirmed-ledger"),
            asyncio.create_task(self._write(), name="unconfirmed-ledger-writer"),
        ]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()  # what was added last stays for the next process
        self.spool.close()
        await self.marks.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_s)
            try:
                await self.check()
            except Exception:  # background task boundary: log, keep going next round
                log.exception("unconfirmed ledger check failed")

    async def check(self) -> None:
        """One round: close the current segment, confirm what is due, republish what is late."""
        await self._flush()
        async with self._lock:
            await self._check()

    async def _check(self) -> None:
        s = self.settings
        now = asyncio.get_running_loop().time()
        for path in self.spool.seal():
            if path not in self._segments:
                # Left by a previous process: check at once, republish a while later.
                closed_at = now - s.grace_s if self._inherited else now
                self._segments[path] = _Segment(
                    closed_at, closed_at + s.grace_s, now + s.republish_after_s, s.republish_after_s
                )
        self._inherited = False
        for path, segment in list(self._segments.items()):
            if now < segment.next_check:
                continue
            records = await asyncio.to_thread(_read, path)
            try:
                done = await self.marks.done({r.key.decode(errors="replace") for r in records})
            except (RedisError, OSError, TimeoutError) as exc:
                self._warn_redis(exc)
                return
            self._redis_down = False
            open_records = [r for r in records if r.key.decode(errors="replace") not in done]
            if not open_records:
                self.spool.discard(path)
                del self._segments[path]
                self.metrics.deferred_confirmed.inc(len(records))
                continue
            if now >= segment.due:
                for record in open_records:
                    self._republish(record)
                self.metrics.deferred_republished.inc(len(open_records))
                log.warning(
                    "%d deferred posts not confirmed by the slow path %.0f s after they were "
                    "published: published again (%s)",
                    len(open_records),
                    now - segment.closed_at,
                    ", ".join(r.key.decode(errors="replace") for r in open_records[:5]),
                )
                segment.wait = min(segment.wait * 2, s.republish_max_s)
                segment.due = now + segment.wait
                segment.next_check = now + s.grace_s  # see the republished posts arrive
            else:
                segment.next_check = segment.due
        self.metrics.deferred_unconfirmed.set(self.spool.pending_records)

    def _warn_redis(self, exc: BaseException) -> None:
        if not self._redis_down:
            log.warning("cannot confirm deferred posts, Redis unavailable: %s", exc or "timeout")
            self._redis_down = True


def _read(path: Path) -> list[SpoolRecord]:
    return list(Spool.read_segment(path))
