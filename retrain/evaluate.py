"""Quality of the text model and policy on any labelled file: ``modgate eval``, promotion gate.

``retrain.eval_data.read_rows`` reads CSV/TSV/JSONL with gold labels mapped onto model
categories; ``evaluate_rows`` scores the rows through the serving path (``TextModel``), takes
each row's language as the gateway does and runs the real policy per row (a ``PolicyView``:
``retrain`` may not import ``decision``, so the caller adapts ``decision.decide``). It
measures per label ROC/PR-AUC, F1 at the effective DEFER and REMOVE lines and the removal
error; the verdict mix and false positives among auto-removals; the same per
language and per extra column; HateCheck-style functional accuracy; and the Jigsaw
unintended-bias AUCs (Borkan et al. 2019). ``gate`` applies the promotion rule to two
results. No UI here: the CLI and the promotion job share it; ``eval_report`` renders it.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from models.langid import LanguageDetector
from models.text import TextModel, normalize_cached
from modgate.settings import ARTIFACTS_DIR, OnnxSettings
from retrain.errors import EvalInputError
from retrain.eval_data import EvalColumns, EvalRow, read_rows
from retrain.removals import removal_truth
from retrain.text_eval import label_metrics

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = ARTIFACTS_DIR / "text"
VERDICTS = ("allow", "defer", "remove")
THRESHOLD_KEYS = ("defer_above", "remove_above")
BIAS_POWER = -5.0
BIAS_AUCS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")


def serving_languages(rows: Sequence[EvalRow]) -> list[str]:
    """Each row's language as the gateway picks it: the given code (a caller's hint), else
    the detected one (``normalize`` then ``LanguageDetector``, as ``gateway.features``)."""
    detector: LanguageDetector | None = None
    out = []
    for row in rows:
        language = row.language
        if not language:
            detector = detector or LanguageDetector()
            language = detector.detect(normalize_cached(row.text).text).code
        out.append(language)
    return out


class PolicyView(Protocol):
    """The policy as the evaluator needs it: the verdict's action for a row's scores, and the
    effective DEFER / REMOVE lines of a category (``None``: never removes) for a region and
    language. ``modgate eval`` adapts ``decision`` to it."""

    @property
    def version(self) -> str: ...

    @property
    def categories(self) -> Collection[str]: ...

    def action(self, scores: Mapping[str, float], *, region: str, language: str) -> str: ...

    def lines(self, category: str, *, region: str, language: str) -> tuple[float, float | None]: ...


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Everything ``modgate eval`` reports, as JSON-ready values (floats to 4 digits)."""

    meta: dict[str, Any]
    overall: dict[str, Any]
    by_language: dict[str, Any]
    by: dict[str, Any]
    functionality: dict[str, Any] | None
    bias: dict[str, Any]
    confusion: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Table:
    """Per-row arrays, one column per label: gold (NaN: unknown), scores, the effective
    DEFER / REMOVE lines (``inf``: never removes), and the verdict's action."""

    labels: tuple[str, ...]
    gold: np.ndarray
    scores: np.ndarray
    defer_at: np.ndarray
    remove_at: np.ndarray
    actions: np.ndarray


def evaluate_file(
    path: Path,
    columns: EvalColumns,
    *,
    policy: PolicyView,
    model_dir: Path = DEFAULT_MODEL_DIR,
    onnx: OnnxSettings | None = None,
    delimiter: str | None = None,
    limit: int | None = None,
    **options: Any,
) -> EvalResult:
    """Read ``path``, load the model and policy, and run ``evaluate_rows`` with ``options``."""
    rows = read_rows(path, columns, delimiter=delimiter, limit=limit)
    model = TextModel.load(model_dir / "model.onnx", name="text", onnx=onnx or OnnxSettings())
    try:
        return evaluate_rows(rows, columns, model, policy, source=str(path), **options)
    finally:
        model.session.close()


