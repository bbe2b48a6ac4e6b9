"""Reading the public text corpora into one labelled list and splitting it by group.

Davidson, GermEval 2018, MLMA (en/fr/ar) and Multilingual HateCheck (six languages) each label
abuse their own way; the readers map them onto our two independent sigmoid heads, ``toxicity``
(offensive, abusive, insulting or profane, hate included) and ``hate`` (an attack on people for
a protected characteristic). A label a source cannot tell us is ``None`` and is masked out of
the loss, never guessed as 0. ``LABEL_MAPPING`` states every rule for the model card. Splits are
group-aware (an MHC template and its translations never straddle splits), stratified per source
and label combination, and depend only on the seed and the rows, not on the order of loading.
"""

from __future__ import annotations

import csv
import html
import logging
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrain.errors import DataError

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("toxicity", "hate")
TOXICITY, HATE = LABELS

DAVIDSON_PATH = Path("davidson") / "labeled_data.csv"
GERMEVAL_PATHS = {
    "train": Path("germeval2018") / "germeval2018.training.txt",
    "test": Path("germeval2018") / "germeval2018.test.txt",
}
MLMA_LANGUAGES = ("en", "fr", "ar")
MHC_LANGUAGES = {
    "arabic": "ar",
    "dutch": "nl",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
}
SOURCES: tuple[str, ...] = (
    "davidson",
    "germeval2018",
    *(f"mlma_{lang}" for lang in MLMA_LANGUAGES),
    *(f"mhc_{lang}" for lang in MHC_LANGUAGES.values()),
)

_DAVIDSON_CLASSES = {"0": (1, 1), "1": (1, 0), "2": (0, 0)}
_GERMEVAL_COARSE = {"OFFENSE": 1, "OTHER": 0}
_MLMA_HOSTILE = frozenset({"offensive", "disrespectful", "abusive", "hateful", "fearful"})
_MLMA_PROTECTED = frozenset({"origin", "gender", "sexual_orientation", "religion", "disability"})
# Toxicity of MHC's non-hateful functionalities (hateful cases are toxic and hateful).
_MHC_NON_HATEFUL_TOXICITY: dict[str, int | None] = {
    "profanity_nh": 1,
    "target_indiv_nh": 1,
    "target_group_nh": 1,
    "target_obj_nh": 0,
    "ident_neutral_nh": 0,
    "ident_pos_nh": 0,
    "negate_neg_nh": 0,
    "counter_quote_nh": None,
    "counter_ref_nh": None,
    "slur_reclaimed_nh": None,
    "slur_homonym_nh": None,
}

_MLMA_RULES = {
    TOXICITY: (
        "sentiment exactly 'normal' -> 0; one or more of offensive / disrespectful / abusive / "
        "hateful / fearful and no 'normal' -> 1; 'normal' together with a hostile type -> "
        "unknown (about 1 row in 10: the annotators split between normal and hostile, and "
        "many such rows read as benign)"
    ),
    HATE: (
        "'hateful' in sentiment, no 'normal', and target one of origin / gender / "
        "sexual_orientation / religion / disability -> 1; sentiment exactly 'normal' -> 0; "
        "otherwise unknown: hateful towards target 'other' (individuals, political groups) is "
        "not protected-characteristic hate, and 'offensive' vs 'hateful' is applied "
        "inconsistently to the same slurs, so a non-hateful hostile row is no evidence of hate=0"
    ),
}
_MHC_RULES = {
    TOXICITY: (
        "label_gold 'hateful' -> 1; non-hateful profanity_nh, target_indiv_nh, target_group_nh "
        "(profanity, abuse of individuals or non-protected groups) -> 1; counter_quote_nh, "
        "counter_ref_nh (they quote or restate abuse) and slur_reclaimed_nh / slur_homonym_nh -> "
        "unknown; every other non-hateful functionality (target_obj_nh, ident_neutral_nh, "
        "ident_pos_nh, negate_neg_nh) -> 0. spell_* cases are kept, labelled by label_gold"
    ),
    HATE: "label_gold 'hateful' -> 1; 'non-hateful' -> 0 (label_gold, not annotator majority)",
}
LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    "davidson": {
        TOXICITY: "class 0 (hate speech) or 1 (offensive language) -> 1; class 2 (neither) -> 0",
        HATE: "class 0 (hate speech) -> 1; classes 1 and 2 -> 0",
    },
    "germeval2018": {
        TOXICITY: "coarse OFFENSE (ABUSE, INSULT, PROFANITY) -> 1; coarse OTHER -> 0",
        HATE: "unknown for every row: GermEval has no protected-characteristic label "
        "(ABUSE is not the same as hate)",
    },
    **{f"mlma_{lang}": _MLMA_RULES for lang in MLMA_LANGUAGES},
    **{f"mhc_{lang}": _MHC_RULES for lang in MHC_LANGUAGES.values()},
}
TEXT_PREPARATION: Mapping[str, str] = {
    "tweets": (
        "clean_tweet: HTML entities unescaped, GermEval |LBR| line breaks as spaces, URLs and "
        "MLMA's @url placeholder -> 'http', 'RT' retweet markers before a mention dropped, "
        "@mentions -> '@user', whitespace collapsed"
    ),
    "mhc": "test_case verbatim, whitespace collapsed",
    "all": "rows with an empty text dropped; exact duplicate (source, text) pairs kept once, "
    "a label the duplicates disagree on becoming unknown",
}

