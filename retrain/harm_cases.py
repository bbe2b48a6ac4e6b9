"""Our own English cases for threats, self-harm incitement, insults and sexual harassment.

Public data teaches the text classifier slurs and profanity but not ordinary threats ("I'm
going to find you and ..."), incitement to self-harm, plain insults and harassment of a person,
or sexual harassment, nor the benign sentences that share their words (idioms like "this bug
is killing me", gaming talk, news reports of a threat, self-deprecation, suicide-prevention and
recovery talk, cooking and sports, fiction and history, quoting abuse to condemn it, polite
disagreement). This module writes those cases itself as templates x fillers
(``retrain.harm_templates``), labels each functionality on every head of ``LABELS`` (1, 0 or
None for unknown), and adds a light, seeded surface variation (case, "u"/"ur", a typo, trailing
punctuation or emoji) so the model cannot key on one format. Cases are split into train and
test by template, stratified per functionality and seeded, so a test sentence never shares a
template with a training one; the issue's probe sentences (``HELD_OUT_PROBES``) are never
generated, even up to case and punctuation, and stay for evaluation only.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from retrain.corpora.base import (
    HATE,
    INSULT,
    SELF_HARM,
    SEXUAL,
    THREAT,
    TOXICITY,
    Corpus,
    Labels,
    TextExample,
    clean_negative,
    make_example,
)
from retrain.harm_templates import FILLERS, TEMPLATES

__all__ = [
    "CORPUS",
    "DEFAULT_SEED",
    "FUNCTIONALITY_LABELS",
    "HELD_OUT_PROBES",
    "SOURCE",
    "HarmCase",
    "harm_cases",
    "harm_test_examples",
    "harm_train_examples",
]

SOURCE = "harm_en"
DEFAULT_SEED = 20261121
# At most this many filler combinations per template (a seeded sample when there are more).
MAX_PER_TEMPLATE = 30

# The probe sentences: kept out of the cases (compared after ``_normalise``).
HELD_OUT_PROBES: tuple[str, ...] = (
    "I will find you and I will hurt you",
    "Someone should put a bullet in that judge's head",
    "go kill yourself loser",
    "you should just die, nobody would miss you",
    "you are a worthless idiot and everyone hates you",
)


def _labels(**known: int | None) -> dict[str, int | None]:
    """A harmful case: toxic, the given heads as given, hate and the rest 0 unless named."""
    labels = clean_negative(toxicity=1)
    labels.update(known)
    return labels


_THREAT = _labels(threat=1, insult=None)  # aimed at the reader: a threat may also harass
_SELF_HARM = _labels(self_harm=1, insult=None, threat=None)  # a death wish may read as one
_INSULT = _labels(insult=1)
_SEXUAL = _labels(sexual=1, insult=None)

# functionality -> labels on every head. Suffix _h: harmful; _nh: a benign look-alike, clean
# on every head (``clean_negative``). Nothing here targets a protected group, so hate is 0.
FUNCTIONALITY_LABELS: dict[str, Labels] = {
    "threat_direct_h": _THREAT,
    "threat_conditional_h": _THREAT,
    "threat_call_h": _labels(threat=1),  # violence against a third person, no name-calling
    "threat_family_h": _THREAT,
    "threat_doxx_h": _THREAT,
    "selfharm_incite_h": _SELF_HARM,
    "selfharm_insult_h": {**_SELF_HARM, INSULT: 1},
    "insult_direct_h": _INSULT,
    "insult_exclusion_h": _INSULT,
    "sexual_harass_h": _SEXUAL,
    "sexual_remark_h": _SEXUAL,
    **{name: clean_negative() for name in TEMPLATES if name.endswith("_nh")},
}


@dataclass(frozen=True, slots=True)
class HarmCase:
    """One labelled sentence, its functionality, the template it came from and its split."""

    text: str
    labels: Labels  # every head of LABELS: 1, 0 or None (unknown)
    functionality: str  # e.g. "threat_direct_h", "idiom_violent_nh"
    template_id: str  # e.g. "threat_direct_h-03"
    split: str  # "train" or "test"


_SLOT = re.compile(r"\[([A-Z_]+)\]")
_ARTICLE = re.compile(r"\b([Aa]) (?=\0(?:[aeioAEIO]|[uU](?!s|ni)))")
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")
_YOU = re.compile(r"\b(you're|your|you)\b", re.IGNORECASE)
_ENDINGS = ("!", "!!", "...", " 😂", " 😡", " 🙄", " 💀", " lol", "", "?!")


def _normalise(text: str) -> str:
    """Lower case, apostrophes dropped, other punctuation a space, whitespace collapsed."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("'", "")).split())


