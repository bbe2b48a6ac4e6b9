"""The measurement-only corpora (``eval_only/``): registered as such, read onto our heads.

The data tests read the real sets under ``../shared/data`` (or ``MODGATE_DATA_DIR``) once per
module and skip with the reason when they are absent; the malformed-file tests write their own.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from retrain.corpora.base import HATE, INSULT, LABELS, TOXICITY, Corpus, TextExample
from retrain.corpora.eval_only import (
    CORPORA,
    FORTUNA_PATH,
    HATEBR_PATH,
    ID_HATE_PATH,
    TOXICN_PATH,
    load_fortuna,
    load_hatebr,
    load_id_hate,
    load_toxicn,
)
from retrain.corpora.eval_only_more import (
    GERMEVAL2021_PATHS,
    LHSAB_PATH,
    OFFCOMBR_DIR,
    OFFENSEVAL_DIR,
    VIHSD_DIR,
    load_germeval2021,
    load_lhsab,
    load_offcombr,
    load_offenseval,
    load_vihsd,
    read_arff,
)
from retrain.errors import DataError
from tests.conftest import shared_data

Loader = Callable[[Path], list[TextExample]]

# Rows per source after dropping empty and duplicate texts: (at least, at most = rows in files).
ROW_RANGES = {
    "eval_toxicn_zh": (11_900, 12_011),
    "eval_hatebr_pt": (6_950, 7_000),
    "eval_id_hate": (12_900, 13_169),
    "eval_fortuna_pt": (5_600, 5_668),
    "eval_offcombr_pt": (1_230, 1_250),
    "eval_offenseval_tr": (35_000, 35_284),
    "eval_offenseval_da": (3_150, 3_289),
    "eval_offenseval_el": (10_200, 10_287),
    "eval_offenseval_ar": (9_900, 10_000),
    "eval_germeval2021_de": (4_100, 4_188),
    "eval_lhsab_ar": (5_700, 5_846),
    "eval_vihsd_vi": (30_400, 33_400),
}
# Only these sets name hate targets; the others never claim hate = 1.
TEACH_HATE = {"eval_toxicn_zh", "eval_id_hate", "eval_fortuna_pt", "eval_lhsab_ar"}
CLEAN = dict.fromkeys(LABELS, 0)


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("eval_only")


@pytest.fixture(scope="module")
def by_source(data_dir: Path) -> dict[str, list[TextExample]]:
    rows: dict[str, list[TextExample]] = defaultdict(list)
    for corpus in CORPORA:
        for ex in corpus.load(data_dir):
            rows[ex.source].append(ex)
    return rows


@pytest.fixture(scope="module")
def by_id(by_source: dict[str, list[TextExample]]) -> dict[str, TextExample]:
    return {ex.row_id: ex for rows in by_source.values() for ex in rows}


def known(ex: TextExample) -> dict[str, int]:
    return {name: value for name, value in ex.labels.items() if value is not None}


def counts(rows: list[TextExample], name: str) -> Counter[int | None]:
    return Counter(ex.labels[name] for ex in rows)


def test_every_corpus_is_registered_for_measurement_only() -> None:
    sources = [name for corpus in CORPORA for name in corpus.sources]
    assert sorted(sources) == sorted(ROW_RANGES)
    assert len({corpus.family for corpus in CORPORA}) == len(CORPORA)
    for corpus in CORPORA:
        assert corpus.use == "eval_only"
        assert corpus.kind == "real"
        assert corpus.family.startswith("eval_")
        assert corpus.folder.startswith("eval_only/")
        assert corpus.licence.endswith("evaluation only")
        assert set(corpus.mapping) == set(corpus.sources)
        for source, language in corpus.sources.items():
            assert source.startswith("eval_")
            assert re.fullmatch("[a-z]{2}", language)
            assert set(corpus.mapping[source]) <= set(LABELS)
            assert TOXICITY in corpus.mapping[source]


def test_every_corpus_folder_exists(data_dir: Path) -> None:
    for corpus in CORPORA:
        assert (data_dir / corpus.folder).is_dir(), corpus.folder


def test_reads_every_source_with_the_documented_row_counts(
    by_source: dict[str, list[TextExample]],
) -> None:
    found = {source: len(rows) for source, rows in by_source.items()}
    assert set(found) == set(ROW_RANGES)
    for source, (low, high) in ROW_RANGES.items():
        assert low <= found[source] <= high, (source, found[source])


def test_every_source_has_both_toxicity_classes_except_fortunas_hate_only_labels(
    by_source: dict[str, list[TextExample]],
) -> None:
    for source, rows in by_source.items():
        toxicity = counts(rows, TOXICITY)
        assert toxicity[1] > 0, source
        if source == "eval_fortuna_pt":  # a not-hate tweet may still be offensive: unknown
            assert toxicity[0] == 0
            assert counts(rows, HATE)[0] > 0
        else:
            assert toxicity[0] > 0, source
            assert 0.05 < toxicity[1] / (toxicity[0] + toxicity[1]) < 0.7, source


def test_only_sets_that_name_targets_claim_hate(by_source: dict[str, list[TextExample]]) -> None:
    for source, rows in by_source.items():
        hate = counts(rows, HATE)
        assert (hate[1] > 0) == (source in TEACH_HATE), source
        assert hate[0] > 0, source


def test_keeps_no_empty_text_and_no_duplicate_text_within_a_source(
    by_source: dict[str, list[TextExample]],
) -> None:
    for source, rows in by_source.items():
        texts = [ex.text for ex in rows]
        assert all(text and text == text.strip() for text in texts), source
        assert len(set(texts)) == len(texts), source
        assert len({ex.row_id for ex in rows}) == len(rows), source
        assert not {"#ERROR!", "#NAME?"} & set(texts), source  # spreadsheet errors: text lost
    # the Indonesian file's broken UTF-8 sequences are dropped (OffensEval tr ships 3 U+FFFD)
    assert not any("\ufffd" in ex.text for ex in by_source["eval_id_hate"])


@pytest.mark.parametrize(
    ("row_id", "labels", "text"),
    [
        ("eval_toxicn_zh:1", CLEAN, "就凭你的北京户口我就感觉你比我高级五个阶级，我是河北人😆"),
        ("eval_toxicn_zh:2", {TOXICITY: 1, HATE: 1}, "抓虫大战，人人有责"),
        ("eval_toxicn_zh:7", {TOXICITY: 1, HATE: 0}, "那岂不是婊子都不如🤔"),
        ("eval_toxicn_zh:12", {}, None),  # reporting (counter-speech about regional bias)
        ("eval_hatebr_pt:1", {TOXICITY: 1}, "Mais um lixo"),
        ("eval_id_hate:2", {TOXICITY: 1, HATE: 0}, "@user: @user siapa yang telat ngasih"),
        ("eval_id_hate:5", {TOXICITY: 1, HATE: 1}, "@user @user Kaum cebong kapir"),
        ("eval_id_hate:6", {TOXICITY: 1}, "@user Ya bani taplak dkk 😄😄😄"),
        ("eval_id_hate:12", {TOXICITY: 1, INSULT: 1, HATE: 1}, None),
        ("eval_fortuna_pt:1", {HATE: 0}, '"não come mel, morde marimbondo"'),
        ("eval_fortuna_pt:5", {TOXICITY: 1, HATE: 1}, "o diminutivo INHO"),
        ("eval_fortuna_pt:22", {TOXICITY: 1}, "@user não pode ser vegetariano"),
        ("eval_offcombr_pt:9", {TOXICITY: 1}, "Votaram no PEZAO Agora tomem no CZAO"),
        ("eval_offenseval_tr:train:20948", CLEAN, "@user en güzel uyuyan insan"),
        ("eval_offenseval_ar:train:1", CLEAN, "يا رجالة ⚪🔴 الدوري يا زمالك"),
        ("eval_offenseval_el:test:9640", {TOXICITY: 1}, "Πολάκη τα σπας"),
        ("eval_offenseval_da:train:2500", {TOXICITY: 1}, "Nu er det jo også de Ikea-aber"),
        ("eval_germeval2021_de:train:225", {TOXICITY: 1}, "100% der AfD scheißt"),
        ("eval_germeval2021_de:train:1", CLEAN, "Ziemlich traurig diese Kommentare"),
        ("eval_lhsab_ar:1", {TOXICITY: 1, HATE: 0}, "الوزير جبران باسيل"),
        ("eval_lhsab_ar:4222", {TOXICITY: 1, HATE: 1}, "العرب جرب"),
        ("eval_vihsd_vi:train:1", CLEAN, "Em được làm fan cứng"),
        ("eval_vihsd_vi:train:2", {TOXICITY: 1}, "Đúng là bọn mắt híp"),
        ("eval_vihsd_vi:train:8", {TOXICITY: 1, HATE: 0}, "Lúp lúp như chó ."),
    ],
)
def test_maps_known_rows_onto_our_labels(
    by_id: dict[str, TextExample], row_id: str, labels: dict[str, int], text: str | None
) -> None:
    ex = by_id[row_id]
    assert known(ex) == labels
    if text is not None:
        assert text in ex.text


def test_offcombr3_adds_nothing_to_offcombr2(data_dir: Path) -> None:
    both = [
        {(label, document) for _, label, document in read_arff(data_dir / OFFCOMBR_DIR / name)}
        for name in ("OffComBR2.arff", "OffComBR3.arff")
    ]
    assert both[1] < both[0]
    assert {row for row in both[0] if row[0] == "no"} <= both[1]


def test_undoes_the_indonesian_crawlers_escapes(tmp_path: Path) -> None:
    columns = "HS,Abusive,HS_Individual,HS_Group,HS_Religion,HS_Race,HS_Physical,HS_Gender,"
    columns += "HS_Other,HS_Weak,HS_Moderate,HS_Strong"
    tweets = [
        r"RT USER: USER sabar ya\nbro \xf0\x9f\x98\x84 URL'",
        r"Terima kasih \ud83d\ude01 cebong \xf0\x9f\x98\x84\x'",
        "#NAME?",
    ]
    body = "".join(f'"{tweet}",0,0,0,0,0,0,0,0,0,0,0,0\n' for tweet in tweets)
    path = tmp_path / ID_HATE_PATH
    path.parent.mkdir(parents=True)
    broken = b'"broken \xf0?? emoji",0,1' + b",0" * 10 + b"\n"
    path.write_bytes(f"Tweet,{columns}\n{body}".encode() + broken)
    rows = load_id_hate(tmp_path)
    assert [ex.text for ex in rows] == [
        "@user: @user sabar ya bro 😄 http",
        "Terima kasih 😁 cebong 😄",
        "broken emoji",
    ]
    assert [known(ex) for ex in rows[:2]] == [CLEAN, CLEAN]
    assert known(rows[2]) == {TOXICITY: 1, HATE: 0}


def test_reads_quoted_multiline_lhsab_tweets(tmp_path: Path) -> None:
    path = tmp_path / LHSAB_PATH
    path.parent.mkdir(parents=True)
    path.write_text('Tweet\tClass\n"شي بيهوي\n"\tabusive\nصباح الخير\tnormal\n', encoding="utf-8")
    rows = load_lhsab(tmp_path)
    assert [(ex.text, known(ex)) for ex in rows] == [
        ("شي بيهوي", {TOXICITY: 1, HATE: 0}),
        ("صباح الخير", CLEAN),
    ]


_ID_HEADER = "Tweet,HS,Abusive,HS_Individual,HS_Group,HS_Religion,HS_Race,HS_Physical,HS_Gender,"
_ID_HEADER += "HS_Other,HS_Weak,HS_Moderate,HS_Strong\n"
_FORTUNA_HEADER = "text,Hate.speech,Sexism,Body,Racism,Ideology,Homophobia,Origin,Religion,"
_FORTUNA_HEADER += "Health,OtherLifestyle,Migrants,Ageing\n"
MALFORMED: list[tuple[Loader, Path, str, str]] = [
    (
        load_toxicn,
        TOXICN_PATH,
        'content,toxic,toxic_type,expression,target\nhi,1,0,0,"[0, 0, 0, 0, 0, 1]"\n',
        "row 1: unexpected toxic/toxic_type/expression/target",
    ),
    (
        load_toxicn,
        TOXICN_PATH,
        'content,toxic,toxic_type,expression,target\nhi,0,0,0,"[0, 1]"\n',
        "row 1: unexpected target",
    ),
    (
        load_hatebr,
        HATEBR_PATH,
        "id,comentario,anotator1,anotator2,anotator3,label_final\n1,oi,1,1,0,0\n",
        "row 1: unexpected label_final/annotators",
    ),
    (load_id_hate, ID_HATE_PATH, _ID_HEADER + "hai,0,0,1,0,0,0,0,0,0,0,0,0\n", "row 1"),
    (load_id_hate, ID_HATE_PATH, _ID_HEADER + "hai,1,0,1,1,0,0,0,0,1,1,0,0\n", "row 1"),
    (load_fortuna, FORTUNA_PATH, _FORTUNA_HEADER + "oi,1" + ",0" * 11 + "\n", "row 1"),
    (load_fortuna, FORTUNA_PATH, _FORTUNA_HEADER + "oi,0,1" + ",0" * 10 + "\n", "row 1"),
    (
        load_offenseval,
        OFFENSEVAL_DIR / "offenseval2020_tr.csv",
        "id,text,label,split\n7,merhaba,MAYBE,train\n",
        "row 1: unexpected label 'MAYBE'",
    ),
    (
        load_offenseval,
        OFFENSEVAL_DIR / "offenseval2020_tr.csv",
        "id,text,label,split\n7,merhaba,OFF,final\n",
        "row 1: unexpected split 'final'",
    ),
    (
        load_germeval2021,
        GERMEVAL2021_PATHS["train"],
        "comment_id,comment_text,Sub1_Toxic\n1,hallo,2\n",
        "row 1: unexpected Sub1_Toxic '2'",
    ),
    (load_lhsab, LHSAB_PATH, "Tweet\tClass\nمرحبا\tspam\n", "row 1: unexpected Class 'spam'"),
    (
        load_vihsd,
        VIHSD_DIR / "train.csv",
        "free_text,label_id\nxin chao,3\n",
        "row 1: unexpected label_id '3'",
    ),
    (
        load_offcombr,
        OFFCOMBR_DIR / "OffComBR2.arff",
        "@relation data\n@data\nyes,'ola'\nmaybe,'ola'\n",
        "row 4: unexpected line",
    ),
    (load_offcombr, OFFCOMBR_DIR / "OffComBR2.arff", "@relation data\n", "no @data section"),
    (load_hatebr, HATEBR_PATH, "id,texto\n1,oi\n", "missing columns"),
]


@pytest.mark.parametrize(("loader", "relative", "content", "message"), MALFORMED)
def test_rejects_a_malformed_file_naming_it(
    tmp_path: Path, loader: Loader, relative: Path, content: str, message: str
) -> None:
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: {re.escape(message)}"):
        loader(tmp_path)


@pytest.mark.parametrize("corpus", CORPORA, ids=[corpus.family for corpus in CORPORA])
def test_a_missing_file_names_it(tmp_path: Path, corpus: Corpus) -> None:
    with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path))}/eval_only/.*: not found"):
        corpus.load(tmp_path)


def test_no_eval_only_text_reaches_training_or_its_vocabulary(
    data_dir: Path, by_source: dict[str, list[TextExample]]
) -> None:
    """Training rows hold no eval-only text (a text that occurs in a training corpus too is
    left out of the check), and the texts the pruned vocabulary is chosen from are exactly
    the training corpora's rows (the first v2 added every eval-only text)."""
    from retrain.text import TextTrainConfig, load_training_data, vocabulary_texts

    config = TextTrainConfig()
    data = load_training_data(data_dir, config)
    own = {ex.text for ex in data.splits.train + data.splits.dev + data.splits.test}
    measured = {ex.text for rows in by_source.values() for ex in rows} - own
    assert len(measured) > 100_000
    assert not measured & {ex.text for ex in data.train}
    splits = data.splits
    corpus_rows = len(data.train) + len(splits.dev) + len(splits.test)
    assert len(vocabulary_texts(data, config)) == corpus_rows
