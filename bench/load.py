"""Open-loop load on a whole gateway process: how fast it can go, and what a spike does to it.

``python -m bench.load [--rates 50,150,300,600] [--seconds 10] [--quick] [--target H:P]``
(= ``modgate bench load``)

The gateway runs as its own process, ``modgate serve`` with its embedded defaults (in-process
ONNX text, spam and nsfw, OCR, an empty hash bank, the decision log on, no broker or Redis),
started here on a free port (or ``--target`` loads a gateway that is already running). A
``grpc.aio`` client in this process sends posts at fixed arrival times ``t0 + i / rate``, never
waiting for replies (open loop), and measures each call from its *scheduled* time to its reply,
so time a post spends queued in the client counts (no coordinated omission). Posts are built
before each phase from a seeded mix: held-out texts of the shared data sets (their real
lengths and languages), a share with one unique captioned JPEG, most with author metadata.

Phases: the text+spam budget check (100 posts/s, no images), a sweep of fixed rates, a
bisection for the highest sustainable rate (p99 < 400 ms, no errors), and a 3x spike
(base, 3x base, base as one schedule). Writes ``bench/results/load-<label>.{json,md,png}``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.image_load import DEADLINE_MS, Memes, pct
from bench.load_report import (
    Phase,
    Reply,
    bracket,
    figures,
    log_summary,
    spike_figures,
    summarize,
    sustainable,
)
from bench.text_latency import RESULTS, ROOT

log = logging.getLogger(__name__)

REGIONS = ("US", "DE", "FR", "IN", "BR", "")
AUTHORS = 1000
SAFETY_IN_FLIGHT = 20_000  # calls in flight before the client refuses to send (CLIENT_LIMIT)


@dataclass(frozen=True)
class LoadConfig:
    """What ``run`` measures; ``quick`` replaces durations and rates by a smoke run's."""

    rates: tuple[float, ...] = (50.0, 150.0, 300.0, 600.0)
    seconds: float = 10.0
    image_share: float = 0.05
    author_share: float = 0.8
    spike_base: float = 100.0
    spike_seconds: float = 10.0  # 0 skips the spike
    search_steps: int = 3  # 0 skips the bisection
    label: str = "cpu"
    target: str | None = None  # host:port of a running gateway; None starts one
    quick: bool = False
    seed: int = 20261121
    deadline_s: float = 2.0
    budget_rate: float = 100.0
    warmup_s: float = 2.0
    idle_s: float = 1.5
    results_dir: Path = RESULTS
    boot_timeout_s: float = 180.0

    def __post_init__(self) -> None:
        shares = (self.image_share, self.author_share)
        if not self.rates or min(self.rates) <= 0 or self.spike_base <= 0:
            raise ValueError("rates must be positive")
        if not all(0.0 <= x <= 1.0 for x in shares) or self.seconds <= 0:
            raise ValueError("shares must lie in [0, 1] and seconds be positive")

    def resolved(self) -> LoadConfig:
        if not self.quick:
            return self
        return replace(self, seconds=3.0, rates=(20.0, 50.0), search_steps=1, spike_seconds=3.0)

    @property
    def search_seconds(self) -> float:
        return max(3.0, self.seconds / 2)


# -- the post mix ------------------------------------------------------------------------------


def text_pool() -> tuple[list[str], dict[str, Any]]:
    """Held-out texts of the shipped text model (``bench.heldout``); the functional test cases
    when the shared data is not there."""
    from bench.heldout import heldout_rows
    from retrain.errors import DataError

    source = "held-out posts of the shared data sets"
    try:
        rows = heldout_rows()
    except (OSError, DataError) as exc:
        source = "functional test cases (no shared data)"
        log.warning("held-out data unavailable (%s): using the functional test cases", exc)
        from retrain.functional_cases import functional_cases

        rows = [{"text": c.text, "language": "en"} for c in functional_cases() if c.split == "test"]
    texts = [str(r["text"]) for r in rows if str(r["text"]).strip()]
    lengths = sorted(float(len(t)) for t in texts)
    info = {
        "source": source,
        "texts": len(texts),
        "languages": dict(Counter(str(r["language"]) for r in rows).most_common()),
        "chars": {"p50": pct(lengths, 0.5), "p99": pct(lengths, 0.99), "max": int(lengths[-1])},
    }
    return texts, info


