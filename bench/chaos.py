"""Chaos, production-like: does every DEFER verdict reach the moderator queue when the parts
around the gateway crash? Broker (Tansu, memory storage), redis-server, gateway (``modgate
serve``, the shipped models) and worker (``modgate worker``) run as separate processes; an
open-loop client sends real posts (a third of them borderline, so they DEFER) and two
scenarios are played, each with the gateway's unconfirmed-post ledger on and then off, side by
side in one run:

* ``broker-redis``: broker ``kill -9`` at 12 s and restarted at 22 s, Redis frozen (SIGSTOP)
  from 32 s to 40 s (the run the hardening issue reported 48 of 306 DEFERs lost in);
* ``worker``: the worker ``kill -9`` at 15 s and restarted at 20 s.

After the load, the run waits until the queue holds every DEFER (or nothing changed for
``--settle-s``) and counts: DEFER verdicts, queued, lost (a DEFER never queued), duplicates,
failed calls, and the client's latency (median, p99). Writes ``<out>/chaos-cpu.{json,md}``.

``python -m bench.chaos [--rate 40] [--duration-s 45] [--out bench/results]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from bench.report import write_results
from bench.slowpath import commit
from bench.text_latency import ROOT, machine, summary
from modgate.embedded import LocalBroker, LocalRedis, free_port
from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import QueueSettings
from slowpath.queue_redis import RedisModeratorQueue

TEXTS = (
    "this is crap",  # borderline: DEFER
    "Are we still on for lunch tomorrow?",
    "what a lovely photo of your garden",
)
SCENARIOS: dict[str, list[tuple[float, str]]] = {
    "broker-redis": [
        (12.0, "kill broker"),
        (22.0, "start broker"),
        (32.0, "freeze redis"),
        (40.0, "thaw redis"),
    ],
    "worker": [(15.0, "kill worker"), (20.0, "start worker")],
}


class Child:
    """``modgate <command>`` as a child process with its own environment and log."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "modgate", self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def wait_serving(stub: pb_grpc.ModerationStub, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await stub.Moderate(pb.ModerateRequest(post_id="warm-up", text="hello"), timeout=5)
            return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Plan:
    scenario: str
    ledger: bool
    rate: float
    duration_s: float
    settle_s: float
    state: Path


@dataclass
class Load:
    """What the client saw: the action of each answered post, failed calls, latencies."""

    verdicts: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


def children(plan: Plan, broker: LocalBroker, redis: LocalRedis, port: int) -> tuple[Child, Child]:
    """The gateway and the worker of one run, not started."""
    common = {
        **os.environ,
        "MODGATE_LOG_JSON": "false",
        "MODGATE_LOG_LEVEL": "WARNING",
        "MODGATE_STREAM__KAFKA_URL": broker.url,
        "MODGATE_REDIS__URL": redis.url,
        "MODGATE_METRICS_PORT": "0",
        "MODGATE_OCR__ENGINE": "off",
    }
    gateway = {
        "MODGATE_PORT": str(port),
        "MODGATE_STREAM__SPOOL_DIR": str(plan.state / "gateway-spool"),
        "MODGATE_CONFIRM__ENABLED": str(plan.ledger).lower(),
    }
    worker = {
        "MODGATE_APP_ID": f"chaos-{uuid.uuid4().hex[:8]}",
        "MODGATE_DATA_DIR": str(plan.state / "faust"),
        "MODGATE_STREAM__SPOOL_DIR": str(plan.state / "worker-spool"),
        "MODGATE_HASHBANK__ENABLED": "false",
    }
    return (
        Child("serve", common | gateway, plan.state / "gateway.log"),
        Child("worker", common | worker, plan.state / "worker.log"),
    )


