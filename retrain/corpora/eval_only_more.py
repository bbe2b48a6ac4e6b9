"""Readers for the measurement-only shared-task sets: OffensEval 2020, GermEval 2021, L-HSAB,
ViHSD and OffComBR (part of ``retrain.corpora.eval_only``, which registers them in ``CORPORA``).

Each labels offence as one class scheme (OFF / NOT, toxic 0 / 1, normal / abusive / hate,
clean / offensive / hate, yes / no): a row called clean is 0 on every head, an offensive one is
toxic and teaches hate only where the scheme separates it from other abuse; the rest is unknown.
Every upstream split (train / dev / test) is read, since none of them ever trains anything; the
split is kept in the row id (``eval_offenseval_el:test:123``) so a report can narrow to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
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

EVAL_ONLY = Path("eval_only")
OFFENSEVAL_DIR = EVAL_ONLY / "offenseval2020_tr_da_el_ar_research"
OFFENSEVAL_LANGUAGES = ("tr", "da", "el", "ar")
GERMEVAL2021_PATHS = {
    "train": EVAL_ONLY / "germeval2021_toxic_de_research" / "GermEval21_TrainData.csv",
    "test": EVAL_ONLY / "germeval2021_toxic_de_research" / "GermEval21_TestData.csv",
}
LHSAB_PATH = EVAL_ONLY / "l_hsab_levantine_ar_research" / "L-HSAB.tsv"
VIHSD_DIR = EVAL_ONLY / "vihsd_vi_research"
VIHSD_SPLITS = ("train", "dev", "test")
OFFCOMBR_DIR = EVAL_ONLY / "offcombr_pt_research"

# Spreadsheet errors some exports left where the text was: the text is lost.
SPREADSHEET_ERRORS = frozenset({"#ERROR!", "#NAME?", "#VALUE!", "#REF!", "#N/A"})
_USER = re.compile(r"(?<![@\w])USER\b")
_URL_TOKEN = re.compile(r"\bURL\b")
_ARFF_ROW = re.compile(r"(yes|no),'(.*)'")

_OFFENSIVE: Labels = {TOXICITY: 1}
_OFFENSEVAL: dict[str, Labels] = {"OFF": _OFFENSIVE, "NOT": clean_negative()}
_GERMEVAL2021: dict[str, Labels] = {"1": _OFFENSIVE, "0": clean_negative()}
_LHSAB: dict[str, Labels] = {
    "normal": clean_negative(),
    "abusive": {TOXICITY: 1, HATE: 0},
    "hate": {TOXICITY: 1, HATE: 1},
}
_VIHSD: dict[str, Labels] = {"0": clean_negative(), "1": {TOXICITY: 1, HATE: 0}, "2": _OFFENSIVE}
_OFFCOMBR: dict[str, Labels] = {"yes": _OFFENSIVE, "no": clean_negative()}


def clean_only(clean: str) -> dict[str, str]:
    """Rules of the heads a set only speaks for through its clean rows."""
    return {
        name: f"{clean} -> 0; otherwise unknown" for name in (INSULT, THREAT, SEXUAL, SELF_HARM)
    }


_OFFENSEVAL_RULES = {
    TOXICITY: "sub-task A OFF (profanity or a targeted offence) -> 1; NOT -> 0",
    HATE: "NOT -> 0; OFF -> unknown (sub-task A does not say whom or why it offends)",
    **clean_only("NOT"),
}
LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    **{f"eval_offenseval_{lang}": _OFFENSEVAL_RULES for lang in OFFENSEVAL_LANGUAGES},
    "eval_germeval2021_de": {
        TOXICITY: "Sub1_Toxic 1 -> 1; 0 -> 0 (Sub2_Engaging and Sub3_FactClaiming ignored)",
        HATE: "Sub1_Toxic 0 -> 0; 1 -> unknown (toxic covers insults, vulgarity, sarcasm, "
        "discrimination alike)",
        **clean_only("Sub1_Toxic 0"),
    },
    "eval_lhsab_ar": {
        TOXICITY: "Class abusive or hate -> 1; normal -> 0",
        HATE: "hate (abuse demeaning people for race, gender, religion, disability, skin colour "
        "or belief) -> 1; abusive and normal -> 0",
        **clean_only("normal"),
    },
    "eval_vihsd_vi": {
        TOXICITY: "label_id 1 (OFFENSIVE) or 2 (HATE) -> 1; 0 (CLEAN) -> 0",
        HATE: "CLEAN and OFFENSIVE (offensive words aimed at no one) -> 0; HATE -> unknown "
        "(ViHSD's HATE is abuse aimed at a person or group, mostly personal insults, not only "
        "protected characteristics)",
        **clean_only("CLEAN"),
    },
    "eval_offcombr_pt": {
        TOXICITY: "OffComBR-2 class yes (offensive for at least 2 of 3 judges) -> 1; no -> 0",
        HATE: "no -> 0; yes -> unknown (mostly cursing; the racism / sexism / homophobia "
        "categories are not in the files)",
        **clean_only("no"),
    },
}


def placeholders(text: str) -> str:
    """Anonymisation placeholders as ``clean_tweet`` writes them: USER -> @USER, URL -> http."""
    if "USER" in text:
        text = _USER.sub("@USER", text)
    if "URL" in text:
        text = _URL_TOKEN.sub("http", text)
    return text


def _labels(
    table: Mapping[str, Labels], path: Path, number: int, column: str, value: str
) -> Labels:
    labels = table.get(value)
    if labels is None:
        raise bad_value(path, number, column, value)
    return labels


def load_offenseval(data_dir: Path) -> list[TextExample]:
    """OffensEval 2020 sub-task A in Turkish, Danish, Greek and Arabic (one file each).

    Greek test labels come from a file the redistributing repository also calls a baseline;
    their distribution matches the official gold, but they are unverified (row ids say test).
    """

    def rows(lang: str) -> Iterator[TextExample]:
        path = data_dir / OFFENSEVAL_DIR / f"offenseval2020_{lang}.csv"
        for number, row in read_csv(path, ("id", "text", "label", "split")):
            labels = _labels(_OFFENSEVAL, path, number, "label", row["label"])
            if row["split"] not in ("train", "dev", "test"):
                raise bad_value(path, number, "split", row["split"])
            text = clean_tweet(placeholders(row["text"].replace("<LF>", " ")))
            key = f"{row['split']}:{row['id']}"
            yield make_example(f"eval_offenseval_{lang}", lang, key, text, labels)

    return [
        ex for lang in OFFENSEVAL_LANGUAGES for ex in finish(rows(lang), f"eval_offenseval_{lang}")
    ]


def load_germeval2021(data_dir: Path) -> list[TextExample]:
    """GermEval 2021 German Facebook comments, train and test files (Sub1_Toxic)."""

    def rows() -> Iterator[TextExample]:
        for part, relative in GERMEVAL2021_PATHS.items():
            path = data_dir / relative
            for number, row in read_csv(path, ("comment_id", "comment_text", "Sub1_Toxic")):
                labels = _labels(_GERMEVAL2021, path, number, "Sub1_Toxic", row["Sub1_Toxic"])
                text = clean_tweet(row["comment_text"])
                key = f"{part}:{row['comment_id']}"
                yield make_example("eval_germeval2021_de", "de", key, text, labels)

    return finish(rows(), "eval_germeval2021_de")


def load_lhsab(data_dir: Path) -> list[TextExample]:
    """L-HSAB Levantine Arabic political tweets: normal / abusive / hate (TSV; three tweets
    span several lines inside quotes)."""
    path = data_dir / LHSAB_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("Tweet", "Class"), delimiter="\t"):
            labels = _labels(_LHSAB, path, number, "Class", row["Class"] or "")
            text = clean_tweet(row["Tweet"] or "")
            yield make_example("eval_lhsab_ar", "ar", str(number), text, labels)

    return finish(rows(), "eval_lhsab_ar")


def load_vihsd(data_dir: Path) -> list[TextExample]:
    """ViHSD Vietnamese Facebook / YouTube comments: CLEAN / OFFENSIVE / HATE, all splits."""

    def rows() -> Iterator[TextExample]:
        for split in VIHSD_SPLITS:
            path = data_dir / VIHSD_DIR / f"{split}.csv"
            for number, row in read_csv(path, ("free_text", "label_id")):
                labels = _labels(_VIHSD, path, number, "label_id", row["label_id"])
                raw = row["free_text"].strip()
                text = "" if raw in SPREADSHEET_ERRORS else clean_tweet(raw)
                yield make_example("eval_vihsd_vi", "vi", f"{split}:{number}", text, labels)

    return finish(rows(), "eval_vihsd_vi")


def read_arff(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, class, document) of an OffComBR ARFF file (``yes|no,'document'`` rows)."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        in_data = False
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not in_data:
                in_data = line.strip().lower() == "@data"
                continue
            if not line.strip():
                continue
            match = _ARFF_ROW.fullmatch(line)
            if match is None:
                raise bad_value(path, number, "line", line[:60])
            yield number, match[1], match[2]
        if not in_data:
            raise DataError(f"{path}: no @data section")


def load_offcombr(data_dir: Path) -> list[TextExample]:
    """OffComBR-2 Brazilian news comments (label agreed by at least 2 of 3 judges).

    OffComBR-3 is not read: it is OffComBR-2 less the 217 offensive comments only two judges
    agreed on (the same 831 non-offensive rows, which were unanimous), so it adds no row and
    would only drop the harder positives.
    """
    path = data_dir / OFFCOMBR_DIR / "OffComBR2.arff"

    def rows() -> Iterator[TextExample]:
        for number, label, document in read_arff(path):
            labels = _OFFCOMBR[label]
            yield make_example("eval_offcombr_pt", "pt", str(number), clean_tweet(document), labels)

    return finish(rows(), "eval_offcombr_pt")


def eval_corpus(
    family: str,
    sources: Mapping[str, str],
    load: Callable[[Path], list[TextExample]],
    *,
    mapping: Mapping[str, Mapping[str, str]],
    licence: str,
    folder: Path,
) -> Corpus:
    """A measurement-only corpus: ``use="eval_only"``, the licence marked evaluation only."""
    return Corpus(
        family=family,
        sources=sources,
        load=load,
        mapping={source: mapping[source] for source in sources},
        licence=f"{licence}; evaluation only",
        use="eval_only",
        folder=str(folder),
    )


MORE_CORPORA: tuple[Corpus, ...] = (
    eval_corpus(
        "eval_offenseval",
        {f"eval_offenseval_{lang}": lang for lang in OFFENSEVAL_LANGUAGES},
        load_offenseval,
        mapping=LABEL_MAPPING,
        licence="licence not stated, research use (Turkish and Danish CC BY upstream, Greek "
        "and Arabic unknown) — OffensEval 2020 via shaoncsecu/JAK-OffensEval "
        "(Zampieri et al., SemEval 2020)",
        folder=OFFENSEVAL_DIR,
    ),
    eval_corpus(
        "eval_germeval2021",
        {"eval_germeval2021_de": "de"},
        load_germeval2021,
        mapping=LABEL_MAPPING,
        licence="no licence stated, treated as research-only — germeval2021toxic/SharedTask "
        "(Risch et al., GermEval 2021)",
        folder=GERMEVAL2021_PATHS["train"].parent,
    ),
    eval_corpus(
        "eval_lhsab",
        {"eval_lhsab_ar": "ar"},
        load_lhsab,
        mapping=LABEL_MAPPING,
        licence="no licence stated, treated as research-only — "
        "Hala-Mulki/L-HSAB-First-Arabic-Levantine-HateSpeech-Dataset (Mulki et al., ALW3 2019)",
        folder=LHSAB_PATH.parent,
    ),
    eval_corpus(
        "eval_vihsd",
        {"eval_vihsd_vi": "vi"},
        load_vihsd,
        mapping=LABEL_MAPPING,
        licence="research only (README; no licence file) — sonlam1102/vihsd "
        "(Luu et al., IEA/AIE 2021)",
        folder=VIHSD_DIR,
    ),
    eval_corpus(
        "eval_offcombr",
        {"eval_offcombr_pt": "pt"},
        load_offcombr,
        mapping=LABEL_MAPPING,
        licence="no licence stated, treated as research-only — rogersdepelle/OffComBR "
        "(de Pelle & Moreira, BraSNAM 2017)",
        folder=OFFCOMBR_DIR,
    ),
)
