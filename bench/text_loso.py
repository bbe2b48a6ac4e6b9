"""Leave-one-source-out and capacity runs for the text model: how it does on a corpus it never saw.

``python -m bench.text_loso [--hold-out davidson --hold-out cold ...] [--scale 0.25]
[--capacity] [--test-rows 2000] [--cross 1000]``

A test split drawn from the training distribution flatters a model (the same platform, era,
annotators and label habits). Here each run trains the shipped recipe — same corpora caps
scaled by ``--scale``, same seed, fewer steps — once with every training corpus (the
reference) and once without each ``--hold-out`` corpus family, then scores that family's
test split (up to ``--test-rows`` rows per source) in PyTorch:

* ``in-domain`` — the reference model, which trained on the family's train split;
* ``held out`` — the model that never saw a row of the family.

The gap is what a new platform's posts cost. ``--capacity`` adds a 12-layer reference at the
same budget, compared with the 6-layer one on those test rows, on ``--cross`` rows of each
``eval_only`` set (never trained on by either) and by single-post latency. Results (ROC-AUC
per label, the budget, the machine) go to ``bench/results/text-loso.{json,md}``. Thresholds
and calibration do not enter: ROC-AUC is computed on raw logits (runs skip calibration).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import write_results
from bench.text_latency import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_HOLD_OUT = ("davidson", "hatexplain", "convabuse", "cold", "told_br")


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None


def _scores(checkpoint: Path, test: list[Any]) -> dict[str, dict[str, Any]]:
    """ROC-AUC per source and label of ``test`` under the checkpoint's network."""
    from models.text_encoding import TextEncoder
    from modgate.textnorm import normalize_text
    from retrain.text import encode_texts, load_checkpoint, predict_logits

    net, record = load_checkpoint(checkpoint)
    special = record["special_tokens"]
    encoder = TextEncoder.from_file(
        checkpoint / "tokenizer.json",
        bos=special["bos"],
        eos=special["eos"],
        pad=special["pad"],
        max_tokens=record["config"]["serve_max_tokens"],
    )
    rows = encode_texts(encoder, [normalize_text(ex.text).text for ex in test])
    logits = predict_logits(net, encoder, rows)
    labels = record["config"]["labels"]
    out: dict[str, dict[str, Any]] = {}
    for source in sorted({ex.source for ex in test}):
        idx = [i for i, ex in enumerate(test) if ex.source == source]
        per: dict[str, Any] = {"n": len(idx)}
        for j, label in enumerate(labels):
            known = [i for i in idx if test[i].labels.get(label) is not None]
            y = np.array([test[i].labels[label] for i in known])
            if known:
                per[label] = _auc(y, logits[known, j])
        out[source] = per
    return out


def _latency(checkpoints: dict[str, Path], tokens: int = 64, rounds: int = 200) -> dict[str, float]:
    """Median single-post PyTorch forward time (ms) at ``tokens`` tokens of each checkpoint's
    network, measured in turns (every round runs each once, in rotating order) so that load
    on the machine hits them alike: the relative cost of an encoder size."""
    import statistics
    import time

    import torch

    from retrain.text import load_checkpoint

    nets = {name: load_checkpoint(path)[0].eval() for name, path in checkpoints.items()}
    ids, mask = (
        torch.full((1, tokens), 5, dtype=torch.long),
        torch.ones((1, tokens), dtype=torch.long),
    )
    samples: dict[str, list[float]] = {name: [] for name in nets}
    names = list(nets)
    with torch.no_grad():
        for r in range(rounds + 10):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                t0 = time.perf_counter()
                nets[name](ids, mask)
                if r >= 10:
                    samples[name].append((time.perf_counter() - t0) * 1000.0)
    return {name: round(statistics.median(v), 2) for name, v in samples.items()}


