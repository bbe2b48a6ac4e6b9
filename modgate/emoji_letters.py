"""Letters written with emoji, folded back to letters: one step of ``modgate.textnorm``.

NFKC already folds circled (ⓐ) and squared (🄰) letters, but not the emoji-styled ones people
use to spell a slur past a filter: negative circled 🅐, negative squared 🅰 and runs of three
or more regional indicators 🇰🇮🇱🇱 (a pair is a flag, and stays one). They become lower-case
letters (emoji letters have no case). An emoji pressed *inside* a word (``f🍆ggot``,
``b🤬tch``) is dropped so the letters around it meet again; emoji between words are left
alone. Pure standard library; every table is built at import.
"""

from __future__ import annotations

import re

_NEGATIVE_CIRCLED = 0x1F150  # 🅐 .. 🅩
_NEGATIVE_SQUARED = 0x1F170  # 🅰 .. 🆉
_REGIONAL = 0x1F1E6  # 🇦 .. 🇿
_LETTERS = {
    **{chr(_NEGATIVE_CIRCLED + i): chr(ord("a") + i) for i in range(26)},
    **{chr(_NEGATIVE_SQUARED + i): chr(ord("a") + i) for i in range(26)},
}
_REGIONAL_RUN = re.compile("[\U0001f1e6-\U0001f1ff]{3,}")
_STYLED = re.compile("[\U0001f150-\U0001f169\U0001f170-\U0001f189]")
# An emoji (pictographs, symbols, emoticons, dingbats), with any variation selector or skin
# tone after it, between two letters of one word.
_EMOJI = (
    "[\U0001f300-\U0001faff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff][\ufe0f\U0001f3fb-\U0001f3ff]*"
)
_INSIDE_WORD = re.compile(rf"(?<=[^\W\d_]){_EMOJI}(?=[^\W\d_])")


def _regional(match: re.Match[str]) -> str:
    return "".join(chr(ord("a") + ord(ch) - _REGIONAL) for ch in match.group())


def _hint(text: str) -> bool:
    return any(ch >= "\u2300" for ch in text)


def fold_emoji_letters(text: str) -> str:
    """Styled emoji letters → letters; regional-indicator runs of 3+ → letters; an emoji
    between two letters of one word removed. Text without such characters is returned as is."""
    if not _hint(text):
        return text
    if _STYLED.search(text):
        text = _STYLED.sub(lambda m: _LETTERS[m.group()], text)
    if _REGIONAL_RUN.search(text):
        text = _REGIONAL_RUN.sub(_regional, text)
    return _INSIDE_WORD.sub("", text)
