"""Our English functional cases: labels per functionality, a seeded split by template, no
duplicates, and a CSV that reads back."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from retrain.functional_cases import (
    IDENTITIES,
    LABELS,
    FunctionalCase,
    functional_cases,
    write_cases_csv,
)

CASES = functional_cases()
# Multilingual HateCheck's functionality column (minus the spell_* ones, which evasion covers),
# plus the two English-only HateCheck ones.
HATECHECK_FUNCTIONALITIES = {
    "counter_quote_nh", "counter_ref_nh", "derog_dehum_h", "derog_impl_h", "derog_neg_attrib_h",
    "derog_neg_emote_h", "ident_neutral_nh", "ident_pos_nh", "negate_neg_nh", "negate_pos_h",
    "phrase_opinion_h", "phrase_question_h", "profanity_h", "profanity_nh", "ref_subs_clause_h",
    "ref_subs_sent_h", "slur_h", "target_group_nh", "target_indiv_nh", "target_obj_nh",
    "threat_dir_h", "threat_norm_h", "slur_homonym_nh", "slur_reclaimed_nh",
}  # fmt: skip


def templates_by_functionality(cases: list[FunctionalCase]) -> dict[str, dict[str, set[str]]]:
    """functionality -> split -> template ids."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for case in cases:
        out[case.functionality][case.split].add(case.template_id)
    return out


def test_same_seed_gives_identical_cases_and_another_seed_another_split() -> None:
    assert functional_cases() == CASES
    other = functional_cases(seed=7)
    assert [c.text for c in other] == [c.text for c in CASES]
    assert [c.split for c in other] != [c.split for c in CASES]


def test_has_enough_cases_identities_and_functionalities() -> None:
    assert 2000 <= len(CASES) <= 4000
    assert len(IDENTITIES) >= 14
    assert len({c.functionality for c in CASES}) >= 20
    assert set(LABELS) == {c.functionality for c in CASES}


def test_no_duplicate_texts() -> None:
    texts = [c.text for c in CASES]
    assert len(texts) == len(set(texts))


def test_split_is_by_template() -> None:
    split_of: dict[str, str] = {}
    for case in CASES:
        assert split_of.setdefault(case.template_id, case.split) == case.split
        assert case.split in {"train", "test"}


def test_every_functionality_with_two_templates_is_in_both_splits() -> None:
    for functionality, splits in templates_by_functionality(CASES).items():
        assert splits["train"], functionality
        assert splits["test"], functionality


@pytest.mark.parametrize("test_share", [0.1, 0.3, 0.5, 0.9])
def test_test_share_sets_the_share_of_templates_in_test(test_share: float) -> None:
    for functionality, splits in templates_by_functionality(
        functional_cases(test_share=test_share)
    ).items():
        n = len(splits["train"]) + len(splits["test"])
        expected = min(n - 1, max(1, round(test_share * n)))
        assert len(splits["test"]) == expected, functionality


@pytest.mark.parametrize("test_share", [0.0, 1.0, -0.2])
def test_rejects_a_test_share_outside_zero_one(test_share: float) -> None:
    with pytest.raises(ValueError, match="test_share"):
        functional_cases(test_share=test_share)


def test_labels_are_binary_and_fixed_per_functionality() -> None:
    for case in CASES:
        assert (case.toxicity, case.hate) == LABELS[case.functionality]
        assert case.toxicity in {0, 1}
        assert case.hate in {0, 1}
        if case.functionality.endswith("_h"):
            assert (case.toxicity, case.hate) == (1, 1), case
        else:
            assert case.functionality.endswith("_nh")
            assert case.hate == 0, case
        assert case.hate <= case.toxicity  # hate is a kind of toxicity


def test_contrast_classes_are_labelled_as_briefed() -> None:
    assert LABELS["profanity_nh"] == (1, 0)
    assert LABELS["target_indiv_nh"] == (1, 0)
    for functionality in (
        "target_obj_nh",
        "ident_neutral_nh",
        "ident_pos_nh",
        "counter_quote_nh",
        "counter_ref_nh",
        "negate_neg_nh",
    ):
        assert LABELS[functionality] == (0, 0)


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("label", ["toxicity", "hate"])
def test_both_labels_have_positives_and_negatives_in_each_split(split: str, label: str) -> None:
    values = [getattr(c, label) for c in CASES if c.split == split]
    assert 0.25 < sum(values) / len(values) < 0.75


def test_identity_templates_cover_every_identity_and_fill_the_slot() -> None:
    names = {name for name, _ in IDENTITIES}
    by_template: dict[str, set[str]] = defaultdict(set)
    for case in CASES:
        assert "[" not in case.text
        assert case.text[0].isupper() or case.text[0] == '"'
        if case.target:
            by_template[case.template_id].add(case.target)
    for template_id, targets in by_template.items():
        if not template_id.startswith("slur_h"):
            assert targets == names, template_id
    assert by_template["ident_pos_nh-01"] == names


def test_functionality_names_are_hatecheck_names() -> None:
    assert set(LABELS) <= HATECHECK_FUNCTIONALITIES


def test_writes_a_csv_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    write_cases_csv(path, CASES[:50])
    with path.open(encoding="utf-8", newline="") as rows:
        read = list(csv.DictReader(rows))
    assert list(read[0]) == [
        "text",
        "toxicity",
        "hate",
        "functionality",
        "template_id",
        "target",
        "split",
    ]
    back = [
        FunctionalCase(
            r["text"],
            int(r["toxicity"]),
            int(r["hate"]),
            r["functionality"],
            r["template_id"],
            r["target"],
            r["split"],
        )
        for r in read
    ]
    assert back == CASES[:50]
