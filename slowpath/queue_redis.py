"""The moderator priority queue in Redis: idempotent enqueue, leased claims, atomic decisions.

Every state change that touches more than one key is one Lua script (``slowpath/queue_lua.py``),
so a post is never handed to two moderators at once and a decision, its author counters and
its outbox records land together or not at all. Lease expiry uses the Redis server clock; the
priority sort key uses ``enqueued_at`` from the client (``slowpath/priority.py``). Key layout,
for prefix P (``RedisSettings.key_prefix``); the ``author`` hash is a contract the gateway reads
directly (HMGET prior_violations trust reviews):

- ``P{queue}:waiting`` ZSET, queue = main | senior: member post id, score = priority sort key.
- ``P{queue}:leased`` ZSET: member post id, score = lease expiry (unix seconds, server clock).
- ``Pitem:{post_id}`` HASH: post_id, decision_id, author_id, queue, severity, reach,
  enqueued_at, top_category, payload, judge (bytes), sort_key, claimed_by, lease_expires_at,
  claims, escalated_by, status (waiting | leased | decided), link_hosts (space-separated);
  once decided also action,
  decided_by, decided_at, note.
- ``Pdone:{post_id}`` STRING: "queued" (written by enqueue), then the moderator's action or the
  outcome given to ``mark_done``. With the item hash, the idempotency record of ``enqueue``.
- ``Pauthor:{author_id}`` HASH: prior_violations, approved, reviews (integers) and trust =
  (1 + approved) / (2 + reviews).
- ``Pdomain:{host}`` HASH: removed (moderator removals for spam) and approved counts of
  posts linking to the host (the item's ``link_hosts``), the gateway's domain reputation.
- ``Pstrikes:{author_id}`` ZSET: removals counted against the author (moderator removals of
  an item with a top category; ``mark_done`` with a ``strike_category``), the contract with
  the gateway in ``modgate/keys.py``.
- ``Pdead:{post_id}`` STRING: the post was dead-lettered (``mark_dead_lettered``).
- ``Poutbox`` STREAM: entries {topic, key, value} for the relay to publish to Kafka.
- ``Pimg:{sha256}`` STRING: image bytes of queued posts, once per content; item payloads
  carry the ``DeferredPost`` without image bytes (``ImageRef`` hashes name them).

Retention (``QueueSettings.retention_s``, 30 days): a decided item, its done mark, the done
mark of a post finalized outside the queue and a dead-letter mark expire that long after
the decision; an image that long after the latest enqueue naming it. Waiting and escalated
items never expire.

Expired leases go back to waiting lazily, at the next ``claim`` on their queue: until then
``depth`` and ``peek`` do not count them, and their holder may still ``renew`` or ``decide``
(a moderator who took longer than the lease loses the item only if someone else needed it).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import redis.asyncio
import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from modgate.keys import (
    author_key,
    dead_letter_key,
    done_key,
    post_hosts,
    strike_member,
    strikes_key,
)
from modgate.settings import QueueSettings
from slowpath import priority, queue_lua
from slowpath.errors import ItemNotFoundError, LeaseError, QueueUnavailableError
from slowpath.interface import (
    AuthorCounters,
    Decided,
    ModeratorAction,
    OutboxEntry,
    QueueName,
    ReviewItem,
)

if TYPE_CHECKING:
    from slowpath.interface import ModeratorQueue

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

_LEASE_DETAILS = {
    "MODGATE_NOT_HOLDER": "does not hold the lease",
    "MODGATE_DECIDED": "cannot act: the item was already decided",
}


def _redis_errors(fn: Callable[_P, Awaitable[_T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Turn Redis connection failures and timeouts into ``QueueUnavailableError``."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise QueueUnavailableError(f"moderator queue (redis) unavailable: {exc}") from exc

    return wrapper


def _script_error(
    exc: redis.exceptions.ResponseError, post_id: str, moderator_id: str
) -> Exception:
    """The Python error for a script's ``MODGATE_*`` error reply (or ``exc`` itself)."""
    message = str(exc)
    if "MODGATE_NOT_FOUND" in message:
        return ItemNotFoundError(post_id)
    for code, detail in _LEASE_DETAILS.items():
        if code in message:
            return LeaseError(post_id, moderator_id, detail)
    return exc


