"""Training job for the spam classifier v2: social-media spam and legitimate speech -> XGBoost
-> ONNX artifact, with a cross-domain evaluation.

``train_spam`` reads the spam sources (SMS, Instagram scam comments) and the legitimate speech
of every real training corpus (``retrain/spam_data.py``), splits them by content 60/20/20,
builds features with ``models.spam_features`` (the same code that serves), fits XGBoost with
early stopping on dev, suggests policy lines from dev only, exports to ONNX with a parity check
(including rows whose author features are set or NaN), and evaluates the exported model once
on the held-out test rows:

- spam precision / recall / F1 per spam source at the policy's lines;
- per legitimate source and language (the test rows of every training corpus, every row of
  the ``eval_only/`` corpora it never saw): how many the *model alone* would flag at the
  defer and remove lines, and how many the *policy* removes (``decision.engine.decide``: spam
  removal needs behaviour or list evidence, which a single post from a new author lacks);
- cross-domain: the same recipe trained on one spam source only, tested on the other and on
  UTKML's spam tweets (eval only, never trained on).

It writes ``model.onnx``, ``metadata.json``, ``metrics.json`` and ``MODEL_CARD.md`` into
``out_dir``. The same seed gives a byte-identical ``model.onnx``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
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
from models.lists import link_hosts
from models.spam_features import (
    AUTHOR_FEATURES,
    FEATURE_NAMES,
    FEATURES_VERSION,
    HASH_BUCKETS,
    TEXT_FEATURES,
    build_features,
    spam_shaped,
)
from modgate.types import SPAM, Author
from retrain.errors import DataError
from retrain.evaluate import PolicyView
from retrain.spam_cases import SOURCE as LOOKALIKES
from retrain.spam_cases import SPAM_SOURCE as WRITTEN_SPAM
from retrain.spam_cases import lookalike_rows, written_spam_rows
from retrain.spam_data import (
    SPAM_CITATIONS,
    SPAM_SOURCES,
    UTKML,
    SpamRow,
    cap_all,
    cap_train,
    check_trainable,
    read_spam_sources,
    read_utkml,
    training_legitimate,
    unseen_legitimate,
)

log = logging.getLogger(__name__)

ALL_SPAM_SOURCES = (*SPAM_SOURCES, WRITTEN_SPAM)
LINKED = "(any source, posts with a link)"

PARITY_TOLERANCE = 1e-5
EARLY_STOPPING_ROUNDS = 50
HYPERPARAMETERS: dict[str, Any] = {
    "tree_method": "hist",
    "max_depth": 6,
    "learning_rate": 0.1,
    "n_estimators": 600,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "eval_metric": "logloss",
    "n_jobs": 2,
}
# Train rows kept per (legitimate source, label): enough of every language and platform
# that no single corpus decides what "not spam" looks like.
LEGIT_TRAIN_CAP = 5_000
# Spam rows weigh this fraction of the legitimate rows' total weight in training.
POSITIVE_WEIGHT_SHARE = 0.25
# Lines suggested from dev: remove where at most this share of every legitimate dev source
# is flagged; defer where at most DEFER_LEGIT_RATE of all legitimate dev rows is.
REMOVE_LEGIT_RATE = 0.001
DEFER_LEGIT_RATE = 0.005
_GRID = (*tuple(round(0.5 + 0.005 * i, 3) for i in range(100)), 0.9975, 0.999)
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
class LegitRow:
    """How the shipped lines treat one source of legitimate speech (test rows, or all rows
    of a source no model trained on)."""

    source: str
    language: str
    seen_in_training: bool
    posts: int
    model_defer: int  # spam score >= defer_above
    model_remove: int  # spam score >= remove_above (the model alone, before evidence)
    policy_remove: int  # the policy's verdict REMOVE with a spam reason

    @property
    def policy_remove_rate(self) -> float:
        return self.policy_remove / self.posts if self.posts else 0.0

    @property
    def model_remove_rate(self) -> float:
        return self.model_remove / self.posts if self.posts else 0.0


@dataclass(frozen=True)
class SourceMetrics:
    """Spam detection on one test set (a spam source's test rows, or an unseen set)."""

    source: str
    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    at_policy: tuple[ThresholdMetrics, ...]
    best_f1: ThresholdMetrics


@dataclass(frozen=True)
class CrossDomainRow:
    """One training recipe's spam metrics on one test set it did or did not train on."""

    trained_on: str
    tested_on: str
    in_domain: bool
    metrics: SourceMetrics


@dataclass(frozen=True)
class SpamReport:
    """What one training run produced and how the exported model scored on held-out rows."""

    seed: int
    limit: int | None
    spam_sources: tuple[str, ...]
    rows: dict[str, dict[str, int]]  # source -> split -> rows (train after capping)
    train_rows: int
    dev_rows: int
    test_rows: int
    hyperparameters: dict[str, Any]
    n_trees: int
    best_dev_logloss: float
    suggested: dict[str, float]  # lines suggested by dev: defer_above, remove_above
    policy_version: str
    policy_lines: dict[str, float]
    spam_test: tuple[SourceMetrics, ...]
    legitimate: tuple[LegitRow, ...]
    cross_domain: tuple[CrossDomainRow, ...]
    parity_max_abs_diff: float
    parity_rows: int
    version: str
    model_sha256: str
    model_bytes: int
    n_features: int
    library_versions: dict[str, str]
    created_utc: str

    @property
    def combined(self) -> SourceMetrics:
        return next(m for m in self.spam_test if m.source == "all spam sources")

    @property
    def f1(self) -> float:
        return self.combined.at_policy[0].f1


def train_spam(
    data_dir: Path,
    out_dir: Path,
    *,
    seed: int,
    policy: PolicyView,
    limit: int | None = None,
    cross_domain: bool = True,
) -> SpamReport:
    """Train, export, evaluate and write the spam artifact into ``out_dir``; return the report.

    ``policy`` is the policy the lines and verdicts come from (the CLI adapts ``decision``).
    ``limit`` keeps at most that many rows per (source, label, split) everywhere (fast tests).
    Raises ParityError when the ONNX model differs from XGBoost by more than
    ``PARITY_TOLERANCE``; DataError when a source is missing or has no spam in a split.
    """
    spam_rows = read_spam_sources(data_dir) + written_spam_rows(seed)
    legit = training_legitimate(data_dir) + lookalike_rows(seed)
    unseen = unseen_legitimate(data_dir)
    utkml = read_utkml(data_dir)
    if limit:
        spam_rows, legit = cap_all(spam_rows, limit, seed), cap_all(legit, limit, seed)
        unseen, utkml = cap_all(unseen, limit, seed), cap_all(utkml, limit, seed)
    rows = spam_rows + cap_legit(legit, seed)
    if SPAM not in policy.categories:
        raise DataError(f"policy {policy.version}: no category {SPAM!r}")
    defer_above, remove_above = policy.lines(SPAM, region="", language="")
    if remove_above is None:
        raise DataError(f"policy {policy.version}: {SPAM} has no remove_above")
    lines = {"defer_above": defer_above, "remove_above": remove_above}

    train = [r for r in rows if r.split == "train"]
    dev = [r for r in rows if r.split == "dev"]
    test_spam = [r for r in spam_rows if r.split == "test"]
    model = fit(train, dev, seed)
    dev_scores = _xgb_scores(model, dev)
    suggested = suggest_lines(dev, dev_scores)

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.onnx"
    export_xgboost(model, len(FEATURE_NAMES), model_path, graph_name=SPAM)
    X_test = features(test_spam)
    parity_X = _parity_rows(X_test, seed)
    parity = check_parity(model, model_path, parity_X)
    if parity > PARITY_TOLERANCE:
        raise ParityError(parity, PARITY_TOLERANCE, len(parity_X))

    def served(subset: Sequence[SpamRow]) -> np.ndarray:
        if not subset:
            return np.zeros(0, dtype=np.float32)
        return onnx_positive_proba(model_path, features(subset))

    spam_test = tuple(
        source_metrics(name, subset, served(subset), lines)
        for name, subset in _spam_test_sets(test_spam, utkml)
    )
    legitimate = legit_table([r for r in legit if r.split == "test"], unseen, served, policy, lines)
    crossed = cross_domain_table(spam_rows, legit, utkml, seed, lines) if cross_domain else ()
    model_bytes = model_path.read_bytes()
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    created = datetime.now(UTC).replace(microsecond=0)
    report = SpamReport(
        seed=seed,
        limit=limit,
        spam_sources=ALL_SPAM_SOURCES,
        rows=_row_counts(rows),
        train_rows=len(train),
        dev_rows=len(dev),
        test_rows=len(test_spam),
        hyperparameters={**HYPERPARAMETERS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS},
        n_trees=int(model.best_iteration) + 1,
        best_dev_logloss=float(model.best_score),
        suggested=suggested,
        policy_version=policy.version,
        policy_lines=lines,
        spam_test=spam_test,
        legitimate=legitimate,
        cross_domain=crossed,
        parity_max_abs_diff=parity,
        parity_rows=len(parity_X),
        version=f"spam-{created:%Y%m%d}-{sha256[:8]}",
        model_sha256=sha256,
        model_bytes=len(model_bytes),
        n_features=len(FEATURE_NAMES),
        library_versions=_library_versions(),
        created_utc=created.isoformat(),
    )
    _write_metadata(out_dir, report)
    (out_dir / "metrics.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (out_dir / "MODEL_CARD.md").write_text(render_model_card(report))
    log.info(
        "spam model %s: test F1 %.4f at defer_above, %d trees, parity %.2g",
        report.version,
        report.f1,
        report.n_trees,
        parity,
    )
    return report


def cap_legit(legit: Sequence[SpamRow], seed: int) -> list[SpamRow]:
    """The legitimate train rows: ``LEGIT_TRAIN_CAP`` per source, plus every spam-shaped one
    (a phone number, money, a link: the rows that teach what spam is *not*)."""
    return cap_train(list(legit), LEGIT_TRAIN_CAP, seed, keep=lambda row: spam_shaped(row.text))


def features(rows: Sequence[SpamRow]) -> np.ndarray:
    """The served features of ``rows`` (follower counts where a source has them)."""
    authors = [None if r.followers is None else Author(followers=int(r.followers)) for r in rows]
    return build_features([r.text for r in rows], authors)


def fit(train: Sequence[SpamRow], dev: Sequence[SpamRow], seed: int) -> xgboost.XGBClassifier:
    """XGBoost on ``train`` (spam weighted to ``POSITIVE_WEIGHT_SHARE``), early-stopped on dev.
    DataError if a row of either comes from a measurement-only source."""
    check_trainable([*train, *dev])
    y_train = np.array([r.label for r in train], dtype=np.int64)
    y_dev = np.array([r.label for r in dev], dtype=np.int64)
    for name, y in (("train", y_train), ("dev", y_dev)):
        if not 0 < int(y.sum()) < len(y):
            raise DataError(f"the {name} split needs both spam and legitimate rows")
    weight = np.ones(len(y_train), dtype=np.float64)
    positives = int(y_train.sum())
    weight[y_train == 1] = POSITIVE_WEIGHT_SHARE * (len(y_train) - positives) / positives
    model = xgboost.XGBClassifier(
        **HYPERPARAMETERS, early_stopping_rounds=EARLY_STOPPING_ROUNDS, random_state=seed
    )
    model.fit(
        features(train),
        y_train,
        sample_weight=weight,
        eval_set=[(features(dev), y_dev)],
        verbose=False,
    )
    return model


def _xgb_scores(model: xgboost.XGBClassifier, rows: Sequence[SpamRow]) -> np.ndarray:
    if not rows:
        return np.zeros(0)
    return np.asarray(model.predict_proba(features(rows))[:, 1])


def suggest_lines(dev: Sequence[SpamRow], scores: np.ndarray) -> dict[str, float]:
    """The lowest grid lines meeting the legitimate-speech budgets on the dev rows.

    remove: every dev source's legitimate rows flagged at most ``REMOVE_LEGIT_RATE`` (and
    never one where a source has under 1 / rate rows: then none may be flagged);
    defer: at most ``DEFER_LEGIT_RATE`` of all legitimate dev rows flagged.
    """
    legit = np.array([r.label == 0 for r in dev])
    sources = sorted({r.source for r in dev})
    by_source = {s: np.array([r.source == s and r.label == 0 for r in dev]) for s in sources}
    remove = defer = _GRID[-1]
    for line in reversed(_GRID):
        flagged = scores >= line
        if all(
            flagged[mask].sum() <= REMOVE_LEGIT_RATE * mask.sum() for mask in by_source.values()
        ):
            remove = line
        else:
            break
    for line in reversed(_GRID):
        if (scores[legit] >= line).mean() <= DEFER_LEGIT_RATE:
            defer = line
        else:
            break
    return {"defer_above": defer, "remove_above": remove}


def _spam_test_sets(
    test_spam: Sequence[SpamRow], utkml: Sequence[SpamRow]
) -> list[tuple[str, Sequence[SpamRow]]]:
    sets: list[tuple[str, Sequence[SpamRow]]] = [("all spam sources", test_spam)]
    sets += [(s, [r for r in test_spam if r.source == s]) for s in ALL_SPAM_SOURCES]
    if utkml:
        sets.append((f"{UTKML} (never trained on)", utkml))
    return sets


def source_metrics(
    name: str, rows: Sequence[SpamRow], scores: np.ndarray, lines: dict[str, float]
) -> SourceMetrics:
    y = np.array([r.label for r in rows], dtype=np.int64)
    both = 0 < int(y.sum()) < len(y)
    grid = [threshold_metrics(y, scores, t, f"{t:g}") for t in _GRID]
    return SourceMetrics(
        source=name,
        rows=len(rows),
        positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, scores)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, scores)) if both else float("nan"),
        at_policy=tuple(threshold_metrics(y, scores, line, rule) for rule, line in lines.items()),
        best_f1=max(grid, key=lambda m: m.f1),
    )