_PROBE_KEYS = frozenset(_normalise(probe) for probe in HELD_OUT_PROBES)


def _starts_sentence(before: str) -> bool:
    """Whether a slot after ``before`` starts a sentence (or a quotation that does)."""
    before = before.rstrip()
    if before.endswith('"'):
        before = before[:-1].rstrip()
    return not before or before[-1] in ".!?"


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Put each slot's value in, capitalised where the slot starts a sentence; an article "a"
    before a slot (or before two slots in a row) becomes "an" before a vowel."""
    text = _SLOT.sub(lambda match: "\0" + values[match.group(1)], template)
    text = _ARTICLE.sub(lambda match: match.group(1) + "n ", text)
    parts = text.split("\0")
    out = parts[0]
    for part in parts[1:]:
        out += part[0].upper() + part[1:] if _starts_sentence(out) else part
    return out


def _expand(template: str, rng: random.Random) -> list[str]:
    """The template over every combination of its slots' fillers (a seeded sample of
    ``MAX_PER_TEMPLATE`` combinations when there are more), in a stable order."""
    slots = list(dict.fromkeys(_SLOT.findall(template)))
    unknown = [slot for slot in slots if slot not in FILLERS]
    if unknown:
        raise ValueError(f"unknown slots {unknown} in template {template!r}")
    sizes = [len(FILLERS[slot]) for slot in slots]
    total = math.prod(sizes)
    picks = (
        range(total)
        if total <= MAX_PER_TEMPLATE
        else sorted(rng.sample(range(total), MAX_PER_TEMPLATE))
    )
    texts = []
    for pick in picks:
        values: dict[str, str] = {}
        rest = pick
        for slot, size in zip(slots, sizes, strict=True):
            rest, index = divmod(rest, size)
            values[slot] = FILLERS[slot][index]
        texts.append(_fill(template, values))
    return texts


def _chat_spelling(text: str) -> str:
    """'you' -> 'u', 'your' / 'you're' -> 'ur', keeping a leading capital."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(1)
        short = "u" if word.lower() == "you" else "ur"
        return short.upper() if word[0].isupper() else short

    return _YOU.sub(replace, text)


def _typo(text: str, where: float) -> str:
    """Swap two neighbouring letters inside one word of five letters or more."""
    words = text.split(" ")
    long_words = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    if not long_words:
        return text
    i = long_words[int(where * len(long_words))]
    word = words[i]
    j = 1 + int(where * 997) % (len(word) - 3)
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def _vary(text: str, rng: random.Random) -> str:
    """A light surface variation; always draws the same numbers, so one case's variation never
    shifts another's."""
    chat, typo, where, case, ending, end = (rng.random() for _ in range(6))
    if chat < 0.12:
        text = _chat_spelling(text)
    if typo < 0.06:
        text = _typo(text, where)
    if case < 0.15:
        text = text.lower()
    elif case < 0.19:
        text = text.upper()
    if ending < 0.2:
        text = text.rstrip(".!?") + _ENDINGS[int(end * len(_ENDINGS))]
    return text


def _test_templates(ids: list[str], test_share: float, rng: random.Random) -> set[str]:
    """The template ids of one functionality that go to test (at least one, never all)."""
    if len(ids) < 2:
        return set()
    n_test = min(len(ids) - 1, max(1, round(test_share * len(ids))))
    return set(rng.sample(ids, n_test))


