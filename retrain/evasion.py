"""Evasion variants of texts, for evaluating how a text classifier holds up against obfuscation.

An adversary hides the words that give a post away: it writes ``1d10t``, swaps Latin letters
for Cyrillic lookalikes, hides zero-width characters inside words, spaces letters out, drags
vowels, switches to fullwidth forms, piles combining marks on letters, or spells a word in emoji
letters (🅱🅸🆃🅲🅷) or presses an emoji into it (``b🤬tch``). Each kind here picks
the most telling words of a text (the longest one or two alphabetic words of four or more
letters, or the longest words when all are short) and perturbs them; ``mixed`` applies two
kinds in a row. This module deliberately does not import ``modgate.textnorm``: it is an
independent adversary, so the evaluation measures the normaliser instead of mirroring it. A
variant always differs from its original: a kind that finds nothing to change (leet on
Devanagari, fullwidth on Arabic) falls back to zero-width insertion. Variants are seeded.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence

__all__ = ["EVASION_KINDS", "evasion_variant", "evasion_variants"]

EVASION_KINDS: tuple[str, ...] = (
    "leet",
    "homoglyph",
    "zero_width",
    "spaced",
    "repeat",
    "fullwidth",
    "zalgo",
    "emoji",
    "mixed",
)

_LEET: dict[str, tuple[str, ...]] = {
    "a": ("4", "@"),
    "e": ("3",),
    "i": ("1", "!"),
    "o": ("0",),
    "s": ("$", "5"),
    "t": ("7",),
    "l": ("1", "|"),
    "b": ("8",),
    "g": ("9",),
    "z": ("2",),
}
# Latin letter -> Cyrillic or Greek letters that render the same in most fonts.
_HOMOGLYPHS: dict[str, tuple[str, ...]] = {
    "a": ("\u0430",),  # Cyrillic a
    "c": ("\u0441", "\u03f2"),  # Cyrillic es, Greek lunate sigma
    "e": ("\u0435",),  # Cyrillic ie
    "i": ("\u0456", "\u03b9"),  # Cyrillic i (Ukrainian), Greek iota
    "j": ("\u0458",),  # Cyrillic je
    "o": ("\u043e", "\u03bf"),  # Cyrillic o, Greek omicron
    "p": ("\u0440", "\u03c1"),  # Cyrillic er, Greek rho
    "s": ("\u0455",),  # Cyrillic dze
    "x": ("\u0445", "\u03c7"),  # Cyrillic ha, Greek chi
    "y": ("\u0443",),  # Cyrillic u
    "v": ("\u03bd",),  # Greek nu
    "A": ("\u0410", "\u0391"),
    "B": ("\u0412", "\u0392"),
    "C": ("\u0421",),
    "E": ("\u0415", "\u0395"),
    "H": ("\u041d", "\u0397"),
    "I": ("\u0406", "\u0399"),
    "K": ("\u041a", "\u039a"),
    "M": ("\u041c", "\u039c"),
    "N": ("\u039d",),
    "O": ("\u041e", "\u039f"),
    "P": ("\u0420", "\u03a1"),
    "T": ("\u0422", "\u03a4"),
    "X": ("\u0425", "\u03a7"),
    "Y": ("\u03a5",),
    "Z": ("\u0396",),
}
# ... and back: Cyrillic and Greek text is disguised with Latin lookalikes.
_HOMOGLYPHS |= {glyph: (latin,) for latin, glyphs in _HOMOGLYPHS.items() for glyph in glyphs}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u2060")
_VOWELS = frozenset("aeiouyAEIOUYаеёиоуыэюяАЕЁИОУЫЭЮЯαεηιουωΑΕΗΙΟΥΩ")
_COMBINING = tuple(chr(c) for c in range(0x0300, 0x0370))
_MIN_WORD = 4

Span = tuple[int, int]


def _word_spans(text: str) -> list[Span]:
    """Spans of alphabetic words: letters plus the combining marks that follow them."""
    spans: list[Span] = []
    start: int | None = None
    for i, char in enumerate(text):
        in_word = char.isalpha() or (start is not None and unicodedata.category(char)[0] == "M")
        if in_word and start is None:
            start = i
        elif not in_word and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _chosen_spans(text: str, rng: random.Random) -> list[Span]:
    """The longest one or two words (of four letters or more where there are any), in order."""
    spans = _word_spans(text) or [(0, len(text))]
    long_ones = [s for s in spans if s[1] - s[0] >= _MIN_WORD]
    pool = sorted(long_ones or spans, key=lambda s: (s[0] - s[1], s[0]))
    return sorted(pool[: rng.choice((1, 2))])


def _per_word(change: Callable[[str, random.Random], str]) -> Callable[[str, random.Random], str]:
    """Lift a word perturbation to a text perturbation on the chosen words."""

    def perturb(text: str, rng: random.Random) -> str:
        out = text
        for start, end in reversed(_chosen_spans(text, rng)):
            out = out[:start] + change(text[start:end], rng) + out[end:]
        return out

    return perturb


def _substitute(
    word: str, table: dict[str, tuple[str, ...]], rng: random.Random, *, most: int, fold: bool
) -> str:
    """Replace 1..``most`` random letters of ``word`` found in ``table`` (lower-cased: ``fold``)."""

    def key(char: str) -> str:
        return char.lower() if fold else char

    positions = [i for i, char in enumerate(word) if key(char) in table]
    if not positions:
        return word
    chars = list(word)
    for i in rng.sample(positions, rng.randint(1, min(most, len(positions)))):
        chars[i] = rng.choice(table[key(chars[i])])
    return "".join(chars)


def _leet(word: str, rng: random.Random) -> str:
    return _substitute(word, _LEET, rng, most=len(word), fold=True)


def _homoglyph(word: str, rng: random.Random) -> str:
    return _substitute(word, _HOMOGLYPHS, rng, most=2, fold=False)


def _zero_width(word: str, rng: random.Random) -> str:
    """1-3 zero-width characters between letters (after the letter of a one-letter word)."""
    gaps = list(range(1, len(word))) or [len(word)]
    chars = list(word)
    for gap in sorted(rng.sample(gaps, rng.randint(1, min(3, len(gaps)))), reverse=True):
        chars.insert(gap, rng.choice(_ZERO_WIDTH))
    return "".join(chars)


def _clusters(word: str) -> list[str]:
    """A word as letters with their combining marks (so Devanagari vowel signs stay attached)."""
    out: list[str] = []
    for char in word:
        if out and unicodedata.category(char)[0] == "M":
            out[-1] += char
        else:
            out.append(char)
    return out


def _spaced(word: str, rng: random.Random) -> str:
    return rng.choice((" ", ".")).join(_clusters(word))


def _repeat(word: str, rng: random.Random) -> str:
    """One vowel (or, with none, the last letter) written 3-6 times."""
    clusters = _clusters(word)
    vowels = [i for i, cluster in enumerate(clusters) if cluster in _VOWELS]
    i = rng.choice(vowels or [len(clusters) - 1])
    clusters[i] *= rng.randint(3, 6)
    return "".join(clusters)


def _zalgo(word: str, rng: random.Random) -> str:
    marks: list[list[str]] = [[] for _ in word]
    for _ in range(rng.randint(2, 4)):
        marks[rng.randrange(len(word))].append(rng.choice(_COMBINING))
    return "".join(char + "".join(extra) for char, extra in zip(word, marks, strict=True))


_EMOJI_INSIDE = ("\U0001f92c", "\U0001f346", "\u2764\ufe0f", "\U0001f525", "\U0001f480", "\u2b50")


def _emoji(word: str, rng: random.Random) -> str:
    """Latin letters as negative squared emoji letters (🅰), or one emoji pressed between two
    letters (any script)."""
    if word.isascii() and word.isalpha() and rng.random() < 0.5:
        return "".join(chr(0x1F170 + ord(c.upper()) - ord("A")) for c in word)
    clusters = _clusters(word)
    gap = rng.randrange(1, len(clusters)) if len(clusters) > 1 else len(clusters)
    return "".join(clusters[:gap]) + rng.choice(_EMOJI_INSIDE) + "".join(clusters[gap:])


def _fullwidth(text: str, rng: random.Random) -> str:
    """Every printable ASCII character but the space as its fullwidth form (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _mixed(text: str, rng: random.Random) -> str:
    """Two different kinds in a row, the second being the first that changes the text further.

    Fullwidth only ever comes second: leet and homoglyphs know no fullwidth letters.
    """
    first = rng.choice([kind for kind in sorted(_BASE) if kind != "fullwidth"])
    once = _BASE[first](text, rng)
    others = [kind for kind in sorted(_BASE) if kind != first]
    for second in rng.sample(others, len(others)):
        twice = _BASE[second](once, rng)
        if twice != once:
            return twice
    return once


_BASE: dict[str, Callable[[str, random.Random], str]] = {
    "leet": _per_word(_leet),
    "homoglyph": _per_word(_homoglyph),
    "zero_width": _per_word(_zero_width),
    "spaced": _per_word(_spaced),
    "repeat": _per_word(_repeat),
    "fullwidth": _fullwidth,
    "zalgo": _per_word(_zalgo),
    "emoji": _per_word(_emoji),
}
_KINDS: dict[str, Callable[[str, random.Random], str]] = {**_BASE, "mixed": _mixed}


def evasion_variant(text: str, kind: str, rng: random.Random) -> str:
    """``text`` with its most telling words obfuscated by ``kind``; never equal to ``text``.

    Raises ``ValueError`` for an unknown kind or a text with nothing but whitespace.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown evasion kind {kind!r}; expected one of {EVASION_KINDS}")
    if not text.strip():
        raise ValueError("cannot make an evasion variant of an empty text")
    variant = _KINDS[kind](text, rng)
    if variant == text:
        variant = _BASE["zero_width"](text, rng)
    return variant


def evasion_variants(
    texts: Sequence[str], *, seed: int = 20261121, kinds: Sequence[str] = EVASION_KINDS
) -> list[tuple[int, str, str]]:
    """One variant per text and kind, as (index of the original, kind, variant).

    Each (text, kind) pair has its own generator seeded from ``seed``, the index and the kind,
    so adding texts or kinds leaves the other variants as they were. Texts with nothing but
    whitespace have nothing to hide and yield no variants.
    """
    unknown = [kind for kind in kinds if kind not in _KINDS]
    if unknown:
        raise ValueError(f"unknown evasion kinds {unknown}; expected some of {EVASION_KINDS}")
    return [
        (index, kind, evasion_variant(text, kind, random.Random(f"{seed}:{index}:{kind}")))
        for index, text in enumerate(texts)
        if text.strip()
        for kind in kinds
    ]
