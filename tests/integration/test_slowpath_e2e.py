"""The slow path end to end against a real broker (Tansu) and a real redis-server:

gateway → ``modgate.deferred`` → Faust worker → moderator queue → moderator decision →
outbox → ``modgate.labels`` / ``modgate.actions`` → author counters → the gateway's next
decision. And the broker outage case: records spooled to disk, replayed on restart, every
deferred post queued exactly once.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from modgate.embedded import LocalBroker, LocalRedis
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import Topics, decode, features_from_wire
from modgate.settings import RedisSettings, StreamSettings
from slowpath.interface import ModeratorAction
from slowpath.review import decide
from tests.integration.conftest import (
    StartGateway,
    StartWorker,
    spam_classifier,
    text_classifier,
)
from tests.integration.streams import eventually, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

TOPICS = Topics()
# Scores between the toxicity DEFER (0.60) and REMOVE (0.90) lines with the shipped model.
BORDERLINE = "this is crap"
CLEAN = "that referee was trash tonight"


def stream_overrides(broker: LocalBroker, redis: LocalRedis, tmp_path: Path, **stream: object):
    return {
        "stream": StreamSettings(
            kafka_url=broker.url, spool_dir=tmp_path / "gateway-spool", **stream
        ),
        "redis": RedisSettings(url=redis.url),
    }


def post(post_id: str, text: str, author: str = "author-1", followers: int = 1000):
    return pb.ModerateRequest(
        post_id=post_id, text=text, author=pb.Author(id=author, followers=followers)
    )


async def decision_for(kafka_url: str, post_id: str, at_least: int) -> rpb.DecisionRecord:
    records = await read_topic(kafka_url, TOPICS.decisions, at_least=at_least)
    found = [decode(rpb.DecisionRecord, v) for k, v in records if k == post_id.encode()]
    assert len(found) == 1, f"{len(found)} decision records for {post_id}"
    return found[0]


async def test_deferred_post_reaches_moderators_and_their_decision_flows_back(
    kafka_broker: LocalBroker,
    redis_server: LocalRedis,
    start_gateway: StartGateway,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    worker = await start_worker(kafka_broker, redis_server)
    _, stub = await start_gateway(
        {"text": text_classifier(), "spam": spam_classifier()},
        **stream_overrides(kafka_broker, redis_server, tmp_path),
    )
    verdict = await stub.Moderate(post("p-borderline", BORDERLINE), timeout=5)
    assert verdict.action == pb.DEFER
    assert 0.60 <= verdict.scores["toxicity"] < 0.90

    deferred = await read_topic(kafka_broker.url, TOPICS.deferred, at_least=1)
    assert [k for k, _ in deferred] == [b"p-borderline"]
    record = decode(rpb.DeferredPost, deferred[0][1])
    assert record.post.text == BORDERLINE
    assert record.verdict.decision_id == verdict.decision_id

    queue = worker.queue

    async def queued() -> bool:
        return await queue.depth() == 1

    await eventually(queued, what="the deferred post in the moderator queue")
    item = await queue.get("p-borderline")
    # priority = severity x reach x 2^(age / doubling): written out here, not imported.
    weights = {
        "threat": 3.0, "self_harm": 3.0, "hate": 3.0, "nsfw": 3.0,
        "sexual": 2.5, "insult": 2.0, "toxicity": 2.0, "spam": 1.0,
    }  # fmt: skip
    severity = max(score * weights[c] for c, score in verdict.scores.items())
    assert item.severity == pytest.approx(severity, rel=1e-5)
    assert item.reach == pytest.approx(1 + math.log10(1001), rel=1e-9)
    assert item.top_category == max(verdict.scores, key=lambda c: verdict.scores[c] * weights[c])
    assert item.priority == pytest.approx(severity * item.reach, rel=1e-3)

    claimed = await queue.claim("mod-ann")
    assert claimed is not None
    assert claimed.post_id == "p-borderline"
    await decide(queue, "p-borderline", "mod-ann", ModeratorAction.REMOVE, note="insult")

    labels = await read_topic(kafka_broker.url, TOPICS.labels, at_least=1)
    actions = await read_topic(kafka_broker.url, TOPICS.actions, at_least=1)
    label = decode(rpb.LabelRecord, labels[0][1])
    assert (label.post_id, label.source, label.violates) == ("p-borderline", rpb.MODERATOR, True)
    assert list(label.categories) == [item.top_category]
    assert label.decision_id == verdict.decision_id
    moderator_actions = [
        a for a in (decode(rpb.ActionRecord, v) for _, v in actions) if a.source == rpb.MODERATOR
    ]
    assert [(a.post_id, a.outcome, a.actor) for a in moderator_actions] == [
        ("p-borderline", rpb.OUTCOME_REMOVE, "mod-ann")
    ]
    counters = await queue.author_counters("author-1")
    assert (counters.prior_violations, counters.reviews) == (1, 1)

    # The gateway reads the new counters for the author's next post.
    await stub.Moderate(post("p-next", CLEAN), timeout=5)
    features = features_from_wire((await decision_for(kafka_broker.url, "p-next", 2)).features)
    assert features["author_prior_violations"] == 1
    assert features["author_counters"] == "redis"
    assert features["author_trust"] == pytest.approx(1 / 3)
    first = features_from_wire((await decision_for(kafka_broker.url, "p-borderline", 2)).features)
    assert first["author_counters"] == "none"


async def test_broker_outage_spools_and_replays_every_deferred_post_exactly_once(
    kafka_broker: LocalBroker,
    redis_server: LocalRedis,
    start_gateway: StartGateway,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    worker = await start_worker(kafka_broker, redis_server)
    gateway, stub = await start_gateway(
        {"text": text_classifier(), "spam": spam_classifier()},
        **stream_overrides(
            kafka_broker, redis_server, tmp_path, send_timeout_s=1.0, reconnect_s=0.2
        ),
    )
    publisher = gateway.service.sink
    assert publisher is not None
    await stub.Moderate(post("warm-up", CLEAN), timeout=5)

    kafka_broker.stop()
    ids = [f"outage-{i:02d}" for i in range(20)]
    verdicts = await asyncio.gather(
        *(stub.Moderate(post(i, BORDERLINE, author=f"a-{i}"), timeout=5) for i in ids)
    )
    assert {v.action for v in verdicts} == {pb.DEFER}

    async def spooled() -> bool:
        return publisher.spool.pending_records >= 2 * len(ids)  # decision + deferred each

    await eventually(spooled, what="the records in the disk spool")

    kafka_broker.start()

    async def all_queued() -> bool:
        return await worker.queue.depth() == len(ids)

    await eventually(all_queued, timeout_s=40, what="every spooled post in the queue")
    deferred = await read_topic(kafka_broker.url, TOPICS.deferred, at_least=len(ids))
    assert sorted(k.decode() for k, _ in deferred) == ids  # each exactly once on the topic
    waiting = await worker.queue.peek(100)
    assert sorted(i.post_id for i in waiting) == ids  # and exactly once in the queue
    assert publisher.spool.empty


async def test_redis_down_means_request_metadata_not_an_error(
    kafka_broker: LocalBroker,
    redis_server: LocalRedis,
    start_gateway: StartGateway,
    tmp_path: Path,
) -> None:
    redis_server.stop()
    _, stub = await start_gateway(
        {"spam": spam_classifier()}, **stream_overrides(kafka_broker, redis_server, tmp_path)
    )
    request = post("p-redis-down", CLEAN)
    request.author.prior_violations = 2
    verdict = await stub.Moderate(request, timeout=5)
    assert verdict.action == pb.ALLOW
    assert not verdict.degraded
    features = features_from_wire(
        (await decision_for(kafka_broker.url, "p-redis-down", 1)).features
    )
    assert features["author_counters"] == "unavailable"
    assert features["author_prior_violations"] == 2