class PostMix:
    """Seeded posts: held-out texts, ``image_share`` with one unique meme, ``author_share``
    with one of ``AUTHORS`` authors (heavy-tailed followers), a region, a unique id."""

    def __init__(self, texts: Sequence[str], config: LoadConfig) -> None:
        from modgate.pb import moderation_pb2 as pb

        self.texts, self.config, self.memes = texts, config, Memes()
        rng = random.Random(config.seed)
        self.authors = [
            pb.Author(
                id=f"u{k:04d}",
                followers=min(10**8, int(30 * (rng.paretovariate(0.9) - 1))),
                account_age_days=round(
                    rng.uniform(0, 2) if rng.random() < 0.05 else rng.expovariate(1 / 500), 1
                ),
                prior_violations=rng.choices((0, 1, 2, 3, 5), (90, 6, 2, 1, 1))[0],
            )
            for k in range(AUTHORS)
        ]

    def build(self, name: str, n: int, image_share: float) -> list[Any]:
        from modgate.pb import moderation_pb2 as pb

        rng = random.Random(f"{self.config.seed}:{name}")
        posts = []
        for i in range(n):
            post = pb.ModerateRequest(
                post_id=f"{name}-{i}", text=rng.choice(self.texts), region=rng.choice(REGIONS)
            )
            if rng.random() < self.config.author_share:
                post.author.CopyFrom(rng.choice(self.authors))
            if rng.random() < image_share:
                post.images.append(pb.Image(data=self.memes.next(), mime_type="image/jpeg"))
            posts.append(post)
        return posts


def steady(rate: float, seconds: float) -> list[float]:
    """Arrival offsets (s) of ``rate`` posts/s for ``seconds``."""
    return [i / rate for i in range(max(1, round(rate * seconds)))]


def spike_schedule(base: float, seconds: float) -> list[float]:
    """Base rate, 3x base, base again, ``seconds`` each, as one schedule."""
    out: list[float] = []
    for k, rate in enumerate((base, 3 * base, base)):
        out += [k * seconds + t for t in steady(rate, seconds)]
    return out


# -- the gateway process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (all threads); None without one."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def gateway_process(tmp: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``modgate serve`` on a free 127.0.0.1 port, standalone (no broker, no Redis, an empty
    hash bank in ``tmp``), its output in ``tmp/gateway.log``; SIGTERM on exit."""
    port = free_port()
    env = os.environ | {
        "MODGATE_HOST": "127.0.0.1",
        "MODGATE_PORT": str(port),
        "MODGATE_METRICS_PORT": "0",
        "MODGATE_STREAM__KAFKA_URL": "",
        "MODGATE_REDIS__URL": "",
        "MODGATE_HASHBANK__PATH": str(tmp / "hashbank.jsonl"),
    }
    exe = Path(sys.executable).with_name("modgate")
    cmd = [str(exe), "serve"] if exe.is_file() else [sys.executable, "-m", "modgate", "serve"]
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"127.0.0.1:{port}", proc, log_path
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the gateway drains and exits), SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.warning("gateway ignored SIGTERM for 30 s: killing it")
            proc.kill()
            proc.wait()


async def wait_ready(
    channel: Any, timeout_s: float, proc: subprocess.Popen[bytes] | None, log_path: Path | None
) -> None:
    """Poll the standard gRPC health check until the Moderation service is SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="modgate.v1.Moderation")
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            tail = log_tail(log_path) if log_path else ""
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{tail}")
        try:
            reply = await stub.Check(request, timeout=1.0)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.25)
    tail = f":\n{log_tail(log_path)}" if log_path else ""
    raise RuntimeError(f"gateway not SERVING after {timeout_s:.0f} s{tail}")


# -- the open loop -----------------------------------------------------------------------------


