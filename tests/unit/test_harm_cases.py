"""Our English threat / self-harm / insult / sexual-harassment cases and their benign
look-alikes: labels per functionality, a seeded split by template, no duplicates, the issue's
probe sentences held out, and the registered corpus."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from retrain.corpora.base import LABELS
from retrain.harm_cases import (
    CORPUS,
    FUNCTIONALITY_LABELS,
    SOURCE,
    HarmCase,
    harm_cases,
    harm_test_examples,
    harm_train_examples,
)
from retrain.harm_templates import TEMPLATES

CASES = harm_cases()
# The probe sentences, written out here independently of the module.
PROBES = (
    "I will find you and I will hurt you",
    "Someone should put a bullet in that judge's head",
    "go kill yourself loser",
    "you should just die, nobody would miss you",
    "you are a worthless idiot and everyone hates you",
)
HARMFUL_FAMILIES = ("threat_", "selfharm_", "insult_", "sexual_")


def key(text: str) -> str:
    """Lower case, no punctuation, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split())


def templates_by_functionality(cases: list[HarmCase]) -> dict[str, dict[str, set[str]]]:
    """functionality -> split -> template ids."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for case in cases:
        out[case.functionality][case.split].add(case.template_id)
    return out


def test_same_seed_gives_identical_cases_and_another_seed_another_split() -> None:
    assert harm_cases() == CASES
    other = harm_cases(seed=7)
    assert other != CASES
    assert {c.template_id for c in other if c.split == "test"} != {
        c.template_id for c in CASES if c.split == "test"
    }


def test_counts_per_functionality_and_benign_share() -> None:
    counts = Counter(c.functionality for c in CASES)
    assert set(counts) == set(TEMPLATES) == set(FUNCTIONALITY_LABELS)
    assert 2500 <= len(CASES) <= 5000
    assert len(counts) >= 20
    for functionality, n in counts.items():
        assert n >= 20, functionality
        if functionality.endswith("_h"):
            assert n >= 100, functionality
    benign = sum(n for f, n in counts.items() if f.endswith("_nh"))
    assert benign / len(CASES) >= 0.4
    for family in HARMFUL_FAMILIES:
        assert sum(n for f, n in counts.items() if f.startswith(family) and f.endswith("_h"))


def test_names_end_in_h_or_nh_and_cover_every_harmful_family() -> None:
    for functionality in TEMPLATES:
        assert functionality.endswith(("_h", "_nh")), functionality
    names = set(TEMPLATES)
    for expected in (
        "threat_direct_h", "threat_conditional_h", "threat_call_h", "threat_family_h",
        "threat_doxx_h", "selfharm_incite_h", "insult_direct_h", "sexual_harass_h",
        "idiom_violent_nh", "gaming_nh", "news_report_nh", "selfdeprecate_nh",
        "support_selfharm_nh", "counter_selfharm_nh", "fiction_nh", "disagree_nh",
    ):  # fmt: skip
        assert expected in names


def test_no_duplicate_texts_even_up_to_case_and_punctuation() -> None:
    texts = [c.text for c in CASES]
    assert len(texts) == len(set(texts))
    assert len({key(t) for t in texts}) == len(texts)


def test_slots_are_filled() -> None:
    for case in CASES:
        assert "[" not in case.text
        assert "]" not in case.text
        assert "\0" not in case.text


def test_split_is_by_template_and_every_functionality_has_test_templates() -> None:
    split_of: dict[str, str] = {}
    for case in CASES:
        assert case.split in {"train", "test"}
        assert split_of.setdefault(case.template_id, case.split) == case.split
    for functionality, splits in templates_by_functionality(CASES).items():
        assert splits["train"], functionality
        assert splits["test"], functionality
        assert not splits["train"] & splits["test"]


def test_test_share_is_about_thirty_percent() -> None:
    share = sum(c.split == "test" for c in CASES) / len(CASES)
    assert 0.2 <= share <= 0.4
    for functionality, splits in templates_by_functionality(CASES).items():
        n = len(splits["train"]) + len(splits["test"])
        assert len(splits["test"]) == min(n - 1, max(1, round(0.3 * n))), functionality


@pytest.mark.parametrize("test_share", [0.0, 1.0, -0.2])
def test_rejects_a_test_share_outside_zero_one(test_share: float) -> None:
    with pytest.raises(ValueError, match="test_share"):
        harm_cases(test_share=test_share)


def test_probe_sentences_are_held_out() -> None:
    texts = {c.text for c in CASES}
    keys = {key(c.text) for c in CASES}
    for probe in PROBES:
        assert probe not in texts
        assert key(probe) not in keys


def test_every_case_has_a_label_on_every_head_fixed_per_functionality() -> None:
    for case in CASES:
        assert set(case.labels) == set(LABELS)
        assert dict(case.labels) == dict(FUNCTIONALITY_LABELS[case.functionality])
        assert all(value in {0, 1, None} for value in case.labels.values())


def test_harmful_labels_are_as_specified() -> None:
    for case in CASES:
        labels, name = case.labels, case.functionality
        if name.endswith("_nh"):
            assert all(value == 0 for value in labels.values()), case
            continue
        assert labels["toxicity"] == 1
        assert labels["hate"] == 0
        if name.startswith("threat_"):
            assert (labels["threat"], labels["sexual"], labels["self_harm"]) == (1, 0, 0)
            assert labels["insult"] in {0, None}
        elif name.startswith("selfharm_"):
            assert (labels["self_harm"], labels["sexual"]) == (1, 0)
            assert labels["insult"] == (1 if name == "selfharm_insult_h" else None)
        elif name.startswith("insult_"):
            assert (labels["insult"], labels["threat"], labels["self_harm"]) == (1, 0, 0)
            assert labels["sexual"] == 0
        else:
            assert name.startswith("sexual_")
            assert (labels["sexual"], labels["threat"], labels["self_harm"]) == (1, 0, 0)


@pytest.mark.parametrize("split", ["train", "test"])
def test_both_splits_have_harmful_and_benign_cases(split: str) -> None:
    cases = [c for c in CASES if c.split == split]
    toxic = sum(c.labels["toxicity"] == 1 for c in cases) / len(cases)
    assert 0.3 < toxic < 0.7
    for head in ("threat", "insult", "sexual", "self_harm"):
        assert any(c.labels[head] == 1 for c in cases), head


def test_benign_look_alikes_share_the_harmful_words() -> None:
    benign = " ".join(c.text.lower() for c in CASES if c.functionality.endswith("_nh"))
    for word in ("kill", "shoot", "stab", "destroy", "idiot", "kys", "nudes", "die"):
        assert word in benign, word


def test_surface_variation_is_light_and_present() -> None:
    texts = [c.text for c in CASES]
    lower = sum(t == t.lower() and t != t.upper() for t in texts)
    upper = sum(t == t.upper() and t != t.lower() for t in texts)
    chat = sum(bool(re.search(r"\b(u|ur|U|UR)\b", t)) for t in texts)
    emoji = sum(t.endswith(("😂", "😡", "🙄", "💀")) for t in texts)
    for n in (lower, upper, chat, emoji):
        assert 0.005 * len(texts) < n < 0.3 * len(texts)


def test_examples_carry_source_group_row_id_and_split() -> None:
    loaded = CORPUS.load(Path("/nonexistent"))
    assert len(loaded) == len(CASES)
    for i, (example, case) in enumerate(zip(loaded, CASES, strict=True)):
        assert example.text == case.text
        assert example.source == SOURCE
        assert example.language == "en"
        assert example.functionality == case.functionality
        assert example.group == f"harm_en:{case.template_id}"
        assert example.row_id == f"harm_en:{i}"
        assert dict(example.labels) == dict(case.labels)
    train, test = harm_train_examples(), harm_test_examples()
    assert len(train) + len(test) == len(loaded)
    assert {e.row_id for e in test} == {
        f"harm_en:{i}" for i, c in enumerate(CASES) if c.split == "test"
    }
    assert not {e.group for e in train} & {e.group for e in test}
    assert [e.text for e in harm_test_examples(7)] == [
        c.text for c in harm_cases(seed=7) if c.split == "test"
    ]


def test_corpus_is_registered_as_our_own_functional_training_data() -> None:
    assert CORPUS.family == SOURCE
    assert CORPUS.sources == {SOURCE: "en"}
    assert CORPUS.kind == "functional"
    assert CORPUS.use == "train"
    assert CORPUS.licence == "our own cases (Apache-2.0, this repository)"
    assert set(LABELS) <= set(CORPUS.mapping[SOURCE])
