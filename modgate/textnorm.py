"""Text normalization against evasion, shared by classifier training and serving.

People dodge a text classifier with zero-width characters, fullwidth or 𝐛𝐨𝐥𝐝 letters,
zalgo marks, Cyrillic look-alikes, leetspeak, stretched letters and s.p.a.c.e.d words.
``normalize_text`` undoes these so the cased XLM-R model sees the same text at training
time and at serving time (it never lowercases); both sides must call this one function.
It is pure Python on the standard library with every table and regex built at import, and
ASCII text skips the Unicode steps entirely. Each step is a small function below whose
docstring states its heuristic; ``STEP_NAMES`` lists them in the order they run.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modgate.emoji_letters import fold_emoji_letters

STEP_NAMES: tuple[str, ...] = (
    "invisible",
    "nfkc",
    "emoji_letters",
    "zalgo",
    "spaced",
    "leet",
    "confusables",
    "repeats",
)
"""Every step name, in the order the steps run (see ``normalize_text`` for why this order)."""


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """The normalized text, whether it differs from the input, and which steps changed it."""

    text: str
    changed: bool
    steps: tuple[str, ...]


# Default-ignorable characters that are not category Cf: combining grapheme joiner, Hangul
# fillers (used as "blank" names), Khmer inherent vowels.
_EXTRA_INVISIBLE = (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0)
# Script-neutral combining diacritics, the raw material of zalgo text: Combining Diacritical
# Marks (+ Extended, + Supplement), Cyrillic combining marks, marks for symbols, half marks.
_GENERIC_MARK_RANGES = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
_MAX_MARKS_PER_BASE = 4


def _scan_unicode() -> tuple[list[int], list[int]]:
    """Code points of every combining mark (M*) and every invisible (Cf + extras) character."""
    marks: list[int] = []
    invisible: set[int] = set(_EXTRA_INVISIBLE)
    # Planes 2-13 hold neither; plane 14 holds tag characters (Cf) and variation selectors (Mn).
    for cp in itertools.chain(range(0x20000), range(0xE0000, 0xE1000)):
        category = unicodedata.category(chr(cp))
        if category[0] == "M":
            marks.append(cp)
        elif category == "Cf":
            invisible.add(cp)
    return marks, sorted(invisible)


def _char_class(codepoints: Iterable[int]) -> str:
    """The body of a regex character class matching exactly ``codepoints`` (as ranges)."""
    ordered = sorted(codepoints)
    parts: list[str] = []
    for _, group in itertools.groupby(enumerate(ordered), key=lambda item: item[1] - item[0]):
        run = [cp for _, cp in group]
        first, last = f"\\U{run[0]:08x}", f"\\U{run[-1]:08x}"
        parts.append(first if run[0] == run[-1] else f"{first}-{last}")
    return "".join(parts)


_MARK_CPS, _INVISIBLE_CPS = _scan_unicode()
# Regex character classes are bitmaps for the BMP but linear range lists above it, and the
# ~250 astral mark ranges would make every class ten times slower. So ``_MARKS`` holds the
# BMP marks only (letter/mark boundaries in the token steps), and the zalgo run pattern
# takes all of planes 1 and 14 as candidates that ``_thin_marks`` then checks one by one.
_MARKS = _char_class(cp for cp in _MARK_CPS if cp < 0x10000)
_GENERIC_MARKS = frozenset(
    chr(cp) for low, high in _GENERIC_MARK_RANGES for cp in range(low, high + 1)
)
_INVISIBLE_RE = re.compile(f"[{_char_class(_INVISIBLE_CPS)}]+")
_MARK_RE = re.compile(f"[{_MARKS}]")
_MARK_RUN_RE = re.compile(f"[{_MARKS}\\U00010000-\\U0001ffff\\U000e0000-\\U000e0fff]{{2,}}")

# Look-alikes folded to Latin, only inside words that already contain an ASCII letter.
# Latin letters of real orthographies (Turkish dotless ı, IPA) are deliberately absent.
# fmt: off
_CONFUSABLES = {
    # Cyrillic lower case
    "а": "a", "в": "b", "е": "e", "ё": "ë", "һ": "h", "і": "i", "ї": "ï", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ү": "y",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S",
    "Ү": "Y", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Armenian, Cherokee and Latin-extended letters that no orthography mixes with ASCII
    "ո": "n", "ս": "u", "օ": "o", "հ": "h", "ց": "g",
    "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H", "Ꮃ": "W", "Ꮪ": "S", "Ꭲ": "T",
    "ɡ": "g", "ɑ": "a", "ǀ": "l",
}
# fmt: on
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_CONFUSABLE_RE = re.compile(f"[{''.join(_CONFUSABLES)}]")
_ASCII_LETTER_RE = re.compile(r"[A-Za-z]")
# A whole word (marks included) that holds an ASCII letter; lazy from the word start: linear.
_LATIN_WORD_RE = re.compile(rf"(?<![\w{_MARKS}])[\w{_MARKS}]*?[A-Za-z][\w{_MARKS}]*")

# Whitespace tokens that are (or, after opening punctuation, start) a URL, a #hashtag or an
# @mention (@ + at least 4 word characters), and tokens holding an e-mail address, pass the
# token steps untouched. Whole tokens, so a step changing a neighbouring character can never
# move a boundary. One capturing group, so re.split alternates free text and kept tokens.
_PROTECTED_RE = re.compile(
    r"((?<!\S)[(\[<{\"'“‘«.]*(?:https?://|www\.|#\w|@\w{4,})\S*"
    r"|(?<!\S)\S*?\w@[\w-]+\.\w\S*)",
    re.IGNORECASE,
)

_LETTER = r"[^\W\d_]"
_SPACED_HINT_RE = re.compile(rf"[ ._*-]{_LETTER}[ ._*-]")  # every run has such a middle
# A run must not touch a word or another separated run ("ab.c d e", "i d i o t f.u.c.k").
_SPACED_RE = re.compile(
    rf"(?<![\w{_MARKS}])(?<![\w{_MARKS}][._*-])"
    rf"{_LETTER}([ ._*-]){_LETTER}(?:\1{_LETTER})+"
    rf"(?![\w{_MARKS}])(?![._*-][\w{_MARKS}])(?![^\s._*-][\w{_MARKS}])"
)
# Single-letter words of common languages: a spaced run made only of these ("il y a à") is
# a sentence, not a spelled-out word.
_ONE_LETTER_WORDS = frozenset("aàáâeéèêiíìoóòôuúùyýAÀÁEÉÈIOÓUYаиоуяАИОУЯ")

_LEET_MAP = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_LEET_TABLE = str.maketrans({**_LEET_MAP, "!": "i"})
_LETTER_RE = re.compile(_LETTER)
_LEET_SYMBOL_RE = re.compile(r"[013457@$!]")
# Whole tokens never folded: prices and currency amounts ($5k, 5$, US$).
_PRICE_RE = re.compile(r"\$\d|\d\$|^[A-Z]{1,3}\$(?!\w)")
# Word shapes never folded: times, ordinals and units (10am, 3rd, 4k, 80s), letter stems with
# a digit suffix (covid19, mp3, win10, x3, o7: versions, models, handles, emoticons) and
# dimensions (4x4).
_LEET_GUARD_RE = re.compile(
    r"\d+(?:st|nd|rd|th|s|am|pm|a|p|h|hr|hrs|min|k|m|b|bn|g|gb|mb|kb|tb|d|x|u|kg|km|cm"
    r"|mm|ml|lb|lbs|mg|mph|fps|yo|yr|yrs|v|w)"
    rf"|{_LETTER}{{2,}}\d+|{_LETTER}\d|\d+x\d+",
    re.IGNORECASE,
)
_SUBWORD_SPLIT_RE = re.compile(r"([-'’])")
_LEADING_PUNCT = "\"'“‘«([{<¿¡*_~"
_TRAILING_PUNCT = ".,;:!?)]}>\"'”’»…*_~"

_REPEAT_HINT_RE = re.compile(r"(.)\1\1", re.DOTALL)  # the fast superset of _REPEAT_RE
_REPEAT_RE = re.compile(r"(\D)\1{2,}")


def _strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control, soft-hyphen, tag and other invisible characters.

    All of category Cf goes, which includes the zero-width joiner: an emoji ZWJ sequence
    such as 👨‍👩‍👧 becomes its parts 👨👩👧. Variation selectors (U+FE0F) are kept.
    """
    return _INVISIBLE_RE.sub("", text)


