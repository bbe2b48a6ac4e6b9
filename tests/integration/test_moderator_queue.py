"""The Redis moderator queue against a real redis-server: idempotent enqueue, priority order,
leases (exclusive, expiring), decisions with author counters and outbox, escalation."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from modgate.embedded import LocalRedis
from modgate.keys import STRIKES_KEEP_S
from modgate.settings import QueueSettings
from slowpath.errors import ItemNotFoundError, LeaseError, QueueUnavailableError
from slowpath.interface import ModeratorAction, ModeratorQueue, QueueName
from slowpath.queue_redis import RedisModeratorQueue

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PREFIX = "t:"
REMOVE, REDUCE, ESCALATE = ModeratorAction.REMOVE, ModeratorAction.REDUCE, ModeratorAction.ESCALATE
HOUR = 3600.0
WEIGHTS = {"hate": 3.0, "spam": 1.0}
MakeQueue = Callable[..., RedisModeratorQueue]


def queue_settings(**overrides: Any) -> QueueSettings:
    values: dict[str, Any] = {
        "lease_s": 30.0,
        "age_doubling_s": HOUR,
        "category_weights": WEIGHTS,
        "default_weight": 1.0,
        "min_severity": 0.05,
    }
    return QueueSettings(**(values | overrides))


def expected_priority(scores: Mapping[str, float], followers: int | None) -> float:
    """The formula written out: max weighted score (floored) x (1 + log10(1 + followers))."""
    weighted = [score * WEIGHTS.get(category, 1.0) for category, score in scores.items()]
    return max([*weighted, 0.05]) * (1 + math.log10(1 + (followers or 0)))


@pytest.fixture
async def make_queue(redis_server: LocalRedis) -> AsyncIterator[MakeQueue]:
    made: list[RedisModeratorQueue] = []

    def make(settings: QueueSettings | None = None, **kwargs: Any) -> RedisModeratorQueue:
        queue = RedisModeratorQueue.from_url(
            redis_server.url, settings or queue_settings(), key_prefix=PREFIX, **kwargs
        )
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.aclose()


@pytest.fixture
async def queue(make_queue: MakeQueue) -> RedisModeratorQueue:
    return make_queue()


@pytest.fixture
async def raw(redis_server: LocalRedis) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client, to check the key layout other components rely on."""
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def add(
    queue: RedisModeratorQueue,
    post_id: str,
    *,
    scores: Mapping[str, float] | None = None,
    followers: int | None = None,
    author_id: str = "author-1",
    payload: bytes = b"payload",
    enqueued_at: float | None = None,
) -> bool:
    return await queue.enqueue(
        post_id=post_id,
        decision_id=f"d-{post_id}",
        author_id=author_id,
        scores=scores if scores is not None else {"spam": 0.5},
        followers=followers,
        payload=payload,
        judge=b"judge-" + post_id.encode(),
        enqueued_at=enqueued_at,
    )


async def test_redis_queue_satisfies_the_moderator_queue_protocol(
    queue: RedisModeratorQueue,
) -> None:
    typed: ModeratorQueue = queue
    assert await typed.depth() == 0


async def test_enqueue_is_idempotent_on_post_id(queue: RedisModeratorQueue) -> None:
    assert await add(queue, "p1", payload=b"first")
    assert not await add(queue, "p1", payload=b"second", scores={"hate": 1.0})
    assert await queue.depth() == 1
    item = await queue.get("p1")
    assert (item.payload, item.judge, item.decision_id) == (b"first", b"judge-p1", "d-p1")
    assert await queue.is_done("p1")
    assert await queue.outcome("p1") == "queued"


async def test_a_post_marked_done_is_never_enqueued(queue: RedisModeratorQueue) -> None:
    await queue.mark_done("p1", "remove")
    assert not await add(queue, "p1")
    assert await queue.depth() == 0
    assert await queue.outcome("p1") == "remove"
    assert not await queue.is_done("p2")


