"""The first four corpora: Davidson, GermEval 2018, MLMA (en/fr/ar), Multilingual HateCheck.

They were the whole training set of the first text model (toxicity and hate only); here their
annotations are mapped onto every head they can speak for. A row its annotators called clean
is 0 on every head; abusive rows teach the heads their labels name (GermEval's INSULT, MHC's
threat functionalities) and leave the rest unknown. MHC rows are templated functional cases
(``kind="functional"``), grouped by template across their six languages so a template and its
translations never straddle splits.
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

_DAVIDSON: dict[str, Labels] = {
    "0": {TOXICITY: 1, HATE: 1},
    "1": {TOXICITY: 1, HATE: 0},
    "2": clean_negative(),
}
_GERMEVAL: dict[tuple[str, str], Labels] = {
    ("OTHER", "OTHER"): clean_negative(),
    ("OFFENSE", "INSULT"): {TOXICITY: 1, INSULT: 1},
    ("OFFENSE", "ABUSE"): {TOXICITY: 1},
    ("OFFENSE", "PROFANITY"): {TOXICITY: 1, INSULT: 0, THREAT: 0, HATE: 0, SELF_HARM: 0},
}
_MLMA_HOSTILE = frozenset({"offensive", "disrespectful", "abusive", "hateful", "fearful"})
_MLMA_PROTECTED = frozenset({"origin", "gender", "sexual_orientation", "religion", "disability"})
# MHC non-hateful functionalities: what each tells about our heads (hateful ones: mhc_labels).
_MHC_NON_HATEFUL: dict[str, Labels] = {
    "profanity_nh": {TOXICITY: 1, THREAT: 0, HATE: 0, SELF_HARM: 0},
    "target_indiv_nh": {TOXICITY: 1, INSULT: 1, HATE: 0},
    "target_group_nh": {TOXICITY: 1, HATE: 0},
    "target_obj_nh": clean_negative(),
    "ident_neutral_nh": clean_negative(),
    "ident_pos_nh": clean_negative(),
    "negate_neg_nh": clean_negative(),
    "counter_quote_nh": {HATE: 0},
    "counter_ref_nh": {HATE: 0},
    "slur_reclaimed_nh": {HATE: 0},
    "slur_homonym_nh": {HATE: 0},
}
_MHC_UNTYPED_HATEFUL = ("spell_", "ref_subs_")


def mhc_labels(functionality: str, *, hateful: bool) -> Labels | None:
    """Labels of an MHC-style case: hateful ones are toxic and hateful (threat cases threats,
    derogation no threat); non-hateful ones per ``_MHC_NON_HATEFUL`` (None: unknown name)."""
    if not hateful:
        return _MHC_NON_HATEFUL.get(functionality)
    labels: dict[str, int | None] = {TOXICITY: 1, HATE: 1, SEXUAL: 0, SELF_HARM: 0}
    if functionality.startswith("threat_"):
        labels[THREAT] = 1
    elif not functionality.startswith(_MHC_UNTYPED_HATEFUL):
        labels[THREAT] = 0
    return labels


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
    **{
        name: "sentiment exactly 'normal' -> 0; otherwise unknown"
        for name in (INSULT, THREAT, SEXUAL, SELF_HARM)
    },
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
    INSULT: "target_indiv_nh (abuse of an individual) -> 1; target_obj_nh, ident_neutral_nh, "
    "ident_pos_nh, negate_neg_nh -> 0; otherwise unknown",
    THREAT: "threat_dir_h, threat_norm_h -> 1; other hateful functionalities except spell_* and "
    "ref_subs_* (which may restate a threat) -> 0; profanity_nh and the clean functionalities "
    "-> 0; otherwise unknown",
    SEXUAL: "hateful cases and the clean functionalities -> 0; otherwise unknown",
    SELF_HARM: "hateful cases, profanity_nh and the clean functionalities -> 0; otherwise unknown",
}
LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    "davidson": {
        TOXICITY: "class 0 (hate speech) or 1 (offensive language) -> 1; class 2 (neither) -> 0",
        HATE: "class 0 (hate speech) -> 1; classes 1 and 2 -> 0",
        **{
            name: "class 2 (neither) -> 0; otherwise unknown"
            for name in (INSULT, THREAT, SEXUAL, SELF_HARM)
        },
    },
    "germeval2018": {
        TOXICITY: "coarse OFFENSE (ABUSE, INSULT, PROFANITY) -> 1; coarse OTHER -> 0",
        INSULT: "fine INSULT -> 1; PROFANITY and OTHER -> 0; ABUSE -> unknown",
        HATE: "OTHER and PROFANITY -> 0; ABUSE and INSULT -> unknown (GermEval has no "
        "protected-characteristic label; ABUSE is not the same as hate)",
        THREAT: "OTHER and PROFANITY -> 0; otherwise unknown",
        SEXUAL: "OTHER -> 0; otherwise unknown",
        SELF_HARM: "OTHER and PROFANITY -> 0; otherwise unknown",
    },
    **{f"mlma_{lang}": _MLMA_RULES for lang in MLMA_LANGUAGES},
    **{f"mhc_{lang}": _MHC_RULES for lang in MHC_LANGUAGES.values()},
}


def load_davidson(data_dir: Path) -> list[TextExample]:
    """Davidson et al. (2017) English tweets: hate speech / offensive / neither."""
    path = data_dir / DAVIDSON_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("", "class", "tweet")):
            labels = _DAVIDSON.get(row["class"])
            if labels is None:
                raise bad_value(path, number, "class", row["class"])
            yield make_example("davidson", "en", row[""], clean_tweet(row["tweet"]), labels)

    return finish(rows(), "davidson")


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
                    labels = _GERMEVAL.get((fields[1], fields[2])) if len(fields) == 3 else None
                    if labels is None:
                        raise bad_value(path, number, "line", raw[:60])
                    text = clean_tweet(fields[0])
                    yield make_example("germeval2018", "de", f"{part}:{number}", text, labels)

    return finish(rows(), "germeval2018")


def _mlma_labels(sentiment: str, target: str) -> Labels | None:
    """Labels of one MLMA row, or None if the sentiment has an unknown type."""
    types = set(sentiment.split("_"))
    if not types <= _MLMA_HOSTILE | {"normal"}:
        return None
    if types == {"normal"}:
        return clean_negative()
    if "normal" in types:
        return {}
    return {TOXICITY: 1, HATE: 1 if "hateful" in types and target in _MLMA_PROTECTED else None}


def load_mlma(data_dir: Path) -> list[TextExample]:
    """MLMA (Ousidhoum et al. 2019) tweets in English, French and Arabic."""

    def rows(lang: str) -> Iterator[TextExample]:
        path = data_dir / "mlma" / f"{lang}_dataset.csv"
        for number, row in read_csv(path, ("HITId", "tweet", "sentiment", "target")):
            labels = _mlma_labels(row["sentiment"], row["target"])
            if labels is None:
                raise bad_value(path, number, "sentiment", row["sentiment"])
            source = f"mlma_{lang}"
            yield make_example(source, lang, row["HITId"], clean_tweet(row["tweet"]), labels)

    return [ex for lang in MLMA_LANGUAGES for ex in finish(rows(lang), f"mlma_{lang}")]


def load_mhc(data_dir: Path) -> list[TextExample]:
    """Multilingual HateCheck functional test cases in six languages.

    The group is ``mhc:<templ_id>``: template ids are shared across the six languages (a
    template and its translations), so one template's cases in every language land in the
    same split; a translation seen in training would otherwise leak into a multilingual test.
    """
    columns = ("mhc_case_id", "functionality", "test_case", "label_gold", "templ_id")

    def rows(name: str, lang: str) -> Iterator[TextExample]:
        path = data_dir / "mhc" / f"hatecheck_cases_final_{name}.csv"
        for number, row in read_csv(path, columns):
            functionality, gold = row["functionality"], row["label_gold"]
            labels = mhc_labels(functionality, hateful=gold == "hateful")
            if gold not in ("hateful", "non-hateful") or labels is None:
                raise bad_value(path, number, "label_gold/functionality", f"{gold}/{functionality}")
            text = " ".join(row["test_case"].split())
            yield make_example(
                f"mhc_{lang}",
                lang,
                row["mhc_case_id"],
                text,
                labels,
                functionality=functionality,
                group=f"mhc:{row['templ_id']}",
            )

    return [
        ex for name, lang in MHC_LANGUAGES.items() for ex in finish(rows(name, lang), f"mhc_{lang}")
    ]


def _only(mapping: Mapping[str, Mapping[str, str]], family: str) -> dict[str, Mapping[str, str]]:
    return {source: rules for source, rules in mapping.items() if source.startswith(family)}


CORPORA: tuple[Corpus, ...] = (
    Corpus(
        family="davidson",
        sources={"davidson": "en"},
        load=load_davidson,
        mapping=_only(LABEL_MAPPING, "davidson"),
        licence="MIT — t-davidson/hate-speech-and-offensive-language (Davidson et al., ICWSM 2017)",
        folder="davidson",
    ),
    Corpus(
        family="germeval2018",
        sources={"germeval2018": "de"},
        load=load_germeval,
        mapping=_only(LABEL_MAPPING, "germeval2018"),
        licence="CC BY 4.0 — uds-lsv/GermEval-2018-Data",
        folder="germeval2018",
    ),
    Corpus(
        family="mlma",
        sources={f"mlma_{lang}": lang for lang in MLMA_LANGUAGES},
        load=load_mlma,
        mapping=_only(LABEL_MAPPING, "mlma"),
        licence="MIT — HKUST-KnowComp/MLMA_hate_speech (Ousidhoum et al., EMNLP 2019)",
        folder="mlma",
    ),
    Corpus(
        family="mhc",
        sources={f"mhc_{lang}": lang for lang in MHC_LANGUAGES.values()},
        load=load_mhc,
        mapping=_only(LABEL_MAPPING, "mhc"),
        licence="CC BY 4.0 — rewire-online/multilingual-hatecheck (Röttger et al., WOAH 2022)",
        kind="functional",
        folder="mhc",
    ),
)
