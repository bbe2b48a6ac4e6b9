"""Off-the-shelf text-moderation peers, scored and timed in their own venv for ``bench.peers``.

``.venv-peers/bin/python -m bench.peer_worker < request.json > result.json`` (repository root)

The peers pin library versions modgate does not use (alt-profanity-check pins scikit-learn and
joblib exactly), so they live in ``.venv-peers`` (``make peers-setup``) and this script imports
only the standard library, the peer packages, onnx, onnxruntime, numpy and the stdlib-only
timer of ``bench.text_latency`` — never modgate.

* **hatesonar** 0.1.0 — its shipped ``hatesonar/model/model.onnx`` (TF-IDF + logistic
  regression, trained on the Davidson data) in ONNX Runtime with 2 intra-op threads. The graph's
  StringNormalizer asks for the ``en_US.UTF-8`` locale, absent on slim machines, so the node
  gets ``locale="C.UTF-8"`` before the session is built. Outputs P(hate), P(offensive),
  P(neither): toxicity = 1 − P(neither), hate = P(hate).
* **alt-profanity-check** 1.9.1 — its public ``predict_prob`` (scikit-learn TF-IDF + calibrated
  linear SVM, single-threaded): P(offensive) → toxicity only.

Request (JSON on stdin): ``{"texts": [...], "latency_texts": [...], "throughput_texts": [...],
"rounds": N, "batch_size": 32}`` (``throughput_texts`` defaults to ``texts``). Result (JSON on
stdout): package versions and, per peer, its labels, scores for every text (batched: the
peers' scores do not depend on batch composition), single-post latency over ``rounds`` calls
cycling through ``latency_texts`` after a warm-up, and batched posts/s, timed by
``bench.text_latency.timings``, which measures the modgate side too; ``bench.peers`` runs
this script with ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` set to 2, and imports
``batched`` from here (module import has no side effects and needs only numpy) so both sides
measure throughput with the same code.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.text_latency import timings

Scorer = Callable[[Sequence[str]], np.ndarray]
THREADS = 2
PACKAGES = (
    "hatesonar",
    "alt-profanity-check",
    "scikit-learn",
    "joblib",
    "onnx",
    "onnxruntime",
    "numpy",
)


def hatesonar_scorer() -> Scorer:
    """The shipped hatesonar graph with the locale patch; texts → [toxicity, hate]."""
    import hatesonar  # type: ignore[import-not-found]
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(Path(hatesonar.__file__).parent / "model" / "model.onnx"))
    nodes = [n for n in model.graph.node if n.op_type == "StringNormalizer"]
    if not nodes:
        raise RuntimeError("hatesonar model has no StringNormalizer node to patch")
    for node in nodes:
        kept = [a for a in node.attribute if a.name != "locale"]
        del node.attribute[:]
        node.attribute.extend([*kept, onnx.helper.make_attribute("locale", "C.UTF-8")])
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def score(texts: Sequence[str]) -> np.ndarray:
        (probs,) = session.run(["output_probability"], {"text": np.array(texts, dtype=object)})
        p = np.array([[row[0], row[1], row[2]] for row in probs], dtype=np.float32)
        return np.stack([1.0 - p[:, 2], p[:, 0]], axis=1)

    return score


def profanity_check_scorer() -> Scorer:
    """alt-profanity-check's ``predict_prob``; texts → [toxicity]."""
    from profanity_check import predict_prob  # type: ignore[import-not-found]

    def score(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(predict_prob(list(texts)), dtype=np.float32).reshape(-1, 1)

    return score


PEERS: dict[str, tuple[tuple[str, ...], Callable[[], Scorer]]] = {
    "hatesonar": (("toxicity", "hate"), hatesonar_scorer),
    "alt-profanity-check": (("toxicity",), profanity_check_scorer),
}


def single_post(score: Scorer, texts: Sequence[str], rounds: int) -> dict[str, float]:
    """One text per call, cycling through ``texts`` (the warm-up takes the first ones)."""
    cycle = itertools.cycle(texts)
    return timings(lambda: score([next(cycle)]), rounds=rounds)


def batched(score: Scorer, texts: Sequence[str], batch: int) -> dict[str, Any]:
    """Posts/s scoring ``texts`` in consecutive batches of ``batch`` (after one warm-up batch)."""
    score(texts[:batch])
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        score(texts[start : start + batch])
    elapsed = time.perf_counter() - t0
    return {"posts_per_s": round(len(texts) / elapsed, 1), "posts": len(texts), "batch": batch}


def scores(score: Scorer, texts: Sequence[str], batch: int) -> list[list[float]]:
    out = [score(texts[start : start + batch]) for start in range(0, len(texts), batch)]
    return [[round(float(x), 6) for x in row] for row in np.vstack(out)] if out else []


def versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}


def run(request: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = request["texts"]
    latency_texts: list[str] = request["latency_texts"]
    throughput_texts: list[str] = request.get("throughput_texts") or texts
    rounds = int(request["rounds"])
    batch = int(request.get("batch_size", 32))
    peers: dict[str, Any] = {}
    for name, (labels, build) in PEERS.items():
        t0 = time.perf_counter()
        score = build()
        load_s = time.perf_counter() - t0
        peers[name] = {
            "labels": list(labels),
            "load_s": round(load_s, 3),
            "single_post": single_post(score, latency_texts, rounds),
            "batched": batched(score, throughput_texts, batch),
            "scores": scores(score, texts, batch),
            "elapsed_s": round(time.perf_counter() - t0, 1),
        }
    return {"versions": versions(), "threads": THREADS, "peers": peers}


def main() -> int:
    json.dump(run(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
