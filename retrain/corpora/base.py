"""The shared shape of every labelled text corpus: labels, examples, readers and the registry.

Each public data set labels abuse its own way; a reader maps it onto our independent
sigmoid heads (``LABELS``). A label a source cannot tell us is ``None`` (or absent) and is
masked out of the loss, never guessed as 0. Every reader registers a ``Corpus``: its sources
(one per language or sub-set), the mapping rules in words (for the model card), its licence
and whether it may train a shipped model (``use="train"``) or is for measurement only
(``use="eval_only"``, the ``eval_only/`` folder: never trains anything we ship).
"""

from __future__ import annotations

import csv
import html
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from retrain.errors import DataError

log = logging.getLogger(__name__)

# The design's harm categories, each an independent head. ``toxicity`` is any offensive,
# abusive, insulting, threatening, hateful, sexually harassing or self-harm-inciting text.
LABELS: tuple[str, ...] = ("toxicity", "insult", "threat", "hate", "sexual", "self_harm")
TOXICITY, INSULT, THREAT, HATE, SEXUAL, SELF_HARM = LABELS
LABEL_MEANING: Mapping[str, str] = {
    TOXICITY: "any offensive, abusive, insulting, threatening, hateful or profane text",
    INSULT: "an insult or harassment aimed at a person (or the reader)",
    THREAT: "a threat, wish or call for violence against people",
    HATE: "an attack on people for a protected characteristic (identity attack)",
    SEXUAL: "sexually explicit content or sexual harassment",
    SELF_HARM: "encouraging or inciting self-harm or suicide (e.g. 'kill yourself')",
}

Labels = Mapping[str, int | None]
Use = Literal["train", "eval_only"]


@dataclass(frozen=True, slots=True)
class TextExample:
    """One text with its labels (1 / 0 / None or absent = unknown, masked out of the loss)."""

    text: str
    labels: Labels
    source: str
    language: str
    functionality: str
    group: str
    row_id: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """A registered data set: how to read it and what it may be used for.

    ``sources`` maps each source name the reader emits to its language (ISO 639-1);
    ``mapping`` gives, per source, the rule in words for each label it teaches (labels it
    cannot teach are left out); ``kind`` is ``real`` for posts people wrote and
    ``functional`` for templated test cases.
    """

    family: str
    sources: Mapping[str, str]
    load: Callable[[Path], list[TextExample]]
    mapping: Mapping[str, Mapping[str, str]]
    licence: str
    use: Use = "train"
    kind: Literal["real", "functional"] = "real"
    folder: str = ""


def make_example(
    source: str,
    language: str,
    key: str,
    text: str,
    labels: Labels,
    *,
    functionality: str = "",
    group: str = "",
) -> TextExample:
    """An example with row id ``source:key``; ``labels`` may name any subset of ``LABELS``."""
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"{source}: unknown labels {sorted(unknown)}; known: {LABELS}")
    row_id = f"{source}:{key}"
    return TextExample(
        text=text,
        labels={name: labels.get(name) for name in LABELS},
        source=source,
        language=language,
        functionality=functionality,
        group=group or row_id,
        row_id=row_id,
    )


def clean_negative(**known: int | None) -> dict[str, int | None]:
    """Labels of a row its annotators called clean (not offensive at all): every head 0,
    except those given (e.g. ``clean_negative(hate=None)``)."""
    labels: dict[str, int | None] = dict.fromkeys(LABELS, 0)
    labels.update(known)
    return labels


def merge_labels(duplicates: Sequence[Labels]) -> dict[str, int | None]:
    """Per label: the one known value the duplicates agree on, else None (unknown). If they
    disagree on ``toxicity`` (one copy clean, one not), the clean copy's zeros on the other
    heads are no evidence either: every head becomes unknown."""
    merged: dict[str, int | None] = {}
    for name in LABELS:
        known = {labels.get(name) for labels in duplicates} - {None}
        if name == TOXICITY and len(known) > 1:
            return dict.fromkeys(LABELS)
        merged[name] = known.pop() if len(known) == 1 else None
    return merged


def finish(examples: Iterator[TextExample], what: str) -> list[TextExample]:
    """Drop empty texts; keep the first of each (source, text), its duplicates' labels merged."""
    first: dict[tuple[str, str], TextExample] = {}
    labels: dict[tuple[str, str], list[Labels]] = defaultdict(list)
    empty = 0
    for ex in examples:
        if not ex.text:
            empty += 1
            continue
        first.setdefault((ex.source, ex.text), ex)
        labels[(ex.source, ex.text)].append(ex.labels)
    kept, changed = [], 0
    for key, ex in first.items():
        merged = merge_labels(labels[key]) if len(labels[key]) > 1 else dict(ex.labels)
        changed += merged != ex.labels
        kept.append(ex if merged == ex.labels else replace(ex, labels=merged))
    duplicates = sum(len(found) for found in labels.values()) - len(kept)
    log.info(
        "%s: %d rows; dropped %d empty and %d duplicate texts (merging changed %d rows' labels)",
        *(what, len(kept), empty, duplicates, changed),
    )
    return kept


def read_csv(
    path: Path, columns: Sequence[str], *, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, row) of a CSV/TSV file with a header, checking the needed columns."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing columns {sorted(missing)}")
        yield from enumerate(reader, start=1)


def bad_value(path: Path, number: int, column: str, value: str) -> DataError:
    return DataError(f"{path}: row {number}: unexpected {column} {value!r}")


_URL = re.compile(r"https?://\S*|\bwww\.\S+|@url\b")
_RETWEET = re.compile(r"\bRT\s+(?=@)", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")

TWEET_PREPARATION = (
    "clean_tweet: HTML entities unescaped, GermEval |LBR| line breaks as spaces, URLs and "
    "MLMA's @url placeholder -> 'http', 'RT' retweet markers before a mention dropped, "
    "@mentions -> '@user', whitespace collapsed"
)


def clean_tweet(text: str) -> str:
    """Normalise a post for training: entities unescaped, handles and URLs anonymised."""
    for _ in range(2):  # some tweets are escaped twice ("&amp;#9773;")
        if "&" in text:
            text = html.unescape(text)
    text = text.replace("|LBR|", " ")
    if "http" in text or "www" in text or "@url" in text:
        text = _URL.sub("http", text)
    if "@" in text:
        text = _MENTION.sub("@user", _RETWEET.sub("", text))
    return " ".join(text.split())