async def test_claims_come_out_in_priority_order(queue: RedisModeratorQueue) -> None:
    items: dict[str, tuple[dict[str, float], int | None]] = {
        "p1": ({"spam": 0.9}, 0),
        "p2": ({"hate": 0.5}, 10),
        "p3": ({"spam": 0.2}, 10_000),
        "p4": ({"hate": 0.9}, None),
        "p5": ({"other": 0.35}, 99),
        "p6": ({}, 5),
    }
    now = time.time()
    order = list(items)
    random.Random(7).shuffle(order)
    for post_id in order:
        scores, followers = items[post_id]
        assert await add(queue, post_id, scores=scores, followers=followers, enqueued_at=now)
    expected = sorted(items, key=lambda p: expected_priority(*items[p]), reverse=True)

    peeked = await queue.peek(3)
    assert [item.post_id for item in peeked] == expected[:3]
    claimed = [await queue.claim("mod-1") for _ in items]
    assert [item.post_id for item in claimed if item] == expected
    assert await queue.claim("mod-1") is None
    first = claimed[0]
    assert first is not None
    assert (first.top_category, first.claimed_by, first.claims) == ("hate", "mod-1", 1)
    assert first.severity * first.reach == pytest.approx(expected_priority(*items[expected[0]]))
    assert first.lease_expires_at > 0


async def test_an_older_item_overtakes_a_newer_more_severe_one(make_queue: MakeQueue) -> None:
    now = 1_800_000_000.0
    queue = make_queue(clock=lambda: now)
    await add(queue, "new-severe", scores={"hate": 0.9})  # 2.7, enqueued at clock()
    await add(queue, "old-mild", scores={"spam": 0.5}, enqueued_at=now - 3 * HOUR)  # 0.5 x 8
    await add(queue, "recent-mild", scores={"spam": 0.5}, enqueued_at=now - 2 * HOUR)  # 0.5 x 4

    peeked = await queue.peek(3)
    assert [item.post_id for item in peeked] == ["old-mild", "new-severe", "recent-mild"]
    assert [item.priority for item in peeked] == pytest.approx([4.0, 2.7, 2.0])
    claimed = [await queue.claim("mod-1") for _ in range(3)]
    assert [item.post_id for item in claimed if item] == ["old-mild", "new-severe", "recent-mild"]


async def test_concurrent_moderators_never_get_the_same_item(make_queue: MakeQueue) -> None:
    loader = make_queue()
    post_ids = [f"p{i:02d}" for i in range(50)]
    for i, post_id in enumerate(post_ids):
        await add(loader, post_id, scores={"spam": (i % 7 + 1) / 10}, followers=i)

    async def drain(moderator_id: str) -> list[str]:
        queue = make_queue()  # its own connection pool
        got: list[str] = []
        while (item := await queue.claim(moderator_id)) is not None:
            assert item.claimed_by == moderator_id
            got.append(item.post_id)
        return got

    results = await asyncio.gather(*(drain(f"mod-{n}") for n in range(8)))
    handed_out = Counter(post_id for got in results for post_id in got)
    assert sorted(handed_out) == post_ids
    assert set(handed_out.values()) == {1}
    assert await loader.depth() == 0


async def test_an_expired_lease_returns_the_item_to_the_queue(make_queue: MakeQueue) -> None:
    queue = make_queue(queue_settings(lease_s=0.3))
    await add(queue, "p1")
    first = await queue.claim("mod-1")
    assert first is not None
    await asyncio.sleep(0.5)
    assert await queue.depth() == 0  # reclaimed lazily, by the next claim

    second = await queue.claim("mod-2")
    assert second is not None
    assert (second.post_id, second.claimed_by, second.claims) == ("p1", "mod-2", 2)
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.decide("p1", "mod-1", ModeratorAction.REMOVE)


