"""Loading the registered text corpora into one labelled list and splitting it by group.

The readers live in ``retrain.corpora`` (one module per family of data sets, each mapping its
source's annotation onto our independent heads ``LABELS``); this module loads the ones asked
for, splits them group-aware (an MHC template and its translations, a template of our own
cases, never straddle splits), stratified per source and label combination, depending only
on the seed and the rows, not on the order of loading; and caps training rows per source.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrain.corpora.base import LABELS, TWEET_PREPARATION, Corpus, TextExample, clean_tweet
from retrain.corpora.registry import ALL_CORPORA, label_mapping, training_corpora

log = logging.getLogger(__name__)

__all__ = [
    "LABELS",
    "SOURCES",
    "TEXT_PREPARATION",
    "TRAIN_SOURCES",
    "TextExample",
    "TextSplits",
    "clean_tweet",
    "label_mapping",
    "label_matrix",
    "label_summary",
    "load_text_corpora",
    "sample_per_source",
    "split_text_corpora",
]

SOURCES: tuple[str, ...] = tuple(name for c in ALL_CORPORA for name in c.sources)
TRAIN_SOURCES: tuple[str, ...] = tuple(name for c in training_corpora() for name in c.sources)
TEXT_PREPARATION: Mapping[str, str] = {
    "tweets and comments": TWEET_PREPARATION,
    "functional cases": "test_case verbatim, whitespace collapsed",
    "all": "rows with an empty text dropped; exact duplicate (source, text) pairs kept once, "
    "a label the duplicates disagree on becoming unknown",
}


@dataclass(frozen=True, slots=True)
class TextSplits:
    """Train / dev / test examples, each list sorted by ``row_id``."""

    train: list[TextExample]
    dev: list[TextExample]
    test: list[TextExample]


def _family(source: str) -> str:
    for corpus in ALL_CORPORA:
        if source in corpus.sources:
            return corpus.family
    return source


def load_text_corpora(
    data_dir: Path,
    *,
    sources: Sequence[str] | None = None,
    corpora: Sequence[Corpus] | None = None,
) -> list[TextExample]:
    """The corpora under ``data_dir``: the training corpora by default, or those of
    ``corpora``, narrowed to ``sources`` (source names or corpus families) when given."""
    chosen = tuple(training_corpora() if corpora is None else corpora)
    known = {name for c in chosen for name in c.sources} | {c.family for c in chosen}
    wanted = set(known if sources is None else sources)
    unknown = wanted - known
    if unknown:
        raise ValueError(f"unknown text sources {sorted(unknown)}; known: {sorted(known)}")
    examples: list[TextExample] = []
    for corpus in chosen:
        if corpus.family in wanted or wanted & set(corpus.sources):
            rows = corpus.load(data_dir)
            examples += [ex for ex in rows if ex.source in wanted or corpus.family in wanted]
    log.info("loaded %d text examples from %s", len(examples), data_dir)
    return examples


def _combo(ex: TextExample) -> str:
    return "/".join("-" if ex.labels.get(name) is None else str(ex.labels[name]) for name in LABELS)


def _stratum(group: str, members: list[TextExample]) -> str:
    """Group prefix (source, or ``mhc`` for templates) x functionality x label combination."""
    counts = Counter(f"{ex.functionality}|{_combo(ex)}" for ex in members)
    common, _ = min(counts.items(), key=lambda item: (-item[1], item[0]))
    return f"{group.split(':', 1)[0]}|{common}"


def _rng(seed: int, key: str) -> np.random.Generator:
    """One generator per stratum: a source's split does not depend on what else is loaded."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def split_text_corpora(
    examples: Sequence[TextExample],
    *,
    seed: int,
    dev_share: float = 0.1,
    test_share: float = 0.2,
) -> TextSplits:
    """Group-aware train / dev / test split, stratified per source x label combination.

    Within each stratum the groups are shuffled by a seeded generator and filled into test,
    then dev, then train by their cumulative row count, so singleton-group sources get the
    shares almost exactly and template groups as closely as their sizes allow.
    """
    if dev_share < 0 or test_share < 0 or dev_share + test_share >= 1:
        raise ValueError(
            f"need 0 <= dev_share, test_share and a sum < 1: {dev_share}, {test_share}"
        )
    groups: dict[str, list[TextExample]] = defaultdict(list)
    for ex in examples:
        groups[ex.group].append(ex)
    strata: dict[str, list[str]] = defaultdict(list)
    for group, members in groups.items():
        strata[_stratum(group, members)].append(group)
    parts: tuple[list[TextExample], ...] = ([], [], [])  # test, dev, train
    for key in sorted(strata):
        names = sorted(strata[key])
        sizes = [len(groups[name]) for name in names]
        total, filled = sum(sizes), 0
        for index in _rng(seed, key).permutation(len(names)):
            middle = (filled + sizes[index] / 2) / total
            part = 0 if middle < test_share else 1 if middle < test_share + dev_share else 2
            parts[part].extend(groups[names[index]])
            filled += sizes[index]
    test, dev, train = (sorted(part, key=lambda ex: ex.row_id) for part in parts)
    log.info(
        "split %d examples: train %d, dev %d, test %d", len(examples), *map(len, (train, dev, test))
    )
    return TextSplits(train=train, dev=dev, test=test)