def _nfkc(text: str) -> str:
    """Unicode NFKC: folds fullwidth, mathematical, circled and ligature forms."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _thin_marks(match: re.Match[str]) -> str:
    out: list[str] = []
    kept: list[str] = []
    generic_seen = False
    for mark in match.group():
        if mark > "\uffff" and unicodedata.category(mark)[0] != "M":  # an emoji: a new base
            out.extend(kept)
            out.append(mark)
            kept, generic_seen = [], False
            continue
        if mark in _GENERIC_MARKS:
            if generic_seen:
                continue
            generic_seen = True
        if (kept and kept[-1] == mark) or len(kept) >= _MAX_MARKS_PER_BASE:
            continue
        kept.append(mark)
    out.extend(kept)
    return "".join(out)


def _strip_zalgo(text: str) -> str:
    """Thin stacks of combining marks on one base character, then recompose (NFC).

    Per base character (text is NFC, so é, ü, ç, ệ are single code points here) it keeps at
    most one script-neutral diacritic (U+0300–036F and the other generic mark blocks), drops
    a mark that repeats the one before it, and keeps at most four marks in all. A letter
    with a precomposed accent keeps one more (é + U+0301 stays é́), as Yoruba ẹ́ needs.
    Script marks are not capped at one: Hindi "मैं" and "हूँ", Arabic shadda + fatha and
    Hebrew niqqud legitimately put two or three marks on one letter.
    """
    if _MARK_RUN_RE.search(text) is None:
        return text
    thinned = _MARK_RUN_RE.sub(_thin_marks, text)
    return unicodedata.normalize("NFC", thinned) if thinned != text else text


def _nfc(text: str) -> str:
    """NFC for text a step rebuilt, so that the next call's NFKC finds nothing to compose."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _join_run(match: re.Match[str]) -> str:
    run = match.group()
    letters = run[::2]
    if all(letter in _ONE_LETTER_WORDS for letter in letters):
        return run
    return _nfc(letters)


