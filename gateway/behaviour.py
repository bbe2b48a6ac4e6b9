"""Behaviour the gateway measures itself in Redis: near-duplicate bursts and author post rates.

A caller can say anything about its authors; these it cannot forge. For every call, in one
pipelined round trip under the author-counter budget (``author_lookup_timeout_ms``), for each
post:

- **near-duplicates**: the post's MinHash signature (``models/minhash.py``, computed with the
  text features) is looked up in one sorted set per LSH band,
  ``{prefix}beh:nd:{band}`` (members ``author|post_id|signature``, scored by time, trimmed to
  ``near_duplicate_window_s``), then added. Feature ``near_duplicate_authors``: how many
  *other* authors posted a near-duplicate (similarity >= ``models.minhash.NEAR_SIMILARITY``)
  within the window (posts without an author id count one each). Posts under six words have
  no signature and no count.
- **post rate**: ``{prefix}beh:rate:{author_id}`` (members post ids, scored by time, one day
  and at most ``RATE_KEEP_POSTS`` kept). Features ``author_posts_1m``, ``author_posts_1h``
  and ``author_posts_1d``: the author's posts in the last minute, hour and day, this one
  included; a retried post id counts once.
- **first seen**: ``{prefix}beh:seen:{author_id}`` (the time of the author's first post, kept
  400 days). Feature ``author_first_seen_days``: how long ago modgate first saw the author,
  an account age the caller cannot forge (0 for a first post).
- **domain reputation**: ``{prefix}domain:{host}`` (``modgate/keys.py``, written by the slow
  path's review: moderator removals for spam and approvals of posts linking to the host), read
  for the distinct hosts the post links to. Feature ``link_domain_removals``: the most spam
  removals of any of those hosts whose removals outnumber its approvals at least
  ``DOMAIN_REMOVAL_RATIO`` to 1 (0 for none: a host where moderators approve most linking
  posts, a news site or a video platform, earns nothing however many spam posts linked it).
- **strikes**: ``{prefix}strikes:{author_id}`` (``modgate/keys.py``): the removals counted
  against the author, read here and weighed by the policy (``decision/strikes.py``) into
  ``author_strikes_<category>``. ``strike`` records the gateway's own removals (source
  ``auto``); the slow path records moderators' and the judge's.

Redis slow or down: both features are ``None`` (unknown) for the call, never an error or a
wait past the budget; the policy's behaviour signals then simply do not fire
(``policy.behaviour``, ``decision/engine.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from gateway.metrics import GatewayMetrics
from models.minhash import NEAR_SIMILARITY, bands, similarity
from modgate.keys import (
    STRIKES_KEEP_S,
    Strike,
    domain_key,
    parse_strike,
    strike_member,
    strikes_key,
)
from modgate.types import Post

log = logging.getLogger(__name__)

RATE_KEEP_S = 86_400.0
RATE_KEEP_POSTS = 20_000  # a flood past this many posts a day counts as this many
STRIKES_READ = 500  # the most recent strikes read per author
DOMAIN_REMOVAL_RATIO = 4
FIRST_SEEN_KEEP_S = 400 * 86_400  # an author unseen this long counts as new again
CANDIDATES_PER_BAND = 200


@dataclass(frozen=True, slots=True)
class Behaviour:
    near_duplicate_authors: int | None = None
    author_posts_1m: int | None = None
    author_first_seen_days: float | None = None
    author_posts_1h: int | None = None
    author_posts_1d: int | None = None
    strikes: tuple[Strike, ...] | None = None
    link_domain_removals: int | None = None


UNKNOWN = Behaviour()


def _domain_removals(rows: Sequence[Sequence[bytes | None]]) -> int:
    """The most spam removals among hosts whose removals outnumber approvals 4 to 1."""
    worst = 0
    for removed_raw, approved_raw in rows:
        removed, approved = int(removed_raw or 0), int(approved_raw or 0)
        if removed >= DOMAIN_REMOVAL_RATIO * approved:
            worst = max(worst, removed)
    return worst


def _member(author: str, post_id: str, sig: tuple[int, ...]) -> str:
    return f"{author}|{post_id}|" + ".".join(f"{v:x}" for v in sig)


def _parse(member: bytes | str) -> tuple[str, str, tuple[int, ...]] | None:
    text = member.decode() if isinstance(member, bytes) else member
    parts = text.split("|")
    if len(parts) != 3:
        return None
    try:
        return parts[0], parts[1], tuple(int(v, 16) for v in parts[2].split("."))
    except ValueError:
        return None


class BehaviourStore:
    """Measures (and records) near-duplicates and post rates; ``observe`` never raises."""

    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        timeout_s: float,
        window_s: float,
        metrics: GatewayMetrics,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._timeout_s = timeout_s
        self._window_s = window_s
        self._metrics = metrics
        self._warned = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str,
        timeout_s: float,
        window_s: float,
        metrics: GatewayMetrics,
    ) -> BehaviourStore:
        redis = Redis.from_url(
            url, socket_timeout=max(timeout_s, 0.05), socket_connect_timeout=max(timeout_s, 0.05)
        )
        return cls(
            redis, key_prefix=key_prefix, timeout_s=timeout_s, window_s=window_s, metrics=metrics
        )

    async def observe(
        self,
        posts: Sequence[Post],
        signatures: Sequence[tuple[int, ...] | None],
        hosts: Sequence[Sequence[str]],
        *,
        budget_s: float,
        now: float | None = None,
    ) -> list[Behaviour]:
        """Each post's behaviour features, having recorded the posts; ``UNKNOWN`` for all
        when Redis does not answer within the budget. ``signatures`` and ``hosts`` (the
        distinct hosts its links name, ``modgate.keys.post_hosts``) come from the text
        analysis, per post."""
        at = time.time() if now is None else now
        try:
            async with asyncio.timeout(max(min(self._timeout_s, budget_s), 0.0)):
                async with self._redis.pipeline(transaction=False) as pipe:
                    layout = [
                        self._queue(pipe, post, sig, post_hosts, at)
                        for post, sig, post_hosts in zip(posts, signatures, hosts, strict=True)
                    ]
                    replies = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.behaviour_lookups.labels("unavailable").inc(len(posts))
            if not self._warned:
                log.warning("behaviour features unavailable (%s)", exc or "timeout")
                self._warned = True
            return [UNKNOWN] * len(posts)
        self._warned = False
        self._metrics.behaviour_lookups.labels("ok").inc(len(posts))
        out, cursor = [], 0
        for post, sig, (rate_ops, band_ops, host_ops) in zip(
            posts, signatures, layout, strict=True
        ):
            rate = hour = day = seen_days = strikes = None
            if rate_ops:
                # ZREMRANGEBYSCORE, ZADD, ZREMRANGEBYRANK, ZCOUNT x3, EXPIRE, SET NX (first
                # seen), GET, ZREVRANGEBYSCORE (strikes)
                rate, hour, day = (int(replies[cursor + i]) for i in (3, 4, 5))
                first = replies[cursor + 8]
                seen_days = max(at - float(first), 0.0) / 86_400.0 if first is not None else None
                strikes = tuple(
                    s
                    for s in (parse_strike(m, float(t)) for m, t in replies[cursor + 9])
                    if s is not None
                )
                cursor += rate_ops
            near = None
            if band_ops:
                seen: list[bytes] = []
                for band in range(band_ops // 4):
                    seen.extend(replies[cursor + 4 * band + 1])  # trim, read, add, expire
                cursor += band_ops
                near = self._near_authors(post, sig, seen) if sig is not None else None
            domains = _domain_removals(replies[cursor : cursor + host_ops])
            cursor += host_ops
            out.append(
                Behaviour(
                    near,
                    rate,
                    None if seen_days is None else round(seen_days, 4),
                    hour,
                    day,
                    strikes,
                    domains,
                )
            )
        return out

    async def strike(
        self,
        author_id: str,
        post_id: str,
        categories: Sequence[str],
        *,
        now: float | None = None,
    ) -> bool:
        """Count the gateway's removal of ``post_id`` against ``author_id`` in each of
        ``categories`` (source ``auto``); False (logged, counted) when Redis did not take it."""
        if not author_id or not categories:
            return True
        at = time.time() if now is None else now
        key = strikes_key(self._prefix, author_id)
        try:
            async with asyncio.timeout(max(self._timeout_s, 0.05) * 4):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.zadd(
                        key, {strike_member(post_id, c, "auto"): at for c in categories}, nx=True
                    )
                    pipe.zremrangebyscore(key, "-inf", at - STRIKES_KEEP_S)
                    pipe.expire(key, STRIKES_KEEP_S)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.strikes_recorded.labels("unavailable").inc()
            log.warning("strike for post %s not recorded (%s)", post_id, exc or "timeout")
            return False
        self._metrics.strikes_recorded.labels("ok").inc()
        return True

    def _queue(
        self,
        pipe: Pipeline,
        post: Post,
        sig: tuple[int, ...] | None,
        hosts: Sequence[str],
        at: float,
    ) -> tuple[int, int, int]:
        """Queue one post's commands on ``pipe``; how many replies each part takes."""
        rate_ops = band_ops = 0
        if post.author.id:
            key = f"{self._prefix}beh:rate:{post.author.id}"
            pipe.zremrangebyscore(key, "-inf", at - RATE_KEEP_S)
            pipe.zadd(key, {post.post_id: at})
            pipe.zremrangebyrank(key, 0, -RATE_KEEP_POSTS - 1)
            pipe.zcount(key, at - 60.0, "+inf")
            pipe.zcount(key, at - 3600.0, "+inf")
            pipe.zcount(key, at - RATE_KEEP_S, "+inf")
            pipe.expire(key, int(RATE_KEEP_S))
            seen = f"{self._prefix}beh:seen:{post.author.id}"
            pipe.set(seen, repr(at), nx=True, ex=FIRST_SEEN_KEEP_S)
            pipe.get(seen)
            pipe.zrevrangebyscore(
                strikes_key(self._prefix, post.author.id),
                "+inf",
                at - STRIKES_KEEP_S,
                start=0,
                num=STRIKES_READ,
                withscores=True,
            )
            rate_ops = 10
        if sig is not None:
            member = _member(post.author.id, post.post_id, sig)
            for band in bands(sig):
                key = f"{self._prefix}beh:nd:{band}"
                pipe.zremrangebyscore(key, "-inf", at - self._window_s)
                pipe.zrangebyscore(
                    key, at - self._window_s, "+inf", start=0, num=CANDIDATES_PER_BAND
                )
                pipe.zadd(key, {member: at})
                pipe.expire(key, int(self._window_s) + 1)
                band_ops += 4
        for host in hosts:
            pipe.hmget(domain_key(self._prefix, host), ["removed", "approved"])
        return rate_ops, band_ops, len(hosts)

    @staticmethod
    def _near_authors(post: Post, sig: tuple[int, ...], seen: list[bytes]) -> int:
        authors = set()
        for raw in set(seen):
            parsed = _parse(raw)
            if parsed is None:
                continue
            author, post_id, other = parsed
            if post_id == post.post_id or (author and author == post.author.id):
                continue
            if len(other) == len(sig) and similarity(sig, other) >= NEAR_SIMILARITY:
                authors.add(author or f"post:{post_id}")
        return len(authors)

    async def aclose(self) -> None:
        await self._redis.aclose()