def legit_table(
    seen_test: Sequence[SpamRow],
    unseen: Sequence[SpamRow],
    score: Any,
    policy: PolicyView,
    lines: dict[str, float],
) -> tuple[LegitRow, ...]:
    """Per source of legitimate speech: model-alone flags and policy removals (spam reasons)."""
    out = []
    for seen, rows in ((True, seen_test), (False, unseen)):
        legit = [r for r in rows if r.label == 0]
        groups = [
            (s, [r for r in legit if r.source == s]) for s in sorted({r.source for r in legit})
        ]
        # Links are what spam is made of, and most corpora strip them: count those posts too.
        groups.append((LINKED, [r for r in legit if link_hosts(r.text)]))
        for source, subset in groups:
            if not subset:
                continue
            scores = score(subset)
            # Only the spam score is given, so a REMOVE verdict is a spam removal.
            removed = sum(
                policy.action({SPAM: float(p)}, region="", language=row.language) == "remove"
                for row, p in zip(subset, scores.tolist(), strict=True)
            )
            out.append(
                LegitRow(
                    source,
                    subset[0].language if source != LINKED else "any",
                    seen,
                    len(subset),
                    int((scores >= lines["defer_above"]).sum()),
                    int((scores >= lines["remove_above"]).sum()),
                    removed,
                )
            )
    return tuple(out)


