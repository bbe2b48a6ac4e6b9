"""SpamClassifier on the shipped artifact: scores, order, protocol, and artifact checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from models.errors import ArtifactError, ModelTimeoutError
from models.interface import Classifier
from models.spam import SpamClassifier
from modgate.settings import ARTIFACTS_DIR, OnnxSettings
from modgate.types import Author, Post

SHIPPED = ARTIFACTS_DIR / "spam" / "model.onnx"
SPAM_TEXT = "URGENT! You have won a £2000 prize. Call 09061701939 to claim, valid 12hrs"
HAM_TEXT = "See you at lunch tomorrow? I'll bring the notes"


def load(model_path: Path = SHIPPED) -> SpamClassifier:
    return SpamClassifier.from_artifact(model_path, name="spam", onnx=OnnxSettings())


@pytest.fixture
async def spam() -> AsyncIterator[SpamClassifier]:
    classifier = load()
    yield classifier
    await classifier.aclose()


def post(text: str, i: int = 0, author: Author | None = None) -> Post:
    return Post(post_id=f"p{i}", text=text, author=author or Author())


async def test_scores_obvious_sms_spam_high(spam: SpamClassifier) -> None:
    [scores] = await spam.predict([post(SPAM_TEXT)], timeout_s=1.0)
    assert scores["spam"] > 0.9


async def test_scores_a_friendly_message_low(spam: SpamClassifier) -> None:
    [scores] = await spam.predict([post(HAM_TEXT)], timeout_s=1.0)
    assert scores["spam"] < 0.1


@pytest.mark.parametrize("size", [3, 12], ids=["inline-features", "executor-features"])
async def test_predict_keeps_batch_order(spam: SpamClassifier, size: int) -> None:
    texts = [SPAM_TEXT if i % 3 == 0 else f"{HAM_TEXT} #{i}" for i in range(size)]
    batch = await spam.predict([post(t, i) for i, t in enumerate(texts)], timeout_s=1.0)
    one_by_one = [(await spam.predict([post(t)], timeout_s=1.0))[0] for t in texts]
    assert [s["spam"] for s in batch] == pytest.approx([s["spam"] for s in one_by_one], abs=1e-6)
    assert [s["spam"] > 0.5 for s in batch] == [i % 3 == 0 for i in range(size)]


async def test_known_author_features_still_score(spam: SpamClassifier) -> None:
    author = Author(id="a", account_age_days=1.0, followers=3, prior_violations=2)
    [scores] = await spam.predict([post(SPAM_TEXT, author=author)], timeout_s=1.0)
    assert 0.0 <= scores["spam"] <= 1.0


async def test_empty_batch_scores_nothing(spam: SpamClassifier) -> None:
    assert await spam.predict([], timeout_s=1.0) == []


async def test_no_budget_left_times_out(spam: SpamClassifier) -> None:
    with pytest.raises(ModelTimeoutError):
        await spam.predict([post(SPAM_TEXT)], timeout_s=0.0)


async def test_implements_the_classifier_protocol(spam: SpamClassifier) -> None:
    metadata = json.loads((SHIPPED.parent / "metadata.json").read_text())
    assert isinstance(spam, Classifier)
    assert spam.name == "spam"
    assert spam.version == metadata["version"]
    assert spam.categories == ("spam",)


async def test_applies_only_to_posts_with_text(spam: SpamClassifier) -> None:
    assert spam.applies_to(post("hi"))
    assert not spam.applies_to(post(""))


def copy_artifact(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copy(SHIPPED, tmp_path / "model.onnx")
    metadata = json.loads((SHIPPED.parent / "metadata.json").read_text())
    edit(metadata)
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    return tmp_path / "model.onnx"


def test_rejects_metadata_with_wrong_feature_count(tmp_path: Path) -> None:
    path = copy_artifact(tmp_path, lambda m: m.update(n_features=m["n_features"] - 1))
    with pytest.raises(ArtifactError, match="features"):
        load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(kind="toxicity"), "kind"),
        (lambda m: m["feature_names"].reverse(), "feature_names differ at index 0"),
        (lambda m: m.update(hash_buckets=256), "hash_buckets"),
        (lambda m: m.update(features_version=1), "spam features version 1"),
        (lambda m: m.pop("probabilities_output"), "missing keys"),
        (lambda m: m.update(probabilities_output="scores"), "no output 'scores'"),
        (lambda m: m.update(input_name="x"), "inputs"),
    ],
    ids=[
        "kind",
        "feature-names",
        "hash-buckets",
        "features-version",
        "missing-key",
        "output-name",
        "input-name",
    ],
)
def test_rejects_inconsistent_metadata(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ArtifactError, match=message):
        load(copy_artifact(tmp_path, edit))


def test_rejects_artifact_without_metadata(tmp_path: Path) -> None:
    shutil.copy(SHIPPED, tmp_path / "model.onnx")
    with pytest.raises(ArtifactError, match=r"metadata\.json"):
        load(tmp_path / "model.onnx")