async def test_a_lapsed_lease_nobody_reclaimed_still_decides(make_queue: MakeQueue) -> None:
    """A moderator slower than the lease loses the item only if someone else claimed it."""
    queue = make_queue(queue_settings(lease_s=0.3))
    await add(queue, "p1")
    assert await queue.claim("mod-1") is not None
    await asyncio.sleep(0.5)
    decided = await queue.decide("p1", "mod-1", ModeratorAction.APPROVE)
    assert decided.action is ModeratorAction.APPROVE
    assert (await queue.author_counters("author-1")).reviews == 1
    assert await queue.claim("mod-2") is None  # not handed out again


async def test_a_lapsed_lease_someone_reclaimed_cannot_decide(make_queue: MakeQueue) -> None:
    queue = make_queue(queue_settings(lease_s=0.3))
    await add(queue, "p1")
    await add(queue, "p2")
    assert await queue.claim("mod-1") is not None
    await asyncio.sleep(0.5)
    assert await queue.claim("mod-2") is not None  # reclaims p1's lapsed lease first
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.decide("p1", "mod-1", ModeratorAction.APPROVE)
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.renew("p1", "mod-1")
    assert (await queue.author_counters("author-1")).reviews == 0


async def test_renew_extends_the_lease_so_no_claim_takes_the_item(make_queue: MakeQueue) -> None:
    queue = make_queue(queue_settings(lease_s=0.4))
    await add(queue, "p1")
    first = await queue.claim("mod-1")
    assert first is not None
    for _ in range(3):  # 0.75 s in all, well past one lease
        await asyncio.sleep(0.25)
        expiry = await queue.renew("p1", "mod-1")
        assert expiry > time.time() + 0.3
        assert await queue.claim("mod-2") is None
    item = await queue.get("p1")
    assert (item.claimed_by, item.lease_expires_at) == ("mod-1", expiry)
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.renew("p1", "mod-2")
    await queue.decide("p1", "mod-1", ModeratorAction.REMOVE)
    with pytest.raises(LeaseError, match="already decided"):
        await queue.renew("p1", "mod-1")
    with pytest.raises(ItemNotFoundError):
        await queue.renew("nope", "mod-1")


async def test_a_lapsed_lease_can_be_renewed_until_reclaimed(make_queue: MakeQueue) -> None:
    queue = make_queue(queue_settings(lease_s=0.3))
    await add(queue, "p1")
    assert await queue.claim("mod-1") is not None
    await asyncio.sleep(0.5)
    await queue.renew("p1", "mod-1")
    assert await queue.claim("mod-2") is None


async def test_decide_by_a_moderator_without_the_lease_raises(queue: RedisModeratorQueue) -> None:
    await add(queue, "p1")
    assert await queue.claim("mod-1") is not None
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.decide("p1", "mod-2", ModeratorAction.REMOVE)
    item = await queue.get("p1")
    assert item.claimed_by == "mod-1"


async def test_decide_on_an_unknown_post_raises_item_not_found(queue: RedisModeratorQueue) -> None:
    with pytest.raises(ItemNotFoundError):
        await queue.decide("nope", "mod-1", ModeratorAction.APPROVE)
    with pytest.raises(ItemNotFoundError):
        await queue.get("nope")
    with pytest.raises(ItemNotFoundError):
        await queue.release("nope", "mod-1")


async def test_remove_updates_author_counters_and_writes_the_outbox_in_order(
    queue: RedisModeratorQueue, raw: redis.asyncio.Redis
) -> None:
    await add(queue, "p1", author_id="a1")
    assert await queue.claim("mod-1") is not None
    outbox = [("labels", b"p1", b"label-record"), ("actions", b"p1", b"action-record")]
    decided = await queue.decide("p1", "mod-1", ModeratorAction.REMOVE, note="slur", outbox=outbox)

    assert (decided.post_id, decided.action, decided.moderator_id) == (
        "p1",
        ModeratorAction.REMOVE,
        "mod-1",
    )
    assert (decided.note, decided.author_id) == ("slur", "a1")
    assert decided.decided_at > 0
    counters = await queue.author_counters("a1")
    assert (counters.prior_violations, counters.approved, counters.reviews) == (1, 0, 1)
    assert counters.trust == pytest.approx(1 / 3)
    # The gateway reads these fields directly.
    violations, trust, reviews = await raw.hmget(
        "t:author:a1", ["prior_violations", "trust", "reviews"]
    )
    assert (violations, reviews) == (b"1", b"1")
    assert float(trust or 0) == pytest.approx(1 / 3)

    entries = await queue.outbox_read(10)
    assert [(e.topic, e.key, e.value) for e in entries] == outbox
    await queue.outbox_ack([e.entry_id for e in entries])
    assert await queue.outbox_read(10) == []

    assert await queue.outcome("p1") == "remove"
    assert not await add(queue, "p1")
    with pytest.raises(LeaseError):
        await queue.decide("p1", "mod-1", ModeratorAction.APPROVE)


