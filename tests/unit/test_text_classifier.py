"""The shipped text classifier through the serving path: artifact checks, scores, batching,
evasion, long texts, and the async ``Classifier`` contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.errors import ArtifactError, ModelTimeoutError
from models.factory import build_classifier
from models.text import TextClassifier, TextModel, check_text_metadata
from modgate.settings import ARTIFACTS_DIR, ClassifierUrl, OnnxSettings
from modgate.types import HATE, TOXICITY, Post

MODEL = ARTIFACTS_DIR / "text" / "model.onnx"
TOXIC = "you are a stupid bitch"
HATEFUL = "Muslims are vermin and should be wiped out"
CLEAN = "Thanks for the recipe, the cake turned out great"


@pytest.fixture(scope="module")
def model() -> TextModel:
    m = TextModel.load(MODEL, name="text", onnx=OnnxSettings(intra_op_threads=2))
    yield m
    m.session.close()


def _metadata() -> dict:
    return json.loads((MODEL.parent / "metadata.json").read_text())


def test_shipped_artifact_declares_toxicity_and_hate() -> None:
    artifact = check_text_metadata(_metadata(), MODEL, name="text")
    assert artifact.categories == (TOXICITY, HATE)
    assert artifact.max_tokens == 128


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "spam"}, "expected 'text'"),
        ({"categories": []}, "non-empty list"),
        ({"categories": ["Toxic!"]}, "non-empty list"),
        ({"categories": ["hate", "hate"]}, "distinct"),
        ({"special_tokens": {"bos": "<s>"}}, "bos, eos and pad"),
        ({"max_tokens": 4096}, "8..512"),
    ],
)
def test_rejects_malformed_metadata(change: dict, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        check_text_metadata({**_metadata(), **change}, MODEL, name="text")


def test_rejects_metadata_missing_keys() -> None:
    meta = _metadata()
    del meta["special_tokens"]
    with pytest.raises(ArtifactError, match="missing keys"):
        check_text_metadata(meta, MODEL, name="text")


def test_a_missing_tokenizer_fails_at_load(tmp_path: Path) -> None:
    for name in ("model.onnx", "metadata.json"):
        shutil.copyfile(MODEL.parent / name, tmp_path / name)
    with pytest.raises(ArtifactError, match="tokenizer"):
        TextModel.load(tmp_path / "model.onnx", name="text", onnx=OnnxSettings())


def test_toxic_text_scores_above_clean_text(model: TextModel) -> None:
    probs = model.score([TOXIC, HATEFUL, CLEAN])
    assert probs.shape == (3, 2)
    assert probs[0, 0] > 0.6
    assert probs[2, 0] < 0.2
    assert probs[1, 1] > 0.6
    assert probs[2, 1] < 0.2


def test_batched_scores_match_one_at_a_time(model: TextModel) -> None:
    texts = [TOXIC, CLEAN, "ok", HATEFUL + " " + CLEAN * 3]
    together = model.score(texts)
    alone = np.vstack([model.score([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-2)


def test_evasion_is_normalized_before_scoring(model: TextModel) -> None:
    evasive = "y0u are a stup1d b!tch!!!!!"
    probs = model.score([TOXIC, evasive])
    assert abs(probs[0, 0] - probs[1, 0]) < 0.05


def test_a_long_post_keeps_the_abuse_at_its_end(model: TextModel) -> None:
    filler = "We walked along the river and talked about the weather and the garden. " * 40
    tail = "Shut up you fucking moron. You are a stupid bitch and a worthless idiot."
    probs = model.score([filler, filler + tail])
    assert probs[1, 0] > probs[0, 0] + 0.4


async def test_classifier_predicts_per_post_in_order() -> None:
    clf = build_classifier("text", ClassifierUrl.parse("text", f"onnx://{MODEL}"), OnnxSettings())
    try:
        assert isinstance(clf, TextClassifier)
        assert clf.categories == (TOXICITY, HATE)
        assert clf.version.startswith("text-")
        assert not clf.applies_to(Post(post_id="p", text="   "))
        out = await clf.predict(
            [Post(post_id="a", text=CLEAN), Post(post_id="b", text=TOXIC)], timeout_s=5.0
        )
        assert set(out[0]) == {TOXICITY, HATE}
        assert out[1][TOXICITY] > out[0][TOXICITY]
        with pytest.raises(ModelTimeoutError):
            await clf.predict([Post(post_id="c", text=TOXIC)], timeout_s=0.0)
    finally:
        await clf.aclose()
