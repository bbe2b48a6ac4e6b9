"""Readers for the non-English training corpora: COLD (zh), ToLD-Br (pt), the Bengali hate set,
the Jigsaw multilingual validation set (es / it / tr) and, from ``multilingual_korean``, three
Korean sets, all registered in ``CORPORA``. Each source's annotation is mapped conservatively: a
row its annotators called clean is 0 on the heads the source's notion of clean covers, an
offensive row teaches only the heads its label names and leaves the rest unknown (masked), and
where a source's positives are unreliable (the Bengali set's "every row is hate") only the rows
we can vouch for are read. Upstream train / dev / test files are all read as rows (our splitter
re-splits every source); comments and tweets go through ``clean_tweet``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from retrain.corpora import multilingual_korean
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

COLD_DIR = Path("cold_zh")
COLD_SPLITS = ("train", "dev")
TOLD_PATH = Path("told_br") / "ToLD-BR_alpha.csv"
TOLD_CATEGORIES = ("homophobia", "obscene", "insult", "racism", "misogyny", "xenophobia")
TOLD_HATE = frozenset({"homophobia", "racism", "misogyny", "xenophobia"})
# Per annotator: (category, column) of each of their 0/1 flags.
_TOLD_COLUMNS = tuple(
    tuple((category, f"{category}_{annotator}") for category in TOLD_CATEGORIES)
    for annotator in (1, 2, 3)
)
BENGALI_PATH = Path("bengali_hate") / "bengali_hate_v2.0.csv"
BENGALI_TYPES = frozenset({"Personal", "Political", "Religious", "Geopolitical"})
JIGSAW_PATH = Path("jigsaw_multilingual_val") / "validation.csv"
JIGSAW_LANGUAGES = ("es", "it", "tr")

_COLD: dict[str, Labels] = {"1": {TOXICITY: 1}, "0": clean_negative(sexual=None)}
_JIGSAW: dict[str, Labels] = {"1": {TOXICITY: 1}, "0": clean_negative()}
_VOTE = {"0": 0, "0.0": 0, "1": 1, "1.0": 1}
_LOWERCASE_RETWEET = re.compile(r"\brt\s+(?=@)")
# ToLD-Br mojibake: about 1 tweet in 20 was decoded as GBK and saved again as UTF-8 ("não" ->
# "n茫o", emoji -> "馃棏"); a lone trailing byte the GBK decoder could not pair was lost (U+FFFD).
_KANA_HANZI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\ufffd]+")
_REPLACEMENTS = re.compile(r"\ufffd+")
# Slurs for Hindus: malaun and its spellings, malu (not malum, "known").
_BENGALI_HINDU_SLUR = "মাল(?:া?উ|াও|া?(?:\u09df|\u09af\u09bc))ন|মালু(?!ম)"
# Unambiguous Bengali profanities and slurs (stems, mostly from the source's own
# bengali_slung_abusive.txt): fuck (not chodda, "fourteen"), whore, son-of-a-whore, pig, dog
# (vulgar form), bastard, prostitute, cunt, arse, prick, rendia (India) and the Hindu slurs.
_BENGALI_PROFANITY = (
    *("চুদ", "চোদ(?!্দ)", "বানচোত"),  # fuck
    *("মাগি", "মাগী", "বেশ্যা"),  # whore, prostitute
    *("খানকি", "খাঙ্কি", "খান্কি"),  # son of a whore
    *("শুয়োর", "শুয়ার", "শুয়র", "শুওর", "কুত্তা"),  # pig, dog
    *("হারামজাদ", "হারামি", "হারামখোর", "জারজ"),  # bastard
    *("ভোদা", "ভুদা", "পুটকি", "পুকটি", "ল্যাওড়া", "লেওড়া", "লেওরা"),  # genitals, arse
    "রেন্ডিয়া",  # slur for India
)
# Matched in NFC, which spells the nukta letters (য়, ড়) as two code points, as typed above.
_BENGALI_ABUSE = re.compile(unicodedata.normalize("NFC", "|".join(_BENGALI_PROFANITY)))
_BENGALI_HINDU_SLURS = re.compile(unicodedata.normalize("NFC", _BENGALI_HINDU_SLUR))


def _undo_gbk(run: str, errors: str = "strict") -> str:
    return run.encode("gb18030").decode("utf-8", errors=errors)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text decoded as GBK: the whole text if it round-trips, else each non-ASCII
    run with kana or hanzi that decodes with at most one loss (a byte lost upstream: U+FFFD)."""
    if not _KANA_HANZI.search(text):
        return text
    try:
        return _undo_gbk(text)
    except UnicodeError:
        pass

    def repair_run(match: re.Match[str]) -> str:
        run = match.group()
        if not _KANA_HANZI.search(run):
            return run
        repaired = _undo_gbk(run, "replace")
        return repaired if repaired.count("\ufffd") <= 1 else run  # else: real CJK text

    return _REPLACEMENTS.sub("\ufffd", _NON_ASCII_RUN.sub(repair_run, text))