_URL = re.compile(r"https?://\S*|\bwww\.\S+|@url\b")
_RETWEET = re.compile(r"\bRT\s+(?=@)")
_MENTION = re.compile(r"(?<!\w)@\w+")


@dataclass(frozen=True, slots=True)
class TextExample:
    """One text with its labels (1 / 0 / None = unknown, masked out of the loss)."""

    text: str
    labels: Mapping[str, int | None]
    source: str
    language: str
    functionality: str
    group: str
    row_id: str


@dataclass(frozen=True, slots=True)
class TextSplits:
    """Train / dev / test examples, each list sorted by ``row_id``."""

    train: list[TextExample]
    dev: list[TextExample]
    test: list[TextExample]


def clean_tweet(text: str) -> str:
    """Normalise a tweet for training: entities unescaped, handles and URLs anonymised."""
    for _ in range(2):  # some tweets are escaped twice ("&amp;#9773;")
        if "&" in text:
            text = html.unescape(text)
    text = text.replace("|LBR|", " ")
    if "http" in text or "www" in text or "@url" in text:
        text = _URL.sub("http", text)
    if "@" in text:
        text = _MENTION.sub("@user", _RETWEET.sub("", text))
    return " ".join(text.split())


def _example(
    source: str,
    language: str,
    key: str,
    text: str,
    labels: tuple[int | None, int | None],
    *,
    functionality: str = "",
    group: str = "",
) -> TextExample:
    row_id = f"{source}:{key}"
    return TextExample(
        text=text,
        labels=dict(zip(LABELS, labels, strict=True)),
        source=source,
        language=language,
        functionality=functionality,
        group=group or row_id,
        row_id=row_id,
    )


def _merge_labels(duplicates: Sequence[Mapping[str, int | None]]) -> dict[str, int | None]:
    """Per label: the one known value the duplicates agree on, else None (unknown)."""
    merged: dict[str, int | None] = {}
    for name in LABELS:
        known = {labels.get(name) for labels in duplicates} - {None}
        merged[name] = known.pop() if len(known) == 1 else None
    return merged


def _finish(examples: Iterator[TextExample], what: str) -> list[TextExample]:
    """Drop empty texts; keep the first of each (source, text), its duplicates' labels merged."""
    first: dict[tuple[str, str], TextExample] = {}
    labels: dict[tuple[str, str], list[Mapping[str, int | None]]] = defaultdict(list)
    empty = 0
    for ex in examples:
        if not ex.text:
            empty += 1
            continue
        first.setdefault((ex.source, ex.text), ex)
        labels[(ex.source, ex.text)].append(ex.labels)
    kept, changed = [], 0
    for key, ex in first.items():
        merged = _merge_labels(labels[key]) if len(labels[key]) > 1 else ex.labels
        changed += merged != ex.labels
        kept.append(ex if merged == ex.labels else replace(ex, labels=merged))
    duplicates = sum(len(found) for found in labels.values()) - len(kept)
    log.info(
        "%s: %d rows; dropped %d empty and %d duplicate texts (merging changed %d rows' labels)",
        *(what, len(kept), empty, duplicates, changed),
    )
    return kept


def _read_csv(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, row) of a CSV file with a header, checking the needed columns."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing columns {sorted(missing)}")
        yield from enumerate(reader, start=1)


def _bad_value(path: Path, number: int, column: str, value: str) -> DataError:
    return DataError(f"{path}: row {number}: unexpected {column} {value!r}")


def load_davidson(data_dir: Path) -> list[TextExample]:
    """Davidson et al. (2017) English tweets: hate speech / offensive / neither."""
    path = data_dir / DAVIDSON_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in _read_csv(path, ("", "class", "tweet")):
            labels = _DAVIDSON_CLASSES.get(row["class"])
            if labels is None:
                raise _bad_value(path, number, "class", row["class"])
            yield _example("davidson", "en", row[""], clean_tweet(row["tweet"]), labels)

    return _finish(rows(), "davidson")