def _run_dir(tmp: Path, name: str) -> Path:
    return tmp / name.replace(" ", "_").replace(",", "")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from modgate.settings import TrainSettings
    from retrain.corpora.registry import training_corpora
    from retrain.text import (
        DEFAULT_CAPS,
        TextTrainConfig,
        load_training_data,
        train_text_checkpoint,
    )
    from retrain.text_data import load_text_corpora, sample_per_source

    data_dir = TrainSettings().data_dir
    caps = {k: max(50, int(v * args.scale)) for k, v in DEFAULT_CAPS.items()}
    base = TextTrainConfig(caps=caps, epochs=args.epochs, seed=args.seed)
    families = {c.family: tuple(c.sources) for c in training_corpora()}
    unknown = set(args.hold_out) - set(families)
    if unknown:
        raise SystemExit(f"unknown corpus families {sorted(unknown)}; known: {sorted(families)}")
    test = load_training_data(data_dir, base).splits.test
    wanted = {s for family in args.hold_out for s in families[family]}
    test = [ex for ex in test if ex.source in wanted]
    if args.test_rows:  # ROC-AUC is well estimated on a few thousand rows per source
        test = sample_per_source(test, max_per_source=args.test_rows, seed=args.seed)
    cross: list[Any] = []
    if args.cross:  # sets no run trains on: how the reference recipes generalize
        from retrain.corpora.registry import eval_only_corpora

        every = load_text_corpora(data_dir, corpora=eval_only_corpora())
        cross = sample_per_source(every, max_per_source=args.cross, seed=args.seed)
    runs: dict[str, Any] = {}
    plan: list[tuple[str, TextTrainConfig, tuple[str, ...]]] = [("reference", base, ())]
    plan += [(f"without {family}", base, (family,)) for family in args.hold_out]
    if args.capacity:
        plan.append(("reference, 12 layers", replace(base, layers="0-11"), ()))
    with tempfile.TemporaryDirectory() as tmp:
        for name, config, exclude in plan:
            checkpoint = _run_dir(Path(tmp), name)
            record = train_text_checkpoint(
                data_dir, checkpoint, config, exclude=exclude, calibrate=False
            )
            runs[name] = {
                "excluded": list(exclude),
                "layers": config.layers,
                "train_rows": record["train_rows"],
                "steps": record["steps"],
                "train_seconds": record["train_seconds"],
                "auc": _scores(checkpoint, test),
            }
            if cross and not exclude:
                runs[name]["cross_auc"] = _scores(checkpoint, cross)
            print(json.dumps({name: runs[name]["auc"]}), flush=True)
        if args.capacity:
            references = [name for name, _, exclude in plan if not exclude]
            latency = _latency({name: _run_dir(Path(tmp), name) for name in references})
            for name, ms in latency.items():
                runs[name]["latency_ms_64_tokens"] = ms
    return {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "budget": {"scale": args.scale, "epochs": args.epochs, "caps": caps, "seed": args.seed},
        "test_rows_per_source": args.test_rows,
        "cross_rows_per_source": args.cross,
        "hold_out": {family: list(families[family]) for family in args.hold_out},
        "runs": runs,
    }


def render(result: dict[str, Any]) -> str:
    runs = result["runs"]
    ref = runs["reference"]["auc"]
    steps = ", ".join(f"{name} {run['steps']}" for name, run in runs.items())
    lines = [
        "# Text model: leave one source out (test splits, ROC-AUC on raw logits)",
        "",
        f"- Machine: {result['machine']}; date {result['date']}",
        f"- Budget per run: caps x {result['budget']['scale']}, "
        f"{result['budget']['epochs']} epoch(s), seed {result['budget']['seed']} "
        f"(steps: {steps})",
        '- A test split is drawn from the sources a run trains on; "never seen" is the same '
        "split scored by a run trained without that corpus family.",
        "",
        "| held-out corpus | source | label | n known | in-domain (reference) | never seen "
        "(without it) | change |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, sources in result["hold_out"].items():
        loso = runs[f"without {family}"]["auc"]
        for source in sources:
            for label, value in ref.get(source, {}).items():
                if label == "n" or value is None:
                    continue
                held = loso.get(source, {}).get(label)
                delta = f"{held - value:+.3f}" if held is not None else "—"
                lines.append(
                    f"| {family} | {source} | {label} | {ref[source]['n']} | {value:.3f} | "
                    f"{'—' if held is None else f'{held:.3f}'} | {delta} |"
                )
    if "reference, 12 layers" in runs:
        big = runs["reference, 12 layers"]
        lines += [
            "",
            "Capacity at the same budget (6 vs 12 layers of e5, same rows and steps); "
            "`eval_only:` rows are sets neither run trained on:",
            "",
            "| set | label | 6 layers | 12 layers |",
            "|---|---|---|---|",
        ]
        for key, prefix in (("auc", ""), ("cross_auc", "eval_only: ")):
            for source, per in runs["reference"].get(key, {}).items():
                for label, value in per.items():
                    other = big.get(key, {}).get(source, {}).get(label)
                    if label == "n" or value is None or other is None:
                        continue
                    lines.append(f"| {prefix}{source} | {label} | {value:.3f} | {other:.3f} |")
        small_ms = runs["reference"]["latency_ms_64_tokens"]
        big_ms = big["latency_ms_64_tokens"]
        lines.append(
            f"| single post, 64 tokens (PyTorch, ms, median) | — | {small_ms:.2f} | {big_ms:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hold-out", action="append", default=None)
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--capacity", action="store_true", help="add a 12-layer reference run")
    parser.add_argument("--label", default="loso")
    parser.add_argument(
        "--cross", type=int, default=1000, help="eval_only rows per source (0: none)"
    )
    parser.add_argument(
        "--test-rows", type=int, default=2000, help="test rows per held-out source (0: all)"
    )
    args = parser.parse_args()
    args.hold_out = tuple(args.hold_out or DEFAULT_HOLD_OUT)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    result = run(args)
    md = render(result)
    write_results(RESULTS, f"text-{args.label}", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
