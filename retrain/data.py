"""Reading labelled data sets and splitting them reproducibly.

Readers return texts with 0/1 labels and nothing else, so every training job sees the same
shape whatever the source format. Splits are stratified and seeded: the same seed gives the
same rows in train, dev and test on any machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from retrain.errors import DataError

log = logging.getLogger(__name__)

SMS_SPAM_PATH = Path("sms_spam") / "SMSSpamCollection"
_SMS_LABELS = {"ham": 0, "spam": 1}


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with binary labels (1 = positive class) and how many rows were dropped."""

    texts: tuple[str, ...]
    labels: np.ndarray
    dropped_empty: int


@dataclass(frozen=True)
class Split:
    """Row indices of a train / dev / test split."""

    train: np.ndarray
    dev: np.ndarray
    test: np.ndarray


def read_sms_spam(path: Path) -> LabelledTexts:
    """Read the UCI SMS Spam Collection: one ``label<TAB>text`` per line, ham or spam.

    The text is everything after the first tab, taken verbatim (no quote handling, as with
    ``csv.QUOTE_NONE``). Undecodable bytes are replaced; rows with an empty text are dropped.
    """
    texts: list[str] = []
    labels: list[int] = []
    dropped = 0
    with path.open(encoding="utf-8", errors="replace", newline="\n") as lines:
        for lineno, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            label, tab, text = line.partition("\t")
            if not tab or label not in _SMS_LABELS:
                raise DataError(f"{path}:{lineno}: expected 'ham|spam<TAB>text', got {line[:40]!r}")
            if not text.strip():
                dropped += 1
                continue
            texts.append(text)
            labels.append(_SMS_LABELS[label])
    if dropped:
        log.info("%s: dropped %d rows with an empty text", path, dropped)
    return LabelledTexts(tuple(texts), np.asarray(labels, dtype=np.int64), dropped)


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of a stratified random subset of ``limit`` rows (all rows if fewer)."""
    if limit >= len(labels):
        return np.arange(len(labels))
    subset, _ = train_test_split(
        np.arange(len(labels)), train_size=limit, stratify=labels, random_state=seed
    )
    return np.sort(np.asarray(subset))


def stratified_split(labels: np.ndarray, seed: int, dev: float = 0.2, test: float = 0.2) -> Split:
    """Stratified train / dev / test split of ``range(len(labels))`` (default 60/20/20)."""
    if min(np.bincount(labels, minlength=2)) < 5:
        raise DataError("each class needs at least 5 rows for a stratified 3-way split")
    indices = np.arange(len(labels))
    rest, test_idx = train_test_split(indices, test_size=test, stratify=labels, random_state=seed)
    train_idx, dev_idx = train_test_split(
        rest, test_size=dev / (1.0 - test), stratify=labels[rest], random_state=seed
    )
    return Split(np.sort(train_idx), np.sort(dev_idx), np.sort(test_idx))