async def open_loop(
    stub: pb_grpc.ModerationStub, plan: Plan, actions: dict[str, Callable[[], object]]
) -> Load:
    """``plan.rate`` posts a second for ``plan.duration_s`` while the scenario plays."""
    loop = asyncio.get_running_loop()
    load = Load()

    async def send(n: int) -> None:
        post_id = f"{plan.scenario}-{n:05d}"
        request = pb.ModerateRequest(
            post_id=post_id,
            text=TEXTS[n % len(TEXTS)],
            author=pb.Author(id=f"author-{n % 97}", followers=n % 5000),
        )
        t0 = time.perf_counter()
        try:
            verdict = await stub.Moderate(request, timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            load.failed[post_id] = exc.code().name
            return
        load.verdicts[post_id] = verdict.action
        load.latencies_ms.append((time.perf_counter() - t0) * 1000)

    async def chaos(start: float) -> None:
        for at, event in SCENARIOS[plan.scenario]:
            await asyncio.sleep(max(start + at - loop.time(), 0))
            await asyncio.to_thread(actions[event])

    start = loop.time()
    chaos_task = asyncio.create_task(chaos(start))
    calls = []
    for n in range(int(plan.rate * plan.duration_s)):
        await asyncio.sleep(max(start + n / plan.rate - loop.time(), 0))
        calls.append(asyncio.create_task(send(n)))
    await asyncio.gather(*calls)
    await chaos_task
    return load


async def outcome(queue: RedisModeratorQueue, plan: Plan, load: Load) -> dict[str, Any]:
    """Wait for the queue to settle, then count where every DEFER went."""
    deferred = {p for p, action in load.verdicts.items() if action == pb.DEFER}
    settled_after = await settle(queue, len(deferred), plan.settle_s)
    queued = [item.post_id for item in await queue.peek(len(deferred) + 1000)]
    elsewhere = {p for p in deferred - set(queued) if await queue.outcome(p) is not None}
    lost = sorted(deferred - set(queued) - elsewhere)
    return {
        "scenario": plan.scenario,
        "ledger": plan.ledger,
        "calls": int(plan.rate * plan.duration_s),
        "failed_calls": len(load.failed),
        "defer_verdicts": len(deferred),
        "queued": len(set(queued) & deferred),
        "decided_elsewhere": len(elsewhere),
        "lost": len(lost),
        "lost_examples": lost[:10],
        "duplicates_in_queue": len(queued) - len(set(queued)),
        "settled_after_s": round(settled_after, 1),
        "latency": summary(load.latencies_ms) if load.latencies_ms else {},
    }


def chaos_actions(
    broker: LocalBroker, redis: LocalRedis, worker: Child
) -> dict[str, Callable[[], object]]:
    """The scenario events, by name, as calls (blocking: run them on a thread)."""
    return {
        "kill broker": broker.kill,
        "start broker": broker.start,
        "freeze redis": redis.pause,
        "thaw redis": lambda: redis.pause(False),
        "kill worker": worker.kill,
        "start worker": worker.start,
    }


async def play(plan: Plan) -> dict[str, Any]:
    with LocalBroker() as broker, LocalRedis() as redis:
        port = free_port()
        gateway, worker = children(plan, broker, redis, port)
        worker.start()
        gateway.start()
        actions = chaos_actions(broker, redis, worker)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        queue = RedisModeratorQueue.from_url(redis.url, QueueSettings(), timeout_s=2.0)
        try:
            stub = pb_grpc.ModerationStub(channel)  # type: ignore[no-untyped-call]
            await wait_serving(stub)
            await asyncio.sleep(5.0)  # the worker joins its group
            load = await open_loop(stub, plan, actions)
            return await outcome(queue, plan, load)
        finally:
            await channel.close()
            await queue.aclose()
            redis.pause(False)
            gateway.stop()
            worker.stop()


async def settle(queue: RedisModeratorQueue, want: int, settle_s: float) -> float:
    """Wait until the queue holds ``want`` items, or its depth has not moved for
    ``settle_s``; the seconds it took."""
    t0 = last_change = time.monotonic()
    depth = -1
    while time.monotonic() - last_change < settle_s:
        current = await queue.depth()
        if current >= want:
            break
        if current != depth:
            depth, last_change = current, time.monotonic()
        await asyncio.sleep(0.5)
    return time.monotonic() - t0


def render(result: dict[str, Any]) -> str:
    lines = [
        "# Chaos: deferred posts through crashes (production-like, separate processes)",
        "",
        f"- Machine: {result['machine']}",
        f"- Date: {result['date']}; commit {result['commit']}",
        f"- Load: {result['rate']} posts/s open loop for {result['duration_s']} s, real models,"
        " a third of the posts borderline (DEFER); no LLM judge, so every DEFER goes to the"
        " queue.",
        "- broker-redis: broker kill -9 at 12 s, restarted at 22 s; Redis SIGSTOP 32-40 s.",
        "- worker: worker kill -9 at 15 s, restarted at 20 s.",
        "- ledger: the gateway keeps deferred posts until the slow path confirms them"
        " (`gateway/confirm.py`); off = `MODGATE_CONFIRM__ENABLED=false`.",
        "",
        "| scenario | ledger | calls | failed | DEFER | queued | lost | duplicates | "
        "settled (s) | median (ms) | p99 (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in result["runs"]:
        latency = run["latency"]
        lines.append(
            f"| {run['scenario']} | {'on' if run['ledger'] else 'off'} | {run['calls']} | "
            f"{run['failed_calls']} | {run['defer_verdicts']} | "
            f"{run['queued'] + run['decided_elsewhere']} | {run['lost']} | "
            f"{run['duplicates_in_queue']} | {run['settled_after_s']} | "
            f"{latency.get('median_ms', '-')} | {latency.get('p99_ms', '-')} |"
        )
    lines += ["", "Reproduce: `make bench-chaos`.", ""]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--duration-s", type=float, default=45.0)
    parser.add_argument("--settle-s", type=float, default=45.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="modgate-chaos-") as tmp:
        for scenario in SCENARIOS:
            for ledger in (True, False):
                state = Path(tmp) / f"{scenario}-{ledger}"
                state.mkdir()
                plan = Plan(scenario, ledger, args.rate, args.duration_s, args.settle_s, state)
                run = await play(plan)
                print(run, flush=True)
                runs.append(run)
    result = {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "rate": args.rate,
        "duration_s": args.duration_s,
        "runs": runs,
    }
    write_results(args.out, "chaos-cpu", result, render(result))


if __name__ == "__main__":
    asyncio.run(main())
