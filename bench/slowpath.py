"""Slow-path throughput and moderator-queue latency on the embedded servers, in one run.

How many deferred posts per second one slow-path worker (Faust, no LLM judge) moves into the
moderator queue, how long each post takes to get there, and how fast the moderators' queue
operations are, against the real servers ``modgate up`` runs (Tansu and redis-server child
processes). Writes ``<out>/slowpath-cpu.{json,md}`` stating the machine, date and commit.

``python -m bench.slowpath [--posts 5000] [--items 2000] [--rate 200] [--out bench/results]``

* **routing**: one phase per worker concurrency (1, 8) plus a paced one, each with its own app
  id, topic prefix and Redis key prefix. Once a warm-up post reached the queue (the agent is
  assigned), a producer process sends ``--posts`` ``DeferredPost`` records in a burst (or
  ``--rate``/s for ``--paced-s``). posts/s runs from the first send until the queue holds them
  all; a post's latency is its ``enqueued_at`` (worker) minus its ``deferred_at`` (at send).
  For reference: ``DeferredRouter.route`` called directly (no Kafka, no Faust).
* **queue**: ``enqueue``, ``claim`` and ``slowpath.review.decide`` (``get`` + the Lua decide
  with its outbox records), one call at a time; then 8 concurrent claimers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.text_latency import ROOT, machine
from decision import load_policy
from modgate.embedded import LocalBroker, LocalRedis
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import Topics, decode, encode
from modgate.settings import (
    DEFAULT_POLICY,
    QueueSettings,
    RedisSettings,
    SlowpathSettings,
    StreamSettings,
)
from slowpath.app import FaustEmitter, SlowpathWorker
from slowpath.interface import ModeratorAction
from slowpath.queue_redis import RedisModeratorQueue
from slowpath.review import decide
from slowpath.worker import DeferredRouter

log = logging.getLogger("bench.slowpath")

TEXTS = (
    "what a dumb take, honestly",
    "people like you should not be allowed to vote, go back to where you came from",
    "that referee was trash tonight and everyone knows it",
    "WIN a FREE phone now!!! call 0900 123 456 or click the link in my bio",
    "you absolute clown, delete your account",
    "I hope your team loses every game this season, idiots",
)


def deferred_post(rng: random.Random, post_id: str) -> rpb.DeferredPost:
    """A record as the gateway writes it for a post whose scores sit in a DEFER band."""
    scores = {
        "toxicity": rng.uniform(0.60, 0.90),
        "hate": rng.uniform(0.50, 0.95) if rng.random() < 0.3 else rng.uniform(0.0, 0.5),
        "spam": rng.uniform(0.70, 0.97) if rng.random() < 0.2 else rng.uniform(0.0, 0.7),
    }
    author = pb.Author(id=f"author-{rng.randrange(2000)}", followers=int(rng.paretovariate(1.2)))
    post = pb.ModerateRequest(post_id=post_id, text=rng.choice(TEXTS), author=author, region="US")
    verdict = pb.Verdict(
        post_id=post_id,
        action=pb.DEFER,
        scores=scores,
        reason_codes=["toxicity.defer_above"],
        policy_version="bench",
        decision_id=uuid.uuid4().hex,
        language="en",
    )
    return rpb.DeferredPost(post=post, verdict=verdict, deferred_at=time.time())


async def _produce(bootstrap: str, topic: str, n: int, prefix: str, rate: float) -> float:
    from aiokafka import AIOKafkaProducer

    rng = random.Random(n)
    records = [deferred_post(rng, f"{prefix}{i}") for i in range(n)]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False
    )
    await producer.start()
    try:
        t0, sent = time.perf_counter(), []
        for i, record in enumerate(records):
            if rate:  # paced: the i-th record leaves at t0 + i / rate
                await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            record.deferred_at = time.time()
            sent.append(
                await producer.send(topic, encode(record), key=record.post.post_id.encode())
            )
        await asyncio.gather(*sent)
        return time.perf_counter() - t0
    finally:
        await producer.stop()


def produce_process(out: Any, args: tuple[str, str, int, str, float]) -> None:
    """Producer process: send the records; put the seconds it took on ``out``."""
    out.put(asyncio.run(_produce(*args)))


def summary(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    mean = statistics.fmean(s)
    return {
        "median_ms": round(statistics.median(s), 3),
        "p99_ms": round(s[min(len(s) - 1, int(0.99 * len(s)))], 3),
        "max_ms": round(s[-1], 3),
        "mean_ms": round(mean, 3),
        "ops_per_s": round(1000.0 / mean, 1),
        "n": len(s),
    }


async def wait_depth(queue: RedisModeratorQueue, depth: int, timeout_s: float) -> float:
    """Poll every 20 ms until ``queue`` holds ``depth`` items; the wall-clock time it did."""
    deadline = time.monotonic() + timeout_s
    while (current := await queue.depth()) < depth:
        if time.monotonic() > deadline:
            raise TimeoutError(f"queue depth {current} < {depth} after {timeout_s}s")
        await asyncio.sleep(0.02)
    return time.time()


async def routing_phase(
    servers: tuple[LocalBroker, LocalRedis], state: Path, concurrency: int, posts: int, rate: float
) -> dict[str, Any]:
    broker, redis = servers
    name = f"bench{concurrency}{'paced' if rate else ''}"
    settings = SlowpathSettings(
        stream=StreamSettings(kafka_url=broker.url, topic_prefix=f"{name}.", spool_dir=state),
        redis=RedisSettings(url=redis.url, key_prefix=f"{name}:"),
        app_id=f"modgate-{name}-{uuid.uuid4().hex[:8]}",
        data_dir=state / "faust",
        worker_concurrency=concurrency,
        broker_session_timeout_s=2.0,
        broker_rebalance_timeout_s=2.0,
        metrics_port=0,
    )
    topic = Topics(settings.stream.topic_prefix).deferred
    worker = SlowpathWorker(settings)
    await worker.start()
    try:
        warm = deferred_post(random.Random(0), "warm-up")
        await FaustEmitter(worker.app).send_and_wait(topic, b"warm-up", encode(warm))
        await wait_depth(worker.queue, 1, timeout_s=60)
        log.info("phase %s: worker assigned; producing %d posts (rate %s)", name, posts, rate)
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        bootstrap = settings.stream.bootstrap_servers()[0]
        job = (bootstrap, topic, posts, f"{name}-", rate)
        proc = ctx.Process(target=produce_process, args=(out, job))
        proc.start()
        try:
            done_at = await wait_depth(worker.queue, posts + 1, timeout_s=600)
            produce_s = await asyncio.to_thread(out.get, timeout=60)
        finally:
            await asyncio.to_thread(proc.join, 30)
            if proc.is_alive():
                proc.kill()
        latencies: list[float] = []
        first_sent = float("inf")
        ids = [f"{name}-{i}" for i in range(posts)]
        for start in range(0, posts, 50):  # the client's connection pool is bounded
            for item in await asyncio.gather(*map(worker.queue.get, ids[start : start + 50])):
                sent = decode(rpb.DeferredPost, item.payload).deferred_at
                latencies.append((item.enqueued_at - sent) * 1000.0)
                first_sent = min(first_sent, sent)
    finally:
        await worker.stop()
    lat = summary(latencies)
    del lat["ops_per_s"]
    return {
        "worker_concurrency": concurrency,
        "offered_posts_per_s": rate or "burst",
        "posts": posts,
        "posts_per_s": round(posts / (done_at - first_sent), 1),
        "producer_posts_per_s": round(posts / produce_s, 1),
        "latency": lat,
    }


class _NoEmitter:
    async def send_and_wait(self, topic: str, key: bytes, value: bytes) -> None:
        raise AssertionError("no judge: nothing is emitted")


async def router_only(redis: LocalRedis, posts: int, concurrency: int) -> float:
    """Posts/s of ``DeferredRouter.route`` called directly: routing without Kafka and Faust."""
    queue = RedisModeratorQueue.from_url(redis.url, QueueSettings(), key_prefix=f"r{concurrency}:")
    router = DeferredRouter(
        queue=queue,
        emitter=_NoEmitter(),
        policy=load_policy(DEFAULT_POLICY),
        topics=Topics(),
    )
    rng = random.Random(2)
    values = iter([encode(deferred_post(rng, f"r-{i}")) for i in range(posts)])

    async def caller() -> None:
        for value in values:
            await router.route(value)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(caller() for _ in range(concurrency)))
    finally:
        await queue.aclose()
    return round(posts / (time.perf_counter() - t0), 1)


async def timed(samples: list[float], call: Awaitable[Any]) -> Any:
    t0 = time.perf_counter()
    result = await call
    samples.append((time.perf_counter() - t0) * 1000.0)
    return result


async def fill(queue: RedisModeratorQueue, items: int, prefix: str) -> list[float]:
    rng = random.Random(1)
    samples: list[float] = []
    for i in range(items):
        record = deferred_post(rng, f"{prefix}{i}")
        post = record.post
        enqueue = queue.enqueue(
            post_id=post.post_id,
            decision_id=record.verdict.decision_id,
            author_id=post.author.id,
            scores=dict(record.verdict.scores),
            followers=post.author.followers,
            payload=encode(record),
        )
        await timed(samples, enqueue)
    return samples


async def queue_phase(redis: LocalRedis, items: int, claimers: int) -> dict[str, Any]:
    queue = RedisModeratorQueue.from_url(redis.url, QueueSettings(), key_prefix="benchq:")
    try:
        enqueue_ms = await fill(queue, items, "q-")
        claim_ms: list[float] = []
        decide_ms: list[float] = []
        claimed = [await timed(claim_ms, queue.claim("mod-1")) for _ in range(items)]
        for item in claimed:
            await timed(decide_ms, decide(queue, item.post_id, "mod-1", ModeratorAction.REMOVE))
        await fill(queue, items, "c-")

        async def drain(moderator: str) -> int:
            n = 0
            while await queue.claim(moderator) is not None:
                n += 1
            return n

        t0 = time.perf_counter()
        claims = sum(await asyncio.gather(*(drain(f"mod-c{i}") for i in range(claimers))))
        elapsed = time.perf_counter() - t0
    finally:
        await queue.aclose()
    return {
        "items": items,
        "enqueue": summary(enqueue_ms),
        "claim": summary(claim_ms),
        "decide": summary(decide_ms),
        "concurrent_claims": {
            "claimers": claimers,
            "claims": claims,
            "claims_per_s": round(claims / elapsed, 1),
        },
    }


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "HEAD") or "unknown") + dirty


async def run(args: argparse.Namespace) -> dict[str, Any]:
    phases = [(c, args.posts, 0.0) for c in args.concurrency]
    if args.rate:
        phases.append((args.concurrency[-1], int(args.rate * args.paced_s), args.rate))
    broker, redis = LocalBroker(), LocalRedis()
    try:
        broker.start()
        redis.start()
        routing = []
        for concurrency, posts, rate in phases:
            with tempfile.TemporaryDirectory(prefix="modgate-bench-") as state:
                phase = routing_phase((broker, redis), Path(state), concurrency, posts, rate)
                routing.append(await phase)
        direct = {str(c): await router_only(redis, args.posts, c) for c in args.concurrency}
        queue = await queue_phase(redis, args.items, args.claimers)
    finally:
        redis.stop()
        broker.stop()
    return {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "settings": {
            "producer": "own process, aiokafka acks=all linger_ms=5",
            "topic_partitions": 1,
            "judge": "off",
            "queue": QueueSettings().model_dump(),
        },
        "routing": routing,
        "router_only_posts_per_s": direct,
        "queue": queue,
    }


def _row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def render(r: dict[str, Any]) -> str:
    sha = r["commit"][:12] + ("+dirty" if r["commit"].endswith("+dirty") else "")
    lines = [
        "# Slow path: deferred posts into the moderator queue, and queue operations",
        "",
        f"- Machine: {r['machine']}",
        f"- Date: {r['date']}; commit `{sha}`",
        "- Embedded Tansu (memory) and redis-server on the same machine; one partition; no LLM "
        "judge; the producer in its own process (aiokafka, acks=all, linger 5 ms).",
        "- Latency per post = `enqueued_at` (worker) − `deferred_at` (stamped at send). In a "
        "burst it is mostly the wait behind earlier posts. Paced, it is mostly the broker's "
        "fetch wait: Faust fixes `fetch_max_wait_ms=1500` and embedded Tansu answers a fetch "
        "only after about half of it even with records waiting.",
        "",
        "| routing (one Faust worker) | posts | posts/s | producer posts/s | latency p50 / p99 / "
        "max (ms) |",
        "|---|---:|---:|---:|---|",
    ]
    for p in r["routing"]:
        lat, rate = p["latency"], p["offered_posts_per_s"]
        load = "burst" if rate == "burst" else f"paced {rate:.0f}/s"
        latency = f"{lat['median_ms']:.1f} / {lat['p99_ms']:.1f} / {lat['max_ms']:.1f}"
        cells = (p["posts"], f"{p['posts_per_s']:.0f}", f"{p['producer_posts_per_s']:.0f}", latency)
        lines.append(_row(f"worker_concurrency {p['worker_concurrency']}, {load}", *cells))
    for c, rate in r["router_only_posts_per_s"].items():
        lines.append(
            _row(f"`DeferredRouter.route` direct, {c} caller(s)", "", f"{rate:.0f}", "", "")
        )
    q, c = r["queue"], r["queue"]["concurrent_claims"]
    lines += [
        "",
        f"| moderator queue, one client, {q['items']} items | median (ms) | p99 (ms) "
        "| mean (ms) | ops/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for op in ("enqueue", "claim", "decide"):
        s = q[op]
        ms = (f"{s[k]:.3f}" for k in ("median_ms", "p99_ms", "mean_ms"))
        lines.append(_row(f"`{op}`", *ms, f"{s['ops_per_s']:.0f}"))
    lines.append(
        _row(f"{c['claimers']} concurrent claimers", "", "", "", f"{c['claims_per_s']:.0f}")
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=5000, help="posts per burst phase")
    parser.add_argument("--items", type=int, default=2000, help="items for the queue timings")
    parser.add_argument("--claimers", type=int, default=8)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rate", type=float, default=200.0, help="paced phase posts/s; 0: none")
    parser.add_argument("--paced-s", type=float, default=5.0, help="paced phase length (s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("faust", "mode", "aiokafka", "slowpath"):  # per-item INFO lines off
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "slowpath-cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "slowpath-cpu.md").write_text(render(result))
    rates = ", ".join(f"{p['posts_per_s']:.0f}" for p in result["routing"])
    print(f"slow path posts/s (phases) {rates}; wrote {args.out}/slowpath-cpu.{{json,md}}")


if __name__ == "__main__":
    main()
