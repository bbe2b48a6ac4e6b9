"""Text inside images (memes, screenshots): OCR, then the same text model as post text.

Engines (``MODGATE_OCR__ENGINE``):

- ``rapidocr`` (default): PP-OCR detection + recognition ONNX models that ship inside the
  ``rapidocr`` wheel (Apache-2.0), run by ONNX Runtime; nothing is downloaded. Fast
  settings: no angle classifier, the detector reads at most ``ocr.max_side`` px.
- ``easyocr``: optional, for GPU machines (the ``gpu`` extra); its weights must already be
  on disk (``download_enabled=False``): easyocr fetches them from GitHub otherwise.

``OcrTextClassifier`` is a ``DetailedClassifier`` in the gateway's fan-out. It declares no
categories of its own: the toxicity of text inside images merges (by maximum) into the text
categories the post text is scored on, and a slow or skipped OCR never marks those missing.
Instead every post with images gets the note ``ocr``:

- ``done``: every image was read (or found in the cache) and its text scored;
- ``skipped_budget``: less than ``ocr.min_budget_ms`` of the deadline was left, every OCR
  worker was busy, or OCR did not finish in time; an OCR run that is cut off keeps going
  in the background and caches its result, so the next post with the same image has it;
- ``deferred``: ``ocr.mode = slowpath``, the text is read after the verdict;
- ``failed``: the engine raised (logged with its traceback).

The policy decides what an unread image means (``images.on_ocr_unread``). Results are
cached by the SHA-256 of the image bytes.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from models.cache import ContentCache
from models.errors import ArtifactError
from models.image import decoded_images, pixels
from models.interface import Prediction
from models.text import TextModel
from modgate.settings import OcrEngine as EngineName
from modgate.settings import OcrMode, OcrSettings
from modgate.types import Category, DecodedImage, FeatureValue, Post, Scores, max_scores

log = logging.getLogger(__name__)

# Time kept back from the OCR budget to score the recognised text and answer.
SCORING_MARGIN_S = 0.015


class OcrEngine(Protocol):
    """Reads the text lines of an RGB image. Implementations must be thread-safe."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def read(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        """``(text, confidence)`` per detected line, in reading order."""
        ...


class RapidOcrEngine:
    """rapidocr with its bundled ONNX models; one engine per thread (they keep state)."""

    def __init__(self, *, max_side: int = 960) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise ArtifactError("ocr", "rapidocr", f"rapidocr is not installed: {exc}") from exc
        self._factory = RapidOCR
        self._params = {
            "Global.use_cls": False,
            "Det.limit_type": "max",
            "Det.limit_side_len": max_side,
            # rapidocr logs through its own handler (propagate off) and warns on every image
            # without text; keep only errors.
            "Global.log_level": "error",
        }
        self._local = threading.local()
        self._version = f"rapidocr-{importlib.metadata.version('rapidocr')}"
        self._engine()  # load the models now: a broken install fails at boot, not per call

    @property
    def name(self) -> str:
        return "rapidocr"

    @property
    def version(self) -> str:
        return self._version

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._factory(params=self._params)
        return engine

    def read(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        # rapidocr takes OpenCV's BGR channel order for arrays.
        result = self._engine()(np.ascontiguousarray(rgb[:, :, ::-1]))
        if result.txts is None:
            return []
        return [(str(t), float(s)) for t, s in zip(result.txts, result.scores, strict=True)]


class EasyOcrEngine:
    """easyocr, with weights already on disk (it never downloads here)."""

    def __init__(self, *, languages: Sequence[str], use_gpu: bool) -> None:
        try:
            import easyocr
        except ImportError as exc:
            raise ArtifactError(
                "ocr", "easyocr", f"easyocr is not installed (the gpu extra): {exc}"
            ) from exc
        try:
            self._reader = easyocr.Reader(list(languages), gpu=use_gpu, download_enabled=False)
        except Exception as exc:  # easyocr raises bare exceptions for missing weights
            raise ArtifactError("ocr", "easyocr", f"cannot load easyocr weights: {exc}") from exc
        self._version = f"easyocr-{importlib.metadata.version('easyocr')}"
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "easyocr"

    @property
    def version(self) -> str:
        return self._version

    def read(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        with self._lock:  # one torch model: serialise
            found = self._reader.readtext(rgb)
        return [(str(text), float(conf)) for _box, text, conf in found]


def build_ocr_engine(settings: OcrSettings) -> OcrEngine | None:
    """The configured engine, or None when OCR is off. ArtifactError if it cannot load."""
    if settings.engine is EngineName.OFF:
        return None
    if settings.engine is EngineName.EASYOCR:
        return EasyOcrEngine(languages=settings.languages, use_gpu=settings.use_gpu)
    return RapidOcrEngine(max_side=settings.max_side)


@dataclass(frozen=True, slots=True)
class ImageText:
    """What OCR found in one image and how the text model scored it (empty: no text)."""

    text: str
    scores: dict[Category, float]


class OcrTextClassifier:
    """OCR every image of a post within the budget, score the text with the text model."""

    def __init__(
        self,
        engine: OcrEngine,
        text_model: TextModel,
        settings: OcrSettings,
        *,
        cache_entries: int = 4096,
        name: str = "ocr",
    ) -> None:
        self.engine = engine
        self.text_model = text_model
        self.settings = settings
        self._name = name
        self._cache: ContentCache[ImageText] = ContentCache(cache_entries)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="ocr"
        )
        self._busy = 0
        # Engines are per thread and load their models on first use (~0.3 s): load them on
        # the OCR workers now, not in the first post's budget.
        for _ in range(settings.workers):
            self._executor.submit(engine.read, np.full((32, 32, 3), 255, dtype=np.uint8))

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return f"{self.engine.version}+{self.text_model.artifact.version}"

    @property
    def categories(self) -> tuple[Category, ...]:
        return ()  # adds to the text categories; never makes them missing

    def applies_to(self, post: Post) -> bool:
        return any(image.decoded is not None for image in post.images)

    def read_images(self, images: Sequence[DecodedImage]) -> list[ImageText]:
        """OCR and score ``images`` on the calling thread, caching each result."""
        found: list[ImageText] = []
        texts: list[str] = []
        for image in images:
            lines = self.engine.read(pixels(image))
            kept = [t.strip() for t, conf in lines if conf >= self.settings.min_confidence]
            texts.append(" ".join(t for t in kept if t))
        probs = self.text_model.score([t for t in texts if t]) if any(texts) else None
        row = 0
        categories = self.text_model.artifact.categories
        for image, text in zip(images, texts, strict=True):
            scores: dict[Category, float] = {}
            if text and probs is not None:
                scores = dict(zip(categories, (float(v) for v in probs[row]), strict=True))
                row += 1
            result = ImageText(text, scores)
            self._cache.put(image.sha256, result)
            found.append(result)
        return found

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        return [p.scores for p in await self.predict_detailed(posts, timeout_s=timeout_s)]

    async def predict_detailed(
        self, posts: Sequence[Post], *, timeout_s: float
    ) -> list[Prediction]:
        known: dict[str, ImageText] = {}
        todo: dict[str, DecodedImage] = {}
        for post in posts:
            for image in decoded_images(post):
                cached = self._cache.get(image.sha256)
                if cached is not None:
                    known[image.sha256] = cached
                else:
                    todo[image.sha256] = image
        status = "done"
        if todo:
            status = await self._read(list(todo.values()), known, timeout_s)
        return [self._prediction(post, known, status) for post in posts]

    async def _read(
        self, images: list[DecodedImage], known: dict[str, ImageText], timeout_s: float
    ) -> str:
        if self.settings.mode is OcrMode.SLOWPATH:
            return "deferred"
        budget = timeout_s - SCORING_MARGIN_S
        if (
            self._executor is None
            or budget * 1000.0 < self.settings.min_budget_ms
            or self._busy >= self.settings.workers
        ):
            return "skipped_budget"
        loop = asyncio.get_running_loop()
        self._busy += 1
        future = loop.run_in_executor(self._executor, self.read_images, images)
        future.add_done_callback(self._release)
        try:
            # shield: a run cut off by the deadline finishes in the background and fills
            # the cache; it is never abandoned half-way through a model call.
            results = await asyncio.wait_for(asyncio.shield(future), budget)
        except TimeoutError:
            return "skipped_budget"
        except Exception:  # engine failure: logged by _release; the policy sees it unread
            return "failed"
        for image, result in zip(images, results, strict=True):
            known[image.sha256] = result
        return "done"

    def _release(self, future: asyncio.Future[list[ImageText]]) -> None:
        self._busy -= 1
        if not future.cancelled() and future.exception() is not None:
            log.error("OCR failed", exc_info=future.exception())

    def _prediction(self, post: Post, known: dict[str, ImageText], status: str) -> Prediction:
        images = decoded_images(post)
        read = [known[i.sha256] for i in images if i.sha256 in known]
        scores = max_scores(*(result.scores for result in read))
        post_status = "done" if len(read) == len(images) else status
        notes: dict[str, FeatureValue] = {
            "ocr": post_status,
            "ocr_chars": sum(len(r.text) for r in read),
        }
        return Prediction(scores, notes=notes)

    async def aclose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
