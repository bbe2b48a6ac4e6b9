"""Lexical hard negatives: real, clean posts that use the words the harm heads key on.

The threat, sexual and self-harm heads learn from few positives, most of them written cases,
so they learn their vocabulary ("kill", "shoot", "dress", "die") more than their meaning:
v2 scored "My back is killing me" and "Focus their sniper and we win the fight" as threats,
and "Love the dress, where did you get it?" as sexual. Real posts that use those words in
ordinary ways are the cure, and the training corpora hold thousands of them (clean tweets,
forum and Civil Comments rows), mostly dropped by the per-source caps.

A *hard negative* is a training row whose source says it is not offensive at all
(``toxicity`` known and 0, every other known label 0: a set that only labels hate, like
Stormfront, cannot tell) and whose normalized text matches one of the trigger lexicons below.
Training keeps every hard negative past the caps and weighs its loss by
``TextTrainConfig.hard_negative_weight``. The lexicons are English (most of the severe-head
positives are English); they only pick rows, never labels, and never touch dev or test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrain.corpora.base import TextExample

# Violence vocabulary that ordinary speech uses for games, sport, idioms, news and work.
THREAT_WORDS = (
    r"kill\w*|shoot\w*|shot|dead|die|dies|dying|died|murder\w*|gun\w*|bullet\w*|hurt\w*|"
    r"destroy\w*|attack\w*|bomb\w*|stab\w*|beat\w*|fight\w*|war|wars|weapon\w*|knife|knives|"
    r"blood\w*|execut\w*|hang\w*|wipe\w*|snip\w*|slaughter\w*|massacre\w*|threat\w*|"
    r"punch\w*|smash\w*|crush\w*|burn\w*|fire|choke\w*|strangle\w*|hunt\w*|bury|buried"
)
# Words the sexual head keys on in compliments, dating, health and everyday talk.
SEXUAL_WORDS = (
    r"sex\w*|nude\w*|naked|hot|body|bodies|dress\w*|kiss\w*|bed|date|dating|dinner|cute|"
    r"beautiful|gorgeous|pretty|boob\w*|breast\w*|porn\w*|pics?|photos?|skirt|bikini"
)
# Self-harm vocabulary in support, recovery and news.
SELF_HARM_WORDS = r"suicid\w*|self.harm\w*|cut\w*|overdos\w*|myself|depress\w*|end it"

TRIGGERS = re.compile(rf"\b(?:{THREAT_WORDS}|{SEXUAL_WORDS}|{SELF_HARM_WORDS})\b", re.IGNORECASE)
LANGUAGES = frozenset({"en"})


def is_hard_negative(example: TextExample) -> bool:
    """A clean English row (toxicity 0, every known label 0) with a trigger word."""
    if example.language not in LANGUAGES or example.labels.get("toxicity") != 0:
        return False
    if any(v for v in example.labels.values() if v is not None):
        return False
    return TRIGGERS.search(example.text) is not None


def hard_negative_ids(examples: Sequence[TextExample]) -> set[str]:
    """Row ids of the hard negatives among ``examples``."""
    return {ex.row_id for ex in examples if is_hard_negative(ex)}