def evaluate_rows(
    rows: Sequence[EvalRow],
    columns: EvalColumns,
    model: TextModel,
    policy: PolicyView,
    *,
    region: str = "",
    batch_size: int = 32,
    functionality_label: str | None = None,
    min_subgroup_size: int = 20,
    source: str = "",
) -> EvalResult:
    """Score, decide and measure ``rows``; every row is decided under request ``region``.

    ``batch_size`` changes speed only: the shipped int8 model quantizes activations per token
    (``export.text_quant``), so a row scores the same alone (as the gateway sends it) or in
    any batch. A model quantized per tensor would not; score such a model with 1.
    """
    labels = tuple(s.name for s in columns.labels)
    fn_label = functionality_label or ("hate" if "hate" in labels else labels[0])
    _check_labels(labels, fn_label, model.artifact.categories, policy)
    started = time.perf_counter()
    probs = model.score([r.text for r in rows], batch_size=batch_size)
    languages = serving_languages(rows)
    t = _decide(
        probs,
        rows,
        languages,
        categories=model.artifact.categories,
        labels=labels,
        policy=policy,
        region=region,
    )
    seconds = time.perf_counter() - started
    logger.info("scored and decided %d rows in %.1f s", len(rows), seconds)
    meta = {
        "file": source,
        "rows": len(rows),
        "model_version": model.artifact.version,
        "policy_version": policy.version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch_size": batch_size,
        "region": region,
        "labels": {
            s.name: s.column + (":" + ",".join(sorted(s.values)) if s.values else "")
            for s in columns.labels
        },
        "language_source": f"column {columns.language}" if columns.language else "detected",
        "thresholds": {
            c: dict(zip(THRESHOLD_KEYS, policy.lines(c, region=region, language=""), strict=True))
            for c in labels
        },
        "seconds": seconds,
    }
    functional = [r.functionality for r in rows]
    identities = [r.identities for r in rows]
    return EvalResult(
        meta=_plain(meta),
        overall=_plain(_group(t, np.arange(len(rows)))),
        by_language=_plain(_grouped(t, languages)),
        by=_plain({c: _grouped(t, [r.by[k] for r in rows]) for k, c in enumerate(columns.by)}),
        functionality=_plain(_functional(t, functional, labels.index(fn_label))),
        bias=_plain(_bias(t, identities, min_subgroup_size)) if columns.identity else {},
        confusion=_plain(_confusion(t)),
    )


def _check_labels(
    labels: tuple[str, ...], fn_label: str, categories: Sequence[str], policy: PolicyView
) -> None:
    if len(set(labels)) != len(labels):
        raise EvalInputError("--label", f"a label is given twice: {labels}")
    for label in labels:
        if label not in categories or label not in policy.categories:
            raise EvalInputError(
                "--label",
                f"{label!r} must be a category of both the model {tuple(categories)} "
                f"and the policy {tuple(policy.categories)}",
            )
    if fn_label not in labels:
        raise EvalInputError("--functionality-label", f"{fn_label!r} is not one of {labels}")


def _decide(
    probs: np.ndarray,
    rows: Sequence[EvalRow],
    languages: Sequence[str],
    *,
    categories: Sequence[str],
    labels: tuple[str, ...],
    policy: PolicyView,
    region: str,
) -> _Table:
    shape = (len(rows), len(labels))
    defer_at, remove_at = np.zeros(shape), np.zeros(shape)
    actions = []
    for i, language in enumerate(languages):
        scores = {c: float(v) for c, v in zip(categories, probs[i], strict=True)}
        actions.append(policy.action(scores, region=region.upper(), language=language))
        for j, label in enumerate(labels):
            defer, remove = policy.lines(label, region=region.upper(), language=language)
            defer_at[i, j] = defer
            remove_at[i, j] = math.inf if remove is None else remove
    gold = np.array([[np.nan if g is None else g for g in r.gold] for r in rows], dtype=float)
    cols = [list(categories).index(label) for label in labels]
    return _Table(labels, gold, probs[:, cols], defer_at, remove_at, np.array(actions))


