"""Text posts through the gateway with in-process ONNX Runtime vs with Triton, and where
tokenization should run, side by side in one run.

``python -m bench.triton [--label cpu] [--quick] [--seconds S]``

The shipped ``text`` and ``spam`` models are exported with ``--runtime python --device cpu``
into a temporary repository, plus a bench-only model ``text_raw``
(``bench/triton_text_raw_model.py``: raw texts in, normalization + tokenizer + ONNX inside
Triton, with the ``text`` model's dynamic batching), and served by pytriton's
``tritonserver`` (``modgate.embedded_triton.LocalTriton``). The texts are held-out posts from
the shared data (``bench.text_latency.load_corpus``), every 8th one a long post of 12 of them
joined (truncated head+tail to 128 tokens), with varied authors and regions.

1. **Gateway, in-process vs Triton**: two gateways on 127.0.0.1 (background event loops),
   classifiers ``onnx://`` vs ``triton://`` for ``text`` and ``spam``, OCR and the hash bank
   off. A ``grpc.aio`` client in this process runs a closed loop at concurrency 1, 8 and 64:
   C callers each send ``Moderate`` back to back for ``--seconds`` after a warm-up; the two
   gateways take turns at each concurrency. Posts/s are completed OK calls over wall time;
   latency (p50/p95/p99/max) is client-measured over all calls; errors are counted by gRPC
   code, and the share of degraded verdicts is kept.
2. **Where tokenization runs**: (a) its cost in the gateway, ``TextModel.feeds``
   (normalize + tokenize + pad) at batch 1 and 8 per post, the normalization cache cleared
   before each call (every post is new); (b) straight to Triton with the aio
   ``tritonclient``, no gateway, the same closed loop: the client tokenizes and calls
   ``text``, vs the client sends raw text to ``text_raw``. Before the load, ``text_raw``
   must give the probabilities of client-side tokenization (batch 1, within 1e-5) or the
   bench fails. The client tokenizes on its event loop thread, as a gateway would in-line.

Every Triton phase also records Triton's own statistics over the measured part, per model:
requests, the mean batch the dynamic batcher formed, queue and compute time per request.

Writes ``bench/results/triton-<label>.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.image_load import pct, running_gateway
from bench.report import write_results
from bench.slowpath import commit
from bench.text_latency import RESULTS, load_corpus, machine
from bench.triton_report import render
from modgate.settings import ARTIFACTS_DIR, SOURCE_ROOT

CONCURRENCY = (1, 8, 64)
CLIENT_TIMEOUT_S = 2.0
PARITY_TOLERANCE = 1e-5
MODELS = ("text", "spam")
RAW_MODEL = "text_raw"
RAW_MODEL_SOURCE = Path(__file__).with_name("triton_text_raw_model.py")
REGIONS = ("US", "DE", "")
Call = Callable[[int], Awaitable[tuple[str, bool]]]  # post index -> (status code, degraded)
Phase = dict[str, Any]  # one closed-loop phase's figures


def text_pool(n: int = 2048) -> list[str]:
    """Held-out posts, every 8th one a long post of 12 joined (deterministic)."""
    corpus = load_corpus(n)
    return [" ".join(corpus[i : i + 12]) if i % 8 == 7 else text for i, text in enumerate(corpus)]


def make_requests(texts: Sequence[str]) -> list[Any]:
    from modgate.pb import moderation_pb2 as pb

    return [
        pb.ModerateRequest(
            post_id=f"t{i}",
            author=pb.Author(
                id=f"a{i % 97}", followers=(i * 37) % 5000, account_age_days=float(1 + i % 900)
            ),
            text=text,
            region=REGIONS[i % len(REGIONS)],
        )
        for i, text in enumerate(texts)
    ]


# -- the closed loop ---------------------------------------------------------------------------


Stats = Callable[[], Awaitable[dict[str, dict[str, int]]]]  # Triton's counters per model


async def closed_loop(
    call: Call, concurrency: int, seconds: float, warmup_s: float, stats: Stats | None = None
) -> Phase:
    """``concurrency`` callers back to back: a warm-up, then ``seconds`` measured (and
    Triton's statistics over the measured part when ``stats`` reads them)."""
    counter = itertools.count()

    async def phase(duration_s: float, got: list[tuple[float, str, bool]]) -> float:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s

        async def caller() -> None:
            while loop.time() < end:
                t0 = time.perf_counter()
                code, degraded = await call(next(counter))
                got.append(((time.perf_counter() - t0) * 1000.0, code, degraded))

        t0 = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return time.perf_counter() - t0

    await phase(warmup_s, [])
    got: list[tuple[float, str, bool]] = []
    before = await stats() if stats else {}
    wall_s = await phase(seconds, got)
    server = stats_delta(before, await stats()) if stats else {}
    lat = sorted(g[0] for g in got) or [float("nan")]
    ok = [g for g in got if g[1] == "OK"]
    return {
        "concurrency": concurrency,
        "calls": len(got),
        "ok": len(ok),
        "wall_s": round(wall_s, 3),
        "posts_per_s": round(len(ok) / wall_s, 1),
        "latency_ms": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "p99": pct(lat, 0.99)}
        | {"max": round(lat[-1], 1)},
        "calls_over_400ms": sum(x >= 400.0 for x in lat),
        "errors": dict(Counter(g[1] for g in got if g[1] != "OK")),
        "degraded_share": round(sum(g[2] for g in ok) / max(1, len(ok)), 3),
        "triton": server,
    }


