"""Held-out evaluation of a text model: the numbers its model card reports.

``evaluate_text`` scores texts with a caller-supplied function (in practice
``models.text.TextModel.score``, the serving path: normalization, tokenizer, ONNX Runtime)
and reports, on test splits that training and calibration never saw:

* per data set and per language: ROC-AUC and PR-AUC per label (where the label is known and
  both classes occur), macro-F1 at 0.5, and at the policy's REMOVE threshold the share of
  removals that are false positives and the share of true positives removed;
* false positives on identity mentions: for every non-hateful functionality of the held-out
  MHC and functional cases, the share scored above the DEFER and REMOVE thresholds;
* evasion: for toxic held-out texts the model catches (score ≥ DEFER) in clean form, the
  share still caught in each evasion variant (``retrain.evasion``, an independent adversary).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from retrain.evasion import evasion_variants
from retrain.text_data import TextExample

Scorer = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """DEFER / REMOVE thresholds per label, read from the policy file (global defaults)."""

    defer: Mapping[str, float]
    remove: Mapping[str, float]


def policy_thresholds(policy_path: Path, labels: Sequence[str]) -> Thresholds:
    """Global thresholds of ``labels`` in a policy YAML (a label absent there gets 0.5 / 0.95)."""
    doc = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    cats = doc.get("categories", {})
    defer = {c: float(cats.get(c, {}).get("defer_above", 0.5)) for c in labels}
    remove = {c: float(cats.get(c, {}).get("remove_above") or 1.01) for c in labels}
    return Thresholds(defer=defer, remove=remove)


def label_metrics(y: np.ndarray, p: np.ndarray, remove_at: float | np.ndarray) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, F1@0.5, removal FP share and recall for one label.

    ``remove_at`` is the REMOVE threshold, or one per row (``inf``: never removed).
    """
    out: dict[str, Any] = {"n": len(y), "positives": int(y.sum())}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = round(float(roc_auc_score(y, p)), 4)
        out["pr_auc"] = round(float(average_precision_score(y, p)), 4)
    out["f1_at_0.5"] = round(float(f1_score(y, p >= 0.5, zero_division=0)), 4)
    removed = p >= remove_at
    out["removed"] = int(removed.sum())
    out["removal_fp_share"] = round(float((y[removed] == 0).mean()), 4) if removed.any() else None
    out["removal_recall"] = round(float(removed[y == 1].mean()), 4) if y.sum() else None
    return out


def group_metrics(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Per-label metrics over ``examples`` (rows with an unknown label are skipped for it)."""
    result: dict[str, Any] = {"n": len(examples)}
    f1s = []
    for j, label in enumerate(labels):
        known = [i for i, ex in enumerate(examples) if ex.labels.get(label) is not None]
        if not known:
            continue
        y = np.array([examples[i].labels[label] for i in known], dtype=np.int64)
        metrics = label_metrics(y, probs[known, j], th.remove[label])
        result[label] = metrics
        f1s.append(metrics["f1_at_0.5"])
    if f1s:
        result["macro_f1_at_0.5"] = round(float(np.mean(f1s)), 4)
    return result


def by_key(
    examples: Sequence[TextExample],
    probs: np.ndarray,
    key: Callable[[TextExample], str],
    labels: Sequence[str],
    th: Thresholds,
) -> dict[str, Any]:
    """``group_metrics`` for each value of ``key``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[key(ex)].append(i)
    return {
        k: group_metrics([examples[i] for i in idx], probs[idx], labels, th)
        for k, idx in sorted(groups.items())
    }


def identity_false_positives(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Per non-hateful functionality: share of cases above DEFER / REMOVE, per label."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        if ex.functionality and ex.labels.get("hate") == 0:
            groups[f"{ex.source}:{ex.functionality}"].append(i)
    out: dict[str, Any] = {}
    for key, idx in sorted(groups.items()):
        row: dict[str, Any] = {"n": len(idx)}
        for j, label in enumerate(labels):
            p = probs[idx, j]
            row[label] = {
                "above_defer": round(float((p >= th.defer[label]).mean()), 4),
                "above_remove": round(float((p >= th.remove[label]).mean()), 4),
            }
        out[key] = row
    return out


def evasion_report(
    texts: Sequence[str], score: Scorer, label_index: int, defer_at: float, *, seed: int
) -> dict[str, Any]:
    """Share of evasion variants still caught (≥ DEFER) among originals that were caught."""
    base = score(texts)[:, label_index]
    caught = [i for i, p in enumerate(base) if p >= defer_at]
    variants = evasion_variants([texts[i] for i in caught], seed=seed)
    probs = score([v for _, _, v in variants])[:, label_index] if variants else np.zeros(0)
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for (_, kind, _), p in zip(variants, probs, strict=True):
        per_kind[kind].append(bool(p >= defer_at))
    kinds = {k: round(float(np.mean(v)), 4) for k, v in sorted(per_kind.items())}
    everything = [x for v in per_kind.values() for x in v]
    return {
        "originals": len(texts),
        "originals_caught": len(caught),
        "variants": len(variants),
        "still_caught": round(float(np.mean(everything)), 4) if everything else None,
        "still_caught_by_kind": kinds,
    }


def evaluate_text(
    score: Scorer,
    test: Sequence[TextExample],
    labels: Sequence[str],
    th: Thresholds,
    *,
    evasion_texts: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """All held-out numbers for one scorer (see the module docstring)."""
    probs = score([ex.text for ex in test])
    tox = labels.index("toxicity") if "toxicity" in labels else 0
    return {
        "overall": group_metrics(test, probs, labels, th),
        "by_source": by_key(test, probs, lambda ex: ex.source, labels, th),
        "by_language": by_key(test, probs, lambda ex: ex.language, labels, th),
        "identity_false_positives": identity_false_positives(test, probs, labels, th),
        "evasion": evasion_report(evasion_texts, score, tox, th.defer[labels[tox]], seed=seed),
        "thresholds": {"defer": dict(th.defer), "remove": dict(th.remove)},
    }


def removal_threshold(y: np.ndarray, p: np.ndarray, *, max_fp_share: float = 0.01) -> float | None:
    """Lowest threshold whose removals are ≤ ``max_fp_share`` false positives (dev split)."""
    order = np.argsort(-p)
    fp = np.cumsum(y[order] == 0)
    n = np.arange(1, len(y) + 1)
    ok = np.nonzero(fp / n <= max_fp_share)[0]
    if not len(ok):
        return None
    return float(p[order][ok[-1]])
