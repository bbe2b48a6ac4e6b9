"""Text model latency and throughput: modgate's ONNX path (int8, fp32) vs plain PyTorch, one run.

``python -m bench.text_latency [--checkpoint build/text-checkpoint] [--artifact DIR]``

Side by side, in one process, on the same weights:

* **modgate int8** and **modgate fp32** — ``models.text.TextModel``: normalization, Rust
  tokenizer, head+tail truncation, length buckets, ONNX Runtime (2 intra-op threads);
* **previous model** (``--previous DIR``, e.g. ``build/previous-text`` from ``make
  previous-text``): the text model shipped before, int8 with dynamic quantization, through
  the same serving path — its texts are cut to N tokens by its own tokenizer;
* **PyTorch** — what a user does by default with ``transformers``: a
  ``PreTrainedTokenizerFast`` over the same ``tokenizer.json`` (padding, truncation), the
  same trained network (``export.text_net.TextClassifierNet`` loaded from the training
  checkpoint) in eager mode under ``torch.no_grad`` (2 threads).

It measures single-post latency (end to end, text in → probabilities out) at 16, 64 and
128 tokens (median and p99 over many calls) and batched throughput (posts/s over real
held-out texts, batch 32), and batch invariance — the largest change of any score when a
post is scored inside a batch of 32 other held-out posts instead of alone — and writes
``bench/results/text-<label>.{json,md}`` with the machine described and the ratios. The
checkpoint comes from ``modgate train text``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TOKENS = (16, 64, 128)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(0.99 * len(samples)))], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "rounds": len(samples),
    }


def interleaved(
    calls: dict[str, Callable[[], object]], *, rounds: int, warmup: int = 10
) -> dict[str, dict[str, float]]:
    """Latency of each call, measured in turns: every round runs each call once, in a rotating
    order, so a slow spell of a shared machine (CPU steal, frequency) hits all of them alike
    instead of whichever happened to be measured then."""
    labels = list(calls)
    for _ in range(warmup):
        for label in labels:
            calls[label]()
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(rounds):
        for k in range(len(labels)):
            label = labels[(r + k) % len(labels)]
            t0 = time.perf_counter()
            calls[label]()
            samples[label].append((time.perf_counter() - t0) * 1000.0)
    return {label: summary(values) for label, values in samples.items()}


def timings(fn: Callable[[], object], *, rounds: int, warmup: int = 10) -> dict[str, float]:
    """Latency of one call alone (median, p99, mean over ``rounds``)."""
    return interleaved({"call": fn}, rounds=rounds, warmup=warmup)["call"]


def text_of_tokens(tokenizer: Any, corpus: Sequence[str], n: int) -> str:
    """A real-text string that tokenizes to exactly ``n`` tokens with specials."""
    words = " ".join(corpus).split()
    lo, hi = 1, len(words)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(tokenizer.encode(" ".join(words[:mid])).ids) < n:
            lo = mid + 1
        else:
            hi = mid
    text = " ".join(words[:lo])
    ids = tokenizer.encode(text, add_special_tokens=False).ids[: n - 2]
    return str(tokenizer.decode(ids))


def torch_runner(
    checkpoint: Path, tokenizer_file: Path, special: dict[str, str], max_tokens: int
) -> Callable[[list[str]], np.ndarray]:
    import torch
    from transformers import PreTrainedTokenizerFast

    from retrain.text import load_checkpoint

    torch.set_num_threads(2)
    net, _ = load_checkpoint(checkpoint)
    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file),
        bos_token=special["bos"],
        eos_token=special["eos"],
        pad_token=special["pad"],
        unk_token="<unk>",
    )

    def run(texts: list[str]) -> np.ndarray:
        enc = tok(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
        with torch.no_grad():
            return torch.sigmoid(net(enc["input_ids"], enc["attention_mask"])).numpy()

    return run


def load_corpus(limit: int = 1024) -> list[str]:
    """Held-out texts from the shared data (test splits), or our functional cases without it."""
    from modgate.settings import TrainSettings
    from retrain.functional_cases import functional_cases

    data_dir = TrainSettings().data_dir
    if (data_dir / "davidson").is_dir():
        from retrain.text_data import load_text_corpora, split_text_corpora

        test = split_text_corpora(load_text_corpora(data_dir), seed=20261121).test
        rng = np.random.default_rng(0)
        return [
            test[i].text for i in rng.choice(len(test), size=min(limit, len(test)), replace=False)
        ]
    return [c.text for c in functional_cases() if c.split == "test"][:limit]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from models.text import TextModel
    from modgate.settings import OnnxSettings

    artifact: Path = args.artifact
    metadata = json.loads((artifact / "metadata.json").read_text())
    onnx = OnnxSettings(intra_op_threads=2, inference_workers=1)
    runners: dict[str, Callable[[list[str]], np.ndarray]] = {}
    models = []
    own: dict[str, TextModel] = {}  # runners whose texts their own tokenizer cuts to N
    for label, file in (("modgate int8", "model.onnx"), ("modgate fp32", "model.fp32.onnx")):
        if (artifact / file).is_file():
            model = TextModel.load(artifact / file, name="text", onnx=onnx, metadata=metadata)
            models.append(model)
            runners[label] = lambda texts, m=model: m.score(texts, batch_size=args.batch)
    if args.previous and (args.previous / "model.onnx").is_file():
        previous = TextModel.load(args.previous / "model.onnx", name="text", onnx=onnx)
        models.append(previous)
        label = f"previous int8 ({previous.artifact.version})"
        runners[label] = lambda texts, m=previous: m.score(texts, batch_size=args.batch)
        own[label] = previous
    if args.checkpoint and (args.checkpoint / "weights.pt").is_file():
        runners["PyTorch (transformers)"] = torch_runner(
            args.checkpoint,
            artifact / "tokenizer.json",
            metadata["special_tokens"],
            metadata["max_tokens"],
        )
    else:
        print(
            f"no checkpoint at {args.checkpoint}: "
            "PyTorch comparison skipped (run `modgate train text`)",
            file=sys.stderr,
        )
    corpus = load_corpus()
    tokenizer = models[0].encoder.tokenizer
    single: dict[str, dict[str, Any]] = {}
    for n in TOKENS:
        text = text_of_tokens(tokenizer, corpus, n)
        texts = {
            label: text_of_tokens(own[label].encoder.tokenizer, corpus, n) if label in own else text
            for label in runners
        }
        single[str(n)] = interleaved(
            {label: (lambda fn=fn, t=texts[label]: fn([t])) for label, fn in runners.items()},
            rounds=args.rounds,
        )
    invariance = {
        label: batch_drift(fn, corpus[:256], args.batch)
        for label, fn in runners.items()
        if not label.startswith("PyTorch")
    }
    batched: dict[str, Any] = {}
    serving = TextModel.load(
        artifact / "model.onnx",
        name="text",
        onnx=OnnxSettings(intra_op_threads=1, inference_workers=2),
        metadata=metadata,
    )
    models.append(serving)
    pool = ThreadPoolExecutor(max_workers=2)

    def two_workers(texts: list[str], m: TextModel = serving) -> np.ndarray:
        half = (len(texts) + 1) // 2
        parts = pool.map(
            lambda part: m.score(part, batch_size=len(part) or 1), [texts[:half], texts[half:]]
        )
        return np.vstack(list(parts))

    throughput = {**runners, "modgate int8, 2 workers x 1 thread (serving config)": two_workers}
    elapsed = dict.fromkeys(throughput, 0.0)
    for fn in throughput.values():
        fn(corpus[:64])
    for start in range(0, len(corpus), args.batch):  # in turns, like the single-post timings
        for label, fn in throughput.items():
            t0 = time.perf_counter()
            fn(corpus[start : start + args.batch])
            elapsed[label] += time.perf_counter() - t0
    for label in throughput:
        batched[label] = {
            "posts_per_s": round(len(corpus) / elapsed[label], 1),
            "posts": len(corpus),
            "batch": args.batch,
        }
    pool.shutdown()
    for m in models:
        m.session.close()
    return {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_version": metadata["version"],
        "threads": 2,
        "single_post": single,
        "batched": batched,
        "batch_invariance": invariance,
    }


def batch_drift(
    fn: Callable[[list[str]], np.ndarray], texts: list[str], batch: int
) -> dict[str, float]:
    """Largest and mean |score alone − score inside a batch of ``batch`` mixed posts|."""
    alone = np.vstack([fn([t]) for t in texts])
    together = np.vstack([fn(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    diff = np.abs(alone - together)
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()), "posts": len(texts)}


def render(result: dict[str, Any]) -> str:
    labels = list(next(iter(result["single_post"].values())))
    base = "PyTorch (transformers)"
    lines = [
        "# Text model latency: modgate ONNX vs PyTorch (same weights, same run)",
        "",
        f"- Machine: {result['machine']}",
        f"- Date: {result['date']}; model `{result['model_version']}`; "
        f"{result['threads']} threads each",
        "- Single post: end to end (normalize, tokenize, model), measured in turns (each round "
        "runs every model once, in rotating order, so machine noise hits all alike), "
        "text of exactly N tokens incl. specials.",
        "",
        "| tokens | "
        + " | ".join(f"{lab} p50 / p99 (ms)" for lab in labels)
        + (" | speed-up int8 vs PyTorch (p50) |" if base in labels else " |"),
        "|---|" + "---|" * len(labels) + ("---|" if base in labels else ""),
    ]
    for n, row in result["single_post"].items():
        cells = [f"{row[lab]['median_ms']:.2f} / {row[lab]['p99_ms']:.2f}" for lab in labels]
        ratio = (
            f" | {row[base]['median_ms'] / row['modgate int8']['median_ms']:.1f}×"
            if base in row
            else ""
        )
        lines.append(f"| {n} | " + " | ".join(cells) + ratio + " |")
    if result.get("batch_invariance"):
        lines += [
            "",
            "| batch invariance (held-out posts alone vs in mixed batches) | max abs | mean abs |",
            "|---|---|---|",
        ]
        for lab, row in result["batch_invariance"].items():
            lines.append(
                f"| {lab} ({row['posts']} posts) | {row['max_abs']:.1e} | {row['mean_abs']:.1e} |"
            )
    lines += ["", "| batched (held-out texts) | posts/s | vs PyTorch |", "|---|---|---|"]
    b = result["batched"]
    for lab, row in b.items():
        ratio = f"{row['posts_per_s'] / b[base]['posts_per_s']:.1f}×" if base in b else "—"
        lines.append(
            f"| {lab} (batch {row['batch']}, {row['posts']} posts) "
            f"| {row['posts_per_s']:.0f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifact", type=Path, default=ROOT / "models" / "artifacts" / "text")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "build" / "text-checkpoint")
    parser.add_argument("--previous", type=Path, default=ROOT / "build" / "previous-text")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--label", default="cpu")
    args = parser.parse_args()
    result = run(args)
    md = render(result)
    write_results(RESULTS, f"text-{args.label}", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
