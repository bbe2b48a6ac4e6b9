"""OCR into the text model with the real rapidocr engine and the shipped text model: what it
reads, and how it spends (or declines to spend) the deadline's budget: ``done``,
``skipped_budget``, ``deferred``, ``failed``, with results cached by content hash."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from models.image_decode import decode_image
from models.ocr import OcrTextClassifier, RapidOcrEngine
from modgate.settings import ImageSettings, OcrSettings
from modgate.types import DecodedImage, Image, Post
from tests.images import encode, photo, with_caption
from tests.integration.conftest import text_classifier

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine()


def _decoded(name: str, caption: str = "") -> DecodedImage:
    image = photo(name)
    if caption:
        image = with_caption(image, caption)
    return decode_image(encode(image, "PNG"), limits=ImageSettings())


def _post(*images: DecodedImage) -> Post:
    return Post(post_id="p", images=tuple(Image(data=b"", decoded=d) for d in images))


def _classifier(engine: RapidOcrEngine, **settings: object) -> OcrTextClassifier:
    return OcrTextClassifier(engine, text_classifier().model, OcrSettings(**settings))  # type: ignore[arg-type]


def test_reads_a_caption_and_scores_it_like_post_text(engine: RapidOcrEngine) -> None:
    clf = _classifier(engine)
    [found] = clf.read_images([_decoded("astronaut", "you are a stupid bitch")])
    assert found.text.lower() == "you are a stupid bitch"
    [as_text] = clf.text_model.score(["you are a stupid bitch"])
    assert found.scores["toxicity"] == pytest.approx(float(as_text[0]), abs=0.02)
    [blank] = clf.read_images([_decoded("chelsea")])
    assert blank.text == ""
    assert blank.scores == {}


async def test_too_little_budget_skips_without_running(engine: RapidOcrEngine) -> None:
    clf = _classifier(engine, min_budget_ms=150)
    [prediction] = await clf.predict_detailed([_post(_decoded("coffee", "hello"))], timeout_s=0.1)
    assert prediction.notes["ocr"] == "skipped_budget"
    assert prediction.scores == {}
    assert len(clf._cache) == 0


async def test_a_run_cut_off_by_the_deadline_finishes_and_fills_the_cache(
    engine: RapidOcrEngine,
) -> None:
    clf = _classifier(engine, min_budget_ms=0)
    post = _post(_decoded("rocket", "you are a stupid bitch"))
    [late] = await clf.predict_detailed([post], timeout_s=0.02)
    assert late.notes["ocr"] == "skipped_budget"
    for _ in range(100):  # the shielded run goes on in the background
        if clf._busy == 0:
            break
        await asyncio.sleep(0.05)
    [cached] = await clf.predict_detailed([post], timeout_s=0.001)
    assert cached.notes["ocr"] == "done"
    assert cached.scores["toxicity"] > 0.6


async def test_a_busy_worker_sheds_the_next_post(engine: RapidOcrEngine) -> None:
    clf = _classifier(engine, min_budget_ms=0, workers=1)
    first, second = _post(_decoded("coffee", "first")), _post(_decoded("chelsea", "second"))
    a, b = await asyncio.gather(
        clf.predict_detailed([first], timeout_s=5), clf.predict_detailed([second], timeout_s=5)
    )
    assert sorted([a[0].notes["ocr"], b[0].notes["ocr"]]) == ["done", "skipped_budget"]


async def test_slowpath_mode_defers_unless_cached(engine: RapidOcrEngine) -> None:
    clf = _classifier(engine, mode="slowpath")
    image = _decoded("coffee", "nice coffee")
    [deferred] = await clf.predict_detailed([_post(image)], timeout_s=5)
    assert deferred.notes["ocr"] == "deferred"
    clf.read_images([image])  # e.g. the same meme read before
    [done] = await clf.predict_detailed([_post(image)], timeout_s=5)
    assert done.notes == {"ocr": "done", "ocr_chars": len("nice coffee")}


@dataclasses.dataclass
class BrokenEngine:
    """An engine whose model fails, as a corrupt install would."""

    name: str = "broken"
    version: str = "0"

    def read(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        raise RuntimeError("onnxruntime: bad model")


async def test_an_engine_failure_is_reported_failed() -> None:
    clf = OcrTextClassifier(BrokenEngine(), text_classifier().model, OcrSettings(min_budget_ms=0))
    [prediction] = await clf.predict_detailed([_post(_decoded("coffee"))], timeout_s=5)
    assert prediction.notes["ocr"] == "failed"
    await clf.aclose()
