"""Readers for the measurement-only sets in ``eval_only/``: they never train a shipped model.

Their licences are non-commercial (ToxiCN, HateBR, the Indonesian set), research-only or
unstated (the rest), so every corpus here is registered with ``use="eval_only"`` and every
source name starts with ``eval_``; they measure cross-domain and cross-language quality, each
set read whole (all upstream splits) as a test set. This module reads ToxiCN (zh), HateBR
(pt), the Indonesian multi-label tweets and Fortuna's Portuguese hate tweets, whose labels name
hate targets, so ``hate`` is 1 only where a protected characteristic (origin, race, religion,
gender, sexual orientation, disability) is among them; ``eval_only_more`` reads the shared-task
sets (OffensEval 2020 tr/da/el/ar, GermEval 2021, L-HSAB, ViHSD, OffComBR). A row its
annotators called clean is 0 on every head; a label a set cannot tell is None (unknown).
``utkml_twitter_spam_en_research`` is not read: its spam / quality labels and account features
belong to the spam model's evaluation, not to these harm heads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from retrain.corpora.base import (
    HATE,
    INSULT,
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
from retrain.corpora.eval_only_more import (
    EVAL_ONLY,
    MORE_CORPORA,
    SPREADSHEET_ERRORS,
    clean_only,
    eval_corpus,
    placeholders,
)
from retrain.corpora.eval_only_more import LABEL_MAPPING as MORE_LABEL_MAPPING

TOXICN_PATH = EVAL_ONLY / "toxicn_zh_nc_nd" / "ToxiCN_1.0.csv"
HATEBR_PATH = EVAL_ONLY / "hatebr_pt_nc" / "HateBR.csv"
ID_HATE_PATH = EVAL_ONLY / "id_multilabel_hate_abusive_id_nc" / "re_dataset.csv"
FORTUNA_PATH = (
    EVAL_ONLY
    / "fortuna_pt_hate_research"
    / "2019-05-28_portuguese_hate_speech_hierarchical_classification.csv"
)

# ToxiCN target one-hot: LGBTQ, region, sexism, racism, others, non-hate.
_TOXICN_PROTECTED = (0, 1, 2, 3)
_TOXICN_NON_HATE = [0, 0, 0, 0, 0, 1]
_ID_TARGETS = frozenset({"HS_Individual", "HS_Group"})
_ID_TYPES = frozenset({"HS_Religion", "HS_Race", "HS_Physical", "HS_Gender", "HS_Other"})
_ID_PROTECTED = frozenset({"HS_Religion", "HS_Race", "HS_Gender"})
_ID_STRENGTHS = frozenset({"HS_Weak", "HS_Moderate", "HS_Strong"})
_ID_COLUMNS = ("HS", "Abusive", *sorted(_ID_TARGETS | _ID_TYPES | _ID_STRENGTHS))
_FORTUNA_PROTECTED = frozenset(
    {"Sexism", "Racism", "Homophobia", "Origin", "Religion", "Migrants", "Health"}
)
_FORTUNA_TOP = _FORTUNA_PROTECTED | {"Body", "Ideology", "OtherLifestyle", "Ageing"}
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_PARTIAL_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]?)?$")
_ESCAPES = re.compile(r"\\([nrt'\"/\\])")
_BROKEN = re.compile("\ufffd[\ufffd?]*")

LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    "eval_toxicn_zh": {
        TOXICITY: "toxic 1 -> 1 (general offensive, explicit or implicit hate); toxic 0 -> 0; "
        "hate with expression 3 (reporting: describing or denouncing discrimination, mostly "
        "counter-speech) -> unknown",
        HATE: "toxic_type 2 (hate), expression explicit or implicit, target LGBTQ, region, "
        "sexism or racism -> 1 (regional bias counted as origin); toxic_type 2 aimed only at "
        "'others' or no target -> unknown; toxic_type 1 (general offensive, no group "
        "targeted) and non-toxic -> 0; reporting -> unknown",
        **clean_only("toxic 0"),
    },
    "eval_hatebr_pt": {
        TOXICITY: "label_final 1 (offensive, majority of 3 experts) -> 1; 0 -> 0",
        HATE: "label_final 0 -> 0; 1 -> unknown (hate targets are only in HateBR 1.0)",
        **clean_only("label_final 0"),
    },
    "eval_id_hate": {
        TOXICITY: "HS or Abusive 1 -> 1; both 0 -> 0",
        HATE: "HS 1 with HS_Religion, HS_Race or HS_Gender (gender / sexual orientation) -> 1; "
        "HS 0 -> 0 (Indonesian HS is broader than ours: individuals, any ground); HS 1 with only "
        "HS_Physical (mostly 'crazy' / 'idiot' / 'deaf' at a person) or HS_Other -> unknown",
        INSULT: "HS_Individual 1 (hate speech at an individual) -> 1; HS and Abusive 0 -> 0; "
        "otherwise unknown",
        **{k: v for k, v in clean_only("HS and Abusive 0").items() if k != INSULT},
    },
    "eval_fortuna_pt": {
        TOXICITY: "Hate.speech 1 -> 1; 0 -> unknown (a not-hate tweet of this keyword-sampled "
        "set may still insult or swear)",
        HATE: "Hate.speech 1 with a top class Sexism, Racism, Homophobia, Origin, Religion, "
        "Migrants or Health -> 1; Hate.speech 1 with only Body, Ideology, OtherLifestyle or "
        "Ageing -> unknown; Hate.speech 0 -> 0 (expert hierarchical annotation)",
    },
    **MORE_LABEL_MAPPING,
}


def _toxicn_target(value: str) -> list[int] | None:
    try:
        target = json.loads(value)
    except ValueError:
        return None
    if not isinstance(target, list) or len(target) != 6:
        return None
    return target if all(isinstance(v, int) and v in (0, 1) for v in target) else None


def _toxicn_labels(toxic_type: str, expression: str, target: list[int]) -> Labels | None:
    """Labels of one ToxiCN row (toxic is toxic_type != 0), or None if inconsistent."""
    non_hate = target == _TOXICN_NON_HATE
    if toxic_type == "0" and expression == "0" and non_hate:
        return clean_negative()
    if toxic_type == "1" and expression == "0" and non_hate:
        return {TOXICITY: 1, HATE: 0}
    if toxic_type != "2" or target[5] or expression not in ("1", "2", "3"):
        return None
    if expression == "3":
        return {}
    return {TOXICITY: 1, HATE: 1 if any(target[i] for i in _TOXICN_PROTECTED) else None}


def load_toxicn(data_dir: Path) -> list[TextExample]:
    """ToxiCN (Lu et al. 2023) Zhihu / Tieba posts, ``ToxiCN_1.0.csv`` (the authors' train and
    test JSON splits hold the same 12,011 posts)."""
    path = data_dir / TOXICN_PATH
    columns = ("content", "toxic", "toxic_type", "expression", "target")

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, columns):
            target = _toxicn_target(row["target"])
            if target is None:
                raise bad_value(path, number, "target", row["target"])
            labels = _toxicn_labels(row["toxic_type"], row["expression"], target)
            if labels is None or row["toxic"] != ("0" if row["toxic_type"] == "0" else "1"):
                value = "/".join(row[name] for name in columns[1:])
                raise bad_value(path, number, "toxic/toxic_type/expression/target", value)
            text = clean_tweet(row["content"])
            yield make_example("eval_toxicn_zh", "zh", str(number), text, labels)

    return finish(rows(), "eval_toxicn_zh")


def load_hatebr(data_dir: Path) -> list[TextExample]:
    """HateBR 2.0 Instagram comments on Brazilian politicians (``HateBR.csv``; HateBRXplain
    has the same 7,000 comments and labels, plus rationales)."""
    path = data_dir / HATEBR_PATH
    annotators = ("anotator1", "anotator2", "anotator3")

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("id", "comentario", "label_final", *annotators)):
            votes = [row[name] for name in annotators]
            final = row["label_final"]
            if not set(votes) <= {"0", "1"} or final != str(int(votes.count("1") >= 2)):
                raise bad_value(path, number, "label_final/annotators", f"{final}/{votes}")
            labels = {TOXICITY: 1} if final == "1" else clean_negative()
            text = clean_tweet(row["comentario"])
            yield make_example("eval_hatebr_pt", "pt", row["id"], text, labels)

    return finish(rows(), "eval_hatebr_pt")


def _id_labels(on: set[str]) -> Labels | None:
    """Labels from the set of Indonesian columns that are 1, or None if inconsistent."""
    sub = on - {"HS", "Abusive"}
    if "HS" not in on:
        if sub:
            return None
        return {TOXICITY: 1, HATE: 0} if "Abusive" in on else clean_negative()
    if len(on & _ID_TARGETS) != 1 or not on & _ID_TYPES or len(on & _ID_STRENGTHS) != 1:
        return None
    return {
        TOXICITY: 1,
        HATE: 1 if on & _ID_PROTECTED else None,
        INSULT: 1 if "HS_Individual" in on else None,
    }


def _decode_bytes(match: re.Match[str]) -> str:
    return bytes.fromhex(match[0].replace("\\x", "")).decode("utf-8", "ignore")


def _decode_unicode(match: re.Match[str]) -> str:
    text = str(json.loads(f'"{match[0]}"'))  # pairs of surrogates join; a lone one -> U+FFFD
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _id_text(raw: str) -> str:
    """An Indonesian tweet as posted: the crawler's Python-repr residue undone (a trailing
    quote, ``\\n``, ``\\xf0\\x9f..`` byte and ``\\ud83d..`` escapes, an escape cut off at
    the end), characters whose bytes were lost to '?' dropped."""
    text = _PARTIAL_ESCAPE.sub("", raw.removesuffix("'"))
    text = _BYTE_ESCAPES.sub(_decode_bytes, text)
    text = _UNICODE_ESCAPES.sub(_decode_unicode, text)
    text = _ESCAPES.sub(lambda m: " " if m[1] in "nrt" else m[1], text)
    return clean_tweet(placeholders(_BROKEN.sub("", text)))


def load_id_hate(data_dir: Path) -> list[TextExample]:
    """Ibrohim & Budi (2019) Indonesian tweets, ``re_dataset.csv``: HS, Abusive, sub-labels.

    The README calls the file latin-1; it is UTF-8 (Arabic and emoji decode) with about 950
    sequences whose continuation bytes were lost, read as U+FFFD and dropped.
    """
    path = data_dir / ID_HATE_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("Tweet", *_ID_COLUMNS)):
            values = [row[name] for name in _ID_COLUMNS]
            on = {name for name in _ID_COLUMNS if row[name] == "1"}
            labels = _id_labels(on) if set(values) <= {"0", "1"} else None
            if labels is None:
                raise bad_value(path, number, "/".join(_ID_COLUMNS), "/".join(values))
            raw = row["Tweet"].strip()
            text = "" if raw in SPREADSHEET_ERRORS else _id_text(raw)
            yield make_example("eval_id_hate", "id", str(number), text, labels)

    return finish(rows(), "eval_id_hate")


def _fortuna_labels(row: Mapping[str, str]) -> Labels | None:
    """Labels of one hierarchical Fortuna row, or None if inconsistent."""
    flags = {name: value for name, value in row.items() if name != "text"}
    if not all(value in ("0", "1") for value in flags.values()):
        return None
    classes = {name for name, value in flags.items() if value == "1"}
    if "Hate.speech" not in classes:
        return {HATE: 0} if not classes else None
    top = classes & _FORTUNA_TOP
    if not top:
        return None
    return {TOXICITY: 1, HATE: 1 if top & _FORTUNA_PROTECTED else None}


def load_fortuna(data_dir: Path) -> list[TextExample]:
    """Fortuna et al. (2019) Portuguese tweets, hierarchical file (expert labels, 79 classes).

    The binary file is not read: its non-expert majority labels disagree with the expert ones
    on about a quarter of the shared texts, and they do not say whom the hate targets.
    """
    path = data_dir / FORTUNA_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("text", "Hate.speech", *sorted(_FORTUNA_TOP))):
            labels = _fortuna_labels(row)
            if labels is None:
                classes = sorted(str(name) for name, value in row.items() if value == "1")
                raise bad_value(path, number, "Hate.speech/classes", str(classes))
            yield make_example(
                "eval_fortuna_pt", "pt", str(number), clean_tweet(row["text"]), labels
            )

    return finish(rows(), "eval_fortuna_pt")


CORPORA: tuple[Corpus, ...] = (
    eval_corpus(
        "eval_toxicn",
        {"eval_toxicn_zh": "zh"},
        load_toxicn,
        mapping=LABEL_MAPPING,
        licence='CC BY-NC-ND 4.0, "solely for scientific research" — DUT-lujunyu/ToxiCN '
        "(Lu et al., ACL 2023)",
        folder=TOXICN_PATH.parent,
    ),
    eval_corpus(
        "eval_hatebr",
        {"eval_hatebr_pt": "pt"},
        load_hatebr,
        mapping=LABEL_MAPPING,
        licence="CC BY-NC 4.0 — franciellevargas/HateBR (Vargas et al., LREC 2022)",
        folder=HATEBR_PATH.parent,
    ),
    eval_corpus(
        "eval_id_hate",
        {"eval_id_hate": "id"},
        load_id_hate,
        mapping=LABEL_MAPPING,
        licence="CC BY-NC-SA 4.0 — okkyibrohim/id-multi-label-hate-speech-and-abusive-language-"
        "detection (Ibrohim & Budi, ALW3 2019)",
        folder=ID_HATE_PATH.parent,
    ),
    eval_corpus(
        "eval_fortuna",
        {"eval_fortuna_pt": "pt"},
        load_fortuna,
        mapping=LABEL_MAPPING,
        licence="research only (README; no licence file) — "
        "paulafortuna/Portuguese-Hate-Speech-Dataset (Fortuna et al., ALW3 2019)",
        folder=FORTUNA_PATH.parent,
    ),
    *MORE_CORPORA,
)