async def test_approve_increments_approved(queue: RedisModeratorQueue) -> None:
    await add(queue, "p1", author_id="a1")
    assert await queue.claim("mod-1") is not None
    await queue.decide("p1", "mod-1", ModeratorAction.APPROVE)
    counters = await queue.author_counters("a1")
    assert (counters.prior_violations, counters.approved, counters.reviews) == (0, 1, 1)
    assert counters.trust == pytest.approx(2 / 3)


async def test_an_unknown_author_has_neutral_counters(queue: RedisModeratorQueue) -> None:
    counters = await queue.author_counters("nobody")
    assert (counters.prior_violations, counters.approved, counters.reviews) == (0, 0, 0)
    assert counters.trust == 0.5


async def test_judge_outcomes_count_toward_author_counters(queue: RedisModeratorQueue) -> None:
    assert await queue.mark_done("p1", "llm_remove", author_id="a1", author_action=REMOVE)
    assert await queue.mark_done("p2", "llm_remove", author_id="a1", author_action=REDUCE)
    counters = await queue.author_counters("a1")
    assert (counters.prior_violations, counters.approved, counters.reviews) == (2, 0, 2)
    assert counters.trust == pytest.approx(1 / 4)
    await queue.mark_done("p3", "escalated", author_id="a1", author_action=ESCALATE)
    await queue.mark_done("p4", "llm_allow", author_id="a1")
    assert await queue.author_counters("a1") == counters
    assert await queue.is_done("p3")
    assert await queue.is_done("p4")


async def test_a_finalized_post_counts_against_its_author_once(queue: RedisModeratorQueue) -> None:
    """A route retried after a lost reply (or a redelivery) must not count a removal twice."""
    assert await queue.mark_done("p1", "llm_remove", author_id="a1", author_action=REMOVE)
    for _ in range(3):
        assert not await queue.mark_done("p1", "llm_remove", author_id="a1", author_action=REMOVE)
    assert (await queue.author_counters("a1")).prior_violations == 1
    assert await queue.outcome("p1") == "llm_remove"


async def test_escalate_moves_the_item_to_the_senior_queue_keeping_its_sort_key(
    queue: RedisModeratorQueue, raw: redis.asyncio.Redis
) -> None:
    await add(queue, "p1", scores={"hate": 0.9}, author_id="a1")
    await add(queue, "p2", scores={"spam": 0.1})
    sort_key = await raw.zscore("t:main:waiting", "p1")
    claimed = await queue.claim("mod-1")
    assert claimed is not None
    assert claimed.post_id == "p1"

    outbox = [("actions", b"p1", b"escalated")]
    decided = await queue.decide("p1", "mod-1", ModeratorAction.ESCALATE, outbox=outbox)
    assert decided.action is ModeratorAction.ESCALATE
    assert (await queue.depth(QueueName.MAIN), await queue.depth(QueueName.SENIOR)) == (1, 1)
    assert await raw.zscore("t:senior:waiting", "p1") == sort_key
    item = await queue.get("p1")
    assert (item.queue, item.escalated_by, item.claimed_by) == (QueueName.SENIOR, "mod-1", "")
    assert item.enqueued_at == claimed.enqueued_at
    assert (await queue.author_counters("a1")).reviews == 0
    assert [e.value for e in await queue.outbox_read(10)] == [b"escalated"]
    with pytest.raises(LeaseError):
        await queue.decide("p1", "mod-1", ModeratorAction.REMOVE)

    senior = await queue.claim("senior-1", queue=QueueName.SENIOR)
    assert senior is not None
    assert (senior.post_id, senior.queue, senior.claims) == ("p1", QueueName.SENIOR, 2)
    main = await queue.claim("mod-2")
    assert main is not None
    assert main.post_id == "p2"
    await queue.decide("p1", "senior-1", ModeratorAction.REMOVE)
    assert (await queue.author_counters("a1")).prior_violations == 1
    assert await queue.depth(QueueName.SENIOR) == 0


