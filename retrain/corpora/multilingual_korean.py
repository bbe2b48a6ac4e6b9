"""Readers for the Korean training corpora: Korean HateSpeech (BEEP!), K-MHaS and APEACH.

Part of ``retrain.corpora.multilingual``, which registers them in its ``CORPORA``. The three
label different things: BEEP! grades aggression (hate / offensive / none) and, apart from it,
social bias (gender / others / none); K-MHaS types hate (eight kinds, or "not hate speech",
which is not the same as clean); APEACH sentences were written to order on a discriminatory
topic and post-labelled hateful or not. Each reader keeps only what its scheme can say: a
label it cannot tell is unknown (masked), never guessed as 0. The three sets share no text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    bad_value,
    clean_negative,
    clean_tweet,
    finish,
    make_example,
    read_csv,
)
from retrain.errors import DataError

KHS_DIR = Path("korean_hate_speech")
KHS_SPLITS = ("train", "dev")
KMHAS_DIR = Path("kmhas")
KMHAS_SPLITS = ("valid", "test")
APEACH_PATH = Path("apeach") / "apeach_test.csv"

_KHS_AGGRESSION = frozenset({"hate", "offensive", "none"})
_KHS_BIAS = frozenset({"gender", "others", "none"})
# K-MHaS label ids: 0 origin, 1 physical, 2 politics, 3 profanity, 4 age, 5 gender, 6 race,
# 7 religion, 8 not hate speech. Protected: origin, age (K-MHaS counts ageism as hate), gender,
# race, religion; physical (looks) and politics are not, and profanity names no group.
_KMHAS_NOT_HATE = "8"
_KMHAS_TYPES = frozenset("01234567")
_KMHAS_PROTECTED = frozenset("04567")
_APEACH: dict[str, Labels] = {
    "Spoiled": {TOXICITY: 1},
    "Default": clean_negative(hate=None, sexual=None),
}


def khs_labels(aggression: str, bias: str) -> Labels:
    """Labels of one BEEP! comment from its aggression (hate / offensive / none) and bias."""
    if aggression == "none":
        return clean_negative(hate=0 if bias == "none" else None)
    labels: dict[str, int | None] = {TOXICITY: 1}
    if bias == "none":
        labels[HATE] = 0
    elif bias == "gender" and aggression == "hate":
        labels[HATE] = 1
    return labels


def load_korean_hate_speech(data_dir: Path) -> list[TextExample]:
    """Korean HateSpeech (Moon et al. 2020) entertainment-news comments, train and dev."""

    def rows() -> Iterator[TextExample]:
        for split in KHS_SPLITS:
            path = data_dir / KHS_DIR / f"{split}.tsv"
            columns = ("comments", "bias", "hate")
            for number, row in read_csv(path, columns, delimiter="\t"):
                for column, known in (("hate", _KHS_AGGRESSION), ("bias", _KHS_BIAS)):
                    if row[column] not in known:
                        raise bad_value(path, number, column, row[column])
                labels = khs_labels(row["hate"], row["bias"])
                text = clean_tweet(row["comments"])
                yield make_example("korean_hate_speech", "ko", f"{split}:{number}", text, labels)

    return finish(rows(), "korean_hate_speech")


def kmhas_labels(ids: frozenset[str]) -> Labels:
    """Labels of one K-MHaS comment from its label ids (8 alone: not hate speech)."""
    if ids == {_KMHAS_NOT_HATE}:
        return {HATE: 0}
    return {TOXICITY: 1, HATE: 1 if ids & _KMHAS_PROTECTED else None}


def _unquote(field: str) -> str:
    """A CSV-quoted field as its text (outer quotes dropped, doubled quotes undoubled); K-MHaS
    quotes about a third of its documents."""
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _kmhas_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, document, label) of a K-MHaS file: TAB-separated, header, no quoting."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        header = next(lines, "").rstrip("\r\n").split("\t")
        if header != ["document", "label"]:
            raise DataError(f"{path}: expected the header 'document<TAB>label', got {header}")
        for number, raw in enumerate(lines, start=2):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise bad_value(path, number, "line", line[:60])
            yield number, fields[0], fields[1]


def load_kmhas(data_dir: Path) -> list[TextExample]:
    """K-MHaS (Lee et al. 2022) news comments: the valid and test splits (train is absent)."""

    def rows() -> Iterator[TextExample]:
        for split in KMHAS_SPLITS:
            path = data_dir / KMHAS_DIR / f"kmhas_{split}.tsv"
            for number, document, label in _kmhas_lines(path):
                ids = frozenset(label.split(","))
                if not (ids <= _KMHAS_TYPES or ids == {_KMHAS_NOT_HATE}):
                    raise bad_value(path, number, "label", label)
                text = clean_tweet(_unquote(document))
                yield make_example("kmhas", "ko", f"{split}:{number}", text, kmhas_labels(ids))

    return finish(rows(), "kmhas")


def load_apeach(data_dir: Path) -> list[TextExample]:
    """APEACH (Yang et al. 2022): crowd-written Korean sentences, hateful ('Spoiled') or not."""
    path = data_dir / APEACH_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("text", "class")):
            labels = _APEACH.get(row["class"])
            if labels is None:
                raise bad_value(path, number, "class", row["class"])
            text = " ".join(row["text"].split())
            yield make_example("apeach", "ko", str(number), text, labels)

    return finish(rows(), "apeach")


def _clean_only(clean: str, *names: str) -> dict[str, str]:
    return {name: f"{clean} -> 0; otherwise unknown" for name in names}


LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    "korean_hate_speech": {
        TOXICITY: "hate 'hate' (strong hate or severe insult) or 'offensive' (rude, sarcastic, "
        "profane) -> 1; 'none' -> 0. train.tsv and dev.tsv both read",
        HATE: "'hate' with bias 'gender' (gender roles, sexual orientation, gender identity) -> "
        "1; any aggression with bias 'none' -> 0 (the annotators saw no prejudice about a "
        "social group: abuse of a person); bias 'others' -> unknown (it mixes race, religion "
        "and nationality with political stance, looks, wealth and occupation); 'offensive' or "
        "'none' with bias 'gender' -> unknown (a stereotype with mild or no aggression)",
        **_clean_only(
            "'none'",
            INSULT,
            THREAT,
            SEXUAL,
            SELF_HARM,
        ),
    },
    "kmhas": {
        TOXICITY: "any of the eight hate types (origin, physical, politics, profanity, age, "
        "gender, race, religion) -> 1; 'not hate speech' -> unknown: the scheme separates hate "
        "from the rest, not offence from clean, and about one 'not hate speech' comment in six "
        "read is rude, insulting or profane. kmhas_valid.tsv and kmhas_test.tsv both read",
        HATE: "origin, age, gender, race or religion among the types -> 1 (K-MHaS treats "
        "ageism as hate); 'not hate speech' -> 0; only politics, physical (looks) or profanity "
        "-> unknown: political stance and looks are not protected characteristics, and "
        "profanity-only rows include gendered and origin slurs left untyped",
    },
    "apeach": {
        TOXICITY: "class 'Spoiled' (hateful) -> 1; 'Default' -> 0",
        HATE: "unknown for every row: the topic column is the discriminatory topic the writer "
        "was asked to write on, not a per-row annotation (hateful rows drift off topic), and "
        "about one 'Default' sentence in ten voices a stereotype about a group",
        SEXUAL: "unknown for every row: 'Default' sentences on the topic mistranslated as "
        "'Sexual harassment' (sexual orientation and gender identity) include sexual innuendo",
        **_clean_only("'Default'", INSULT, THREAT, SELF_HARM),
    },
}
TEXT_PREPARATION = (
    "BEEP! and K-MHaS comments: clean_tweet (K-MHaS's CSV-quoted documents unquoted first); "
    "APEACH sentences verbatim, whitespace collapsed"
)


def _rules(source: str) -> dict[str, Mapping[str, str]]:
    return {source: LABEL_MAPPING[source]}


CORPORA: tuple[Corpus, ...] = (
    Corpus(
        family="korean_hate_speech",
        sources={"korean_hate_speech": "ko"},
        load=load_korean_hate_speech,
        mapping=_rules("korean_hate_speech"),
        licence="CC BY-SA 4.0 — kocohub/korean-hate-speech (Moon et al., SocialNLP 2020)",
        folder=str(KHS_DIR),
    ),
    Corpus(
        family="kmhas",
        sources={"kmhas": "ko"},
        load=load_kmhas,
        mapping=_rules("kmhas"),
        licence="CC BY-SA 4.0 (the authors' Hugging Face card; the repository has no LICENSE "
        "file) — adlnlp/K-MHaS (Lee et al., COLING 2022)",
        folder=str(KMHAS_DIR),
    ),
    Corpus(
        family="apeach",
        sources={"apeach": "ko"},
        load=load_apeach,
        mapping=_rules("apeach"),
        licence="CC BY-SA 4.0 — jason9693/APEACH (Yang et al., Findings of EMNLP 2022)",
        folder=str(APEACH_PATH.parent),
    ),
)