def _bytes(value: object) -> bytes:
    """A reply value as bytes (the client does not decode; ``str`` only appears in its types)."""
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode()


def _fields(raw: Mapping[Any, Any]) -> dict[bytes, bytes]:
    return {_bytes(name): _bytes(value) for name, value in raw.items()}


def _text(fields: Mapping[bytes, bytes], name: str) -> str:
    return fields.get(name.encode(), b"").decode()


def _number(fields: Mapping[bytes, bytes], name: str) -> float:
    return float(fields.get(name.encode()) or 0)


def _pairs(flat: Sequence[Any]) -> dict[bytes, bytes]:
    """A Lua HGETALL reply (flat field, value list) as a dict."""
    return _fields(dict(zip(flat[::2], flat[1::2], strict=True)))


def _counters(values: Sequence[Any]) -> AuthorCounters:
    violations, approved, reviews, trust = (_bytes(value) for value in values)
    return AuthorCounters(
        prior_violations=int(violations or 0),
        approved=int(approved or 0),
        reviews=int(reviews or 0),
        trust=float(trust) if trust else 0.5,
    )


def _outbox_entry(entry_id: object, fields: Mapping[bytes, bytes]) -> OutboxEntry:
    return OutboxEntry(
        entry_id=_bytes(entry_id).decode(),
        topic=_text(fields, "topic"),
        key=fields.get(b"key", b""),
        value=fields.get(b"value", b""),
    )