def load_germeval(data_dir: Path) -> list[TextExample]:
    """GermEval 2018 German tweets, training and test files: ``text<TAB>coarse<TAB>fine``."""

    def rows() -> Iterator[TextExample]:
        for part, relative in GERMEVAL_PATHS.items():
            path = data_dir / relative
            if not path.is_file():
                raise DataError(f"{path}: not found")
            with path.open(encoding="utf-8", errors="replace", newline="\n") as lines:
                for number, raw in enumerate(lines, start=1):
                    fields = raw.rstrip("\r\n").rsplit("\t", 2)
                    if fields == [""]:
                        continue
                    if len(fields) != 3 or fields[1] not in _GERMEVAL_COARSE:
                        raise _bad_value(path, number, "line", raw[:60])
                    labels = (_GERMEVAL_COARSE[fields[1]], None)
                    text = clean_tweet(fields[0])
                    yield _example("germeval2018", "de", f"{part}:{number}", text, labels)

    return _finish(rows(), "germeval2018")


def _mlma_labels(sentiment: str, target: str) -> tuple[int | None, int | None] | None:
    """(toxicity, hate) for one MLMA row, or None if the sentiment has an unknown type."""
    types = set(sentiment.split("_"))
    if not types <= _MLMA_HOSTILE | {"normal"}:
        return None
    if types == {"normal"}:
        return 0, 0
    if "normal" in types:
        return None, None
    return 1, (1 if "hateful" in types and target in _MLMA_PROTECTED else None)


def load_mlma(data_dir: Path) -> list[TextExample]:
    """MLMA (Ousidhoum et al. 2019) tweets in English, French and Arabic."""

    def rows(lang: str) -> Iterator[TextExample]:
        path = data_dir / "mlma" / f"{lang}_dataset.csv"
        for number, row in _read_csv(path, ("HITId", "tweet", "sentiment", "target")):
            labels = _mlma_labels(row["sentiment"], row["target"])
            if labels is None:
                raise _bad_value(path, number, "sentiment", row["sentiment"])
            source = f"mlma_{lang}"
            yield _example(source, lang, row["HITId"], clean_tweet(row["tweet"]), labels)

    return [ex for lang in MLMA_LANGUAGES for ex in _finish(rows(lang), f"mlma_{lang}")]


def load_mhc(data_dir: Path) -> list[TextExample]:
    """Multilingual HateCheck functional test cases in six languages.

    The group is ``mhc:<templ_id>``: template ids are shared across the six languages (a
    template and its translations), so one template's cases in every language land in the
    same split; a translation seen in training would otherwise leak into a multilingual test.
    """
    columns = ("mhc_case_id", "functionality", "test_case", "label_gold", "templ_id")

    def rows(name: str, lang: str) -> Iterator[TextExample]:
        path = data_dir / "mhc" / f"hatecheck_cases_final_{name}.csv"
        for number, row in _read_csv(path, columns):
            functionality, gold = row["functionality"], row["label_gold"]
            if gold == "hateful":
                labels: tuple[int | None, int | None] = (1, 1)
            elif gold == "non-hateful" and functionality in _MHC_NON_HATEFUL_TOXICITY:
                labels = (_MHC_NON_HATEFUL_TOXICITY[functionality], 0)
            else:
                raise _bad_value(
                    path, number, "label_gold/functionality", f"{gold}/{functionality}"
                )
            text = " ".join(row["test_case"].split())
            group = f"mhc:{row['templ_id']}"
            source = f"mhc_{lang}"
            key = row["mhc_case_id"]
            yield _example(
                source, lang, key, text, labels, functionality=functionality, group=group
            )

    return [
        ex
        for name, lang in MHC_LANGUAGES.items()
        for ex in _finish(rows(name, lang), f"mhc_{lang}")
    ]


_LOADERS: dict[str, Callable[[Path], list[TextExample]]] = {
    "davidson": load_davidson,
    "germeval2018": load_germeval,
    "mlma": load_mlma,
    "mhc": load_mhc,
}


def _family(source: str) -> str:
    return source.split("_", 1)[0]


def load_text_corpora(data_dir: Path, *, sources: Sequence[str] | None = None) -> list[TextExample]:
    """Every text corpus under ``data_dir``, or only ``sources`` (names in SOURCES or families
    davidson / germeval2018 / mlma / mhc)."""
    wanted = set(SOURCES if sources is None else sources)
    unknown = wanted - set(SOURCES) - set(_LOADERS)
    if unknown:
        raise ValueError(f"unknown text sources {sorted(unknown)}; known: {SOURCES}")
    examples: list[TextExample] = []
    for family, loader in _LOADERS.items():
        if family in wanted or any(_family(name) == family for name in wanted):
            examples += [ex for ex in loader(data_dir) if ex.source in wanted or family in wanted]
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