def _join_spaced(text: str) -> str:
    """Join three or more single letters split by one repeated separator: ``i d i o t``.

    The separator is one space, dot, dash, underscore or asterisk, the same throughout the
    run (``f.u.c.k``, ``s-l-u-t``); letters are any script (str.isalpha). A run of only
    one-letter words (French "y a à") is left alone, so are pairs ("a b", "Plan A or B").
    Known miss: chat speak before a spelled word joins with it ("u r a f a g" → "urafag").
    """
    if _SPACED_HINT_RE.search(text) is None:
        return text
    return _SPACED_RE.sub(_join_run, text)


def _letter_count(piece: str) -> int:
    """Length of ``piece`` as the later steps will leave it: marks aside, look-alikes folded,
    runs squashed. Measuring the final form keeps leet decisions stable on a second call."""
    return len(_squash_repeats(_MARK_RE.sub("", piece).translate(_CONFUSABLE_TABLE)))


def _fold_leet_word(word: str) -> str:
    folded = word.translate(_LEET_TABLE)
    if folded == word:  # no leet symbol
        return word
    if not folded.isalpha() and (folded.isascii() or not _MARK_RE.sub("", folded).isalpha()):
        return word  # something other than letters would remain: "3.14", "a/b"
    if _LETTER_RE.search(word) is None or _LEET_GUARD_RE.fullmatch(word):
        return word  # no real letter ("2024", "!!"), or a unit/version/dimension shape
    # "!" between two words of 3+ letters is a missing space ("wow!great"), not an i.
    if "!" in word and not any(0 < _letter_count(part) < 3 for part in word.split("!")):
        return word
    return _nfc(folded.upper() if word.isupper() else folded)


def _fold_leet_token(token: str) -> str:
    if "$" in token and _PRICE_RE.search(token):
        return token
    start = len(token) - len(token.lstrip(_LEADING_PUNCT))
    end = len(token.rstrip(_TRAILING_PUNCT))
    if end <= start:
        return token
    core = token[start:end]
    if "-" in core or "'" in core or "’" in core:
        folded = "".join(_fold_leet_word(part) for part in _SUBWORD_SPLIT_RE.split(core))
    else:
        folded = _fold_leet_word(core)
    return token[:start] + folded + token[end:]


