"""Training job for the text classifier: corpora + functional cases → fine-tuned transformer.

``train_text_checkpoint`` is the part the weekly retraining reuses: it reads the labelled
training corpora (``retrain.corpora``: public data sets whose licence allows training, plus our
own English functional and harm cases), normalizes every text with ``modgate.textnorm`` (the same
function serving applies), tokenizes with ``models.text_encoding`` (the same code serving
runs), fine-tunes an encoder (``retrain.text_model``) with a masked multi-label BCE loss
(a label a source cannot tell us is masked out, not counted as 0), then fits a
class-balanced per-label calibration on the dev split and saves a checkpoint directory:
``weights.pt``, ``tokenizer.json`` and ``train.json`` (config, data counts, timings).
Export, evaluation and the model card live in ``export.text_onnx`` and ``retrain.text_eval``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from export.text_net import TextClassifierNet
from models.text_encoding import TextEncoder
from modgate.textnorm import normalize_text
from retrain.errors import RetrainError
from retrain.hard_negatives import hard_negative_ids
from retrain.text_data import (
    LABELS,
    TRAIN_SOURCES,
    TextExample,
    TextSplits,
    label_matrix,
    load_text_corpora,
    sample_per_source,
    split_text_corpora,
)
from retrain.text_model import EncoderStart, bert_encoder, start_encoder

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.pt"
TOKENIZER_FILE = "tokenizer.json"
TRAIN_FILE = "train.json"

# Training rows per source (after the split). Real posts dominate; templated cases (MHC, ours)
# are capped so they cannot set the style; positive-only sets (toxic_spans, bengali_hate) are
# capped lower so "looks like that corpus" cannot stand in for "is toxic".
DEFAULT_CAPS: dict[str, int] = {
    "davidson": 6000,
    "germeval2018": 4000,
    "mlma": 1500,
    "mhc": 1200,
    "functional_en": 2500,
    "harm_en": 3000,
    "toxic_spans": 3500,
    "convabuse": 2500,
    "hatexplain": 6000,
    "stormfront": 3000,
    "ethos": 1000,
    "toxigen_seeds": 1000,
    "cold_zh": 6000,
    "told_br": 5000,
    "korean_hate_speech": 2500,
    "kmhas": 3500,
    "apeach": 1500,
    "bengali_hate": 1000,
    "jigsaw_es": 1500,
    "jigsaw_it": 1500,
    "jigsaw_tr": 1500,
}


@dataclass(frozen=True)
class TextTrainConfig:
    """Everything that determines a training run (recorded in ``train.json``)."""

    init: str = "e5"
    layers: str = "0-5"
    max_pieces: int = 60000
    labels: tuple[str, ...] = LABELS
    train_max_tokens: int = 64
    serve_max_tokens: int = 128
    batch_size: int = 32
    epochs: float = 1.5
    lr: float = 6e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_share: float = 0.06
    vocab_eval_texts: bool = True
    freeze_word_embeddings: bool = True
    hard_negative_weight: float = 1.5
    caps: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    cap_all: int | None = None
    seed: int = 20261121
    threads: int = 0


@dataclass(frozen=True)
class TextData:
    """The split training corpora and the (capped) rows training actually uses."""

    splits: TextSplits
    train: list[TextExample]
    hard_negatives: frozenset[str] = frozenset()


def load_training_data(
    data_dir: Path, config: TextTrainConfig, *, exclude: Sequence[str] = ()
) -> TextData:
    """Training corpora split by group, train rows capped per source.

    ``exclude`` drops whole sources or families from training (not from dev/test): the
    leave-one-source-out runs train without a corpus and test on all of it. Lexical hard
    negatives (``retrain.hard_negatives``) are kept past the per-source caps (not past
    ``cap_all``).
    """
    splits = split_text_corpora(load_text_corpora(data_dir), seed=config.seed)
    caps: dict[str, int] | int = config.cap_all if config.cap_all is not None else config.caps
    rows = [ex for ex in splits.train if not _excluded(ex.source, exclude)]
    capped = {ex.row_id for ex in sample_per_source(rows, max_per_source=caps, seed=config.seed)}
    hard = hard_negative_ids(rows) if config.hard_negative_weight > 0 else set()
    if config.cap_all is not None:  # a small run (tests, smoke) stays small: weighed, not added
        hard &= capped
    train = [ex for ex in rows if ex.row_id in capped or ex.row_id in hard]
    leaked = {ex.source for ex in train} - set(TRAIN_SOURCES)
    if leaked:  # the registry cannot produce these; a guard against future edits
        raise RetrainError(f"sources not licensed for training in the train set: {sorted(leaked)}")
    return TextData(splits=splits, train=train, hard_negatives=frozenset(hard))


def _excluded(source: str, exclude: Sequence[str]) -> bool:
    return source in exclude or any(source.startswith(f"{name}_") for name in exclude)


def vocabulary_texts(data: TextData, config: TextTrainConfig) -> list[str]:
    """Texts the pruned vocabulary must cover: training rows, plus (text only, never labels)
    the dev/test rows of the training corpora, so every language we train or test keeps its
    pieces. The eval_only sets never feed any part of training, the vocabulary included."""
    texts = [ex.text for ex in data.train]
    if config.vocab_eval_texts:
        texts += [ex.text for ex in data.splits.dev + data.splits.test]
    return [normalize_text(text).text for text in texts]


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within windows of 50 batches)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def encode_texts(encoder: TextEncoder, texts: Sequence[str]) -> list[list[int]]:
    """Token rows for normalized texts (the serving tokenizer path)."""
    rows: list[list[int]] = []
    for start in range(0, len(texts), 1024):
        part, _ = encoder.token_ids(texts[start : start + 1024])
        rows.extend(part)
    return rows


def _tensor_batch(
    encoder: TextEncoder, rows: Sequence[Sequence[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    batch = encoder.pad(rows, [False] * len(rows))
    return torch.from_numpy(batch.input_ids.copy()), torch.from_numpy(batch.attention_mask.copy())


def predict_logits(
    net: TextClassifierNet,
    encoder: TextEncoder,
    rows: Sequence[Sequence[int]],
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """Raw (calibrated) logits for token rows, in order, batched by length."""
    net.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = np.zeros((len(rows), net.head.out_features), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = _tensor_batch(encoder, [rows[i] for i in idx])
            out[idx] = net(ids, mask).numpy()
    return out


def fit_calibration(
    logits: np.ndarray, y: np.ndarray, m: np.ndarray
) -> tuple[list[float], list[float]]:
    """Per-label class-balanced Platt scaling (scale, bias) on dev logits."""
    scales, biases = [], []
    for j in range(logits.shape[1]):
        known = m[:, j] > 0
        x, t = logits[known, j : j + 1], y[known, j]
        if len(np.unique(t)) < 2:
            scales.append(1.0)
            biases.append(0.0)
            continue
        lr = LogisticRegression(C=1e4, class_weight="balanced").fit(x, t)
        scales.append(float(lr.coef_[0, 0]))
        biases.append(float(lr.intercept_[0]))
    return scales, biases


def _special_id(start: EncoderStart, token: str) -> int:
    found = start.tokenizer.token_to_id(token)
    if found is None:
        raise RetrainError(f"special token {token!r} is not in the tokenizer's vocabulary")
    return int(found)


def fit(
    net: TextClassifierNet,
    encoder: TextEncoder,
    rows: Sequence[Sequence[int]],
    y: np.ndarray,
    m: np.ndarray,
    *,
    config: TextTrainConfig,
    started: float,
    row_weights: np.ndarray | None = None,
) -> int:
    """The optimisation loop: masked, class-weighted BCE (rows weighed by ``row_weights``,
    default 1); AdamW; linear warmup and decay."""
    rng = random.Random(config.seed)
    pos = (y * m).sum(0)
    neg = ((1 - y) * m).sum(0)
    pos_weight = torch.tensor(np.clip(neg / np.maximum(pos, 1), 0.2, 10.0), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    if config.freeze_word_embeddings:
        # The pretrained multilingual embedding table stays as it is: languages and pieces
        # training never sees keep their alignment (and a third of the step time is saved).
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in net.encoder.parameters() if p.requires_grad], "lr": config.lr},
            {"params": list(net.head.parameters()), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    per_epoch = _batches([len(r) for r in rows], config.batch_size, rng)
    steps = max(1, math.ceil(len(per_epoch) * config.epochs))
    schedule = [per_epoch[i % len(per_epoch)] for i in range(steps)]
    warmup = max(1, int(steps * config.warmup_share))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    net.train()
    running = 0.0
    for step, idx in enumerate(schedule):
        ids, mask = _tensor_batch(encoder, [rows[i] for i in idx])
        logits = net(ids, mask)
        target, known = torch.from_numpy(y[idx]), torch.from_numpy(m[idx])
        if row_weights is not None:
            known = known * torch.from_numpy(row_weights[idx])[:, None]
        loss = (loss_fn(logits, target) * known).sum() / known.sum().clamp(min=1.0)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        if step % 50 == 0 or step == steps - 1:
            elapsed = time.monotonic() - started
            log.info("step %d/%d loss %.4f (%.0f s)", step + 1, steps, running, elapsed)
    return steps


def train_text_checkpoint(
    data_dir: Path,
    out_dir: Path,
    config: TextTrainConfig,
    *,
    exclude: Sequence[str] = (),
    calibrate: bool = True,
) -> dict[str, Any]:
    """Fine-tune, calibrate on dev, save the checkpoint; returns the ``train.json`` record.
    ``calibrate=False`` skips scoring the dev split and leaves the identity calibration: for
    runs that compare raw logits (leave-one-source-out), never for a served model."""
    started = time.monotonic()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    data = load_training_data(data_dir, config, exclude=exclude)
    train = data.train
    train_texts = [normalize_text(ex.text).text for ex in train]
    start: EncoderStart = start_encoder(
        config.init,
        vocabulary_texts(data, config),
        layers=config.layers,
        max_pieces=config.max_pieces,
    )
    encoder = TextEncoder(
        start.tokenizer,
        bos_id=_special_id(start, start.bos),
        eos_id=_special_id(start, start.eos),
        pad_id=_special_id(start, start.pad),
        max_tokens=config.train_max_tokens,
        max_batch=config.batch_size,
    )
    rows = encode_texts(encoder, train_texts)
    y, m = label_matrix(train, config.labels)
    net = TextClassifierNet(start.encoder, len(config.labels))
    weights = np.array(
        [config.hard_negative_weight if ex.row_id in data.hard_negatives else 1.0 for ex in train],
        dtype=np.float32,
    )
    steps = fit(net, encoder, rows, y, m, config=config, started=started, row_weights=weights)
    trained_s = time.monotonic() - started
    scales, biases = [1.0] * len(config.labels), [0.0] * len(config.labels)
    if calibrate:
        dev_texts = [normalize_text(ex.text).text for ex in data.splits.dev]
        dev_logits = predict_logits(net, encoder, encode_texts(encoder, dev_texts))
        dev_y, dev_m = label_matrix(data.splits.dev, config.labels)
        scales, biases = fit_calibration(dev_logits, dev_y, dev_m)
    with torch.no_grad():
        net.get_buffer("calib_scale").copy_(torch.tensor(scales))
        net.get_buffer("calib_bias").copy_(torch.tensor(biases))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out_dir / WEIGHTS_FILE)
    start.tokenizer.save(str(out_dir / TOKENIZER_FILE))
    record = {
        "config": asdict(config),
        "encoder": start.description,
        "encoder_config": net.encoder.config.to_dict(),
        "special_tokens": {"bos": start.bos, "eos": start.eos, "pad": start.pad},
        "train_rows": len(train),
        "train_rows_by_source": _count_sources(train),
        "hard_negatives_by_source": _count_sources(
            [ex for ex in train if ex.row_id in data.hard_negatives]
        ),
        "excluded_sources": list(exclude),
        "steps": steps,
        "train_seconds": round(trained_s, 1),
        "calibration": {"scale": scales, "bias": biases},
    }
    (out_dir / TRAIN_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
    log.info("trained %d steps in %.0f s; checkpoint in %s", steps, trained_s, out_dir)
    return record


def _count_sources(examples: Sequence[TextExample]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ex in examples:
        counts[ex.source] = counts.get(ex.source, 0) + 1
    return dict(sorted(counts.items()))


def load_checkpoint(checkpoint_dir: Path) -> tuple[TextClassifierNet, dict[str, Any]]:
    """Rebuild the trained network from a checkpoint directory."""
    from transformers import BertConfig

    record = json.loads((checkpoint_dir / TRAIN_FILE).read_text())
    known = set(BertConfig().to_dict())
    config = {k: v for k, v in record["encoder_config"].items() if k in known}
    net = TextClassifierNet(bert_encoder(config), len(record["config"]["labels"]))
    net.load_state_dict(torch.load(checkpoint_dir / WEIGHTS_FILE, weights_only=True))
    net.eval()
    return net, record
