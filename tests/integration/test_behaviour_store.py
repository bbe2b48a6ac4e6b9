"""Behaviour features against a real redis-server: near-duplicates counted by distinct other
authors within the window, post rates per author (a retried post id once), and a Redis that
does not answer costs the budget and yields unknown features, never an error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from gateway.behaviour import UNKNOWN, BehaviourStore
from gateway.metrics import GatewayMetrics
from models.lists import link_hosts
from models.minhash import signature
from modgate.embedded import LocalRedis
from modgate.keys import Strike, post_hosts
from modgate.types import Author, Post

pytestmark = [pytest.mark.integration, pytest.mark.redis]

SPAM = "Check out my channel {n}!! subscribe for free giveaways http://bit.ly/{n}x thanks"
OTHER = "The council meeting moved to Thursday, bring your questions about the bus routes"


@pytest.fixture
async def store(redis_server: LocalRedis) -> AsyncIterator[BehaviourStore]:
    s = BehaviourStore.from_url(
        redis_server.url, key_prefix="t:", timeout_s=0.5, window_s=600, metrics=GatewayMetrics()
    )
    yield s
    await s.aclose()


def post(post_id: str, author: str, text: str) -> Post:
    return Post(post_id=post_id, text=text, author=Author(id=author))


async def observe(store: BehaviourStore, p: Post, at: float) -> tuple[int | None, int | None]:
    [seen] = await store.observe([p], [signature(p.text)], [()], budget_s=1.0, now=at)
    return seen.near_duplicate_authors, seen.author_posts_1m


async def test_near_duplicates_count_distinct_other_authors_in_the_window(
    store: BehaviourStore,
) -> None:
    t = 1_000_000.0
    assert await observe(store, post("a1", "alice", SPAM.format(n=1)), t) == (0, 1)
    assert await observe(store, post("a2", "alice", SPAM.format(n=2)), t + 1) == (0, 2)
    assert await observe(store, post("b1", "bob", SPAM.format(n=3)), t + 2) == (1, 1)
    assert await observe(store, post("c1", "carol", SPAM.format(n=4)), t + 3) == (2, 1)
    assert await observe(store, post("d1", "dan", OTHER), t + 4) == (0, 1)
    # Ten minutes later the wave is out of the window; the author's minute rate too.
    assert await observe(store, post("e1", "erin", SPAM.format(n=5)), t + 700) == (0, 1)
    assert await observe(store, post("a3", "alice", SPAM.format(n=6)), t + 701) == (1, 1)


async def test_a_retried_post_counts_once_and_short_posts_have_no_near_duplicates(
    store: BehaviourStore,
) -> None:
    t = 2_000_000.0
    p = post("same", "zoe", "good morning")
    assert await observe(store, p, t) == (None, 1)
    assert await observe(store, p, t + 1) == (None, 1)  # the same post id again
    assert await observe(store, post("next", "zoe", "good night"), t + 2) == (None, 2)


async def test_an_unresponsive_redis_yields_unknown_features(
    store: BehaviourStore, redis_server: LocalRedis
) -> None:
    redis_server.pause()
    try:
        p = post("x", "yan", SPAM.format(n=9))
        assert await store.observe([p], [signature(p.text)], [()], budget_s=0.05) == [UNKNOWN]
    finally:
        redis_server.pause(False)


async def test_first_seen_is_an_account_age_the_caller_cannot_set(store: BehaviourStore) -> None:
    t = 3_000_000.0
    p = post("f1", "fresh", "hello there")
    [first] = await store.observe([p], [None], [()], budget_s=1.0, now=t)
    assert first.author_first_seen_days == 0.0
    [later] = await store.observe(
        [post("f2", "fresh", "again")], [None], [()], budget_s=1.0, now=t + 2 * 86_400
    )
    assert later.author_first_seen_days == 2.0
    [anonymous] = await store.observe(
        [post("f3", "", "no author")], [None], [()], budget_s=1.0, now=t
    )
    assert anonymous.author_first_seen_days is None


async def test_post_rates_per_minute_hour_and_day(store: BehaviourStore) -> None:
    t = 4_000_000.0
    times = [t - 20 * 3600, t - 2 * 3600, t - 1800, t - 30, t]  # the last is this post
    for i, at in enumerate(times):
        [seen] = await store.observe(
            [post(f"r{i}", "rita", "hi")], [None], [()], budget_s=1.0, now=at
        )
    assert (seen.author_posts_1m, seen.author_posts_1h, seen.author_posts_1d) == (2, 3, 5)
    [next_day] = await store.observe(
        [post("r9", "rita", "hi")], [None], [()], budget_s=1.0, now=t + 23 * 3600
    )
    assert next_day.author_posts_1d == 4  # the post 20 hours before t fell out of the day


async def test_strikes_are_read_with_the_posts_and_written_once(
    store: BehaviourStore, redis_server: LocalRedis
) -> None:
    t = 5_000_000.0
    [clean] = await store.observe([post("s0", "sam", "hi")], [None], [()], budget_s=1.0, now=t)
    assert clean.strikes == ()
    assert await store.strike("sam", "s0", ["toxicity", "insult"], now=t)
    assert await store.strike("sam", "s0", ["toxicity"], now=t + 50)  # a retry: no change
    [seen] = await store.observe([post("s1", "sam", "hi")], [None], [()], budget_s=1.0, now=t + 60)
    assert sorted(seen.strikes or (), key=lambda s: s.category) == [
        Strike("s0", "insult", "auto", t),
        Strike("s0", "toxicity", "auto", t),
    ]
    [anonymous] = await store.observe([post("s2", "", "hi")], [None], [()], budget_s=1.0, now=t)
    assert anonymous.strikes is None
    redis_server.pause()
    try:
        assert not await store.strike("sam", "s3", ["toxicity"], now=t)
    finally:
        redis_server.pause(False)


async def test_domain_reputation_counts_hosts_moderators_mostly_removed(
    store: BehaviourStore, redis_server: LocalRedis
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.hset("t:domain:spam.example", mapping={"removed": 7, "approved": 1})
    await client.hset("t:domain:youtube.com", mapping={"removed": 40, "approved": 11})  # < 4x
    await client.hset("t:domain:phish.example", mapping={"removed": 3})
    await client.aclose()

    async def removals(text: str) -> int | None:
        hosts = post_hosts(link_hosts(text))
        [seen] = await store.observe([post("d", "dina", text)], [None], [hosts], budget_s=1.0)
        return seen.link_domain_removals

    assert await removals("see https://www.youtube.com/watch?v=1") == 0
    assert await removals("see https://youtube.com/x and http://spam.example/y") == 7
    assert await removals("www.phish.example/login or https://spam.example") == 7
    assert await removals("https://phish.example/login") == 3
    assert await removals("no links at all") == 0