def cross_domain_table(
    spam_rows: Sequence[SpamRow],
    legit: Sequence[SpamRow],
    utkml: Sequence[SpamRow],
    seed: int,
    lines: dict[str, float],
) -> tuple[CrossDomainRow, ...]:
    """Train on each spam source alone (plus the legitimate speech), test on every set."""
    capped = cap_legit(legit, seed)
    tests = {
        s: [r for r in spam_rows if r.source == s and r.split == "test"] for s in ALL_SPAM_SOURCES
    }
    if utkml:
        tests[f"{UTKML} (never trained on)"] = list(utkml)
    # Each real source alone (no written cases: what one public set teaches), then everything.
    recipes = [(s,) for s in SPAM_SOURCES] + [ALL_SPAM_SOURCES]
    out = []
    for recipe in recipes:
        rows = [r for r in spam_rows if r.source in recipe] + capped
        model = fit(
            [r for r in rows if r.split == "train"], [r for r in rows if r.split == "dev"], seed
        )
        for name, subset in tests.items():
            metrics = source_metrics(name, subset, _xgb_scores(model, subset), lines)
            out.append(CrossDomainRow(" + ".join(recipe), name, name in recipe, metrics))
    return tuple(out)


def _row_counts(rows: Sequence[SpamRow]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        key = f"{r.source} ({'spam' if r.label else 'legitimate'})"
        counts.setdefault(key, {"train": 0, "dev": 0, "test": 0})[r.split] += 1
    return dict(sorted(counts.items()))


def report_from_dict(data: dict[str, Any]) -> SpamReport:
    """The report ``metrics.json`` holds (to render the card again without retraining)."""

    def thresholds(items: list[dict[str, Any]]) -> tuple[ThresholdMetrics, ...]:
        return tuple(ThresholdMetrics(**m) for m in items)

    def source(m: dict[str, Any]) -> SourceMetrics:
        return SourceMetrics(
            **{
                **m,
                "at_policy": thresholds(m["at_policy"]),
                "best_f1": ThresholdMetrics(**m["best_f1"]),
            }
        )

    return SpamReport(
        **{
            **data,
            "spam_sources": tuple(data["spam_sources"]),
            "spam_test": tuple(source(m) for m in data["spam_test"]),
            "legitimate": tuple(LegitRow(**r) for r in data["legitimate"]),
            "cross_domain": tuple(
                CrossDomainRow(**{**r, "metrics": source(r["metrics"])})
                for r in data["cross_domain"]
            ),
        }
    )


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
        "features_version": FEATURES_VERSION,
        "hash_buckets": HASH_BUCKETS,
        "seed": report.seed,
        "trained_rows": report.train_rows,
        "data": ["sms_spam", "scamspot", "real training corpora of retrain/corpora (label 0)"],
        "suggested_lines": report.suggested,
        "created_utc": report.created_utc,
    }
    (out_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.2f} %" if d else "–"


