"""Lexical hard negatives: which rows count, and that training keeps and weighs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrain.corpora.base import TextExample
from retrain.hard_negatives import hard_negative_ids, is_hard_negative
from retrain.text import TextTrainConfig, load_training_data
from tests.conftest import shared_data


def _row(text: str, language: str = "en", **labels: int | None) -> TextExample:
    return TextExample(
        text=text,
        labels=dict(labels),
        source="davidson",
        language=language,
        functionality="",
        group=text,
        row_id=f"davidson:{abs(hash(text))}",
    )


@pytest.mark.parametrize(
    "text",
    [
        "My back is killing me",
        "Focus their sniper and we win the fight",
        "Love the dress, where did you get it?",
        "Therapy saved my life when I wanted to die",
    ],
)
def test_clean_english_rows_with_trigger_words_are_hard_negatives(text: str) -> None:
    assert is_hard_negative(_row(text, toxicity=0, threat=0))


@pytest.mark.parametrize(
    ("text", "language", "labels"),
    [
        ("My back is killing me", "en", {"toxicity": 1}),  # offensive per its source
        ("My back is killing me", "en", {"toxicity": 0, "hate": 1}),  # a known positive
        ("My back is killing me", "en", {"hate": 0}),  # the source cannot say it is clean
        ("Nice weather for a walk today", "en", {"toxicity": 0}),  # no trigger word
        ("Die Katze schläft", "de", {"toxicity": 0}),  # "die" is an article in German
        ("skillful play", "en", {"toxicity": 0}),  # whole words only
    ],
)
def test_other_rows_are_not(text: str, language: str, labels: dict[str, int]) -> None:
    assert not is_hard_negative(_row(text, language, **labels))


def test_ids_pick_only_the_hard_negatives() -> None:
    rows = [_row("we got wiped by the tank", toxicity=0), _row("lovely day", toxicity=0)]
    assert hard_negative_ids(rows) == {rows[0].row_id}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("davidson/labeled_data.csv")


def test_training_keeps_hard_negatives_past_the_caps(data_dir: Path) -> None:
    caps = {"davidson": 300, "hatexplain": 300}
    with_hard = load_training_data(data_dir, TextTrainConfig(caps=caps))
    without = load_training_data(data_dir, TextTrainConfig(caps=caps, hard_negative_weight=0))
    davidson = [ex for ex in with_hard.train if ex.source == "davidson"]
    hard = [ex for ex in davidson if ex.row_id in with_hard.hard_negatives]
    assert len(davidson) > 300
    assert len(hard) > 100
    assert all(is_hard_negative(ex) for ex in hard)
    assert sum(ex.source == "davidson" for ex in without.train) == 300
    assert not without.hard_negatives
    # dev and test never change: hard negatives only choose and weigh training rows
    assert with_hard.splits.test == without.splits.test


def test_a_capped_run_stays_small(data_dir: Path) -> None:
    data = load_training_data(data_dir, TextTrainConfig(cap_all=50))
    assert max(sum(ex.source == s for ex in data.train) for s in ("davidson", "hatexplain")) <= 50
