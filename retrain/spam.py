"""Training job for the spam classifier: SMS Spam Collection -> XGBoost -> ONNX artifact.

``train_spam`` reads the data, splits it 60/20/20 (stratified, seeded), builds features with
``models.spam_features`` (the same code that serves), fits XGBoost with early stopping on the
dev split, exports to ONNX with a parity check (including rows whose author features are set
or NaN), evaluates the exported model once on the held-out test split, and writes
``model.onnx``, ``metadata.json``, ``metrics.json`` and ``MODEL_CARD.md`` into ``out_dir``.
The same seed gives a byte-identical ``model.onnx``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxmltools
import onnxruntime
import sklearn
import xgboost
import yaml
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

from export.errors import ParityError
from export.xgboost_onnx import (
    INPUT_NAME,
    POSITIVE_INDEX,
    PROBABILITIES_OUTPUT,
    check_parity,
    export_xgboost,
    onnx_positive_proba,
)
from models.spam_features import (
    AUTHOR_FEATURES,
    FEATURE_NAMES,
    HASH_BUCKETS,
    TEXT_FEATURES,
    build_features,
)
from modgate.settings import DEFAULT_POLICY
from modgate.types import SPAM
from retrain.data import SMS_SPAM_PATH, read_sms_spam, stratified_split, stratified_subset
from retrain.errors import DataError

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-5
EARLY_STOPPING_ROUNDS = 50
HYPERPARAMETERS: dict[str, Any] = {
    "tree_method": "hist",
    "max_depth": 5,
    "learning_rate": 0.1,
    "n_estimators": 600,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "eval_metric": "logloss",
    "n_jobs": 2,
}
_AUTHOR_SLICE = slice(
    FEATURE_NAMES.index(AUTHOR_FEATURES[0]), FEATURE_NAMES.index(AUTHOR_FEATURES[-1]) + 1
)
# Plausible ranges for random author features in parity rows (days, count, per hour, count).
_AUTHOR_RANGES = ((0.0, 3650.0), (0.0, 100_000.0), (0.0, 50.0), (0.0, 10.0))


@dataclass(frozen=True)
class ThresholdMetrics:
    """Precision, recall, F1 and confusion counts when flagging scores >= ``threshold``."""

    rule: str
    threshold: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True)
class SpamReport:
    """What one training run produced and how the exported model scored on held-out test rows."""

    seed: int
    data: str
    limit: int | None
    rows: int
    dropped_empty: int
    train_rows: int
    dev_rows: int
    test_rows: int
    test_positives: int
    hyperparameters: dict[str, Any]
    n_trees: int
    best_dev_logloss: float
    at_half: ThresholdMetrics
    roc_auc: float
    pr_auc: float
    policy_version: str
    at_policy: tuple[ThresholdMetrics, ...]
    parity_max_abs_diff: float
    parity_rows: int
    version: str
    model_sha256: str
    model_bytes: int
    n_features: int
    library_versions: dict[str, str]
    created_utc: str

    @property
    def precision(self) -> float:
        return self.at_half.precision

    @property
    def recall(self) -> float:
        return self.at_half.recall

    @property
    def f1(self) -> float:
        return self.at_half.f1


def train_spam(
    data_dir: Path,
    out_dir: Path,
    *,
    seed: int,
    limit: int | None = None,
    policy_path: Path = DEFAULT_POLICY,
) -> SpamReport:
    """Train, export, evaluate and write the spam artifact into ``out_dir``; return the report.

    ``limit`` trains on a stratified subset of that many rows (fast tests). Raises ParityError
    when the ONNX model differs from XGBoost by more than ``PARITY_TOLERANCE``.
    """
    data = read_sms_spam(data_dir / SMS_SPAM_PATH)
    rows = stratified_subset(data.labels, limit, seed) if limit else np.arange(len(data.labels))
    texts = [data.texts[i] for i in rows]
    y = data.labels[rows]
    split = stratified_split(y, seed)
    X = build_features(texts, [None] * len(texts))
    thresholds = _policy_thresholds(policy_path)

    model = _fit(X[split.train], y[split.train], X[split.dev], y[split.dev], seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.onnx"
    export_xgboost(model, X.shape[1], model_path, graph_name=SPAM)
    parity_X = _parity_rows(X[split.test], seed)
    parity = check_parity(model, model_path, parity_X)
    if parity > PARITY_TOLERANCE:
        raise ParityError(parity, PARITY_TOLERANCE, len(parity_X))

    y_test = y[split.test]
    p_test = onnx_positive_proba(model_path, X[split.test])
    model_bytes = model_path.read_bytes()
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    created = datetime.now(UTC).replace(microsecond=0)
    report = SpamReport(
        seed=seed,
        data=SMS_SPAM_PATH.as_posix(),
        limit=limit,
        rows=len(rows),
        dropped_empty=data.dropped_empty,
        train_rows=len(split.train),
        dev_rows=len(split.dev),
        test_rows=len(split.test),
        test_positives=int(y_test.sum()),
        hyperparameters={**HYPERPARAMETERS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS},
        n_trees=int(model.best_iteration) + 1,
        best_dev_logloss=float(model.best_score),
        at_half=threshold_metrics(y_test, p_test, 0.5, "0.5"),
        roc_auc=float(roc_auc_score(y_test, p_test)),
        pr_auc=float(average_precision_score(y_test, p_test)),
        policy_version=thresholds.pop("version"),
        at_policy=tuple(
            threshold_metrics(y_test, p_test, float(t), rule) for rule, t in thresholds.items()
        ),
        parity_max_abs_diff=parity,
        parity_rows=len(parity_X),
        version=f"spam-{created:%Y%m%d}-{sha256[:8]}",
        model_sha256=sha256,
        model_bytes=len(model_bytes),
        n_features=X.shape[1],
        library_versions=_library_versions(),
        created_utc=created.isoformat(),
    )
    _write_metadata(out_dir, report)
    (out_dir / "metrics.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(render_model_card(report))
    log.info(
        "spam model %s: test F1 %.4f, ROC-AUC %.4f, %d trees, parity %.2g",
        report.version,
        report.f1,
        report.roc_auc,
        report.n_trees,
        parity,
    )
    return report


def threshold_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, rule: str
) -> ThresholdMetrics:
    """Metrics of the rule "flag when score >= threshold" (the policy engine's comparison)."""
    flagged = (scores >= threshold).astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y_true, flagged, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ThresholdMetrics(rule, threshold, precision, recall, f1, tp, fp, fn, tn)


def _fit(
    X_train: np.ndarray, y_train: np.ndarray, X_dev: np.ndarray, y_dev: np.ndarray, seed: int
) -> xgboost.XGBClassifier:
    model = xgboost.XGBClassifier(
        **HYPERPARAMETERS, early_stopping_rounds=EARLY_STOPPING_ROUNDS, random_state=seed
    )
    model.fit(X_train, y_train, eval_set=[(X_dev, y_dev)], verbose=False)
    return model


def _policy_thresholds(policy_path: Path) -> dict[str, Any]:
    """The reference policy's spam thresholds (non-null ones) and the policy version."""
    policy = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    try:
        spam = policy["categories"][SPAM]
        found: dict[str, Any] = {"version": str(policy.get("version", ""))}
        for rule in ("defer_above", "remove_above"):
            if spam.get(rule) is not None:
                found[rule] = float(spam[rule])
    except (KeyError, TypeError) as exc:
        raise DataError(f"{policy_path}: no categories.{SPAM} thresholds ({exc})") from exc
    return found


def _parity_rows(X_test: np.ndarray, seed: int) -> np.ndarray:
    """Test rows as they are (author NaN) plus a copy with author features random or NaN."""
    rng = np.random.default_rng(seed)
    filled = X_test.copy()
    for offset, (low, high) in enumerate(_AUTHOR_RANGES):
        values = rng.uniform(low, high, size=len(filled)).round()
        values[rng.random(len(filled)) < 0.3] = np.nan
        filled[:, _AUTHOR_SLICE.start + offset] = values
    return np.concatenate([X_test, filled]).astype(np.float32)


def _library_versions() -> dict[str, str]:
    modules = (xgboost, onnxmltools, onnx, onnxruntime, sklearn, np)
    return {m.__name__: str(m.__version__) for m in modules}


def _write_metadata(out_dir: Path, report: SpamReport) -> None:
    metadata = {
        "kind": "spam",
        "name": "spam",
        "version": report.version,
        "categories": [SPAM],
        "input_name": INPUT_NAME,
        "probabilities_output": PROBABILITIES_OUTPUT,
        "positive_index": POSITIVE_INDEX,
        "n_features": report.n_features,
        "feature_names": list(FEATURE_NAMES),
        "hash_buckets": HASH_BUCKETS,
        "seed": report.seed,
        "trained_rows": report.train_rows,
        "data": report.data,
        "created_utc": report.created_utc,
    }
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


CITATION = (
    "Almeida, T.A., Gómez Hidalgo, J.M., Yamakami, A. Contributions to the study of SMS Spam "
    "Filtering: New Collection and Results. Proceedings of the 2011 ACM Symposium on Document "
    "Engineering (ACM DOCENG'11), Mountain View, CA, USA, 2011."
)
DATA_PAGE = "http://www.dt.fee.unicamp.br/~tiago/smsspamcollection/"


def render_model_card(report: SpamReport) -> str:
    """MODEL_CARD.md for the artifact ``report`` describes (generated, never hand-edited)."""
    r = report
    hp = r.hyperparameters
    subset = f" (stratified subset of {r.limit} rows)" if r.limit else ""
    policy_rows = "\n".join(
        f"| `{m.rule}` | {m.threshold:.2f} | {m.precision:.4f} | {m.recall:.4f} | {m.f1:.4f} "
        f"| {m.tp} | {m.fp} | {m.fn} |"
        for m in r.at_policy
    )
    cli_limit = f" --limit {r.limit}" if r.limit else ""
    args = f"seed={r.seed}" + (f", limit={r.limit}" if r.limit else "")
    versions = ", ".join(f"{k} {v}" for k, v in r.library_versions.items())
    return f"""# Spam classifier `{r.version}`

Generated by `retrain.spam.render_model_card` from the training report (`metrics.json`);
do not edit by hand. Retrain to change it.

## Model details
- XGBoost gradient-boosted trees (`binary:logistic`, `{hp["tree_method"]}`), **{r.n_trees}
  trees** (early stopping on dev log-loss, patience {hp["early_stopping_rounds"]}, at most
  {hp["n_estimators"]}; best dev log-loss {r.best_dev_logloss:.4f}), max depth {hp["max_depth"]},
  learning rate {hp["learning_rate"]}, subsample {hp["subsample"]}, column sample
  {hp["colsample_bytree"]}, seed {r.seed}.
- Exported to ONNX (`ai.onnx.ml.TreeEnsembleClassifier`), served with ONNX Runtime:
  input `{INPUT_NAME}` float32 `[N, {r.n_features}]`, output `{PROBABILITIES_OUTPUT}` float32
  `[N, 2]`, column {POSITIVE_INDEX} = P(spam). `model.onnx`: {r.model_bytes:,} bytes, sha256
  `{r.model_sha256}`.
- {r.n_features} features from `models/spam_features.py` (the same code at training and
  serving): {len(TEXT_FEATURES)} text-shape features ({", ".join(TEXT_FEATURES)});
  {len(AUTHOR_FEATURES)} author features ({", ".join(AUTHOR_FEATURES)}), NaN when unknown;
  {HASH_BUCKETS} hashed word unigram + bigram counts (CRC32 buckets, no vocabulary file).
- Built with {versions}.

## Intended use and limits
- Scores SMS-style, English, short messages for unsolicited commercial or fraudulent content
  (prizes, premium-rate numbers, subscription traps). Its score feeds the policy engine's
  `spam` thresholds; it decides nothing on its own.
- The training data has no author metadata: every author feature was missing (NaN) in
  training, so the trees never split on them and they do not change the score today. They
  gain meaning only after retraining on logged serving features once moderator labels exist.
- Not for other languages: features and hashed vocabulary are English-centric.
- Domain shift: trained on 2000s-era UK/Singapore SMS, not social-media posts. Expect lower
  precision and recall on posts (links, hashtags, crypto and marketplace scams, other
  slang); validate against moderator labels before tightening thresholds.

## Data
- UCI SMS Spam Collection v.1 (Almeida & Gómez Hidalgo, 2011), `{r.data}`: {r.rows:,} rows
  used{subset}, {r.dropped_empty} rows with an empty text dropped.
- Citation: {CITATION} Web page: {DATA_PAGE}
- Licence: free for research with citation; copyright (c) Tiago Agostinho de Almeida and
  José María Gómez Hidalgo; provided "as is", without warranty.
- Split (stratified, seed {r.seed}): train {r.train_rows:,} / dev {r.dev_rows:,} (early
  stopping only) / test {r.test_rows:,} ({r.test_positives} spam), held out and never tuned on.

## Held-out test metrics (exported ONNX model, flag at score >= 0.5)
| metric | value |
|---|---|
| precision | {r.precision:.4f} |
| recall | {r.recall:.4f} |
| F1 | {r.f1:.4f} |
| ROC-AUC | {r.roc_auc:.4f} |
| PR-AUC (average precision) | {r.pr_auc:.4f} |
| TP / FP / FN / TN | {r.at_half.tp} / {r.at_half.fp} / {r.at_half.fn} / {r.at_half.tn} |

## At the reference policy thresholds (`configs/policy.yaml` version {r.policy_version})
A score at or above `defer_above` defers the post for review; at or above `remove_above`
removes it. Flagged = score >= threshold.

| rule | threshold | precision | recall | F1 | TP | FP | FN |
|---|---|---|---|---|---|---|---|
{policy_rows}

## ONNX parity
Max abs difference between XGBoost `predict_proba` and ONNX Runtime (CPU):
**{r.parity_max_abs_diff:.2e}** over {r.parity_rows:,} rows (the test rows, plus the same rows
with author features set to random values or NaN); the job fails above
{PARITY_TOLERANCE:.0e}.

## Reproduce
```
modgate train spam --seed {r.seed}{cli_limit}
```
or, without the CLI:
```
python -c "from modgate.settings import TrainSettings; from retrain.spam import train_spam; \
s = TrainSettings(); train_spam(s.data_dir, s.artifacts_dir / 'spam', {args})"
```
The same seed and library versions give a byte-identical `model.onnx`; `metadata.json`,
`metrics.json` and this card also record the creation time ({r.created_utc}).
"""