def _metrics_row(m: SourceMetrics) -> str:
    d, r = m.at_policy
    return (
        f"| {m.source} | {m.rows:,} | {m.positives:,} | {m.roc_auc:.4f} | {m.pr_auc:.4f} "
        f"| {d.precision:.3f} / {d.recall:.3f} / {d.f1:.3f} "
        f"| {r.precision:.3f} / {r.recall:.3f} / {r.f1:.3f} ({r.fp} FP) "
        f"| {m.best_f1.f1:.3f} at {m.best_f1.threshold:g} |"
    )


def render_legit_table(rows: Sequence[LegitRow]) -> str:
    head = (
        "| source | language | trained on | posts | model ≥ defer | model ≥ remove "
        "| policy removes |\n|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(
        f"| {r.source} | {r.language} | {'yes (test rows)' if r.seen_in_training else 'never'} "
        f"| {r.posts:,} | {r.model_defer} ({_pct(r.model_defer, r.posts)}) "
        f"| {r.model_remove} ({_pct(r.model_remove, r.posts)}) "
        f"| {r.policy_remove} ({_pct(r.policy_remove, r.posts)}) |"
        for r in rows
    )


def render_cross_domain(rows: Sequence[CrossDomainRow]) -> str:
    head = (
        "| trained on | tested on | in domain | ROC-AUC | P / R / F1 at defer line "
        "| P / R / F1 at remove line | best F1 |\n|---|---|---|---|---|---|---|\n"
    )
    body = []
    for row in rows:
        m = row.metrics
        d, r = m.at_policy
        body.append(
            f"| {row.trained_on} | {row.tested_on} | {'yes' if row.in_domain else '**no**'} "
            f"| {m.roc_auc:.4f} | {d.precision:.3f} / {d.recall:.3f} / {d.f1:.3f} "
            f"| {r.precision:.3f} / {r.recall:.3f} / {r.f1:.3f} "
            f"| {m.best_f1.f1:.3f} at {m.best_f1.threshold:g} |"
        )
    return head + "\n".join(body)


