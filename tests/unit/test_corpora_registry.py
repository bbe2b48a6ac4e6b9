"""The corpus registry: every source once, licences stated, and measurement-only sets that
training can never reach."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from retrain.corpora.base import LABELS, TextExample, make_example, merge_labels
from retrain.corpora.registry import (
    ALL_CORPORA,
    corpus_of,
    eval_only_corpora,
    label_mapping,
    source_languages,
    training_corpora,
)
from retrain.text_data import TRAIN_SOURCES, load_text_corpora


def test_every_source_name_is_registered_once_with_a_language() -> None:
    names = [name for corpus in ALL_CORPORA for name in corpus.sources]
    assert [n for n, k in Counter(names).items() if k > 1] == []
    assert all(len(lang) == 2 for lang in source_languages().values())
    assert {corpus_of(name).family for name in names} == {c.family for c in ALL_CORPORA}


def test_measurement_only_sets_are_never_training_sets() -> None:
    train = {name for c in training_corpora() for name in c.sources}
    held = {name for c in eval_only_corpora() for name in c.sources}
    assert held
    assert not train & held
    assert all(name.startswith("eval_") for name in held)
    assert all(c.folder.startswith("eval_only/") for c in eval_only_corpora())
    assert set(TRAIN_SOURCES) == train


def test_every_corpus_states_a_licence_and_a_rule_for_each_label_it_teaches() -> None:
    mapping = label_mapping()
    for corpus in ALL_CORPORA:
        assert corpus.licence
        for source in corpus.sources:
            assert source in mapping, source
            assert set(mapping[source]) - {"note"} <= set(LABELS), source


def test_the_training_loader_cannot_be_asked_for_an_eval_only_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown text sources"):
        load_text_corpora(tmp_path, sources=["eval_toxicn_zh"])


def test_the_languages_we_train_and_measure_cover_at_least_fifteen() -> None:
    assert len(set(source_languages(training_corpora()).values())) >= 12
    assert len(set(source_languages().values())) >= 15


def _ex(**labels: int | None) -> TextExample:
    return make_example("s", "en", "1", "text", labels)


def test_duplicates_that_disagree_on_toxicity_lose_every_head() -> None:
    clean = {name: 0 for name in LABELS}
    toxic = {"toxicity": 1, "insult": 1}
    assert set(merge_labels([clean, toxic]).values()) == {None}
    agreed = merge_labels([{"toxicity": 1, "insult": 1}, {"toxicity": 1, "insult": None}])
    assert (agreed["toxicity"], agreed["insult"], agreed["hate"]) == (1, 1, None)


def test_examples_reject_labels_outside_the_label_set() -> None:
    with pytest.raises(ValueError, match="unknown labels"):
        _ex(spam=1)
    assert set(_ex(toxicity=1).labels) == set(LABELS)