def _fold_leet(text: str) -> str:
    """Fold leetspeak (0→o 1→i 3→e 4→a 5→s 7→t @→a $→s !→i) inside words.

    Only a whitespace token holding a leet symbol is examined. Its leading and trailing
    punctuation is set aside (a final ``!`` or ``!!!`` stays punctuation), the rest is split
    at hyphens and apostrophes (``y0u're``) and each part folds only if it holds a real
    letter and is all letters after folding, so numbers, prices, times, dates, URLs and
    e-mail addresses never fold. Left alone on purpose: prices and currencies
    ($5k, 5$, US$), units and ordinals (10am, 3rd, 4k), letter stems with a digit suffix
    (covid19, mp3, win10, o7) and dimensions (4x4); ``!`` counts as an i only when a 1-2
    letter piece touches it (``b!tch``, ``sh!t``, not ``wow!great``). @mentions of 4+
    characters and #hashtags never reach this step, so ``@ss`` folds and ``@user`` does not.
    Folded letters are upper case when the word was (``1D10T`` → ``IDIOT``). Known misses:
    chat speak such as ``4ever`` folds (``aever``).
    """
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    for symbol in _LEET_SYMBOL_RE.finditer(text):
        if symbol.start() < done:
            continue  # another symbol in a token already handled
        start = text.rfind(" ", 0, symbol.start()) + 1
        end = text.find(" ", symbol.end())
        end = len(text) if end < 0 else end
        pieces.append(text[done:start])
        pieces.append(_fold_leet_token(text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _fold_word_confusables(match: re.Match[str]) -> str:
    word = match.group()
    return _nfc(word.translate(_CONFUSABLE_TABLE)) if _CONFUSABLE_RE.search(word) else word


def _fold_confusables(text: str) -> str:
    """Fold look-alike letters to Latin inside mixed-script words only (``іdіоt`` → ``idiot``).

    A word (letters, digits, marks) is folded only if it holds at least one ASCII letter and
    one look-alike, so real Russian, Ukrainian or Greek words are never touched.
    """
    if text.isascii() or _CONFUSABLE_RE.search(text) is None:
        return text
    if _ASCII_LETTER_RE.search(text) is None:
        return text
    return _LATIN_WORD_RE.sub(_fold_word_confusables, text)


def _squash_run(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) == 3 and (run[0].isupper() or run[0] == "."):
        return run
    return run[:2]


def _squash_repeats(text: str) -> str:
    """Squash runs of 3+ identical characters to two (``stuuuupid`` → ``stuupid``, ``!!!``).

    Digits are never squashed (2000, 1000000); a run of exactly three upper-case letters
    (III, XXX) or dots (an ellipsis) is kept. German triple consonants lose one letter
    (Schifffahrt → Schiffahrt).
    """
    if _REPEAT_HINT_RE.search(text) is None:
        return text
    return _REPEAT_RE.sub(_squash_run, text)


def _may_hold_protected(text: str) -> bool:
    """Cheap superset test for ``_PROTECTED_RE`` (plain substring checks, any case of www.)."""
    if "@" in text or "#" in text or "://" in text:
        return True
    return any(tail in text for tail in ("ww.", "wW.", "Ww.", "WW."))


_UNICODE_STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("invisible", _strip_invisible),
    ("nfkc", _nfkc),
    ("emoji_letters", fold_emoji_letters),
    ("zalgo", _strip_zalgo),
)
_TOKEN_STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("spaced", _join_spaced),
    ("leet", _fold_leet),
    ("confusables", _fold_confusables),
    ("repeats", _squash_repeats),
)


def normalize_text(text: str) -> NormalizedText:
    """Undo common evasion tricks; see the step functions for each heuristic.

    Order: invisible → nfkc → emoji_letters → zalgo (the Unicode steps, skipped for ASCII
    input), then whitespace runs collapse to one space and the ends are stripped, then
    spaced → leet → confusables → repeats run on the text outside URLs, e-mail addresses,
    @mentions and #hashtags. Spaced runs before confusables so ``і d і о t`` first becomes
    one mixed word; leet runs before confusables because folding can make a word mixed
    (``ѕ3х``); repeats runs last to squash runs the other steps create. Whitespace collapsing
    is not a step name: it shows only in ``changed``. The result is idempotent on ordinary text.
    """
    steps: list[str] = []
    out = text
    if not text.isascii():
        for name, step in _UNICODE_STEPS:
            new = step(out)
            if new != out:
                steps.append(name)
                out = new
    out = " ".join(out.split())
    # Even indexes: free text; odd: protected tokens.
    parts = _PROTECTED_RE.split(out) if _may_hold_protected(out) else [out]
    for name, step in _TOKEN_STEPS:
        hit = False
        for index in range(0, len(parts), 2):
            new = step(parts[index])
            if new != parts[index]:
                parts[index] = new
                hit = True
        if hit:
            steps.append(name)
    out = "".join(parts)
    return NormalizedText(text=out, changed=out != text, steps=tuple(steps))
