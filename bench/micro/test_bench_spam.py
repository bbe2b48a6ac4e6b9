"""The spam path: feature building, the ONNX model alone (batch 1 and 32), and the classifier's
async ``predict`` (features + model + executor hop), on the shipped artifact."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from models.spam import SpamClassifier
from models.spam_features import build_features
from modgate.settings import ARTIFACTS_DIR, OnnxSettings
from modgate.types import Author, Post

TEXTS = [
    "URGENT! You have won a £2000 prize. Call 09061701939 to claim. Valid 12hrs only",
    "Are we still on for lunch tomorrow? I'll bring the notes from class.",
    "Free entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 now",
    "ok see you later, let me know when you're home",
]
AUTHOR = Author(id="a1", account_age_days=12.0, followers=40)


def _classifier() -> SpamClassifier:
    return SpamClassifier.from_artifact(
        ARTIFACTS_DIR / "spam" / "model.onnx", name="spam", onnx=OnnxSettings()
    )


def test_spam_features_one_post(benchmark: Any) -> None:
    rows = benchmark(build_features, TEXTS[:1], [AUTHOR])
    assert rows.shape[0] == 1


def test_spam_onnx_model_batch1(benchmark: Any) -> None:
    clf = _classifier()
    feeds = {"features": build_features(TEXTS[:1], [AUTHOR])}
    out = benchmark(clf.session.run_sync, feeds)
    assert np.isfinite(out[-1]).all()


def test_spam_onnx_model_batch32(benchmark: Any) -> None:
    clf = _classifier()
    texts = (TEXTS * 8)[:32]
    feeds = {"features": build_features(texts, [None] * 32)}
    out = benchmark(clf.session.run_sync, feeds)
    assert len(out[-1]) == 32


def test_spam_classifier_predict_one_post(benchmark: Any) -> None:
    clf = _classifier()
    post = Post(post_id="p", text=TEXTS[0], author=AUTHOR)
    loop = asyncio.new_event_loop()
    try:
        scores = benchmark(lambda: loop.run_until_complete(clf.predict([post], timeout_s=1.0)))
    finally:
        loop.run_until_complete(clf.aclose())
        loop.close()
    assert scores[0]["spam"] > 0.5
