"""The text path on the shipped int8 artifact: normalization (clean and evasive), language id,
tokenization, the ONNX model alone at batch 1 and 32, and the classifier's async ``predict``
(normalize + tokenize + model + executor hop) for one post."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from models.langid import LanguageDetector
from models.text import TextClassifier, TextModel
from modgate.settings import ARTIFACTS_DIR, OnnxSettings
from modgate.textnorm import normalize_text
from modgate.types import Post

MODEL = ARTIFACTS_DIR / "text" / "model.onnx"
CLEAN = "Are we still on for lunch tomorrow? I'll bring the notes from class and some snacks."
EVASIVE = "Y0u 're a ｆｕｃｋｉｎｇ  і d і о t!!!!! n0b0dy w4nts y0u h3re"
BATCH = [CLEAN, EVASIVE, "Ich hasse Montage.", "Merci pour la recette, le gâteau était parfait"] * 8


def _model() -> TextModel:
    return TextModel.load(MODEL, name="text", onnx=OnnxSettings(intra_op_threads=1))


def test_normalize_clean_post(benchmark: Any) -> None:
    assert not benchmark(normalize_text, CLEAN).changed


def test_normalize_evasive_post(benchmark: Any) -> None:
    assert benchmark(normalize_text, EVASIVE).changed


def test_language_id(benchmark: Any) -> None:
    detector = LanguageDetector()
    assert benchmark(detector.detect, CLEAN).code == "en"


def test_tokenize_batch32(benchmark: Any) -> None:
    model = _model()
    batch = benchmark(model.encoder.encode, BATCH)
    assert batch.input_ids.shape[0] == 32


def test_text_onnx_model_batch1(benchmark: Any) -> None:
    model = _model()
    feeds = {k: v.copy() for k, v in model.feeds([CLEAN]).items()}
    out = benchmark(model.session.run_sync, feeds)
    assert np.isfinite(out[0]).all()


def test_text_onnx_model_batch32(benchmark: Any) -> None:
    model = _model()
    feeds = {k: v.copy() for k, v in model.feeds(BATCH).items()}
    out = benchmark(model.session.run_sync, feeds)
    assert out[0].shape == (32, len(model.artifact.categories))


def test_text_classifier_predict_one_post(benchmark: Any) -> None:
    clf = TextClassifier.from_artifact(MODEL, name="text", onnx=OnnxSettings())
    loop = asyncio.new_event_loop()
    post = Post(post_id="p", text=CLEAN)
    try:
        out = benchmark(lambda: loop.run_until_complete(clf.predict([post], timeout_s=1.0)))
        assert 0.0 <= out[0]["toxicity"] <= 1.0
    finally:
        loop.run_until_complete(clf.aclose())
        loop.close()