def _group(t: _Table, idx: np.ndarray) -> dict[str, Any]:
    """Per-label metrics, verdict mix and removal / DEFER summary of the rows ``idx``. A post
    is gold-positive if any known label is 1, gold-negative if all its known labels are 0; a
    removal is judged by ``retrain.removals.removal_truth`` (the one definition the model
    card and the policy lines use too)."""
    actions, gold = t.actions[idx], t.gold[idx]
    known = ~np.all(np.isnan(gold), axis=1)
    positive = np.any(gold == 1, axis=1)
    negative = known & ~positive
    removed = actions == "remove"
    fired = (t.scores[idx] >= t.remove_at[idx]) & removed[:, None]
    right = removal_truth(gold, fired, t.labels)
    judged = right[~np.isnan(right)]
    out: dict[str, Any] = {"n": len(idx), "labels": {}}
    for j, label in enumerate(t.labels):
        rows = idx[~np.isnan(t.gold[idx, j])]
        if len(rows):
            out["labels"][label] = _label(t, rows, j)
    out["verdicts"] = {v: _share(actions == v) for v in VERDICTS}
    out["defer_share"] = out["verdicts"]["defer"]
    out["removals"] = int(removed.sum())
    out["removals_judged"] = len(judged)
    out["removal_fp_rate"] = _share(judged == 0)
    out["defer_share_gold_negative"] = _share(actions[negative] == "defer")
    out["defer_share_gold_positive"] = _share(actions[positive] == "defer")
    return out


def _label(t: _Table, rows: np.ndarray, j: int) -> dict[str, Any]:
    """``label_metrics`` at each row's effective REMOVE line (exactly what ``decide``'s
    ``<label>.remove_above`` rule fires on), plus F1 at the DEFER and REMOVE lines."""
    y, p, remove_at = t.gold[rows, j].astype(np.int64), t.scores[rows, j], t.remove_at[rows, j]
    metrics = label_metrics(y, p, remove_at)
    metrics["f1_at_defer"] = float(f1_score(y, p >= t.defer_at[rows, j], zero_division=0))
    metrics["f1_at_remove"] = float(f1_score(y, p >= remove_at, zero_division=0))
    if not np.isfinite(remove_at).any():  # never removes here: no removal numbers to report
        metrics.update(f1_at_remove=None, removal_recall=None)
    return metrics


def _share(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if len(mask) else None


def _grouped(t: _Table, keys: Sequence[str]) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key or "(none)"].append(i)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {key: _group(t, np.array(idx)) for key, idx in ordered}


def _functional(t: _Table, functionality: Sequence[str], j: int) -> dict[str, Any] | None:
    """Accuracy of "flagged" (score >= DEFER line) and "removed" (>= REMOVE line) per
    functionality of label ``j``, worst first, and over all functional rows."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(functionality):
        if name and not np.isnan(t.gold[i, j]):
            groups[name].append(i)
    if not groups:
        return None

    def accuracy(idx: np.ndarray) -> dict[str, Any]:
        y, p = t.gold[idx, j] == 1, t.scores[idx, j]
        return {
            "n": len(idx),
            "positive_share": float(y.mean()),
            "accuracy_flagged": float(((p >= t.defer_at[idx, j]) == y).mean()),
            "accuracy_removed": float(((p >= t.remove_at[idx, j]) == y).mean()),
        }

    table = [{"functionality": k, **accuracy(np.array(v))} for k, v in groups.items()]
    table.sort(key=lambda r: (r["accuracy_flagged"], r["functionality"]))
    every = np.array(sorted(i for v in groups.values() for i in v))
    return {"label": t.labels[j], **accuracy(every), "functionalities": table}


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC-AUC, or None when ``y`` holds one class only."""
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def generalized_mean(values: Sequence[float], power: float = BIAS_POWER) -> float:
    """Power mean; a negative ``power`` weighs the worst subgroups most (Borkan et al.)."""
    return float(np.mean(np.asarray(values, dtype=float) ** power) ** (1.0 / power))