class RedisModeratorQueue:
    """``ModeratorQueue`` over one Redis (see the module docstring for the key layout). The
    client must return bytes (``decode_responses=False``, the default): payloads are binary."""

    def __init__(
        self,
        redis: Redis,
        settings: QueueSettings,
        *,
        key_prefix: str = "modgate:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._prefix = key_prefix
        self._clock = clock
        self._retention = int(settings.retention_s)
        self._enqueue = redis.register_script(queue_lua.ENQUEUE)
        self._claim = redis.register_script(queue_lua.CLAIM)
        self._decide = redis.register_script(queue_lua.DECIDE)
        self._release = redis.register_script(queue_lua.RELEASE)
        self._renew = redis.register_script(queue_lua.RENEW)
        self._finalize = redis.register_script(queue_lua.FINALIZE)

    @classmethod
    def from_url(
        cls,
        url: str,
        settings: QueueSettings,
        *,
        key_prefix: str = "modgate:",
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> RedisModeratorQueue:
        """Connect lazily to ``url``. Commands are not retried by the client: the scripts are
        not idempotent under a lost reply, so callers retry on ``QueueUnavailableError``."""
        client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        return cls(client, settings, key_prefix=key_prefix, clock=clock)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _item(self, post_id: str) -> str:
        return self._key("item", post_id)

    def _review_item(self, fields: Mapping[bytes, bytes]) -> ReviewItem:
        severity, reach = _number(fields, "severity"), _number(fields, "reach")
        enqueued_at = _number(fields, "enqueued_at")
        return ReviewItem(
            post_id=_text(fields, "post_id"),
            decision_id=_text(fields, "decision_id"),
            author_id=_text(fields, "author_id"),
            queue=QueueName(_text(fields, "queue")),
            severity=severity,
            reach=reach,
            enqueued_at=enqueued_at,
            priority=priority.priority_at(
                severity, reach, enqueued_at, self._clock(), self._settings.age_doubling_s
            ),
            top_category=_text(fields, "top_category"),
            payload=fields.get(b"payload", b""),
            judge=fields.get(b"judge", b""),
            claimed_by=_text(fields, "claimed_by"),
            lease_expires_at=_number(fields, "lease_expires_at"),
            claims=int(_number(fields, "claims")),
            escalated_by=_text(fields, "escalated_by"),
        )

    @_redis_errors
    async def enqueue(
        self,
        *,
        post_id: str,
        decision_id: str,
        author_id: str,
        scores: Mapping[str, float],
        followers: int | None,
        payload: bytes,
        judge: bytes = b"",
        enqueued_at: float | None = None,
        images: Mapping[str, bytes] | None = None,
        link_hosts: Sequence[str] = (),
    ) -> bool:
        """Add a post to the main queue; False (and no change) if it was ever enqueued or
        marked done before. ``images`` (SHA-256 hex -> bytes) are stored once per content
        (``image``), kept ``retention_s`` from the latest enqueue that names them.
        ``link_hosts`` (``modgate.keys.post_hosts``) are the hosts the moderator's decision
        counts for or against (domain reputation)."""
        s = self._settings
        severity, top = priority.severity(
            scores, s.category_weights, default_weight=s.default_weight, min_severity=s.min_severity
        )
        reach = priority.reach(followers)
        at = self._clock() if enqueued_at is None else enqueued_at
        key = priority.sort_key(severity, reach, at, s.age_doubling_s)
        fields: dict[str, str | bytes] = {
            "post_id": post_id,
            "decision_id": decision_id,
            "author_id": author_id,
            "queue": QueueName.MAIN.value,
            "severity": repr(severity),
            "reach": repr(reach),
            "enqueued_at": repr(at),
            "top_category": top,
            "payload": payload,
            "judge": judge,
            "sort_key": repr(key),
            "claimed_by": "",
            "lease_expires_at": "0",
            "claims": "0",
            "escalated_by": "",
            "status": "waiting",
            "link_hosts": " ".join(post_hosts(list(link_hosts))),
        }
        flat = [part for pair in fields.items() for part in pair]
        keys = [self._item(post_id), done_key(self._prefix, post_id), self._key("main", "waiting")]
        pairs = [part for sha, data in (images or {}).items() for part in (sha, data)]
        args = [self._prefix, post_id, repr(key), self._retention, len(pairs) // 2, *pairs, *flat]
        added = await self._enqueue(keys=keys, args=args)
        if not added:
            log.info("post %s already enqueued or decided: not enqueued again", post_id)
        return bool(added)

    @_redis_errors
    async def claim(
        self, moderator_id: str, *, queue: QueueName = QueueName.MAIN
    ) -> ReviewItem | None:
        """Lease the top item of ``queue`` to ``moderator_id`` for ``lease_s`` (expired leases
        return to waiting first); None when nothing is waiting."""
        keys = [self._key(queue.value, "waiting"), self._key(queue.value, "leased")]
        args = [self._prefix, moderator_id, repr(self._settings.lease_s)]
        flat = await self._claim(keys=keys, args=args)
        if not flat:
            return None
        item = self._review_item(_pairs(flat))
        log.info("moderator %s claimed post %s from %s", moderator_id, item.post_id, queue.value)
        return item

    @_redis_errors
    async def get(self, post_id: str) -> ReviewItem:
        fields = await self._redis.hgetall(self._item(post_id))
        if not fields:
            raise ItemNotFoundError(post_id)
        return self._review_item(_fields(fields))

    @_redis_errors
    async def peek(self, n: int, *, queue: QueueName = QueueName.MAIN) -> Sequence[ReviewItem]:
        """The top ``n`` waiting items, highest priority first (expired leases not included)."""
        if n <= 0:
            return []
        post_ids = await self._redis.zrevrange(self._key(queue.value, "waiting"), 0, n - 1)
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.hgetall(self._item(_bytes(post_id).decode()))
            hashes = await pipe.execute()
        return [self._review_item(_fields(fields)) for fields in hashes if fields]

    @_redis_errors
    async def decide(
        self,
        post_id: str,
        moderator_id: str,
        action: ModeratorAction,
        *,
        note: str = "",
        outbox: Sequence[tuple[str, bytes, bytes]] = (),
    ) -> Decided:
        """Apply ``action`` by the lease holder, atomically with the author's counters and the
        ``outbox`` records. ESCALATE moves the item to the senior queue, keeping its age."""
        records = [part for record in outbox for part in record]
        args = [self._prefix, post_id, moderator_id, action.value, note, self._retention, *records]
        try:
            author, decided_at = await self._decide(args=args)
        except redis.exceptions.ResponseError as exc:
            raise _script_error(exc, post_id, moderator_id) from exc
        log.info("moderator %s: %s on post %s", moderator_id, action.value, post_id)
        return Decided(
            post_id=post_id,
            action=action,
            moderator_id=moderator_id,
            note=note,
            decided_at=float(_bytes(decided_at)),
            author_id=_bytes(author).decode(),
        )

    @_redis_errors
    async def release(self, post_id: str, moderator_id: str) -> None:
        """Give a claimed item back to its queue (LeaseError unless ``moderator_id`` holds it)."""
        try:
            await self._release(args=[self._prefix, post_id, moderator_id])
        except redis.exceptions.ResponseError as exc:
            raise _script_error(exc, post_id, moderator_id) from exc

    @_redis_errors
    async def renew(self, post_id: str, moderator_id: str) -> float:
        """Extend ``moderator_id``'s lease on ``post_id`` by ``lease_s`` from now; return the new
        expiry (LeaseError unless they still hold it: a lease past its expiry still counts
        until a claim reclaims the item)."""
        try:
            expiry = await self._renew(
                args=[self._prefix, post_id, moderator_id, repr(self._settings.lease_s)]
            )
        except redis.exceptions.ResponseError as exc:
            raise _script_error(exc, post_id, moderator_id) from exc
        return float(_bytes(expiry))

    @_redis_errors
    async def author_counters(self, author_id: str) -> AuthorCounters:
        values = await self._redis.hmget(
            author_key(self._prefix, author_id),
            ["prior_violations", "approved", "reviews", "trust"],
        )
        return _counters(values)

    @_redis_errors
    async def mark_done(
        self,
        post_id: str,
        outcome: str,
        *,
        author_id: str = "",
        author_action: ModeratorAction | None = None,
        strike_category: str = "",
        strike_source: str = "llm",
    ) -> bool:
        """Record a final outcome for a post decided without the queue (enqueue then refuses
        it) and, in the same step, count ``author_action`` against ``author_id``: REMOVE/REDUCE
        add a prior violation, APPROVE an approval; with ``strike_category`` a REMOVE also
        adds a strike from ``strike_source``. Idempotent per post: False (and nothing
        changed) when the post was already done, so a retried route never counts twice."""
        done = done_key(self._prefix, post_id)
        counted = author_id and author_action not in (None, ModeratorAction.ESCALATE)
        struck = counted and author_action is ModeratorAction.REMOVE and strike_category
        keys = [
            done,
            author_key(self._prefix, author_id) if counted else done,
            strikes_key(self._prefix, author_id) if struck else done,
        ]
        action = author_action.value if counted and author_action else ""
        member = strike_member(post_id, strike_category, strike_source) if struck else ""
        return bool(
            await self._finalize(keys=keys, args=[outcome, action, self._retention, member])
        )

    @_redis_errors
    async def mark_dead_lettered(self, post_id: str) -> None:
        """Record that a post went to the dead-letter topic: the gateway stops publishing it
        again; a replay from the dead-letter topic is still routed (no done mark)."""
        await self._redis.set(dead_letter_key(self._prefix, post_id), "1", ex=self._retention)

    @_redis_errors
    async def image(self, sha256: str) -> bytes | None:
        """The bytes of an image a queued post carried (by SHA-256 hex), or None once expired."""
        data = await self._redis.get(self._key("img", sha256))
        return None if data is None else _bytes(data)

    @_redis_errors
    async def is_done(self, post_id: str) -> bool:
        """True once the post was enqueued, decided or marked done."""
        return bool(await self._redis.exists(done_key(self._prefix, post_id)))

    @_redis_errors
    async def outcome(self, post_id: str) -> str | None:
        """The done record: "queued", a moderator action, a ``mark_done`` outcome, or None."""
        value = await self._redis.get(done_key(self._prefix, post_id))
        return None if value is None else _bytes(value).decode()

    @_redis_errors
    async def depth(self, queue: QueueName = QueueName.MAIN) -> int:
        """Items waiting in ``queue``; expired leases count once a claim has reclaimed them."""
        return int(await self._redis.zcard(self._key(queue.value, "waiting")))

    @_redis_errors
    async def outbox_read(self, count: int) -> Sequence[OutboxEntry]:
        """Up to ``count`` outbox records, oldest first (they stay until acknowledged)."""
        entries = await self._redis.xrange(self._key("outbox"), count=count)
        return [
            _outbox_entry(entry_id, _fields(fields or {})) for entry_id, fields in entries or []
        ]

    @_redis_errors
    async def outbox_ack(self, entry_ids: Sequence[str]) -> None:
        """Delete published outbox records."""
        if entry_ids:
            await self._redis.xdel(self._key("outbox"), *entry_ids)

    async def aclose(self) -> None:
        await self._redis.aclose()


if TYPE_CHECKING:

    def _conforms(queue: RedisModeratorQueue) -> ModeratorQueue:
        return queue