def load_cold(data_dir: Path) -> list[TextExample]:
    """COLD (Deng et al. 2022) Chinese comments on race, gender and region: train and dev."""

    def rows() -> Iterator[TextExample]:
        for split in COLD_SPLITS:
            path = data_dir / COLD_DIR / f"{split}.csv"
            for number, row in read_csv(path, ("label", "TEXT")):
                labels = _COLD.get(row["label"])
                if labels is None:
                    raise bad_value(path, number, "label", row["label"])
                text = clean_tweet(row["TEXT"])
                yield make_example("cold_zh", "zh", f"{split}:{number}", text, labels)

    return finish(rows(), "cold_zh")


def _told_flags(path: Path, number: int, row: Mapping[str, str]) -> list[frozenset[str]]:
    """Per annotator (3), the categories they flagged."""
    flagged: list[frozenset[str]] = []
    for columns in _TOLD_COLUMNS:
        categories = set()
        for category, column in columns:
            vote = _VOTE.get(row[column])
            if vote is None:
                raise bad_value(path, number, column, row[column])
            if vote:
                categories.add(category)
        flagged.append(frozenset(categories))
    return flagged


def _majority(flaggers: int) -> int | None:
    """2 or 3 of 3 annotators -> 1, none -> 0, a lone annotator -> unknown."""
    return 1 if flaggers >= 2 else 0 if flaggers == 0 else None


def told_labels(flagged: Sequence[frozenset[str]]) -> Labels:
    """Labels of one ToLD-Br tweet from the categories each annotator flagged."""
    if not any(flagged):
        return clean_negative()

    def flaggers(categories: frozenset[str]) -> int:
        return sum(bool(mine & categories) for mine in flagged)

    return {
        TOXICITY: _majority(sum(bool(mine) for mine in flagged)),
        INSULT: _majority(flaggers(frozenset({"insult"}))),
        HATE: _majority(flaggers(TOLD_HATE)),
    }


def load_told_br(data_dir: Path) -> list[TextExample]:
    """ToLD-Br (Leite et al. 2020) Brazilian tweets, from the per-annotator file."""
    path = data_dir / TOLD_PATH
    columns = ("text", *(column for flags in _TOLD_COLUMNS for _, column in flags))

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, columns):
            labels = told_labels(_told_flags(path, number, row))
            text = clean_tweet(_LOWERCASE_RETWEET.sub("", repair_mojibake(row["text"])))
            yield make_example("told_br", "pt", str(number), text, labels)

    return finish(rows(), "told_br")


def bengali_labels(text: str) -> Labels | None:
    """Labels of a Bengali 'hate' row with an unambiguous profanity or slur, else None."""
    text = unicodedata.normalize("NFC", text)
    if _BENGALI_HINDU_SLURS.search(text):
        return {TOXICITY: 1, HATE: 1}
    return {TOXICITY: 1, HATE: None} if _BENGALI_ABUSE.search(text) else None


def load_bengali_hate(data_dir: Path) -> list[TextExample]:
    """Bengali hate speech v2.0 (Karim et al. 2021): only rows with a listed profanity or slur."""
    path = data_dir / BENGALI_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("text", "label")):
            if row["label"] not in BENGALI_TYPES:
                raise bad_value(path, number, "label", row["label"])
            text = clean_tweet(row["text"])
            labels = bengali_labels(text)
            if labels is not None:
                yield make_example("bengali_hate", "bn", str(number), text, labels)

    return finish(rows(), "bengali_hate")


def load_jigsaw(data_dir: Path) -> list[TextExample]:
    """Jigsaw Multilingual (2020) validation set: Wikipedia talk comments in es, it and tr."""
    path = data_dir / JIGSAW_PATH

    def rows() -> Iterator[TextExample]:
        for number, row in read_csv(path, ("id", "comment_text", "lang", "toxic")):
            lang, labels = row["lang"], _JIGSAW.get(row["toxic"])
            if lang not in JIGSAW_LANGUAGES:
                raise bad_value(path, number, "lang", lang)
            if labels is None:
                raise bad_value(path, number, "toxic", row["toxic"])
            text = clean_tweet(row["comment_text"])
            yield make_example(f"jigsaw_{lang}", lang, row["id"], text, labels)

    return finish(rows(), "jigsaw")


def _clean_only(clean: str, *names: str) -> dict[str, str]:
    return {name: f"{clean} -> 0; otherwise unknown" for name in names}


