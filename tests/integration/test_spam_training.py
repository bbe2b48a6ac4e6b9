"""The spam training job end to end on a 600-row subset: artifact, parity, card, determinism."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from export.xgboost_onnx import onnx_positive_proba
from models.spam import SpamClassifier
from models.spam_features import build_features
from modgate.settings import OnnxSettings
from modgate.types import Post
from retrain.spam import PARITY_TOLERANCE, SpamReport, train_spam
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

SEED = 20261121
LIMIT = 600
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
    "hash_buckets",
    "seed",
    "trained_rows",
    "data",
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
    return shared_data("sms_spam/SMSSpamCollection")


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SpamReport, Path]:
    out_dir = tmp_path_factory.mktemp("spam")
    return train_spam(data_dir, out_dir, seed=SEED, limit=LIMIT), out_dir


def test_export_matches_xgboost_within_tolerance(trained: tuple[SpamReport, Path]) -> None:
    report, _ = trained
    assert report.parity_max_abs_diff <= PARITY_TOLERANCE
    assert report.parity_rows == 2 * report.test_rows


def test_splits_the_subset_60_20_20(trained: tuple[SpamReport, Path]) -> None:
    report, _ = trained
    assert report.rows == LIMIT
    assert (report.train_rows, report.dev_rows, report.test_rows) == (360, 120, 120)
    assert 0 < report.test_positives < report.test_rows
    assert 0.5 < report.roc_auc <= 1.0
    assert [m.rule for m in report.at_policy] == ["defer_above", "remove_above"]


def test_writes_the_metadata_serving_relies_on(trained: tuple[SpamReport, Path]) -> None:
    report, out_dir = trained
    metadata = json.loads((out_dir / "metadata.json").read_text())
    assert set(metadata) == METADATA_KEYS
    assert re.fullmatch(r"spam-\d{8}-[0-9a-f]{8}", metadata["version"])
    assert metadata["version"] == report.version
    assert report.version.endswith(report.model_sha256[:8])
    assert metadata["trained_rows"] == report.train_rows
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["at_half"]["f1"] == report.f1
    assert metrics["roc_auc"] == report.roc_auc


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


def test_model_card_carries_attribution_and_metrics(trained: tuple[SpamReport, Path]) -> None:
    report, out_dir = trained
    card = (out_dir / "MODEL_CARD.md").read_text()
    assert "Almeida, T.A., Gómez Hidalgo, J.M., Yamakami, A." in card
    assert "DOCENG'11" in card
    assert f"| F1 | {report.f1:.4f} |" in card
    assert f"| ROC-AUC | {report.roc_auc:.4f} |" in card
    assert f"{report.parity_max_abs_diff:.2e}" in card
    assert f"--seed {SEED}" in card


def test_same_seed_gives_identical_model(
    trained: tuple[SpamReport, Path], data_dir: Path, tmp_path: Path
) -> None:
    first, first_dir = trained
    second = train_spam(data_dir, tmp_path, seed=SEED, limit=LIMIT)
    X = build_features(PROBE_TEXTS, [None] * len(PROBE_TEXTS))
    np.testing.assert_array_equal(
        onnx_positive_proba(first_dir / "model.onnx", X),
        onnx_positive_proba(tmp_path / "model.onnx", X),
    )
    assert second.model_sha256 == first.model_sha256
    assert (tmp_path / "model.onnx").read_bytes() == (first_dir / "model.onnx").read_bytes()
