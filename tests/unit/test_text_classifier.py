"""The shipped text classifier through the serving path: artifact checks, scores, batching,
evasion, long texts, and the async ``Classifier`` contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from decision.engine import decide
from decision.policy import load_policy
from models.errors import ArtifactError, ModelTimeoutError
from models.factory import build_classifier
from models.text import TextClassifier, TextModel, check_text_metadata
from modgate.settings import ARTIFACTS_DIR, DEFAULT_POLICY, ClassifierUrl, OnnxSettings
from modgate.types import HATE, INSULT, SELF_HARM, SEXUAL, THREAT, TOXICITY, Post

MODEL = ARTIFACTS_DIR / "text" / "model.onnx"
CATEGORIES = (TOXICITY, INSULT, THREAT, HATE, SEXUAL, SELF_HARM)
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


def test_shipped_artifact_declares_the_six_harm_categories() -> None:
    artifact = check_text_metadata(_metadata(), MODEL, name="text")
    assert artifact.categories == CATEGORIES
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
    hate = CATEGORIES.index(HATE)
    assert probs.shape == (3, len(CATEGORIES))
    assert probs[0, 0] > 0.6
    assert probs[2, 0] < 0.2
    assert probs[1, hate] > 0.6
    assert probs[2, hate] < 0.2


def test_batched_scores_match_one_at_a_time(model: TextModel) -> None:
    # Batch-invariant int8 (per-token scales): the previous, dynamically quantized model
    # moved scores by up to 0.11 with the batch, which kept batching across requests off.
    texts = [TOXIC, CLEAN, "ok", HATEFUL + " " + CLEAN * 3, "x " * 200, "Ich hasse Frauen."]
    together = model.score(texts, batch_size=len(texts))
    alone = np.vstack([model.score([t]) for t in texts])
    assert np.abs(together - alone).max() <= 1e-3


# The sentences a new user tried (issue #15): every one was allowed by the first model.
# None of them, nor its frame, is among our training templates (tests/unit/test_harm_cases.py).
HARMFUL_PROBES = [
    "I will find you and I will hurt you",
    "Someone should put a bullet in that judge's head",
    "go kill yourself loser",
    "you should just die, nobody would miss you",
    "you are a worthless idiot and everyone hates you",
    "Kill all the jews",
    "Immigrants are vermin and should be exterminated",
]
BENIGN_PROBES = [
    "this bug is killing me",
    "I'm going to destroy you in the next round, see you online",
    "The suspect threatened to kill the officer, police said.",
    "See you at lunch tomorrow?",
    "I disagree with the mayor's plan, but she made some fair points.",
]


@pytest.mark.parametrize("text", HARMFUL_PROBES)
def test_the_issues_probes_are_no_longer_allowed(model: TextModel, text: str) -> None:
    assert _action(model, text) != "allow"


def _action(model: TextModel, text: str) -> str:
    scores = dict(zip(CATEGORIES, map(float, model.score([text])[0]), strict=True))
    return decide(scores, {"language": "en"}, load_policy(DEFAULT_POLICY)).action.value


@pytest.mark.parametrize("text", BENIGN_PROBES)
def test_violent_idioms_gaming_and_news_are_never_removed(model: TextModel, text: str) -> None:
    assert _action(model, text) != "remove"


def test_most_benign_look_alikes_are_allowed(model: TextModel) -> None:
    # Known miss: gaming trash talk ("destroy you in the next round") still defers on threat.
    allowed = [_action(model, text) == "allow" for text in BENIGN_PROBES]
    assert sum(allowed) >= len(BENIGN_PROBES) - 1


async def test_classifier_predicts_per_post_in_order() -> None:
    clf = build_classifier("text", ClassifierUrl.parse("text", f"onnx://{MODEL}"), OnnxSettings())
    try:
        assert isinstance(clf, TextClassifier)
        assert clf.categories == CATEGORIES
        assert clf.version.startswith("text-")
        assert not clf.applies_to(Post(post_id="p", text="   "))
        out = await clf.predict(
            [Post(post_id="a", text=CLEAN), Post(post_id="b", text=TOXIC)], timeout_s=5.0
        )
        assert set(out[0]) == set(CATEGORIES)
        assert out[1][TOXICITY] > out[0][TOXICITY]
        with pytest.raises(ModelTimeoutError):
            await clf.predict([Post(post_id="c", text=TOXIC)], timeout_s=0.0)
    finally:
        await clf.aclose()