def _allocate(sizes: Mapping[str, int], cap: int) -> dict[str, int]:
    """Largest-remainder quotas summing to ``cap``, proportional to ``sizes``."""
    total = sum(sizes.values())
    exact = {key: cap * size / total for key, size in sizes.items()}
    quota = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(sizes, key=lambda key: (quota[key] - exact[key], key))
    for key in by_remainder[: cap - sum(quota.values())]:
        quota[key] += 1
    return quota


def sample_per_source(
    examples: Sequence[TextExample],
    *,
    max_per_source: Mapping[str, int] | int | None,
    seed: int,
) -> list[TextExample]:
    """At most ``max_per_source`` rows of each source (an int for all; a mapping by source or
    family, absent ones uncapped; None keeps everything), stratified by functionality x labels.
    Chosen rows keep their input order."""
    if max_per_source is None:
        return list(examples)
    by_source: dict[str, list[TextExample]] = defaultdict(list)
    for ex in examples:
        by_source[ex.source].append(ex)
    chosen: set[str] = set()
    for source, rows in sorted(by_source.items()):
        if isinstance(max_per_source, int):
            cap: int | None = max_per_source
        else:
            cap = max_per_source.get(source, max_per_source.get(_family(source)))
        if cap is None or cap >= len(rows):
            chosen.update(ex.row_id for ex in rows)
            continue
        strata: dict[str, list[str]] = defaultdict(list)
        for ex in rows:
            strata[f"{ex.functionality}|{_combo(ex)}"].append(ex.row_id)
        quota = _allocate({key: len(ids) for key, ids in strata.items()}, max(cap, 0))
        rng = _rng(seed, source)
        for key in sorted(strata):
            ids = sorted(strata[key])
            chosen.update(ids[i] for i in rng.choice(len(ids), size=quota[key], replace=False))
    return [ex for ex in examples if ex.row_id in chosen]


def label_matrix(
    examples: Sequence[TextExample], labels: Sequence[str] = LABELS
) -> tuple[np.ndarray, np.ndarray]:
    """(targets, mask), float32 of shape [N, len(labels)]: targets 0 where the mask is 0."""
    targets = np.zeros((len(examples), len(labels)), dtype=np.float32)
    mask = np.zeros_like(targets)
    for row, ex in enumerate(examples):
        for column, name in enumerate(labels):
            value = ex.labels.get(name)
            if value is not None:
                targets[row, column] = value
                mask[row, column] = 1.0
    return targets, mask


def label_summary(examples: Sequence[TextExample]) -> dict[str, dict[str, tuple[int, int, int]]]:
    """Per source and label: (positive, negative, unknown) counts, for logs and model cards."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {n: [0, 0, 0] for n in LABELS})
    for ex in examples:
        for name in LABELS:
            value = ex.labels.get(name)
            counts[ex.source][name][2 if value is None else 1 - value] += 1
    return {
        source: {name: (c[0], c[1], c[2]) for name, c in per_label.items()}
        for source, per_label in sorted(counts.items())
    }