def bias_metrics(
    y: np.ndarray, p: np.ndarray, identities: Sequence[tuple[str, ...]], *, min_size: int = 20
) -> dict[str, Any] | None:
    """Jigsaw unintended-bias metrics for one label, over the rows where it is known.

    Per identity subgroup: subgroup AUC; BPSN AUC (subgroup negatives with background
    positives); BNSP AUC (subgroup positives with background negatives). The background is
    every row outside the subgroup (rows without identity included), as in Borkan et al.
    A subgroup counts with at least ``min_size`` rows and both classes in each of the three
    sets. Final = 0.25 × overall AUC + 0.25 × each generalized mean (p = −5).
    """
    scored: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for group in sorted({g for ids in identities for g in ids}):
        inside = np.array([group in ids for ids in identities])
        sets = {
            "subgroup_auc": inside,
            "bpsn_auc": (inside & (y == 0)) | (~inside & (y == 1)),
            "bnsp_auc": (inside & (y == 1)) | (~inside & (y == 0)),
        }
        aucs = {name: auc(y[mask], p[mask]) for name, mask in sets.items()}
        if inside.sum() < min_size or None in aucs.values():
            skipped[group] = int(inside.sum())
        else:
            scored.append({"subgroup": group, "n": int(inside.sum()), **aucs})
    if not scored:
        return None
    means = {name: generalized_mean([s[name] for s in scored]) for name in BIAS_AUCS}
    overall = float(roc_auc_score(y, p))  # a scored subgroup implies both classes
    return {
        "overall_auc": overall,
        "generalized_means": means,
        "final": 0.25 * overall + 0.25 * sum(means.values()),
        "subgroups": sorted(scored, key=lambda s: (s["subgroup_auc"], s["subgroup"])),
        "skipped_subgroups": skipped,
        "min_subgroup_size": min_size,
    }


def _bias(t: _Table, identities: Sequence[tuple[str, ...]], min_size: int) -> dict[str, Any]:
    out = {}
    for j, label in enumerate(t.labels):
        known = np.flatnonzero(~np.isnan(t.gold[:, j]))
        y, p = t.gold[known, j].astype(np.int64), t.scores[known, j]
        result = bias_metrics(y, p, [identities[int(i)] for i in known], min_size=min_size)
        if result is not None:
            out[label] = result
    return out


def _confusion(t: _Table) -> dict[str, Any]:
    """Per label: gold negative / positive × verdict, as counts."""
    return {
        label: {
            gold: {v: int(((t.gold[:, j] == value) & (t.actions == v)).sum()) for v in VERDICTS}
            for gold, value in (("negative", 0), ("positive", 1))
        }
        for j, label in enumerate(t.labels)
    }


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars unwrapped, floats rounded to 4 digits, NaN / inf → None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 4) if math.isfinite(value) else None
    return value


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether a candidate model may replace the baseline, and why (one line per check)."""

    promote: bool
    reasons: tuple[str, ...]


def gate(
    candidate: EvalResult | Mapping[str, Any],
    baseline: EvalResult | Mapping[str, Any],
    *,
    label: str,
    max_fp_increase: float = 0.0,
) -> GateDecision:
    """The promotion rule: the candidate beats the baseline's ROC-AUC on ``label`` and does
    not raise the false-positive rate among auto-removals (by more than ``max_fp_increase``).
    Give results of the same file and policy; no removals counts as a rate of 0."""
    cand, base = (r.to_dict() if isinstance(r, EvalResult) else r for r in (candidate, baseline))
    c_auc = cand["overall"]["labels"].get(label, {}).get("roc_auc")
    b_auc = base["overall"]["labels"].get(label, {}).get("roc_auc")
    better = c_auc is not None and b_auc is not None and c_auc > b_auc
    c_fp = cand["overall"]["removal_fp_rate"] or 0.0
    b_fp = base["overall"]["removal_fp_rate"] or 0.0
    fp_ok = c_fp <= b_fp + max_fp_increase + 1e-9
    reasons = (
        f"{label} ROC-AUC {c_auc} {'beats' if better else 'does not beat'} baseline {b_auc}",
        f"FP rate among auto-removals {c_fp:.4f} vs baseline {b_fp:.4f}: "
        f"{'within' if fp_ok else 'above'} the allowed increase of {max_fp_increase:.4f}",
    )
    return GateDecision(better and fp_ok, reasons)
