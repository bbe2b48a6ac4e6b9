"""From a trained checkpoint to a shipped text artifact: export, parity, int8, evaluation, card.

``build_text_artifact`` is what ``modgate export text`` runs (and ``modgate train text`` after
training): export fp32 ONNX and check parity against PyTorch on real held-out texts
(≤ 1e-4), quantize to int8 and measure its parity, evaluate both through the serving path
(``models.text.TextModel``) on the held-out splits, then write into ``out_dir``:
``model.onnx`` (the int8 model served by default), ``tokenizer.json``, ``metadata.json``,
``metrics.json`` and ``MODEL_CARD.md``. The fp32 graph is kept as ``model.fp32.onnx`` for
parity runs and GPU serving but is not committed (it is four times larger).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from export.text_onnx import check_text_parity, export_text_onnx
from export.text_quant import QUANTIZATION, quantize_per_token
from models.artifact import METADATA_FILE
from models.text import TOKENIZER_FILE, TextModel
from models.text_encoding import TextEncoder
from modgate.settings import OnnxSettings
from modgate.textnorm import normalize_text
from retrain.corpora.registry import eval_only_corpora
from retrain.text import TOKENIZER_FILE as CKPT_TOKENIZER
from retrain.text import TextTrainConfig, load_checkpoint, load_training_data
from retrain.text_card import render_text_card
from retrain.text_data import load_text_corpora, sample_per_source
from retrain.text_eval import (
    Thresholds,
    cross_domain,
    dev_policy,
    evaluate_text,
    policy_thresholds,
)

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
FP32_FILE = "model.fp32.onnx"
MODEL_FILE = "model.onnx"
# Rows scored per eval-only source (a seeded sample, stratified by label): enough for AUCs
# within about ±0.01, and the whole cross-domain pass stays within minutes on 2 cores.
CROSS_DOMAIN_ROWS = 6000


def _version(path: Path, init: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return f"text-{init}-{datetime.now(UTC):%Y%m%d}-{digest}"


def _write_metadata(
    out_dir: Path, record: dict[str, Any], version: str, max_tokens: int
) -> dict[str, Any]:
    metadata = {
        "kind": "text",
        "version": version,
        "categories": list(record["config"]["labels"]),
        "special_tokens": record["special_tokens"],
        "max_tokens": max_tokens,
        "inputs": ["input_ids", "attention_mask"],
        "output": "probabilities",
        "encoder": record["encoder"],
        "quantization": QUANTIZATION,
        "truncation": (
            "head+tail: first ceil(C/2), last floor(C/2) content tokens, C = max_tokens - 2"
        ),
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def build_text_artifact(
    checkpoint_dir: Path,
    out_dir: Path,
    *,
    data_dir: Path,
    policy_path: Path,
    max_tokens: int | None = None,
    evaluate: bool = True,
    variants: tuple[str, ...] = ("int8", "fp32"),
) -> dict[str, Any]:
    """Export + parity + int8 + held-out evaluation + model card; returns ``metrics.json``."""
    net, record = load_checkpoint(checkpoint_dir)
    config = TextTrainConfig(
        **{k: v for k, v in record["config"].items() if k in TextTrainConfig.__dataclass_fields__}
    )
    config = TextTrainConfig(**{**config.__dict__, "labels": tuple(config.labels)})
    max_tokens = max_tokens or config.serve_max_tokens
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint_dir / CKPT_TOKENIZER, out_dir / TOKENIZER_FILE)
    fp32, int8 = out_dir / FP32_FILE, out_dir / MODEL_FILE
    export_text_onnx(net, fp32)
    quantize_per_token(fp32, int8)
    data = load_training_data(data_dir, config, exclude=record.get("excluded_sources", ()))
    test = data.splits.test
    special = record["special_tokens"]
    encoder = TextEncoder.from_file(
        out_dir / TOKENIZER_FILE,
        bos=special["bos"],
        eos=special["eos"],
        pad=special["pad"],
        max_tokens=max_tokens,
    )
    rng = np.random.default_rng(config.seed)
    sample = [test[i] for i in rng.choice(len(test), size=min(256, len(test)), replace=False)]
    parity_texts = [normalize_text(ex.text).text for ex in sample]
    parity32 = check_text_parity(net, fp32, encoder, parity_texts, tolerance=PARITY_TOLERANCE)
    parity8 = check_text_parity(net, int8, encoder, parity_texts, tolerance=None)
    version = _version(int8, config.init)
    metadata = _write_metadata(out_dir, record, version, max_tokens)
    metrics: dict[str, Any] = {
        "version": version,
        "train": record,
        "parity": {
            "fp32_vs_torch": {
                "max_abs_diff": parity32.max_abs_diff,
                "mean_abs_diff": parity32.mean_abs_diff,
                "texts": parity32.rows,
            },
            "int8_vs_torch": {
                "max_abs_diff": parity8.max_abs_diff,
                "mean_abs_diff": parity8.mean_abs_diff,
                "texts": parity8.rows,
            },
        },
        "sizes_bytes": {
            "model.onnx (int8)": int8.stat().st_size,
            FP32_FILE: fp32.stat().st_size,
            TOKENIZER_FILE: (out_dir / TOKENIZER_FILE).stat().st_size,
        },
    }
    if evaluate:
        th = policy_thresholds(policy_path, config.labels)
        toxic = [ex.text for ex in test if ex.labels.get("toxicity") == 1]
        evasion_texts = [
            toxic[i] for i in rng.choice(len(toxic), size=min(400, len(toxic)), replace=False)
        ]
        results: dict[str, Any] = {}
        for label, path in (("int8", int8), ("fp32", fp32)):
            if label not in variants:
                continue
            model = TextModel.load(
                path, name="text", onnx=OnnxSettings(intra_op_threads=2), metadata=metadata
            )
            try:
                results[label] = evaluate_text(
                    model.score,
                    test,
                    config.labels,
                    th,
                    evasion_texts=evasion_texts,
                    seed=config.seed,
                )
                if label == "int8":
                    dev = data.splits.dev
                    dev_probs = model.score([ex.text for ex in dev])
                    metrics["dev_policy"] = dev_policy(dev, dev_probs, config.labels)
                    cross = sample_per_source(
                        load_text_corpora(data_dir, corpora=eval_only_corpora()),
                        max_per_source=CROSS_DOMAIN_ROWS,
                        seed=config.seed,
                    )
                    metrics["cross_domain"] = cross_domain(
                        cross, model.score([ex.text for ex in cross]), config.labels, th
                    )
            finally:
                model.session.close()
        metrics["heldout"] = results
        metrics["policy_thresholds"] = {"defer": dict(th.defer), "remove": dict(th.remove)}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(render_text_card(metrics, metadata))
    log.info("text artifact %s written to %s", version, out_dir)
    return metrics


__all__ = ["Thresholds", "build_text_artifact"]
