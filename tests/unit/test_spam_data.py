"""Reading the SMS Spam Collection format and splitting it reproducibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrain.data import read_sms_spam, stratified_split, stratified_subset
from retrain.errors import DataError


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "SMSSpamCollection"
    path.write_bytes(content)
    return path


def test_reads_labels_and_text_after_the_first_tab(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        b'ham\tOk lar... "Joking" wif u\tstill text\r\nspam\tWIN \xc2\xa3100 now\n\nham\t   \n',
    )
    data = read_sms_spam(path)
    assert data.texts == ('Ok lar... "Joking" wif u\tstill text', "WIN £100 now")
    assert data.labels.tolist() == [0, 1]
    assert data.dropped_empty == 1


def test_replaces_undecodable_bytes(tmp_path: Path) -> None:
    data = read_sms_spam(write(tmp_path, b"ham\tG\xf3mez\n"))
    assert data.texts == ("G\ufffdmez",)


@pytest.mark.parametrize("line", [b"eggs\thello\n", b"ham hello\n"])
def test_rejects_unknown_labels_and_missing_tabs(tmp_path: Path, line: bytes) -> None:
    with pytest.raises(DataError, match=":1:"):
        read_sms_spam(write(tmp_path, line))


def test_split_is_stratified_disjoint_and_seeded() -> None:
    labels = np.array([1] * 50 + [0] * 450)
    split = stratified_split(labels, seed=3)
    assert (len(split.train), len(split.dev), len(split.test)) == (300, 100, 100)
    assert [labels[s].sum() for s in (split.train, split.dev, split.test)] == [30, 10, 10]
    assert len(np.union1d(np.union1d(split.train, split.dev), split.test)) == 500
    again = stratified_split(labels, seed=3)
    np.testing.assert_array_equal(split.test, again.test)


def test_subset_keeps_the_class_balance() -> None:
    labels = np.array([1] * 100 + [0] * 900)
    subset = stratified_subset(labels, 200, seed=1)
    assert len(subset) == 200
    assert labels[subset].sum() == 20
    assert len(stratified_subset(labels, 5000, seed=1)) == 1000