_JIGSAW_RULES = {
    TOXICITY: "toxic 1 (most raters: rude, disrespectful or likely to make someone leave) -> 1; "
    "toxic 0 -> 0 (Jigsaw rates identity attacks, insults, threats and obscenity as kinds of "
    "toxic, so a non-toxic comment is none of them)",
    **_clean_only("toxic 0", INSULT, THREAT, HATE, SEXUAL, SELF_HARM),
}
LABEL_MAPPING: Mapping[str, Mapping[str, str]] = {
    "cold_zh": {
        TOXICITY: "label 1 (offensive) -> 1; label 0 (safe, anti-bias included) -> 0. train.csv "
        "and dev.csv both read (dev.csv's split column says 'train' on half its rows)",
        HATE: "label 0 -> 0; label 1 -> unknown: every comment is on race, gender or region, "
        "but 'offensive' also covers attacks on individuals and plain rudeness, and COLD's "
        "attack-a-group label exists only for its withheld test split",
        SEXUAL: "unknown for every row: COLD's offence is targeted; sexual remarks that attack "
        "no one were labelled safe",
        **_clean_only("label 0", INSULT, THREAT, SELF_HARM),
    },
    "told_br": {
        TOXICITY: "ToLD-BR_alpha.csv (per-annotator flags; ToLD-BR.csv holds the same votes "
        "summed and is not read): 2 or 3 of the 3 annotators flagged some category "
        "(homophobia, obscene, insult, racism, misogyny, xenophobia) -> 1; none flagged "
        "anything -> 0; one annotator -> unknown. Counted per annotator, so two annotators "
        "flagging different categories still make a majority. 'obscene' teaches toxicity only",
        INSULT: "'insult' flagged by 2 or 3 annotators -> 1; by none -> 0; by one -> unknown",
        HATE: "homophobia, racism, misogyny or xenophobia flagged by 2 or 3 annotators (any of "
        "the four, per annotator) -> 1; none of the four by anyone -> 0; one annotator -> "
        "unknown. ToLD-Br has no religion, disability or age category, so a toxic tweet "
        "attacking those is hate 0 here (rare: about 1 in 200 toxic non-hate tweets names a "
        "religion)",
        SEXUAL: "nothing flagged -> 0; otherwise unknown ('obscene' mixes profanity and "
        "sexual content)",
        **_clean_only("nothing flagged", THREAT, SELF_HARM),
    },
    "bengali_hate": {
        TOXICITY: "bengali_hate_v2.0.csv only (v1.0 is an earlier, punctuation-stripped copy "
        "of most of the same comments). The source calls every row hate, but its rows were "
        "gathered by keyword bootstrapping and about half of a read sample is not offensive by "
        "our definitions (news headlines, political slogans, a compliment). So a row with an "
        "unambiguous profanity or slur (fuck, whore, son-of-a-whore, pig, dog, bastard, "
        "prostitute, cunt, arse, prick; 'rendia' for India; 'malaun' / 'malu' for Hindus; "
        "stems mostly from the source's bengali_slung_abusive.txt) -> 1, and the other rows "
        "are not read: the set has no negatives, so they could teach nothing but wrong 1s",
        HATE: "an anti-Hindu slur ('malaun' and its spellings, 'malu') in the text -> 1; "
        "otherwise unknown (the type column names a topic - personal, political, religious, "
        "geopolitical - not an identity attack)",
    },
    **{f"jigsaw_{lang}": _JIGSAW_RULES for lang in JIGSAW_LANGUAGES},
    **multilingual_korean.LABEL_MAPPING,
}
TEXT_PREPARATION = (
    "COLD, ToLD-Br, Bengali and Jigsaw texts: clean_tweet; ToLD-Br first has its GBK mojibake "
    "undone (about 1,100 tweets: 'n茫o' -> 'não'; bytes lost upstream stay one U+FFFD) and "
    f"lower-case 'rt' retweet markers dropped; {multilingual_korean.TEXT_PREPARATION}"
)


def _rules(*sources: str) -> dict[str, Mapping[str, str]]:
    return {source: LABEL_MAPPING[source] for source in sources}


CORPORA: tuple[Corpus, ...] = (
    Corpus(
        family="cold",
        sources={"cold_zh": "zh"},
        load=load_cold,
        mapping=_rules("cold_zh"),
        licence="Apache-2.0 — thu-coai/COLDataset (Deng et al., EMNLP 2022)",
        folder=str(COLD_DIR),
    ),
    Corpus(
        family="told_br",
        sources={"told_br": "pt"},
        load=load_told_br,
        mapping=_rules("told_br"),
        licence="CC BY-SA 4.0 — JAugusto97/ToLD-Br (Leite et al., AACL 2020); tweet text "
        "subject to Twitter/X terms",
        folder=str(TOLD_PATH.parent),
    ),
    *multilingual_korean.CORPORA,
    Corpus(
        family="bengali_hate",
        sources={"bengali_hate": "bn"},
        load=load_bengali_hate,
        mapping=_rules("bengali_hate"),
        licence="MIT (README asks research use) — rezacsedu/Bengali-Hate-Speech-Dataset "
        "(Karim et al., DSAA 2020 / 2021)",
        folder=str(BENGALI_PATH.parent),
    ),
    Corpus(
        family="jigsaw",
        sources={f"jigsaw_{lang}": lang for lang in JIGSAW_LANGUAGES},
        load=load_jigsaw,
        mapping=_rules(*(f"jigsaw_{lang}" for lang in JIGSAW_LANGUAGES)),
        licence="Jigsaw Multilingual Toxic Comment Classification (Kaggle 2020) validation set, "
        "third-party copy SiddeshSambasivam/Mulitilingual-Toxic-Comment-Classification; "
        "competition terms apply (labels CC0 and Wikipedia text CC BY-SA 3.0 likely, not "
        "verified)",
        folder=str(JIGSAW_PATH.parent),
    ),
)