async def test_release_returns_the_item_to_the_queue(queue: RedisModeratorQueue) -> None:
    await add(queue, "p1")
    assert await queue.claim("mod-1") is not None
    with pytest.raises(LeaseError, match="does not hold the lease"):
        await queue.release("p1", "mod-2")
    await queue.release("p1", "mod-1")
    assert await queue.depth() == 1
    item = await queue.get("p1")
    assert (item.claimed_by, item.lease_expires_at) == ("", 0.0)
    again = await queue.claim("mod-2")
    assert again is not None
    assert (again.post_id, again.claims) == ("p1", 2)


async def test_a_stopped_redis_makes_claim_raise_queue_unavailable(
    make_queue: MakeQueue, redis_server: LocalRedis
) -> None:
    queue = make_queue(timeout_s=0.5)
    await add(queue, "p1")
    redis_server.stop()
    with pytest.raises(QueueUnavailableError):
        await queue.claim("mod-1")
    with pytest.raises(QueueUnavailableError):
        await add(queue, "p2")


async def test_the_embedded_redis_keeps_the_queue_across_a_kill(tmp_path: Path) -> None:
    """``modgate up``'s redis-server persists to an append-only file in the state directory:
    the moderator queue, done marks and author counters survive ``kill -9`` and a restart."""
    server = LocalRedis(data_dir=tmp_path / "redis").start()
    try:
        queue = RedisModeratorQueue.from_url(server.url, queue_settings(), key_prefix=PREFIX)
        await add(queue, "p1", author_id="a1")
        await queue.mark_done("p2", "llm_remove", author_id="a1", author_action=REMOVE)
        await queue.aclose()
        await asyncio.sleep(1.5)  # appendfsync everysec
        server.kill()
        server.start()
        queue = RedisModeratorQueue.from_url(server.url, queue_settings(), key_prefix=PREFIX)
        assert await queue.depth() == 1
        assert (await queue.get("p1")).author_id == "a1"
        assert await queue.outcome("p2") == "llm_remove"
        assert (await queue.author_counters("a1")).prior_violations == 1
        await queue.aclose()
    finally:
        server.stop()


async def test_decided_items_and_done_marks_expire_after_the_retention(
    make_queue: MakeQueue, raw: redis.asyncio.Redis
) -> None:
    queue = make_queue(queue_settings(retention_s=3600))
    await add(queue, "p1")
    assert await raw.ttl(f"{PREFIX}item:p1") == -1  # waiting items never expire
    assert await raw.ttl(f"{PREFIX}done:p1") == -1
    assert await queue.claim("mod-1") is not None
    await queue.decide("p1", "mod-1", REMOVE)
    for key in (f"{PREFIX}item:p1", f"{PREFIX}done:p1"):
        assert 3500 < await raw.ttl(key) <= 3600
    await queue.mark_done("p2", "llm_allow")
    await queue.mark_dead_lettered("p3")
    for key in (f"{PREFIX}done:p2", f"{PREFIX}dead:p3"):
        assert 3500 < await raw.ttl(key) <= 3600


