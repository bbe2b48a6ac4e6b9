"""Author counters from Redis: what past reviews say about a post's author, read per request.

Moderator decisions (and the LLM judge's confident removals) update the hash
``{prefix}author:{author_id}`` (fields ``prior_violations``, ``reviews``, ``trust``; the
layout is ``modgate/keys.py``). The gateway reads it with one pipelined HMGET per call under a
short timeout (``author_lookup_timeout_ms``): a slow or unreachable Redis costs at most that
budget and the request's own metadata is used instead, never an error or a hang.
``prior_violations`` seen by the models is the larger of the request's and the stored count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.metrics import GatewayMetrics
from modgate.keys import author_key
from modgate.types import Post

log = logging.getLogger(__name__)

FIELDS = ("prior_violations", "reviews", "trust")


@dataclass(frozen=True, slots=True)
class StoredAuthor:
    prior_violations: int
    reviews: int
    trust: float


class AuthorStore:
    """Reads author counters; ``lookup`` never raises."""

    def __init__(
        self, redis: Redis, *, key_prefix: str, timeout_s: float, metrics: GatewayMetrics
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._timeout_s = timeout_s
        self._metrics = metrics
        self._warned = False
        self.available = True  # False after the last lookup failed

    @classmethod
    def from_url(
        cls, url: str, *, key_prefix: str, timeout_s: float, metrics: GatewayMetrics
    ) -> AuthorStore:
        redis = Redis.from_url(
            url, socket_timeout=max(timeout_s, 0.05), socket_connect_timeout=max(timeout_s, 0.05)
        )
        return cls(redis, key_prefix=key_prefix, timeout_s=timeout_s, metrics=metrics)

    async def lookup(
        self, author_ids: Sequence[str], *, budget_s: float
    ) -> dict[str, StoredAuthor]:
        """Counters of the known authors among ``author_ids``; {} if Redis is slow or down."""
        ids = sorted({a for a in author_ids if a})
        if not ids:
            return {}
        try:
            async with asyncio.timeout(max(min(self._timeout_s, budget_s), 0.0)):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for author_id in ids:
                        pipe.hmget(author_key(self._prefix, author_id), FIELDS)
                    rows = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.author_lookups.labels("unavailable").inc(len(ids))
            self._warn(exc)
            self.available = False
            return {}
        self._warned = False
        self.available = True
        found = {}
        for author_id, row in zip(ids, rows, strict=True):
            if row[0] is None and row[1] is None:
                self._metrics.author_lookups.labels("miss").inc()
                continue
            self._metrics.author_lookups.labels("hit").inc()
            found[author_id] = StoredAuthor(
                int(row[0] or 0), int(row[1] or 0), float(row[2]) if row[2] is not None else 0.5
            )
        return found

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:  # once per outage, not once per request
            log.warning(
                "author counters unavailable (%s); using request metadata", exc or "timeout"
            )
            self._warned = True

    async def aclose(self) -> None:
        await self._redis.aclose()


def with_counters(post: Post, stored: StoredAuthor | None) -> Post:
    """``post`` with the stored prior-violation count merged in (the larger count wins)."""
    if stored is None:
        return post
    current = post.author.prior_violations or 0
    if stored.prior_violations <= current and post.author.prior_violations is not None:
        return post
    author = dataclasses.replace(
        post.author, prior_violations=max(current, stored.prior_violations)
    )
    return dataclasses.replace(post, author=author)
