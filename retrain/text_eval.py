"""Held-out evaluation of a text model: the numbers its model card reports.

``evaluate_text`` scores texts with a caller-supplied function (in practice
``models.text.TextModel.score``, the serving path: normalization, tokenizer, ONNX Runtime)
and reports, on test splits that training and calibration never saw:

* per data set and per language: ROC-AUC and PR-AUC per label (where the label is known and
  both classes occur), macro-F1 at 0.5, and at the policy's REMOVE threshold the share of
  removals that are false positives and the share of true positives removed;
* false positives on identity mentions: for every non-hateful functionality of the held-out
  MHC and functional cases, the share scored above the DEFER and REMOVE thresholds;
* severe misses: for the severe heads (threat, self_harm, hate), the share of positives
  scored under the DEFER line — content that would be published without review;
* evasion: for toxic held-out texts the model catches (score ≥ DEFER) in clean form, the
  share still caught in each evasion variant (``retrain.evasion``, an independent adversary).

``evaluate_text`` runs all of it on the test split; ``cross_domain`` runs the per-source and
per-language part on sets the model never trained on (the ``eval_only`` corpora), and
``dev_policy`` derives REMOVE / DEFER lines from the dev split (never the test split).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from retrain.evasion import evasion_variants
from retrain.removals import removal_threshold, removal_truth
from retrain.text_data import TextExample

Scorer = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """DEFER / REMOVE thresholds per label from the policy file: the global lines, and the
    REMOVE lines the policy's ``languages`` section overrides (a post-level removal uses its
    language's line)."""

    defer: Mapping[str, float]
    remove: Mapping[str, float]
    remove_by_language: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def remove_row(self, labels: Sequence[str], language: str) -> np.ndarray:
        """REMOVE lines of ``labels`` for a post in ``language`` (1.01: never removes)."""
        lang = self.remove_by_language.get(language, {})
        return np.array([lang.get(label, self.remove[label]) for label in labels])

    def remove_lines(self, labels: Sequence[str], examples: Sequence[TextExample]) -> np.ndarray:
        """[rows, labels] REMOVE lines, each row at its post's language."""
        rows = {lang: self.remove_row(labels, lang) for lang in {ex.language for ex in examples}}
        if not examples:
            return np.zeros((0, len(labels)))
        return np.vstack([rows[ex.language] for ex in examples])


def _line(value: object) -> float:
    return 1.01 if value is None else float(value)  # type: ignore[arg-type]