def triton_stats(client: Any, models: Sequence[str]) -> Stats:
    """Read Triton's cumulative statistics of ``models`` (requests, batches, queue time)."""

    async def read() -> dict[str, dict[str, int]]:
        out = {}
        for model in models:
            s = (await client.get_inference_statistics(model)).model_stats[0]
            i = s.inference_stats
            out[model] = {
                "requests": i.success.count,
                "inferences": s.inference_count,
                "executions": s.execution_count,
                "queue_ns": i.queue.ns,
                "compute_ns": i.compute_input.ns + i.compute_infer.ns + i.compute_output.ns,
            }
        return out

    return read


def stats_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """Per model over a phase: requests, mean batch size, mean queue and compute time."""
    out = {}
    for model, end in after.items():
        d = {key: end[key] - before[model][key] for key in end}
        n = max(1, d["requests"])
        out[model] = {
            "requests": d["requests"],
            "mean_batch": round(d["inferences"] / max(1, d["executions"]), 2),
            "queue_ms_per_request": round(d["queue_ns"] / n / 1e6, 2),
            "compute_ms_per_request": round(d["compute_ns"] / n / 1e6, 2),
        }
    return out


# -- 1. gateway: in-process vs Triton ------------------------------------------------------------


def gateway_settings(classifiers: dict[str, str]) -> Any:
    from modgate.settings import GatewaySettings, HashBankSettings, OcrEngine, OcrSettings

    return GatewaySettings(
        port=0,
        metrics_port=0,
        classifiers=classifiers,
        ocr=OcrSettings(engine=OcrEngine.OFF),
        hashbank=HashBankSettings(enabled=False),
    )


