"""Evasion variants: every kind changes the text, only where it should, the same way each time."""

from __future__ import annotations

import random
import unicodedata

import pytest

from retrain.evasion import EVASION_KINDS, evasion_variant, evasion_variants

TEXTS = (
    "You are a stupid idiot",
    "idiot",
    "Du bist ein dummer Idiot!",
    "Ты тупой идиот",
    "तुम बेवकूफ़ हो",
    "أنت غبي",
    "a b",
    "123 !!!",
    "😡😡",
)
ZERO_WIDTH = {"\u200b", "\u200c", "\u2060"}


@pytest.mark.parametrize("kind", EVASION_KINDS)
@pytest.mark.parametrize("text", TEXTS)
def test_every_kind_changes_every_text(kind: str, text: str) -> None:
    for seed in range(5):
        assert evasion_variant(text, kind, random.Random(seed)) != text


def test_variants_are_deterministic_for_a_seed() -> None:
    first = evasion_variants(TEXTS, seed=3)
    assert evasion_variants(TEXTS, seed=3) == first
    assert evasion_variants(TEXTS, seed=4) != first
    assert [(i, kind) for i, kind, _ in first] == [
        (i, kind) for i in range(len(TEXTS)) for kind in EVASION_KINDS
    ]


def test_variant_of_a_text_does_not_depend_on_the_other_texts_or_kinds() -> None:
    alone = evasion_variants(["idiot"], seed=3, kinds=["leet"])
    among = evasion_variants(["idiot", "moron"], seed=3)
    assert alone[0] in among


def test_skips_blank_texts_but_keeps_indices() -> None:
    variants = evasion_variants(["", "  ", "idiot"], kinds=["leet"])
    assert [(i, kind) for i, kind, _ in variants] == [(2, "leet")]


def test_rejects_unknown_kinds_and_blank_text() -> None:
    with pytest.raises(ValueError, match="rot13"):
        evasion_variants(["idiot"], kinds=["rot13"])
    with pytest.raises(ValueError, match="rot13"):
        evasion_variant("idiot", "rot13", random.Random(0))
    with pytest.raises(ValueError, match="empty"):
        evasion_variant(" ", "leet", random.Random(0))


def variant(text: str, kind: str, seed: int = 0) -> str:
    return evasion_variant(text, kind, random.Random(seed))


def test_perturbs_the_longest_words_and_leaves_short_ones() -> None:
    for kind in ("leet", "homoglyph", "zero_width", "spaced", "repeat", "zalgo"):
        for seed in range(10):
            assert variant("You are a stupid idiot", kind, seed).startswith("You are a "), kind


def test_leet_uses_digits_or_symbols() -> None:
    out = variant("idiot", "leet")
    assert set(out) - set("idiot") <= set("4@31!0$57|89 2")
    assert out != "idiot"


def test_homoglyph_swaps_one_or_two_letters_for_lookalikes() -> None:
    for seed in range(10):
        out = variant("idiot", "homoglyph", seed)
        changed = [(a, b) for a, b in zip("idiot", out, strict=True) if a != b]
        assert 1 <= len(changed) <= 2
        assert all(unicodedata.name(b).split()[0] in {"CYRILLIC", "GREEK"} for _, b in changed)


def test_zero_width_hides_characters_inside_the_word() -> None:
    out = variant("idiot", "zero_width")
    assert set(out) & ZERO_WIDTH
    assert "".join(c for c in out if c not in ZERO_WIDTH) == "idiot"
    assert out[0] == "i"
    assert out[-1] == "t"


def test_spaced_spells_the_word_out() -> None:
    assert variant("idiot", "spaced") in {"i d i o t", "i.d.i.o.t"}


def test_repeat_drags_a_vowel() -> None:
    out = variant("idiot", "repeat")
    assert len(out) >= len("idiot") + 2
    assert any(v * 3 in out for v in "io")


def test_fullwidth_converts_the_whole_text() -> None:
    out = variant("You are a stupid idiot!", "fullwidth")
    assert out == "Ｙｏｕ ａｒｅ ａ ｓｔｕｐｉｄ ｉｄｉｏｔ！"
    assert unicodedata.normalize("NFKC", out) == "You are a stupid idiot!"


def test_zalgo_adds_two_to_four_combining_marks() -> None:
    for seed in range(10):
        out = variant("idiot", "zalgo", seed)
        marks = [c for c in out if unicodedata.combining(c)]
        assert 2 <= len(marks) <= 4
        assert "".join(c for c in out if not unicodedata.combining(c)) == "idiot"