async def open_loop(
    stub: Any, posts: Sequence[Any], offsets: Sequence[float], deadline_s: float
) -> tuple[list[Reply], float]:
    """Send ``posts[i]`` at ``t0 + offsets[i]`` without waiting for replies; returns every
    call and the seconds from t0 to the last reply."""
    import grpc

    from modgate.pb import moderation_pb2 as pb

    replies: list[Reply] = []
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter() + 0.02

    async def call(post: Any, due: float) -> None:
        try:
            v = await stub.Moderate(post, timeout=deadline_s)
        except grpc.aio.AioRpcError as exc:
            late_ms = (time.perf_counter() - due) * 1e3
            replies.append(Reply(due - t0, late_ms, exc.code().name, image=bool(post.images)))
            return
        replies.append(
            Reply(
                due - t0,
                (time.perf_counter() - due) * 1e3,
                "OK",
                pb.Action.Name(v.action).lower(),
                v.degraded,
                v.server_latency_ms,
                tuple(v.missing_models),
                tuple((m.name, m.version) for m in v.models),
                v.ocr,
                bool(post.images),
            )
        )

    for post, offset in zip(posts, offsets, strict=True):
        due = t0 + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= SAFETY_IN_FLIGHT:
            late_ms = (time.perf_counter() - due) * 1e3
            replies.append(Reply(offset, late_ms, "CLIENT_LIMIT", image=bool(post.images)))
            continue
        task = asyncio.create_task(call(post, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:  # every call ends by its own deadline
        await asyncio.wait(set(tasks))
    return replies, time.perf_counter() - t0


# -- the phases ----------------------------------------------------------------------------------


class Runner:
    """Runs phases against one channel; remembers the model versions the verdicts named."""

    def __init__(self, stub: Any, mix: PostMix, config: LoadConfig, pid: int | None) -> None:
        self.stub, self.mix, self.config, self.pid = stub, mix, config, pid
        self.models: dict[str, str] = {}
        self.count = Counter[str]()
        self.cpu: dict[str, float | None] = {}  # cores busy in the last phase, per process

    async def replies(
        self, kind: str, offsets: Sequence[float], image_share: float
    ) -> tuple[list[Reply], float]:
        self.count[kind] += 1
        posts = self.mix.build(f"{kind}{self.count[kind]}", len(offsets), image_share)
        await asyncio.sleep(self.config.idle_s)
        gc.collect()
        client, gateway = time.process_time(), cpu_seconds(self.pid)
        gc.disable()  # no collector pauses in the client while it keeps time
        try:
            replies, wall_s = await open_loop(self.stub, posts, offsets, self.config.deadline_s)
        finally:
            gc.enable()
        gateway_end = cpu_seconds(self.pid)
        self.cpu = {
            "client": round((time.process_time() - client) / wall_s, 2),
            "gateway": None
            if gateway is None or gateway_end is None
            else round((gateway_end - gateway) / wall_s, 2),
        }
        for r in replies:
            self.models.update(r.models)
        return replies, wall_s

    async def steady(self, kind: str, rate: float, seconds: float, image_share: float) -> Phase:
        replies, wall_s = await self.replies(kind, steady(rate, seconds), image_share)
        phase = summarize(replies, rate, seconds, wall_s) | {"kind": kind, "cpu_cores": self.cpu}
        lat = phase["latency_ms"]
        log.info(
            "%s %.0f/s: p50 %.1f p99 %.1f ms, %.1f/s OK, errors %s, degraded %.1f%%",
            kind, rate, lat["p50"], lat["p99"], phase["achieved_per_s"], phase["errors"],
            100 * phase["degraded_share"],
        )  # fmt: skip
        return phase

    async def warm_up(self) -> None:
        """Load the lazy parts (OCR engine, ONNX sessions) one post at a time, then a short
        open-loop run of the mix; nothing recorded."""
        import grpc

        for post in self.mix.build("warm-image", 3, 1.0) + self.mix.build("warm", 3, 0.0):
            try:
                await self.stub.Moderate(post, timeout=30.0)
            except grpc.aio.AioRpcError as exc:
                log.warning("warm-up post failed: %s %s", exc.code().name, exc.details())
        rate = min(20.0, self.config.rates[0])
        offsets = steady(rate, self.config.warmup_s)
        await self.replies("warmup", offsets, max(0.2, self.config.image_share))

    async def search(self, sweep: Sequence[Phase]) -> dict[str, Any]:
        """Bracket the highest sustainable rate from the sweep, then bisect (doubling
        while every rate so far passed)."""
        lo, hi = bracket(sweep)
        phases = []
        for _ in range(self.config.search_steps):
            if hi is not None and hi - lo <= max(2.0, 0.05 * hi):
                break
            rate = 2 * lo if hi is None else float(round((lo + hi) / 2))
            phase = await self.steady(
                "search", rate, self.config.search_seconds, self.config.image_share
            )
            phases.append(phase)
            lo, hi = (rate, hi) if sustainable(phase) else (lo, rate)
        return {"phases": phases, "highest_sustainable_per_s": lo, "lowest_failing_per_s": hi}

    async def spike(self) -> dict[str, Any]:
        base, s = self.config.spike_base, self.config.spike_seconds
        replies, wall_s = await self.replies(
            "spike", spike_schedule(base, s), self.config.image_share
        )
        return spike_figures(replies, base, s, wall_s) | {"cpu_cores": self.cpu}


async def measure(
    config: LoadConfig,
    target: str,
    mix: PostMix,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """Wait for the gateway, warm it up, run every phase."""
    import grpc

    from modgate.pb import moderation_pb2_grpc as pb_grpc

    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        await wait_ready(channel, config.boot_timeout_s, proc, log_path)
        stub = pb_grpc.ModerationStub(channel)  # type: ignore[no-untyped-call]
        runner = Runner(stub, mix, config, proc.pid if proc else None)
        await runner.warm_up()
        budget = await runner.steady("text+spam", config.budget_rate, config.seconds, 0.0)
        sweep = [
            await runner.steady("sweep", rate, config.seconds, config.image_share)
            for rate in config.rates
        ]
        search = await runner.search(sweep)
        spike = await runner.spike() if config.spike_seconds > 0 else None
    return figures(runner.models, budget, sweep, search, spike)


def measure_local(config: LoadConfig) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Start ``modgate serve``, load the text pool while it boots, measure, stop it."""
    with (
        tempfile.TemporaryDirectory(prefix="modgate-load-") as tmp,
        gateway_process(Path(tmp)) as (target, proc, log_path),
    ):
        log.info("gateway starting on %s", target)
        texts, pool = text_pool()
        figures = asyncio.run(measure(config, target, PostMix(texts, config), proc, log_path))
        if proc.poll() is not None:
            raise RuntimeError(f"gateway died during the run:\n{log_tail(log_path)}")
        stop(proc)
        gateway_log = log_summary(log_path)
    if proc.returncode not in (0, -signal.SIGTERM):
        log.warning("gateway exited with %s after SIGTERM", proc.returncode)
    return target, pool, figures | {"gateway_log": gateway_log}


def run(config: LoadConfig) -> dict[str, Any]:
    """Run every phase, write ``load-<label>.{json,md,png}`` in ``config.results_dir``, and
    return the figures."""
    from bench.load_plot import plot
    from bench.load_report import machine_info, model_artifacts, render
    from bench.report import write_results
    from bench.slowpath import commit

    config = config.resolved()
    started = time.perf_counter()
    if config.target:
        target, (texts, pool) = config.target, text_pool()
        figures = asyncio.run(measure(config, target, PostMix(texts, config)))
    else:
        target, pool, figures = measure_local(config)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    result = {
        "label": config.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine_info(),
        "config": settings | {"search_seconds": config.search_seconds},
        "gateway": {"target": target, "started_by_bench": not config.target},
        "mix": {
            "text_pool": pool,
            "image_share": config.image_share,
            "author_share": config.author_share,
            "authors": AUTHORS,
            "regions": list(REGIONS),
            "deadline_ms": DEADLINE_MS,
            "client_deadline_s": config.deadline_s,
        },
        **figures,
        "model_artifacts": model_artifacts(),
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    write_results(config.results_dir, f"load-{config.label}", result, render(result))
    plot(result, config.results_dir / f"load-{config.label}.png")
    return result


def parse_rates(value: str) -> tuple[float, ...]:
    rates = tuple(float(x) for x in value.split(",") if x.strip())
    if not rates or min(rates) <= 0:
        raise ValueError(f"rates {value!r}: expected positive numbers, e.g. 50,150,300")
    return rates


if __name__ == "__main__":  # the options are ``modgate bench load``'s
    import typer

    from modgate.cli.bench import load

    typer.run(load)