async def gateway_phases(
    ports: dict[str, int], triton: str, requests: Sequence[Any], seconds: float, warmup_s: float
) -> dict[str, list[Phase]]:
    import grpc
    import tritonclient.grpc.aio as aioclient

    from modgate.pb import moderation_pb2_grpc as pb_grpc

    def moderate(stub: Any) -> Call:
        async def call(i: int) -> tuple[str, bool]:
            try:
                verdict = await stub.Moderate(requests[i % len(requests)], timeout=CLIENT_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                return exc.code().name, False
            return "OK", bool(verdict.degraded)

        return call

    channels = {mode: grpc.aio.insecure_channel(f"127.0.0.1:{p}") for mode, p in ports.items()}
    client = aioclient.InferenceServerClient(triton)
    stats = {"in_process": None, "triton": triton_stats(client, MODELS)}
    out: dict[str, list[Phase]] = {mode: [] for mode in ports}
    try:
        calls = {mode: moderate(pb_grpc.ModerationStub(ch)) for mode, ch in channels.items()}
        for concurrency in CONCURRENCY:  # the gateways take turns: drift hits both alike
            for mode, call in calls.items():
                phase = closed_loop(call, concurrency, seconds, warmup_s, stats[mode])
                out[mode].append(await phase)
    finally:
        await client.close()
        for channel in channels.values():
            await channel.close()
    return out


def bench_gateways(
    server: Any, requests: Sequence[Any], seconds: float, warmup_s: float
) -> tuple[dict[str, list[Phase]], dict[str, dict[str, str]]]:
    local = {name: f"onnx://{ARTIFACTS_DIR / name}" for name in MODELS}
    remote = {name: server.url(name) for name in MODELS}
    with (
        running_gateway(gateway_settings(local)) as (in_process, local_versions),
        running_gateway(gateway_settings(remote)) as (triton, remote_versions),
    ):
        ports = {"in_process": in_process.port, "triton": triton.port}
        load = asyncio.run(gateway_phases(ports, server.address, requests, seconds, warmup_s))
    return load, {"in_process": local_versions, "triton": remote_versions}


# -- 2. where tokenization runs ------------------------------------------------------------------


def tokenize_cost(model: Any, texts: Sequence[str], iterations: int) -> dict[str, Any]:
    """``TextModel.feeds`` per post at batch 1 and 8 (µs), every text new to the cache."""
    from models.text import normalize_cached

    out: dict[str, Any] = {}
    for batch in (1, 8):
        rounds = iterations if batch == 1 else max(100, iterations // 4)
        samples = []
        for k in range(rounds + 50):  # the first 50 warm up
            chunk = [texts[(k * batch + j) % len(texts)] for j in range(batch)]
            normalize_cached.cache_clear()
            t0 = time.perf_counter()
            model.feeds(chunk)
            samples.append((time.perf_counter() - t0) * 1e6 / batch)
        samples = sorted(samples[50:])
        out[f"batch {batch}"] = {
            "median_us_per_post": round(statistics.median(samples), 1),
            "p99_us_per_post": round(samples[min(len(samples) - 1, int(0.99 * len(samples)))], 1),
            "mean_us_per_post": round(statistics.fmean(samples), 1),
            "rounds": rounds,
        }
    return out


def raw_request(texts: Sequence[str]) -> list[Any]:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput("text", [len(texts), 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[t.encode("utf-8")] for t in texts], dtype=np.object_))
    return [tensor]


def token_request(model: Any, texts: Sequence[str]) -> list[Any]:
    import tritonclient.grpc as grpcclient

    from models.text import INPUT_NAMES

    feeds = model.feeds(texts)  # views into reused buffers: serialized before the next call
    tensors = []
    for name in INPUT_NAMES:
        tensor = grpcclient.InferInput(name, list(feeds[name].shape), "INT64")
        tensor.set_data_from_numpy(np.ascontiguousarray(feeds[name]))
        tensors.append(tensor)
    return tensors


async def probabilities(client: Any, model_name: str, inputs: list[Any]) -> np.ndarray:
    import tritonclient.grpc as grpcclient

    output = [grpcclient.InferRequestedOutput("probabilities")]
    result = await client.infer(model_name, inputs, outputs=output, client_timeout=CLIENT_TIMEOUT_S)
    probs: np.ndarray = result.as_numpy("probabilities")
    return probs


async def check_parity(client: Any, model: Any, texts: Sequence[str]) -> dict[str, Any]:
    """``text_raw`` vs client-side tokenization (and in-process ORT) one text at a time;
    AssertionError beyond ``PARITY_TOLERANCE``. A batch of 8 is reported, not asserted."""
    raw, tokenized, local = [], [], []
    for text in texts:
        raw.append(await probabilities(client, RAW_MODEL, raw_request([text])))
        tokenized.append(await probabilities(client, "text", token_request(model, [text])))
        local.append(model.score([text]))
    raw_a, tok_a, local_a = (np.concatenate(x) for x in (raw, tokenized, local))
    batch = await probabilities(client, RAW_MODEL, raw_request(texts[:8]))
    tokenized_batch = await probabilities(client, "text", token_request(model, texts[:8]))
    result = {
        "texts": len(texts),
        "max_abs_diff_raw_vs_client_tokenized": float(np.abs(raw_a - tok_a).max()),
        "max_abs_diff_raw_vs_in_process": float(np.abs(raw_a - local_a).max()),
        "max_abs_diff_raw_batch8_vs_one_by_one": float(np.abs(batch - raw_a[:8]).max()),
        "max_abs_diff_client_tokenized_batch8_vs_one_by_one": float(
            np.abs(tokenized_batch - tok_a[:8]).max()
        ),
        "tolerance": PARITY_TOLERANCE,
    }
    if result["max_abs_diff_raw_vs_client_tokenized"] > PARITY_TOLERANCE:
        raise AssertionError(f"text_raw disagrees with client-side tokenization: {result}")
    return result


async def direct_phases(
    address: str, model: Any, texts: Sequence[str], seconds: float, warmup_s: float
) -> dict[str, Any]:
    import tritonclient.grpc.aio as aioclient
    from tritonclient.utils import InferenceServerException

    from models.triton_backend import channel_args
    from modgate.settings import TritonSettings

    client = aioclient.InferenceServerClient(address, channel_args=channel_args(TritonSettings()))

    def infer(model_name: str, build: Callable[[str], list[Any]]) -> Call:
        async def call(i: int) -> tuple[str, bool]:
            try:
                probs = await probabilities(client, model_name, build(texts[i % len(texts)]))
            except InferenceServerException as exc:
                return str(exc.status() or "ERROR").rsplit(".", 1)[-1], False
            return ("OK" if probs is not None and probs.shape == (1, 2) else "BAD_OUTPUT"), False

        return call

    calls = {
        "client_tokenizes": infer("text", lambda t: token_request(model, [t])),
        "server_tokenizes": infer(RAW_MODEL, lambda t: raw_request([t])),
    }
    try:
        parity = await check_parity(client, model, texts[:16])
        load: dict[str, list[Phase]] = {mode: [] for mode in calls}
        models = {"client_tokenizes": ["text"], "server_tokenizes": [RAW_MODEL]}
        for concurrency in CONCURRENCY:
            for mode, call in calls.items():
                stats = triton_stats(client, models[mode])
                load[mode].append(await closed_loop(call, concurrency, seconds, warmup_s, stats))
        server_version = (await client.get_server_metadata()).version
    finally:
        await client.close()
    return {"parity": parity, "load": load, "server_version": server_version}


# -- the Triton server ---------------------------------------------------------------------------


def add_text_raw(repo: Path, site_packages: str) -> None:
    """``<repo>/text_raw``: raw strings in, with the exported ``text`` model's batching."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as mc

    from export.triton_repo import CONFIG_FILE, read_config

    text = read_config(repo / "text" / CONFIG_FILE)
    config = mc.ModelConfig(name=RAW_MODEL, backend="python", max_batch_size=text.max_batch_size)
    config.input.add(name="text", data_type=mc.DataType.Value("TYPE_STRING"), dims=[1])
    config.output.add(name="probabilities", data_type=mc.DataType.Value("TYPE_FP32"), dims=[2])
    config.dynamic_batching.CopyFrom(text.dynamic_batching)
    config.instance_group.add(count=1, kind=mc.ModelInstanceGroup.Kind.Value("KIND_CPU"))
    parameters = {"site_packages": site_packages, "modgate_root": str(SOURCE_ROOT)}
    for key, value in (parameters | {"intra_op_threads": "1"}).items():
        config.parameters[key].string_value = value
    version_dir = repo / RAW_MODEL / "1"
    version_dir.mkdir(parents=True)
    for name in ("model.onnx", "tokenizer.json", "metadata.json"):
        shutil.copyfile(ARTIFACTS_DIR / "text" / name, version_dir / name)
    shutil.copyfile(RAW_MODEL_SOURCE, version_dir / "model.py")
    header = "# Written by bench/triton.py: a bench-only model, never shipped.\n"
    (repo / RAW_MODEL / CONFIG_FILE).write_text(header + text_format.MessageToString(config))


@contextmanager
def triton_server(tmp: Path) -> Iterator[Any]:
    """pytriton's ``tritonserver`` on 127.0.0.1 with ``text``, ``spam`` and ``text_raw``."""
    from export.triton_repo import export_python_repo
    from modgate.embedded_triton import LocalTriton, TritonInstall

    install = TritonInstall.find()
    repo = tmp / "repo"
    export_python_repo(
        repo, [str(install.site_packages)], {name: ARTIFACTS_DIR / name for name in MODELS}
    )
    add_text_raw(repo, str(install.site_packages))
    server = LocalTriton(install, repo).start(timeout_s=120.0)
    try:
        yield server
    finally:
        server.stop()


# -- results -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from importlib.metadata import version

    import onnxruntime as ort

    from models.text import TextClassifier
    from modgate.settings import OnnxSettings

    seconds = args.seconds or (3.0 if args.quick else 8.0)
    warmup_s = 1.0 if args.quick else 2.0
    texts = text_pool()
    text = TextClassifier.from_artifact(
        ARTIFACTS_DIR / "text" / "model.onnx", name="text", onnx=OnnxSettings()
    )
    try:
        tokenize = tokenize_cost(text.model, texts, 1000 if args.quick else 4000)
        with (
            tempfile.TemporaryDirectory(prefix="modgate-bench-triton-") as tmp,
            triton_server(Path(tmp)) as server,
        ):
            load, versions = bench_gateways(server, make_requests(texts), seconds, warmup_s)
            direct = asyncio.run(
                direct_phases(server.address, text.model, texts, seconds, warmup_s)
            )
    finally:
        text.model.session.close()
    return {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": args.quick,
        "versions": {
            "onnxruntime": ort.__version__,
            "tritonclient": version("tritonclient"),
            "triton_server": direct.pop("server_version"),
        },
        "models": versions,
        "settings": {
            "concurrency": list(CONCURRENCY),
            "seconds_per_phase": seconds,
            "warmup_s": warmup_s,
            "client_timeout_s": CLIENT_TIMEOUT_S,
            "texts": len(texts),
            "long_texts": sum(i % 8 == 7 for i in range(len(texts))),
            "median_chars": statistics.median(len(t) for t in texts),
            "in_process": "OnnxSettings() defaults: 2 inference workers, 1 intra-op thread each",
            "triton": "python backend (onnxruntime in the stub), 1 CPU instance, 1 intra-op "
            "thread, dynamic batching as exported (preferred 8/16/32/64, 500 µs queue delay)",
        },
        "gateway": load,
        "tokenize": tokenize,
        "direct": direct,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="cpu")
    parser.add_argument("--quick", action="store_true", help="3 s phases, fewer rounds")
    parser.add_argument("--seconds", type=float, default=0.0, help="per phase (default 8, quick 3)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("modgate.decisions").propagate = False
    t0 = time.perf_counter()
    result = run(args)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    md = render(result)
    write_results(RESULTS, f"triton-{args.label}", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