def harm_cases(*, test_share: float = 0.3, seed: int = DEFAULT_SEED) -> list[HarmCase]:
    """Every case, split by template: ``test_share`` of each functionality's templates (at least
    one, never all) go to test. The same seed gives the same list on any machine; a text that
    repeats another (after ``_normalise``) or is a held-out probe is left out."""
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be in (0, 1), got {test_share}")
    cases: list[HarmCase] = []
    seen = set(_PROBE_KEYS)
    for functionality, templates in TEMPLATES.items():
        labels = FUNCTIONALITY_LABELS[functionality]
        ids = [f"{functionality}-{i:02d}" for i in range(1, len(templates) + 1)]
        # One generator per functionality / template, so an edit elsewhere changes nothing here.
        test_ids = _test_templates(ids, test_share, random.Random(f"{seed}:{functionality}"))
        for template_id, template in zip(ids, templates, strict=True):
            split = "test" if template_id in test_ids else "train"
            rng = random.Random(f"{seed}:{template_id}")
            for base in _expand(template, rng):
                text = _vary(base, rng)
                keys = {_normalise(base), _normalise(text)}
                if keys & seen:
                    continue
                seen |= keys
                cases.append(HarmCase(text, dict(labels), functionality, template_id, split))
    return cases


def _examples(cases: Iterable[tuple[int, HarmCase]]) -> list[TextExample]:
    """Cases as examples: row id ``harm_en:<index in harm_cases()>``, grouped by template."""
    return [
        make_example(
            SOURCE,
            "en",
            str(i),
            case.text,
            case.labels,
            functionality=case.functionality,
            group=f"{SOURCE}:{case.template_id}",
        )
        for i, case in cases
    ]


def harm_train_examples(seed: int = DEFAULT_SEED) -> list[TextExample]:
    """The train-split cases as examples."""
    return _examples((i, c) for i, c in enumerate(harm_cases(seed=seed)) if c.split == "train")


def harm_test_examples(seed: int = DEFAULT_SEED) -> list[TextExample]:
    """The held-out test-split cases as examples (never train on these)."""
    return _examples((i, c) for i, c in enumerate(harm_cases(seed=seed)) if c.split == "test")


def load_harm(_data_dir: Path) -> list[TextExample]:
    """Every case, train and test templates alike (groups keep each template together)."""
    return _examples(enumerate(harm_cases()))


_BENIGN = "the benign look-alikes (*_nh: idioms, gaming, news, self-deprecation, support, "
MAPPING: Mapping[str, Mapping[str, str]] = {
    SOURCE: {
        TOXICITY: "every harmful functionality (*_h: threats, self-harm incitement, insults, "
        "sexual harassment) -> 1; " + _BENIGN + "counter-speech, fiction ...) -> 0",
        INSULT: "insult_direct_h, insult_exclusion_h, selfharm_insult_h -> 1; threat_call_h -> "
        "0; other threats, selfharm_incite_h and sexual_* -> unknown (aimed at the reader, they "
        "may also harass); " + _BENIGN + "...) -> 0",
        THREAT: "threat_* -> 1; selfharm_* -> unknown (a death wish); insult_* and sexual_* -> 0; "
        + _BENIGN
        + "...) -> 0",
        HATE: "every case -> 0 (no case targets a protected group; see functional_en for hate)",
        SEXUAL: "sexual_harass_h, sexual_remark_h -> 1; every other functionality -> 0",
        SELF_HARM: "selfharm_incite_h, selfharm_insult_h -> 1; every other functionality -> 0 "
        "(support, recovery and counter-speech about self-harm included)",
        "note": "our own templates x fillers with a seeded surface variation; split by template",
    }
}

CORPUS = Corpus(
    family=SOURCE,
    sources={SOURCE: "en"},
    load=load_harm,
    mapping=MAPPING,
    licence="our own cases (Apache-2.0, this repository)",
    use="train",
    kind="functional",
)