def policy_thresholds(policy_path: Path, labels: Sequence[str]) -> Thresholds:
    """Thresholds of ``labels`` in a policy YAML (a label absent there gets 0.5 / never)."""
    doc = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    cats = doc.get("categories", {})
    defer = {c: float(cats.get(c, {}).get("defer_above", 0.5)) for c in labels}
    remove = {c: _line(cats.get(c, {}).get("remove_above")) for c in labels}
    by_language = {
        lang: {
            c: _line(o["remove_above"])
            for c, o in (override.get("categories") or {}).items()
            if c in labels and "remove_above" in o
        }
        for lang, override in (doc.get("languages") or {}).items()
    }
    return Thresholds(defer=defer, remove=remove, remove_by_language=by_language)


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
    remove_at = th.remove_lines(labels, examples)
    for j, label in enumerate(labels):
        known = [i for i, ex in enumerate(examples) if ex.labels.get(label) is not None]
        if not known:
            continue
        y = np.array([examples[i].labels[label] for i in known], dtype=np.int64)
        metrics = label_metrics(y, probs[known, j], remove_at[known, j])
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
    remove_at = th.remove_lines(labels, examples)
    for key, idx in sorted(groups.items()):
        row: dict[str, Any] = {"n": len(idx)}
        for j, label in enumerate(labels):
            p = probs[idx, j]
            row[label] = {
                "above_defer": round(float((p >= th.defer[label]).mean()), 4),
                "above_remove": round(float((p >= remove_at[idx, j]).mean()), 4),
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


SEVERE = ("threat", "self_harm", "hate")


def functional_flags(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Per functionality of the templated sets: the share of cases flagged (any head at or
    above its DEFER line: the post is reviewed or removed) and removed (any head at or above
    REMOVE). Harmful functionalities (``*_h``) should be flagged, look-alikes allowed."""
    defer_at = np.array([th.defer[label] for label in labels])
    remove_at = th.remove_lines(labels, examples)
    flagged: np.ndarray = np.asarray((probs >= defer_at).any(axis=1))
    removed: np.ndarray = np.asarray((probs >= remove_at).any(axis=1))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        if ex.functionality:
            groups[f"{ex.source}:{ex.functionality}"].append(i)
    return {
        key: {
            "n": len(idx),
            "harmful": key.endswith("_h"),
            "flagged": round(float(flagged[idx].mean()), 4),
            "removed": round(float(removed[idx].mean()), 4),
        }
        for key, idx in sorted(groups.items())
    }


def severe_misses(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Per severe label and source: positives scored under DEFER (missed, no review)."""
    out: dict[str, Any] = {}
    for label in SEVERE:
        if label not in labels:
            continue
        j = labels.index(label)
        groups: dict[str, list[float]] = defaultdict(list)
        for i, ex in enumerate(examples):
            if ex.labels.get(label) == 1:
                groups[ex.source].append(float(probs[i, j]))
        rows = {
            source: {
                "positives": len(p),
                "missed_share": round(float((np.array(p) < th.defer[label]).mean()), 4),
            }
            for source, p in sorted(groups.items())
        }
        every = [v for p in groups.values() for v in p]
        if every:
            rows["all"] = {
                "positives": len(every),
                "missed_share": round(float((np.array(every) < th.defer[label]).mean()), 4),
            }
        out[label] = rows
    return out


def post_removals(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Posts removed by any head (score ≥ its REMOVE line): the false share among removals
    whose rightness the gold labels tell (``retrain.removals.removal_truth``) and the share
    of toxic posts removed, per source and language — what a platform sees, whichever head
    fired."""
    remove_at = th.remove_lines(labels, examples)
    fired: np.ndarray = np.asarray(probs >= remove_at)
    removed: np.ndarray = np.asarray(fired.any(axis=1))
    gold = gold_matrix(examples, labels)
    right = removal_truth(gold, fired, labels)
    toxic = np.full(len(gold), np.nan)
    if "toxicity" in labels:
        toxic = gold[:, list(labels).index("toxicity")]

    def summary(idx: np.ndarray) -> dict[str, Any]:
        judged = idx[~np.isnan(right[idx])]
        positives = idx[toxic[idx] == 1]
        return {
            "n": len(idx),
            "removed": int(removed[idx].sum()),
            "judged": len(judged),
            "fp_share": round(float((right[judged] == 0).mean()), 4) if len(judged) else None,
            "recall": round(float(removed[positives].mean()), 4) if len(positives) else None,
        }

    everything = np.arange(len(examples))
    return {
        "all": summary(everything),
        "by_source": _grouped_summary(examples, lambda ex: ex.source, summary),
        "by_language": _grouped_summary(examples, lambda ex: ex.language, summary),
    }


def gold_matrix(examples: Sequence[TextExample], labels: Sequence[str]) -> np.ndarray:
    """[rows, labels] gold labels, NaN where a row's source does not tell."""
    return np.array(
        [
            [np.nan if ex.labels.get(label) is None else ex.labels[label] for label in labels]
            for ex in examples
        ],
        dtype=float,
    ).reshape(len(examples), len(labels))


def _grouped_summary(
    examples: Sequence[TextExample],
    key: Callable[[TextExample], str],
    summary: Callable[[np.ndarray], dict[str, Any]],
) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[key(ex)].append(i)
    return {k: summary(np.array(idx)) for k, idx in sorted(groups.items())}


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
        **cross_domain(test, probs, labels, th),
        "identity_false_positives": identity_false_positives(test, probs, labels, th),
        "functional_flags": functional_flags(test, probs, labels, th),
        "evasion": evasion_report(evasion_texts, score, tox, th.defer[labels[tox]], seed=seed),
        "thresholds": {"defer": dict(th.defer), "remove": dict(th.remove)},
    }


def cross_domain(
    examples: Sequence[TextExample], probs: np.ndarray, labels: Sequence[str], th: Thresholds
) -> dict[str, Any]:
    """Per-label metrics overall, per source and per language; post-level removals; severe
    misses — for a test split or for whole sets the model never trained on."""
    return {
        "overall": group_metrics(examples, probs, labels, th),
        "by_source": by_key(examples, probs, lambda ex: ex.source, labels, th),
        "by_language": by_key(examples, probs, lambda ex: ex.language, labels, th),
        "post_removals": post_removals(examples, probs, labels, th),
        "severe_misses": severe_misses(examples, probs, labels, th),
    }


def dev_policy(
    dev: Sequence[TextExample],
    probs: np.ndarray,
    labels: Sequence[str],
    *,
    max_fp_share: float = 0.01,
    severe_recall: float = 0.95,
    min_language_negatives: int = 100,
) -> dict[str, Any]:
    """Lines derived from the dev split, per label: the lowest REMOVE threshold whose dev
    removals are false at most ``max_fp_share`` of the time with 95 % confidence
    (``retrain.removals``: a removal judged by ``toxicity`` where the source labels it, else
    by the label itself), globally and per language with enough judged clean posts; and the
    DEFER line that keeps ``severe_recall`` of a severe label's positives (others: the
    balanced point 0.5), with the dev DEFER share of clean posts it costs. A suggestion for
    the policy file, reviewed by a person, never applied automatically."""
    gold = gold_matrix(dev, labels)
    out: dict[str, Any] = {}
    for j, label in enumerate(labels):
        fired = np.zeros_like(gold, dtype=bool)
        fired[:, j] = True
        truth = removal_truth(gold, fired, labels)  # as if this head removed every post
        known = [int(i) for i in np.nonzero(~np.isnan(truth))[0]]
        y, p = truth[known].astype(np.int64), probs[known, j]
        own = gold[:, j] == 1
        if not own.any() or not len(y) or y.min() == y.max():
            out[label] = {"known": len(y), "remove": None, "defer": None}
            continue
        defer = 0.5
        if label in SEVERE:
            defer = float(np.quantile(probs[own, j], 1 - severe_recall))
        per_language: dict[str, float | None] = {}
        for lang in sorted({dev[i].language for i in known}):
            idx = np.array([k for k, i in enumerate(known) if dev[i].language == lang])
            if (y[idx] == 0).sum() >= min_language_negatives and (y[idx] == 1).any():
                per_language[lang] = removal_threshold(y[idx], p[idx], max_fp_share=max_fp_share)
        clean = gold[:, j] == 0
        out[label] = {
            "known": len(y),
            "positives": int(own.sum()),
            "remove": removal_threshold(y, p, max_fp_share=max_fp_share),
            "remove_by_language": per_language,
            "defer": round(defer, 4),
            "clean_defer_share": round(float((probs[clean, j] >= defer).mean()), 4),
        }
    return out
