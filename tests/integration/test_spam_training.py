"""The spam training job end to end on a capped subset: artifact, parity, per-source
legitimate-speech table, cross-domain table, card, determinism, and the licence boundary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from export.xgboost_onnx import onnx_positive_proba
from models.spam import SpamClassifier
from models.spam_features import FEATURES_VERSION, build_features
from modgate.cli.evaluate import DecisionPolicy
from modgate.settings import DEFAULT_POLICY, OnnxSettings
from modgate.types import Post
from retrain.corpora.registry import eval_only_corpora
from retrain.errors import DataError
from retrain.spam import (
    LINKED,
    PARITY_TOLERANCE,
    SpamReport,
    fit,
    render_model_card,
    report_from_dict,
    train_spam,
)
from retrain.spam_data import SPAM_SOURCES, SpamRow, split_of, training_legitimate
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

SEED = 20261203
LIMIT = 60  # rows per (source, label, split)
METADATA_KEYS = {
    "kind",
    "name",
    "version",
    "categories",
    "input_name",
    "probabilities_output",
    "positive_index",
    "n_features",
    "feature_names",
    "features_version",
    "hash_buckets",
    "seed",
    "trained_rows",
    "data",
    "suggested_lines",
    "created_utc",
}
PROBE_TEXTS = [
    "URGENT! You have won a £2000 prize. Call 09061701939 to claim, valid 12hrs",
    "See you at lunch tomorrow? I'll bring the notes",
    "FREE entry to win a holiday! Txt WIN to 80086 now",
    "ok lar, on my way home",
]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("sms_spam/SMSSpamCollection", "scamspot/comments-rating.csv", "davidson")


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SpamReport, Path]:
    out_dir = tmp_path_factory.mktemp("spam")
    policy = DecisionPolicy.load(DEFAULT_POLICY)
    return train_spam(data_dir, out_dir, seed=SEED, policy=policy, limit=LIMIT), out_dir


def test_export_matches_xgboost_within_tolerance(trained: tuple[SpamReport, Path]) -> None:
    report, _ = trained
    assert report.parity_max_abs_diff <= PARITY_TOLERANCE
    assert report.parity_rows == 2 * report.test_rows


def test_splits_are_by_content_and_every_source_is_counted(
    trained: tuple[SpamReport, Path],
) -> None:
    report, _ = trained
    assert split_of("Hello  World") == split_of("hello world")
    for source in SPAM_SOURCES:
        for label in ("spam", "legitimate"):
            counts = report.rows[f"{source} ({label})"]
            assert 0 < counts["train"] <= LIMIT
            assert 0 < counts["test"] <= LIMIT
    assert report.rows["davidson (legitimate)"]["train"] > 0
    assert report.train_rows == sum(c["train"] for c in report.rows.values())
    assert set(report.suggested) == {"defer_above", "remove_above"}


def test_reports_spam_per_source_and_legitimate_speech_per_corpus(
    trained: tuple[SpamReport, Path],
) -> None:
    report, _ = trained
    names = [m.source for m in report.spam_test]
    assert names[:4] == ["all spam sources", *SPAM_SOURCES, "spam_written_en"]
    for metrics in report.spam_test[:4]:
        assert metrics.positives > 0
        if metrics.positives < metrics.rows:  # written spam has no legitimate rows: no AUC
            assert 0.5 < metrics.roc_auc <= 1.0
        assert [m.rule for m in metrics.at_policy] == ["defer_above", "remove_above"]
    seen = {r.source for r in report.legitimate if r.seen_in_training} - {LINKED}
    unseen = {r.source for r in report.legitimate if not r.seen_in_training} - {LINKED}
    assert {"davidson", "cold_zh", "told_br", "spam_lookalikes_en"} <= seen
    assert unseen  # the eval_only corpora, never trained on
    assert not seen & unseen
    for row in report.legitimate:
        assert row.policy_remove <= row.model_remove <= row.model_defer <= row.posts
        # Spam removal needs behaviour or list evidence, which one post alone never has.
        assert row.policy_remove == 0


def test_cross_domain_trains_on_each_source_alone(trained: tuple[SpamReport, Path]) -> None:
    report, _ = trained
    recipes = {row.trained_on for row in report.cross_domain}
    assert recipes == {"sms", "scamspot", "sms + scamspot + spam_written_en"}
    out_of_domain = {(r.trained_on, r.tested_on) for r in report.cross_domain if not r.in_domain}
    assert ("sms", "scamspot") in out_of_domain
    assert ("scamspot", "sms") in out_of_domain


def test_never_trains_on_eval_only_corpora(data_dir: Path) -> None:
    eval_sources = {s for c in eval_only_corpora() for s in c.sources}
    assert eval_sources
    assert not {r.source for r in training_legitimate(data_dir)} & eval_sources
    rows = [
        SpamRow("buy followers http://x.example", 1, "sms", "en", "train"),
        SpamRow("see you at lunch", 0, "davidson", "en", "train"),
    ]
    for forbidden in ("utkml_tweets", sorted(eval_sources)[0]):
        leaked = [*rows, SpamRow("hello", 0, forbidden, "en", "train")]
        with pytest.raises(DataError, match=f"{forbidden!r} is measurement-only"):
            fit(leaked, rows, seed=SEED)


def test_writes_the_metadata_serving_relies_on(trained: tuple[SpamReport, Path]) -> None:
    report, out_dir = trained
    metadata = json.loads((out_dir / "metadata.json").read_text())
    assert set(metadata) == METADATA_KEYS
    assert metadata["features_version"] == FEATURES_VERSION
    assert re.fullmatch(r"spam-\d{8}-[0-9a-f]{8}", metadata["version"])
    assert metadata["version"] == report.version
    assert metadata["trained_rows"] == report.train_rows
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["suggested"] == report.suggested


async def test_artifact_loads_and_scores(trained: tuple[SpamReport, Path]) -> None:
    report, out_dir = trained
    classifier = SpamClassifier.from_artifact(
        out_dir / "model.onnx", name="spam-candidate", onnx=OnnxSettings()
    )
    try:
        assert classifier.version == report.version
        posts = [Post(post_id=str(i), text=t) for i, t in enumerate(PROBE_TEXTS)]
        scores = [s["spam"] for s in await classifier.predict(posts, timeout_s=2.0)]
    finally:
        await classifier.aclose()
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert min(scores[0], scores[2]) > max(scores[1], scores[3])


def test_model_card_carries_sources_tables_and_limits(trained: tuple[SpamReport, Path]) -> None:
    report, out_dir = trained
    card = (out_dir / "MODEL_CARD.md").read_text()
    assert "Almeida, Gómez Hidalgo & Yamakami" in card
    assert "ScamSpot" in card
    assert "## Legitimate speech: what the lines would flag" in card
    assert "## Cross-domain" in card
    assert "| davidson | en | yes (test rows) |" in card
    assert "never trained on" in card
    assert f"{report.parity_max_abs_diff:.2e}" in card
    assert f"--seed {SEED}" in card


def test_same_seed_gives_identical_model(
    trained: tuple[SpamReport, Path], data_dir: Path, tmp_path: Path
) -> None:
    first, first_dir = trained
    policy = DecisionPolicy.load(DEFAULT_POLICY)
    second = train_spam(
        data_dir, tmp_path, seed=SEED, policy=policy, limit=LIMIT, cross_domain=False
    )
    X = build_features(PROBE_TEXTS, [None] * len(PROBE_TEXTS))
    np.testing.assert_array_equal(
        onnx_positive_proba(first_dir / "model.onnx", X),
        onnx_positive_proba(tmp_path / "model.onnx", X),
    )
    assert second.model_sha256 == first.model_sha256
    assert second.cross_domain == ()


def test_the_card_renders_again_from_metrics_json(trained: tuple[SpamReport, Path]) -> None:
    _, out_dir = trained
    data = json.loads((out_dir / "metrics.json").read_text())
    card = render_model_card(report_from_dict(data))
    assert card == (out_dir / "MODEL_CARD.md").read_text()
