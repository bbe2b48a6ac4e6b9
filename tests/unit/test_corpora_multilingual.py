"""The non-English training corpora (COLD, ToLD-Br, three Korean sets, Bengali, Jigsaw es/it/tr).

The label-rule tests need no data. The data tests read the real sets under ``../shared/data``
(or ``MODGATE_DATA_DIR``) once per module and skip with the reason when they are absent; the
malformed-file tests write their own.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from retrain.corpora.base import HATE, INSULT, LABELS, SEXUAL, TOXICITY, TextExample
from retrain.corpora.multilingual import (
    BENGALI_PATH,
    COLD_DIR,
    CORPORA,
    JIGSAW_PATH,
    TOLD_PATH,
    bengali_labels,
    load_bengali_hate,
    load_cold,
    load_jigsaw,
    load_told_br,
    repair_mojibake,
    told_labels,
)
from retrain.corpora.multilingual_korean import (
    APEACH_PATH,
    KHS_DIR,
    KMHAS_DIR,
    khs_labels,
    kmhas_labels,
    load_apeach,
    load_kmhas,
    load_korean_hate_speech,
)
from retrain.errors import DataError
from tests.conftest import shared_data

Loader = Callable[[Path], list[TextExample]]

# Rows per source after dropping empty and duplicate texts: (at least, at most = rows in files).
# bengali_hate keeps only the rows with a listed profanity or slur (about 1 in 5).
ROW_RANGES = {
    "cold_zh": (31_900, 25_726 + 6_431),
    "told_br": (20_700, 21_000),
    "korean_hate_speech": (8_300, 7_896 + 471),
    "kmhas": (30_500, 8_776 + 21_939),
    "apeach": (3_750, 3_770),
    "bengali_hate": (1_000, 1_400),
    "jigsaw_es": (2_480, 2_500),
    "jigsaw_it": (2_480, 2_500),
    "jigsaw_tr": (2_980, 3_000),
}
# Share of toxicity = 1 among the rows whose toxicity is known.
TOXIC_SHARE = {
    "cold_zh": (0.45, 0.52),
    "told_br": (0.22, 0.33),
    "korean_hate_speech": (0.52, 0.60),
    "kmhas": (1.0, 1.0),  # 'not hate speech' is not clean: toxicity unknown
    "apeach": (0.49, 0.53),
    "bengali_hate": (1.0, 1.0),  # no negatives
    "jigsaw_es": (0.12, 0.22),
    "jigsaw_it": (0.14, 0.25),
    "jigsaw_tr": (0.07, 0.15),
}
# Rows with hate = 1 (no other source claims any).
HATE_POSITIVES = {
    "told_br": (300, 500),
    "korean_hate_speech": (800, 900),
    "kmhas": (6_500, 7_500),
    "bengali_hate": (300, 400),
}
CLEAN = dict.fromkeys(LABELS, 0)
UNKNOWN = dict.fromkeys(LABELS)


def _labels(**known: int | None) -> dict[str, int | None]:
    return UNKNOWN | known


# --- label rules (no data needed) -------------------------------------------------------------


def _told(*flagged: set[str]) -> dict[str, int | None]:
    return dict(told_labels([frozenset(mine) for mine in flagged]))


def test_told_counts_annotators_not_votes_per_category() -> None:
    assert _told(set(), set(), set()) == CLEAN
    # Two annotators flag different categories: a toxic majority, no insult or hate majority.
    labels = _told({"obscene"}, {"insult"}, set())
    assert labels == {TOXICITY: 1, INSULT: None, HATE: 0}
    assert _told({"insult"}, set(), set()) == {TOXICITY: None, INSULT: None, HATE: 0}
    assert _told({"racism"}, {"xenophobia", "insult"}, {"insult"}) == {
        TOXICITY: 1,
        INSULT: 1,
        HATE: 1,
    }


@pytest.mark.parametrize(
    ("aggression", "bias", "expected"),
    [
        ("none", "none", CLEAN),
        ("none", "gender", CLEAN | {HATE: None}),
        ("none", "others", CLEAN | {HATE: None}),
        ("offensive", "none", {TOXICITY: 1, HATE: 0}),
        ("offensive", "gender", {TOXICITY: 1}),
        ("hate", "none", {TOXICITY: 1, HATE: 0}),
        ("hate", "gender", {TOXICITY: 1, HATE: 1}),
        ("hate", "others", {TOXICITY: 1}),
    ],
)
def test_korean_hate_speech_rules(aggression: str, bias: str, expected: dict[str, int]) -> None:
    assert dict(khs_labels(aggression, bias)) == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ("8", {HATE: 0}),
        ("3", {TOXICITY: 1, HATE: None}),
        ("1,2", {TOXICITY: 1, HATE: None}),
        ("2,4", {TOXICITY: 1, HATE: 1}),
        ("0,3,5", {TOXICITY: 1, HATE: 1}),
        ("7", {TOXICITY: 1, HATE: 1}),
    ],
)
def test_kmhas_rules(ids: str, expected: dict[str, int | None]) -> None:
    assert dict(kmhas_labels(frozenset(ids.split(",")))) == expected


def test_bengali_reads_only_rows_with_a_listed_profanity_or_slur() -> None:
    assert bengali_labels("ভারতের অর্থনীতি নিয়ে ভারত সরকার আছে") is None  # a plain statement
    assert bengali_labels("চোদ্দ বছর পরে দেখা হলো") is None  # "fourteen", not the profanity
    assert dict(bengali_labels("ওই আমার টেকা দে শুয়োরের বাচ্চা") or {}) == {
        TOXICITY: 1,
        HATE: None,
    }
    for slur in ("মালাউনরা", "মালায়নদের", "মালুদের"):
        assert dict(bengali_labels(f"এই {slur} কথা") or {}) == {TOXICITY: 1, HATE: 1}
    assert bengali_labels("আমি মালুম করলাম") is None  # "malum": known, not the slur


def test_repair_mojibake_undoes_gbk_and_leaves_real_chinese_alone() -> None:
    garbled = "não é lá 🤦".encode().decode("gbk", errors="replace")
    assert garbled != "não é lá 🤦"
    assert repair_mojibake(garbled) == "não é lá 🤦"
    assert repair_mojibake("um bostalh茫o") == "um bostalhão"
    # An em dash whose last byte was lost upstream: the rest is repaired, the loss stays.
    assert repair_mojibake("pra l谩 鈥\ufffd descartei") == "pra lá \ufffd descartei"
    for untouched in ("destruição e 中国", "你好", "plain text"):
        assert repair_mojibake(untouched) == untouched


# --- the real data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data(f"{COLD_DIR}/train.csv")


@pytest.fixture(scope="module")
def by_source(data_dir: Path) -> dict[str, list[TextExample]]:
    rows: dict[str, list[TextExample]] = defaultdict(list)
    for corpus in CORPORA:
        for ex in corpus.load(data_dir):
            rows[ex.source].append(ex)
    return dict(rows)


@pytest.fixture(scope="module")
def by_id(by_source: dict[str, list[TextExample]]) -> dict[str, TextExample]:
    return {ex.row_id: ex for rows in by_source.values() for ex in rows}


def test_registry(data_dir: Path, by_source: dict[str, list[TextExample]]) -> None:
    sources = [name for corpus in CORPORA for name in corpus.sources]
    assert len(sources) == len(set(sources)) == len(ROW_RANGES)
    assert set(by_source) == set(ROW_RANGES)
    for corpus in CORPORA:
        assert corpus.use == "train"
        assert corpus.kind == "real"
        assert corpus.licence
        assert (data_dir / corpus.folder).is_dir(), corpus.folder
        assert set(corpus.mapping) == set(corpus.sources)
        for source, lang in corpus.sources.items():
            assert {ex.language for ex in by_source[source]} == {lang}
            assert TOXICITY in corpus.mapping[source]
            assert set(corpus.mapping[source]) <= set(LABELS)


@pytest.mark.parametrize("source", sorted(ROW_RANGES))
def test_rows_texts_and_ids(source: str, by_source: dict[str, list[TextExample]]) -> None:
    rows = by_source[source]
    low, high = ROW_RANGES[source]
    assert low <= len(rows) <= high
    texts = [ex.text for ex in rows]
    assert all(text and text == text.strip() for text in texts)
    assert len(set(texts)) == len(texts)
    assert len({ex.row_id for ex in rows}) == len(rows)
    assert all(ex.row_id.startswith(f"{source}:") and ex.group == ex.row_id for ex in rows)


@pytest.mark.parametrize("source", sorted(ROW_RANGES))
def test_label_distribution(source: str, by_source: dict[str, list[TextExample]]) -> None:
    rows = by_source[source]
    counts = {name: Counter(ex.labels[name] for ex in rows) for name in LABELS}
    assert all(set(count) <= {0, 1, None} for count in counts.values())
    toxic = counts[TOXICITY]
    low, high = TOXIC_SHARE[source]
    assert low <= toxic[1] / (toxic[0] + toxic[1]) <= high
    low, high = HATE_POSITIVES.get(source, (0, 0))
    assert low <= counts[HATE][1] <= high
    # Only ToLD-Br has a per-row insult label; no source can tell sexual content apart.
    if source != "told_br":
        assert counts[INSULT][1] == 0
    assert counts[SEXUAL][1] == 0
    for ex in rows:  # a row that is harmful on some head is never called non-toxic
        if any(ex.labels[name] == 1 for name in LABELS):
            assert ex.labels[TOXICITY] != 0, ex.row_id


def test_what_each_source_cannot_tell_is_unknown(by_source: dict[str, list[TextExample]]) -> None:
    def values(source: str, name: str) -> set[int | None]:
        return {ex.labels[name] for ex in by_source[source]}

    assert values("cold_zh", SEXUAL) == {None}
    assert values("cold_zh", HATE) == {0, None}
    assert values("apeach", HATE) == {None}
    assert values("kmhas", TOXICITY) == {1, None}
    for name in set(LABELS) - {TOXICITY, HATE}:
        assert values("kmhas", name) == {None}
        assert values("bengali_hate", name) == {None}


@pytest.mark.parametrize(
    ("row_id", "start", "labels"),
    [
        ("cold_zh:train:4", "台湾人这么说", CLEAN | {SEXUAL: None}),
        ("cold_zh:dev:4", "日本人都是坏人", _labels(toxicity=1)),
        ("told_br:1", "Meu nivel de amizade", _labels(toxicity=1, insult=1, hate=0)),
        ("told_br:2", "@user @user o cara adultera dados", _labels(hate=0)),
        ("korean_hate_speech:dev:1", "송중기 시대극은 믿고본다", CLEAN),
        ("korean_hate_speech:dev:2", "지현우 나쁜놈", _labels(toxicity=1, hate=0)),
        ("korean_hate_speech:dev:4", "설마 ㅈ 현정 작가 아니지", _labels(toxicity=1, hate=1)),
        ("kmhas:valid:2", "서로만이 이렇게 있을때 보기 좋다", _labels(hate=0)),
        ("kmhas:valid:4", "미친돼지새끼 육갑떠네", _labels(toxicity=1)),
        ("kmhas:valid:12", "토착짱깨새기들 좀 꺼져라", _labels(toxicity=1, hate=1)),
        ("apeach:1", "내년에 네이버 게임회사", CLEAN | {HATE: None, SEXUAL: None}),
        ("apeach:1387", "게르만인을 포함한 아리아 인종이", _labels(toxicity=1)),
        ("bengali_hate:5", "খানকির পুলা মালা\u09dfনদের মেরে", _labels(toxicity=1, hate=1)),
        ("bengali_hate:7", "মাগীর পাছায় লাথি মেরে", _labels(toxicity=1)),
        ("jigsaw_es:0", "Este usuario ni siquiera llega", CLEAN),
        ("jigsaw_es:2", "Vale. Sólo expongo mi pasado", _labels(toxicity=1)),
    ],
)
def test_spot_checked_rows(
    row_id: str, start: str, labels: dict[str, int | None], by_id: dict[str, TextExample]
) -> None:
    ex = by_id[row_id]
    assert ex.text.startswith(start)
    assert dict(ex.labels) == labels


def test_text_preparation(
    by_source: dict[str, list[TextExample]], by_id: dict[str, TextExample]
) -> None:
    hanzi = re.compile(r"[\u4e00-\u9fff]")
    told = by_source["told_br"]
    assert sum(bool(hanzi.search(ex.text)) for ex in told) <= 5  # was about 1,100
    assert not any(ex.text.startswith("rt @") for ex in told)
    assert "pra lá,não te merece" in by_id["told_br:4518"].text
    # About 10,000 K-MHaS documents are CSV-quoted; unquoted, only a few quote themselves.
    assert sum(ex.text.startswith('"') for ex in by_source["kmhas"]) < 50
    assert by_id["kmhas:valid:4"].text == "미친돼지새끼 육갑떠네 ㅡㅡ"
    assert all("\n" not in ex.text for rows in by_source.values() for ex in rows)


# --- malformed files --------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _told_header() -> str:
    categories = ("homophobia", "obscene", "insult", "racism", "misogyny", "xenophobia")
    return ",".join(["text", *(f"{c}_{a}" for c in categories for a in (1, 2, 3))])


MALFORMED: list[tuple[str, Loader, dict[Path, str], str]] = [
    (
        "cold label",
        load_cold,
        {COLD_DIR / "train.csv": ",split,topic,label,TEXT\n1,train,race,2,文本\n"},
        r"train\.csv: row 1: unexpected label '2'",
    ),
    (
        "cold dev missing",
        load_cold,
        {COLD_DIR / "train.csv": ",split,topic,label,TEXT\n1,train,race,0,文本\n"},
        r"dev\.csv: not found",
    ),
    (
        "cold column",
        load_cold,
        {COLD_DIR / "train.csv": ",split,topic,offensive,TEXT\n1,train,race,0,文本\n"},
        r"train\.csv: missing columns \['label'\]",
    ),
    (
        "told vote",
        load_told_br,
        {TOLD_PATH: _told_header() + "\nfoo," + ",".join(["0.0"] * 17 + ["2.0"]) + "\n"},
        r"ToLD-BR_alpha\.csv: row 1: unexpected xenophobia_3 '2\.0'",
    ),
    (
        "korean_hate_speech bias",
        load_korean_hate_speech,
        {KHS_DIR / "train.tsv": "comments\tbias\thate\n글\trace\tnone\n"},
        r"train\.tsv: row 1: unexpected bias 'race'",
    ),
    (
        "kmhas label",
        load_kmhas,
        {KMHAS_DIR / "kmhas_valid.tsv": "document\tlabel\n좋다\t8\n나쁘다\t3,8\n"},
        r"kmhas_valid\.tsv: row 3: unexpected label '3,8'",
    ),
    (
        "kmhas fields",
        load_kmhas,
        {KMHAS_DIR / "kmhas_valid.tsv": "document\tlabel\n좋다\t8\textra\n"},
        r"kmhas_valid\.tsv: row 2: unexpected line",
    ),
    (
        "kmhas header",
        load_kmhas,
        {KMHAS_DIR / "kmhas_valid.tsv": "text\tlabels\n좋다\t8\n"},
        r"kmhas_valid\.tsv: expected the header",
    ),
    (
        "apeach class",
        load_apeach,
        {APEACH_PATH: "text,class\n문장,Hateful\n"},
        r"apeach_test\.csv: row 1: unexpected class 'Hateful'",
    ),
    (
        "bengali label",
        load_bengali_hate,
        {BENGALI_PATH: "text,label,target\nকথা,Gender abusive,4\n"},
        r"bengali_hate_v2\.0\.csv: row 1: unexpected label 'Gender abusive'",
    ),
    (
        "jigsaw lang",
        load_jigsaw,
        {JIGSAW_PATH: "id,comment_text,lang,toxic\n0,bonjour,fr,0\n"},
        r"validation\.csv: row 1: unexpected lang 'fr'",
    ),
    (
        "jigsaw toxic",
        load_jigsaw,
        {JIGSAW_PATH: "id,comment_text,lang,toxic\n0,hola,es,0.7\n"},
        r"validation\.csv: row 1: unexpected toxic '0\.7'",
    ),
]


@pytest.mark.parametrize(
    ("loader", "files", "message"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_files_raise_naming_the_file(
    tmp_path: Path, loader: Loader, files: dict[Path, str], message: str
) -> None:
    for relative, text in files.items():
        _write(tmp_path / relative, text)
    with pytest.raises(DataError, match=message) as raised:
        loader(tmp_path)
    assert str(tmp_path) in str(raised.value)
