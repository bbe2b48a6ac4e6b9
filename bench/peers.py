"""Text-moderation peers side by side: quality and latency on the same held-out texts, one run.

``python -m bench.peers [--label cpu] [--quick]`` → ``bench/results/peers-<label>.{json,md}``

Contenders: **modgate int8** (the shipped ``models/artifacts/text/model.onnx`` through
``TextModel``), **modgate fp32** (``model.fp32.onnx`` where present), **PyTorch
(transformers)** (the same trained weights in the plain pipeline ``bench.text_latency`` builds,
from ``build/text-checkpoint``), and two off-the-shelf English peers run by
``bench/peer_worker.py`` in ``.venv-peers`` (``make peers-setup``): **hatesonar** 0.1.0 and
**alt-profanity-check** 1.9.1. Both peers were trained on the Davidson data, so every Davidson
row is left out: the texts are the shipped text model's other held-out test rows
(``bench.heldout``). Quality (ROC-AUC, PR-AUC, F1 at each contender's own threshold, via
``retrain.text_eval``) is reported on the English rows (mlma_en + functional_en, the peers'
language) and on all languages; latency is single-post end to end (median, p99) on a fixed
sample of English held-out texts, and batched posts/s at batch 32 on the English rows, with
ratios to modgate int8. Everything runs with 2 threads where the library lets us choose.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.peer_worker import batched
from bench.report import write_results
from bench.text_latency import machine, timings, torch_runner

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ARTIFACT = ROOT / "models" / "artifacts" / "text"
CHECKPOINT = ROOT / "build" / "text-checkpoint"
POLICY = ROOT / "configs" / "policy.yaml"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
LABELS = ("toxicity", "hate")
ENGLISH_SOURCES = ("mlma_en", "functional_en")
EXCLUDED_SOURCE = "davidson"
BASE = "modgate int8"
TORCH = "PyTorch (transformers)"
THREADS = 2
BATCH = 32
SEED = 0

Scorer = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Contender:
    """An in-process contender: ``score(texts)`` → ``float[n, len(labels)]`` as one batch."""

    name: str
    labels: tuple[str, ...]
    score: Scorer
    quality_batch: int
    thresholds: dict[str, float]


@dataclass(frozen=True, slots=True)
class Sample:
    rows: list[dict[str, Any]]
    english: list[str]
    latency: list[str]
    rounds: int


def draw_sample(*, quick: bool) -> Sample:
    """Non-Davidson held-out rows, their English texts, and a fixed English latency sample."""
    from bench.heldout import heldout_rows

    rows = [r for r in heldout_rows() if r["source"] != EXCLUDED_SOURCE]
    rng = np.random.default_rng(SEED)
    if quick:  # 150 English rows and 150 others
        groups = ([r for r in rows if (r["source"] in ENGLISH_SOURCES) == en] for en in (1, 0))
        rows = [g[i] for g in groups for i in sorted(rng.choice(len(g), 150, replace=False))]
    english = [str(r["text"]) for r in rows if r["source"] in ENGLISH_SOURCES]
    n_latency = 30 if quick else 300
    latency = [english[i] for i in rng.choice(len(english), n_latency, replace=False)]
    return Sample(rows=rows, english=english, latency=latency, rounds=max(n_latency, 30))


def modgate_contenders(metadata: dict[str, Any], notes: list[str]) -> list[Contender]:
    """modgate int8 / fp32 (ONNX Runtime, 2 intra-op threads) and PyTorch where present."""
    from models.text import TextModel
    from modgate.settings import OnnxSettings
    from retrain.text_eval import policy_thresholds

    defer = dict(policy_thresholds(POLICY, LABELS).defer)
    cols = [metadata["categories"].index(label) for label in LABELS]
    onnx = OnnxSettings(intra_op_threads=THREADS, inference_workers=1)
    out = []
    for name, file in ((BASE, "model.onnx"), ("modgate fp32", "model.fp32.onnx")):
        if not (ARTIFACT / file).is_file():
            notes.append(
                f"{name}: no {file} in {ARTIFACT.relative_to(ROOT)} (not committed; "
                "`make train-text` writes it), row skipped."
            )
            continue
        model = TextModel.load(ARTIFACT / file, name="text", onnx=onnx, metadata=metadata)

        def score(texts: Sequence[str], m: TextModel = model) -> np.ndarray:
            return m.score(texts, batch_size=len(texts) or 1)[:, cols]

        out.append(Contender(name, LABELS, score, 1, defer))
    if (CHECKPOINT / "weights.pt").is_file():
        tokenizer, special = ARTIFACT / "tokenizer.json", metadata["special_tokens"]
        run = torch_runner(CHECKPOINT, tokenizer, special, metadata["max_tokens"])
        out.append(Contender(TORCH, LABELS, lambda texts: run(list(texts))[:, cols], BATCH, defer))
    else:
        notes.append(
            f"{TORCH}: no training checkpoint at {CHECKPOINT.relative_to(ROOT)} "
            "(run `make train-text`), row skipped."
        )
    return out


def score_all(c: Contender, texts: Sequence[str]) -> np.ndarray:
    """Scores for every text, ``c.quality_batch`` at a time (batches of similar length)."""
    out = np.zeros((len(texts), len(c.labels)), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), c.quality_batch):
        idx = order[start : start + c.quality_batch]
        out[idx] = c.score([texts[i] for i in idx])
    return out


def measure(c: Contender, sample: Sample) -> dict[str, Any]:
    cycle, t0 = itertools.cycle(sample.latency), time.perf_counter()
    out = {
        "labels": list(c.labels),
        "thresholds": c.thresholds,
        "threshold_source": "policy DEFER",
        "single_post": timings(lambda: c.score([next(cycle)]), rounds=sample.rounds),
        "batched": batched(c.score, sample.english, BATCH),
        "scores": score_all(c, [str(r["text"]) for r in sample.rows]),
    }
    return {**out, "elapsed_s": round(time.perf_counter() - t0, 1)}


def run_peers(sample: Sample) -> dict[str, Any]:
    """Score and time the peers in ``.venv-peers`` (``bench/peer_worker.py``)."""
    request = {
        "texts": [r["text"] for r in sample.rows],
        "latency_texts": sample.latency,
        "throughput_texts": sample.english,
        "rounds": sample.rounds,
        "batch_size": BATCH,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "OPENBLAS_NUM_THREADS": str(THREADS)}
    cmd = [str(PEERS_PYTHON), "-m", "bench.peer_worker"]  # from ROOT: it shares bench's timer
    proc = subprocess.run(
        cmd,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench/peer_worker.py failed ({proc.returncode}):\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    for peer in result["peers"].values():
        peer["scores"] = np.asarray(peer["scores"], dtype=np.float32)
        peer["thresholds"] = dict.fromkeys(peer["labels"], 0.5)
        peer["threshold_source"] = "default"
    return result


def label_quality(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from retrain.text_eval import label_metrics

    m = label_metrics(y, p, remove_at=1.01)
    keep: dict[str, Any] = {
        k: m[k] for k in ("n", "positives", "roc_auc", "pr_auc", "f1_at_0.5") if k in m
    }
    f1 = f1_score(y, p >= threshold, zero_division=0)
    return {**keep, "threshold": threshold, "f1_at_threshold": round(float(f1), 4)}


def quality(
    rows: Sequence[dict[str, Any]], idx: Sequence[int], contenders: dict[str, Any]
) -> dict[str, Any]:
    """Per contender and label over ``rows[idx]`` (rows whose label is unknown are skipped)."""
    out: dict[str, Any] = {"n": len(idx)}
    for name, c in contenders.items():
        out[name] = {}
        for j, label in enumerate(c["labels"]):
            known = [i for i in idx if rows[i][label] is not None]
            if known:
                y = np.array([rows[i][label] for i in known], dtype=np.int64)
                m = label_quality(y, c["scores"][known, j], c["thresholds"][label])
                out[name][label] = {**m, "threshold_source": c["threshold_source"]}
    base = out.get(BASE, {})
    for name in contenders:
        for label, m in out[name].items():
            ref = base.get(label, {}).get("roc_auc")
            if ref is not None and m.get("roc_auc") is not None:
                m["roc_auc_delta_vs_int8"] = round(m["roc_auc"] - ref, 4)
    return out


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    """Single-post p50 / p99 and batched posts/s of each contender ÷ modgate int8's."""
    base = result["contenders"].get(BASE)
    keys = [("p50", "single_post", "median_ms"), ("p99", "single_post", "p99_ms")]
    keys.append(("posts_per_s", "batched", "posts_per_s"))
    return {
        name: {f"{k}_vs_int8": round(c[part][f] / base[part][f], 3) for k, part, f in keys}
        for name, c in result["contenders"].items()
        if base is not None
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not PEERS_PYTHON.is_file():
        raise SystemExit(
            f"{PEERS_PYTHON.relative_to(ROOT)} not found: the peers run in their own venv. "
            "Create it with `make peers-setup`, then run this again."
        )
    t0 = time.perf_counter()
    metadata = json.loads((ARTIFACT / "metadata.json").read_text())
    sample = draw_sample(quick=args.quick)
    notes: list[str] = []
    contenders: dict[str, Any] = {}
    for c in modgate_contenders(metadata, notes):
        contenders[c.name] = measure(c, sample)
    peers = run_peers(sample)
    contenders.update(peers["peers"])
    rows = sample.rows
    english = [i for i, r in enumerate(rows) if r["source"] in ENGLISH_SOURCES]
    by_language: dict[str, list[int]] = {}
    for i, r in sorted(enumerate(rows), key=lambda ir: str(ir[1]["language"])):
        by_language.setdefault(str(r["language"]), []).append(i)
    result: dict[str, Any] = {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_version": metadata["version"],
        "peer_versions": peers["versions"],
        "threads": THREADS,
        "quick": args.quick,
        "excluded_source": EXCLUDED_SOURCE,
        "n_texts": len(rows),
        "n_english": len(english),
        "n_latency_texts": len(sample.latency),
        "rounds": sample.rounds,
        "sample_seed": SEED,
        "quality": {
            "english": quality(rows, english, contenders),
            "all_languages": quality(rows, range(len(rows)), contenders),
            "by_language": {k: quality(rows, v, contenders) for k, v in by_language.items()},
        },
        "contenders": {
            name: {k: v for k, v in c.items() if k != "scores"} for name, c in contenders.items()
        },
        "notes": notes,
    }
    result["latency_ratios"] = ratios(result)
    result["runtime_s"] = round(time.perf_counter() - t0, 1)
    return result


def _f(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def quality_table(q: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | label | n (positives) | ROC-AUC | PR-AUC | F1 @ threshold "
        "| ROC-AUC Δ vs int8 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, labels in q.items():
        if name == "n":
            continue
        for label, m in labels.items():
            delta = m.get("roc_auc_delta_vs_int8")
            delta = None if delta is None else round(delta, 3) + 0.0  # no "-0.000"
            lines.append(
                f"| {name} | {label} | {m['n']} ({m['positives']}) | {_f(m.get('roc_auc'))} "
                f"| {_f(m.get('pr_auc'))} | {_f(m['f1_at_threshold'])} @ {m['threshold']:.2f} "
                f"({m['threshold_source']}) | {'—' if name == BASE else _f(delta, '+.3f')} |"
            )
    return lines


def language_table(by_language: dict[str, Any], names: Sequence[str]) -> list[str]:
    lines = [
        "| language | n (toxicity known) | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for lang, q in by_language.items():
        tox = {n: q[n].get("toxicity", {}) for n in names}
        n = next((m["n"] for m in tox.values() if m), 0)
        cells = [_f(tox[name].get("roc_auc")) for name in names]
        lines.append(f"| {lang} | {n} | " + " | ".join(cells) + " |")
    return lines


def latency_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| contender | single post p50 (ms) | p99 (ms) | p50 ÷ int8 p50 | p99 ÷ int8 p99 "
        f"| batch {BATCH} posts/s | posts/s ÷ int8 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    r = result["latency_ratios"]
    for name, c in result["contenders"].items():
        s, b, x = c["single_post"], c["batched"], r.get(name, {})
        lines.append(
            f"| {name} | {s['median_ms']:.2f} | {s['p99_ms']:.2f} "
            f"| {_f(x.get('p50_vs_int8'), '.2f')}× | {_f(x.get('p99_vs_int8'), '.2f')}× "
            f"| {b['posts_per_s']:.0f} | {_f(x.get('posts_per_s_vs_int8'), '.2f')}× |"
        )
    words = [f"{n} {x['p50_vs_int8']:.2f}×" for n, x in r.items() if n != BASE]
    return [*lines, "", f"Single-post p50 as a multiple of modgate int8's: {'; '.join(words)}."]


def render(result: dict[str, Any]) -> str:
    names = list(result["contenders"])
    v = result["peer_versions"]
    lines = [
        "# Text moderation: modgate vs PyTorch vs off-the-shelf peers (same texts, same run)",
        "",
        f"- Machine: {result['machine']}",
        f"- Date: {result['date']}; modgate model `{result['model_version']}`"
        + ("; **quick smoke run (small samples)**" if result["quick"] else ""),
        f"- Peers: hatesonar {v['hatesonar']}, alt-profanity-check {v['alt-profanity-check']} "
        f"(scikit-learn {v['scikit-learn']}, onnxruntime {v['onnxruntime']}), in `.venv-peers`",
        f"- Texts: {result['n_texts']} held-out test rows of the shipped text model, every "
        f"source but `{result['excluded_source']}` ({result['n_english']} English); "
        f"{result['threads']} threads where configurable",
        "",
        f"## Quality: English held-out ({' + '.join(ENGLISH_SOURCES)})",
        "",
        *quality_table(result["quality"]["english"]),
        "",
        "## Quality: all languages (non-Davidson held-out)",
        "",
        *quality_table(result["quality"]["all_languages"]),
        "",
        "Toxicity ROC-AUC by language (the peers are English-only):",
        "",
        *language_table(result["quality"]["by_language"], names),
        "",
        "## Latency",
        "",
        f"Single post: end to end (text in → probabilities out), {result['rounds']} calls (after "
        f"10 warm-up) cycling through {result['n_latency_texts']} English held-out texts (seed "
        f"{result['sample_seed']}). Batched: the {result['n_english']} English held-out texts, "
        f"batch {BATCH}. Ratios: ÷ modgate int8 (latency > 1: slower; posts/s > 1: faster).",
        "",
        *latency_table(result),
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in NOTES + result["notes"]),
        f"- Whole run: {result['runtime_s']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


NOTES = [
    "modgate int8 / fp32: `TextModel` (modgate normalization, Rust tokenizer, head+tail "
    "truncation to 128 tokens, ONNX Runtime, 2 intra-op threads), scored one post per call as "
    "serving does (the int8 model is batch-invariant, so this is for like-for-like latency).",
    "PyTorch (transformers): the same trained weights from `build/text-checkpoint` in eager "
    "PyTorch behind a `PreTrainedTokenizerFast` (plain head truncation, no modgate "
    "normalization), exactly as `bench.text_latency` builds it; quality scored in batches of "
    f"{BATCH} (fp32 scores do not depend on the batch). modgate and PyTorch F1 use the policy's "
    "DEFER thresholds (`configs/policy.yaml`; F1 at 0.5 is in the JSON); the peers use 0.5.",
    "hatesonar 0.1.0: its shipped ONNX graph (TF-IDF over ASCII word tokens + logistic "
    "regression, trained only on Davidson) with the StringNormalizer locale patched to C.UTF-8; "
    "toxicity = 1 − P(neither), hate = P(hate).",
    "alt-profanity-check 1.9.1: scikit-learn TF-IDF + calibrated linear SVM (Davidson + "
    "Wikipedia toxic comments), `predict_prob` = P(offensive), toxicity only; scikit-learn "
    "runs single-threaded.",
    "Davidson rows are excluded everywhere: both peers were trained on that data set.",
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="cpu")
    parser.add_argument("--quick", action="store_true", help="small samples: a smoke run")
    args = parser.parse_args()
    result = run(args)
    md = render(result)
    stem = f"peers-{args.label}" + ("-quick" if args.quick else "")
    write_results(RESULTS, stem, result, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