async def test_image_bytes_are_stored_once_per_content_with_a_ttl(
    make_queue: MakeQueue, raw: redis.asyncio.Redis
) -> None:
    queue = make_queue(queue_settings(retention_s=7200))
    picture = b"\x89PNG" + bytes(range(256)) * 64
    sha = "ab" * 32
    for post_id in ("p1", "p2", "p3"):
        await queue.enqueue(
            post_id=post_id,
            decision_id=f"d-{post_id}",
            author_id="a1",
            scores={"hate": 0.5},
            followers=10,
            payload=b"record without image bytes",
            images={sha: picture},
        )
    assert await queue.image(sha) == picture
    assert await queue.image("cd" * 32) is None
    assert len([k async for k in raw.scan_iter(f"{PREFIX}img:*")]) == 1
    assert 7100 < await raw.ttl(f"{PREFIX}img:{sha}") <= 7200
    item_bytes = await raw.memory_usage(f"{PREFIX}item:p1")
    assert item_bytes is not None
    assert item_bytes < len(picture)  # the item holds no image bytes


async def strikes_of(raw: redis.asyncio.Redis, author: str) -> list[str]:
    return [m.decode() for m in await raw.zrange(f"t:strikes:{author}", 0, -1)]


async def test_a_moderator_removal_is_a_strike_in_the_items_top_category(
    queue: RedisModeratorQueue, raw: redis.asyncio.Redis
) -> None:
    await add(queue, "p1", scores={"hate": 0.9, "spam": 0.2}, author_id="a1")
    await add(queue, "p2", scores={"spam": 0.8}, author_id="a1")
    for action in (ModeratorAction.REMOVE, ModeratorAction.APPROVE):
        claimed = await queue.claim("mod-1")
        assert claimed is not None
        await queue.decide(claimed.post_id, "mod-1", action)
    assert await strikes_of(raw, "a1") == ["p1|hate|moderator"]  # the approval is none
    assert 0 < await raw.ttl("t:strikes:a1") <= STRIKES_KEEP_S


async def test_a_judge_removal_is_a_strike_once(
    queue: RedisModeratorQueue, raw: redis.asyncio.Redis
) -> None:
    for _ in range(2):  # a retried route
        await queue.mark_done(
            "p1", "llm_remove", author_id="a1", author_action=REMOVE, strike_category="threat"
        )
    await queue.mark_done("p2", "llm_allow", author_id="a1", strike_category="threat")
    await queue.mark_done("p3", "llm_remove", author_action=REMOVE, strike_category="threat")
    assert await strikes_of(raw, "a1") == ["p1|threat|llm"]
    assert await raw.zscore("t:strikes:a1", "p1|threat|llm") == pytest.approx(time.time(), abs=60)


async def test_moderator_decisions_count_for_and_against_the_hosts_a_post_linked_to(
    queue: RedisModeratorQueue, raw: redis.asyncio.Redis
) -> None:
    hosts = ["www.scam.example", "bit.ly", "scam.example"]
    for post_id, scores in (("s1", {"spam": 0.9}), ("s2", {"spam": 0.8}), ("h1", {"hate": 0.9})):
        await queue.enqueue(
            post_id=post_id,
            decision_id=f"d-{post_id}",
            author_id="a1",
            scores=scores,
            followers=None,
            payload=b"x",
            link_hosts=hosts,
        )
    decisions = {"s1": ModeratorAction.REMOVE, "h1": ModeratorAction.REMOVE}
    for _ in range(3):
        claimed = await queue.claim("mod-1")
        assert claimed is not None
        action = decisions.get(claimed.post_id, ModeratorAction.APPROVE)
        await queue.decide(claimed.post_id, "mod-1", action)
    # s1 removed for spam counts against both distinct hosts; h1's removal (hate) does not;
    # s2's approval counts for them.
    for host in ("scam.example", "bit.ly"):
        assert await raw.hmget(f"t:domain:{host}", ["removed", "approved"]) == [b"1", b"1"]
    assert await raw.exists("t:domain:www.scam.example") == 0