def render_model_card(report: SpamReport) -> str:
    """MODEL_CARD.md for the artifact ``report`` describes (generated, never hand-edited)."""
    r = report
    hp = r.hyperparameters
    subset = f" (at most {r.limit} rows per source, label and split)" if r.limit else ""
    cli_limit = f" --limit {r.limit}" if r.limit else ""
    versions = ", ".join(f"{k} {v}" for k, v in r.library_versions.items())
    counts = "\n".join(
        f"| {name} | {c['train']:,} | {c['dev']:,} | {c['test']:,} |" for name, c in r.rows.items()
    )
    spam_rows = "\n".join(_metrics_row(m) for m in r.spam_test)
    legit = [x for x in r.legitimate if x.source != LINKED]
    total = sum(x.posts for x in legit)
    removed = sum(x.policy_remove for x in legit)
    alone = sum(x.model_remove for x in legit)
    worst = max(legit, key=lambda x: x.model_remove_rate, default=None)
    worst_line = (
        f"the highest model-alone rate is {_pct(worst.model_remove, worst.posts)} "
        f"({worst.source}, {worst.model_remove} of {worst.posts:,})"
        if worst
        else "no legitimate rows"
    )
    lines = r.policy_lines
    crossed = (
        render_cross_domain(r.cross_domain) if r.cross_domain else "(not run: `cross_domain=False`)"
    )
    citations = "\n".join(f"- `{k}`: {v}" for k, v in SPAM_CITATIONS.items())
    return f"""# Spam classifier `{r.version}` (v2: social-media spam, features v{FEATURES_VERSION})

Generated by `retrain.spam.render_model_card` from the training report (`metrics.json`);
do not edit by hand. Retrain to change it.

## Model details
- XGBoost gradient-boosted trees (`binary:logistic`, `{hp["tree_method"]}`), **{r.n_trees}
  trees** (early stopping on dev log-loss, patience {hp["early_stopping_rounds"]}, at most
  {hp["n_estimators"]}; best dev log-loss {r.best_dev_logloss:.4f}), max depth {hp["max_depth"]},
  learning rate {hp["learning_rate"]}, subsample {hp["subsample"]}, column sample
  {hp["colsample_bytree"]}, seed {r.seed}; spam rows weigh {POSITIVE_WEIGHT_SHARE:g} of the
  legitimate rows' total weight.
- Exported to ONNX (`ai.onnx.ml.TreeEnsembleClassifier`), served with ONNX Runtime:
  input `{INPUT_NAME}` float32 `[N, {r.n_features}]`, output `{PROBABILITIES_OUTPUT}` float32
  `[N, 2]`, column {POSITIVE_INDEX} = P(spam). `model.onnx`: {r.model_bytes:,} bytes, sha256
  `{r.model_sha256}`.
- {r.n_features} features from `models/spam_features.py` version {FEATURES_VERSION} (the same
  code at training and serving): {len(TEXT_FEATURES)} text-shape features
  ({", ".join(TEXT_FEATURES)}); {len(AUTHOR_FEATURES)} author features
  ({", ".join(AUTHOR_FEATURES)}), NaN when unknown; {HASH_BUCKETS} hashed word unigram +
  bigram counts of the normalized text (CRC32 buckets, no vocabulary file).
- Built with {versions}.

## Intended use and limits
- Scores one post's text for unsolicited commercial or fraudulent content: prize and
  premium-number SMS, crypto / forex "investment" promotion, "DM me" and follow-for-follow
  comments. Its score feeds the policy's `spam` lines; **on its own it never removes**:
  `remove_requires_evidence` turns a model removal into DEFER unless a behaviour or list
  signal fired (near-duplicates by other authors, a posting flood, a blocked domain), so
  a single ordinary post cannot be removed as spam whatever its wording.
- English spam only: both spam sources are English. Legitimate speech comes in 11 languages,
  so other languages are *not flagged* (see the table below), not *protected against spam*:
  spam in other languages is for the behaviour signals and the lists.
- Author features: no training source has account age, posting rate or prior violations
  (NaN throughout, so the trees never split on them); they gain meaning only after
  retraining on logged serving features once moderator labels exist.
- Spam that looks like conversation (a reply with a bare link, a bot's "nice pic!") is
  beyond the text: that is what the near-duplicate and rate signals are for.
- Links: most corpora strip them, so few real legitimate posts with a link reach training
  or test (the row *posts with a link* below is mostly written look-alikes). A post sharing
  a link, a sum of money and an "apply now" scores higher than it should: expect such posts
  among the deferrals.

## Data
{citations}
- Legitimate speech (label 0): every real (not templated) training corpus of the text model
  (`retrain/corpora`; licences in `models/artifacts/text/MODEL_CARD.md`), at most
  {LEGIT_TRAIN_CAP:,} train rows per source plus every row with a phone number, a short code,
  a sum of money or prize word, or a link (`models.spam_features.spam_shaped`: what teaches
  the model what spam is *not*). Offensive posts are legitimate here: abuse is not spam.
- `{LOOKALIKES}`: written legitimate look-alikes (`retrain/spam_cases.py`): civic
  campaigns with an MP's phone number, lost pets with a reward, crisis lines with short
  codes, anti-scam warnings, prizes won at school; and `{WRITTEN_SPAM}`: written spam of the
  genres the two spam sources lack (channel self-promotion, follow-for-follow, fake
  followers, giveaways, work-from-home income, dating bait, phishing, SEO spam). Both split
  by *template*, so their test rows are phrasings training never saw.
- Measured only, never trained on: the `eval_only/` corpora (whole sources and languages
  the model never saw) and UTKML's tweets labelled spam / quality by account
  (`eval_only/utkml_twitter_spam_en_research`, licence unknown).
- Splits by content (CRC32 of the normalized text: 60 / 20 / 20), so a repeated text never
  sits on both sides{subset}. Train rows are after the cap; dev picks the lines; test is
  read once.

| source | train | dev | test |
|---|---|---|---|
{counts}

## Lines
The policy (`configs/policy.yaml` version {r.policy_version}) defers at
**{lines["defer_above"]:g}** and (with evidence) removes at **{lines["remove_above"]:g}**.
Suggested by dev: defer_above {r.suggested["defer_above"]:g} (at most
{100 * DEFER_LEGIT_RATE:g} % of legitimate dev rows flagged), remove_above
{r.suggested["remove_above"]:g} (at most {100 * REMOVE_LEGIT_RATE:g} % of every legitimate
dev source flagged).

## Held-out spam detection (exported ONNX model)
Precision / recall / F1 at the policy's lines; best F1 over lines 0.5–0.999.

| test set | rows | spam | ROC-AUC | PR-AUC | at defer line | at remove line | best F1 |
|---|---|---|---|---|---|---|---|
{spam_rows}

## Legitimate speech: what the lines would flag
Test rows of every training corpus, and every row of the corpora it never trained on.
*Model ≥ remove* is what the model alone would remove without the evidence rule; *policy
removes* is the shipped policy's verdict on the post alone (a new author, no behaviour
signal). Over {total:,} legitimate posts: the policy removed **{removed}**, the model alone
would have removed {alone} ({_pct(alone, total)}); {worst_line}.

{render_legit_table(r.legitimate)}

## Cross-domain
The same recipe trained on one spam source at a time (plus the legitimate speech), tested
on the other source and on UTKML's tweets, which no recipe trains on.

{crossed}

## ONNX parity
Max abs difference between XGBoost `predict_proba` and ONNX Runtime (CPU):
**{r.parity_max_abs_diff:.2e}** over {r.parity_rows:,} rows (the spam test rows, plus the same
rows with author features set to random values or NaN); the job fails above
{PARITY_TOLERANCE:.0e}.

## Reproduce
```
modgate train spam --seed {r.seed}{cli_limit}
```
The same seed and library versions give a byte-identical `model.onnx`; `metadata.json`,
`metrics.json` and this card also record the creation time ({r.created_utc}).
"""
