"""Reading the first four corpora onto our heads, and splitting text corpora by group.

Most tests read the real data under ``../shared/data`` (or ``MODGATE_DATA_DIR``) once per
module and skip with the reason when it is absent; the malformed-file tests write their own.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from retrain.corpora.seed import CORPORA as SEED_CORPORA
from retrain.corpora.seed import LABEL_MAPPING, load_davidson, load_germeval
from retrain.errors import DataError
from retrain.text_data import (
    LABELS,
    TextExample,
    TextSplits,
    clean_tweet,
    label_matrix,
    label_summary,
    load_text_corpora,
    sample_per_source,
    split_text_corpora,
)
from tests.conftest import shared_data

SEED = 20261121
SOURCES = tuple(name for corpus in SEED_CORPORA for name in corpus.sources)
# Rows per source after dropping duplicate texts: (at least, at most = rows in the file).
ROW_RANGES = {
    "davidson": (24_500, 24_783),
    "germeval2018": (8_400, 5_009 + 3_532),
    "mlma_en": (5_550, 5_647),
    "mlma_fr": (3_990, 4_014),
    "mlma_ar": (3_330, 3_353),
    **{f"mhc_{lang}": (3_450, 3_800) for lang in ("ar", "nl", "fr", "de", "hi", "it")},
}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return shared_data("davidson/labeled_data.csv")


@pytest.fixture(scope="module")
def corpora(data_dir: Path) -> list[TextExample]:
    return load_text_corpora(data_dir, corpora=SEED_CORPORA)


@pytest.fixture(scope="module")
def by_id(corpora: list[TextExample]) -> dict[str, TextExample]:
    return {ex.row_id: ex for ex in corpora}


@pytest.fixture(scope="module")
def splits(corpora: list[TextExample]) -> TextSplits:
    return split_text_corpora(corpora, seed=SEED)


def labels_of(ex: TextExample) -> tuple[int | None, ...]:
    """(toxicity, hate): the two heads every one of these sources speaks for."""
    return ex.labels["toxicity"], ex.labels["hate"]


def ids(examples: Sequence[TextExample]) -> list[str]:
    return [ex.row_id for ex in examples]


def test_reads_every_source_with_the_documented_row_counts(corpora: list[TextExample]) -> None:
    counts = Counter(ex.source for ex in corpora)
    assert set(counts) == set(SOURCES) == set(LABEL_MAPPING) == set(ROW_RANGES)
    for source, (low, high) in ROW_RANGES.items():
        assert low <= counts[source] <= high, source
    assert all(set(rules) == set(LABELS) for rules in LABEL_MAPPING.values())


def test_keeps_no_empty_text_and_no_duplicate_text_within_a_source(
    corpora: list[TextExample],
) -> None:
    assert all(ex.text.strip() == ex.text and ex.text for ex in corpora)
    assert len({(ex.source, ex.text) for ex in corpora}) == len(corpora)
    assert len({ex.row_id for ex in corpora}) == len(corpora)


@pytest.mark.parametrize(
    ("row_id", "text", "labels"),
    [
        (
            "davidson:0",
            "!!! @user: As a woman you shouldn't complain about cleaning up your house. "
            "& as a man you should always take the trash out...",
            (0, 0),
        ),
        ("davidson:1", None, (1, 0)),
        ("davidson:85", '"@user: @user @user queer" gaywad', (1, 1)),
        ("germeval2018:train:1", "@user Liebe Corinna, wir würden dich gerne", (0, 0)),
        ("germeval2018:train:5", "@user kein verläßlicher Verhandlungspartner.", (1, None)),
        ("germeval2018:test:1", "Meine Mutter hat mir erzählt", (0, 0)),
        ("mlma_en:1", "call sis im boy girl still faggot shut", (1, None)),  # offensive
        ("mlma_en:3", "said retard http", (1, 1)),  # ..._hateful, target disability
        ("mlma_en:4", None, (None, None)),  # ..._hateful_disrespectful_normal: annotators split
        ("mlma_en:16", None, (0, 0)),  # normal
        ("mlma_en:39", None, (1, None)),  # hostile, target other
        ("mhc_de:german-1", "Ich hasse Frauen.", (1, 1)),  # derog_neg_emote_h
        ("mhc_de:german-3491", "Ich h4sse Frauen.", (1, 1)),  # spell_leet_h
        ("mhc_de:german-1106", "Verdammte Scheiße, was für ein Tag.", (1, 0)),  # profanity_nh
        ("mhc_de:german-2771", "Ich hasse dich.", (1, 0)),  # target_indiv_nh
        ("mhc_de:german-2706", "Ich hasse Pizza.", (0, 0)),  # target_obj_nh
        ("mhc_de:german-1626", None, (0, 0)),  # negate_neg_nh
        ("mhc_de:german-2396", None, (None, 0)),  # counter_quote_nh
    ],
)
def test_maps_known_rows_onto_our_labels(
    by_id: dict[str, TextExample], row_id: str, text: str | None, labels: tuple[int | None, ...]
) -> None:
    ex = by_id[row_id]
    assert labels_of(ex) == labels
    assert text is None or ex.text.startswith(text)


def test_germeval_never_claims_hate_and_knows_insults(corpora: list[TextExample]) -> None:
    germeval = [ex for ex in corpora if ex.source == "germeval2018"]
    assert {ex.labels["hate"] for ex in germeval} == {None, 0}
    assert all(
        ex.labels["hate"] is None
        for ex in germeval
        if ex.labels["toxicity"] == 1 and ex.labels["insult"] != 0
    )
    assert {ex.labels["insult"] for ex in germeval} == {None, 0, 1}
    assert {ex.language for ex in germeval} == {"de"}


def test_mhc_threat_cases_teach_the_threat_head(by_id: dict[str, TextExample]) -> None:
    threats = [ex for ex in by_id.values() if ex.functionality.startswith("threat_")]
    assert threats
    assert all(ex.labels["threat"] == 1 for ex in threats)
    assert by_id["mhc_de:german-1"].labels["threat"] == 0  # derogation, not a threat
    assert by_id["mhc_de:german-3491"].labels["threat"] is None  # spelling variant: untyped
    assert by_id["mhc_de:german-2771"].labels["insult"] == 1  # "Ich hasse dich."
    assert set(by_id["mhc_de:german-2706"].labels.values()) == {0}  # "Ich hasse Pizza."


def test_groups_each_mhc_template_across_its_languages(by_id: dict[str, TextExample]) -> None:
    german, french = by_id["mhc_de:german-1"], by_id["mhc_fr:french-1"]
    assert german.group == french.group == "mhc:1"
    assert (german.functionality, german.language, french.language) == (
        "derog_neg_emote_h",
        "de",
        "fr",
    )
    assert by_id["davidson:0"].group == "davidson:0"
    assert by_id["davidson:0"].functionality == ""


def test_label_summary_counts_known_and_unknown(corpora: list[TextExample]) -> None:
    summary = label_summary(corpora)
    rows = Counter(ex.source for ex in corpora)
    positive, negative, unknown = summary["germeval2018"]["hate"]
    assert positive == 0
    assert negative + unknown == rows["germeval2018"]
    assert 0.60 < negative / rows["germeval2018"] < 0.70  # OTHER and PROFANITY
    positive, negative, unknown = summary["davidson"]["toxicity"]
    assert positive + negative + unknown == rows["davidson"]
    assert 0.80 < positive / rows["davidson"] < 0.86


def test_split_keeps_every_group_in_one_split_and_every_row_once(
    corpora: list[TextExample], splits: TextSplits
) -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for name, part in (("train", splits.train), ("dev", splits.dev), ("test", splits.test)):
        for ex in part:
            where[ex.group].add(name)
    assert all(len(names) == 1 for names in where.values())
    all_ids = ids(splits.train) + ids(splits.dev) + ids(splits.test)
    assert sorted(all_ids) == sorted(ids(corpora))


def test_split_holds_out_the_test_share_of_davidson(splits: TextSplits) -> None:
    sizes = [sum(ex.source == "davidson" for ex in part) for part in (splits.dev, splits.test)]
    total = sizes[0] + sizes[1] + sum(ex.source == "davidson" for ex in splits.train)
    assert sizes[0] / total == pytest.approx(0.1, abs=0.002)
    assert sizes[1] / total == pytest.approx(0.2, abs=0.002)


def test_split_keeps_each_sources_positive_rates(splits: TextSplits) -> None:
    for source in SOURCES:
        tolerance = 0.05 if source.startswith("mhc_") else 0.01  # whole templates move together
        for name in LABELS:
            rates = []
            for part in (splits.train, splits.dev, splits.test):
                values = [ex.labels[name] for ex in part if ex.source == source]
                known = [value for value in values if value is not None]
                if known:
                    rates.append(sum(known) / len(known))
            assert max(rates, default=0) - min(rates, default=0) < tolerance, (source, name)


def test_split_is_seeded_and_ignores_loading_order(
    corpora: list[TextExample], splits: TextSplits
) -> None:
    shuffled = list(corpora)
    random.Random(7).shuffle(shuffled)
    again = split_text_corpora(shuffled, seed=SEED)
    assert ids(again.test) == ids(splits.test)
    assert ids(again.dev) == ids(splits.dev)
    other = split_text_corpora(corpora, seed=SEED + 1)
    assert ids(other.test) != ids(splits.test)


def test_a_sources_split_does_not_depend_on_the_other_sources(
    data_dir: Path, splits: TextSplits
) -> None:
    alone = split_text_corpora(load_davidson(data_dir), seed=SEED)
    assert ids(alone.test) == [row for row in ids(splits.test) if row.startswith("davidson:")]


def test_rejects_impossible_split_shares(corpora: list[TextExample]) -> None:
    with pytest.raises(ValueError, match="share"):
        split_text_corpora(corpora[:10], seed=1, dev_share=0.5, test_share=0.5)


def test_label_matrix_masks_unknown_labels(by_id: dict[str, TextExample]) -> None:
    rows = [by_id["davidson:85"], by_id["germeval2018:train:5"], by_id["mlma_en:4"]]
    targets, mask = label_matrix(rows, labels=("toxicity", "hate"))
    assert targets.dtype == mask.dtype == np.float32
    np.testing.assert_array_equal(targets, [[1, 1], [1, 0], [0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1], [1, 0], [0, 0]])
    hate_only, hate_mask = label_matrix(rows, labels=("hate",))
    assert hate_only.shape == hate_mask.shape == (3, 1)
    assert label_matrix([])[0].shape == (0, len(LABELS))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("RT @mayasolovely: As a woman &amp; a man", "@user: As a woman & a man"),
        ("&#8220;@Tha_Real_Dre: ok&#8221; &#128514;", "“@user: ok” 😂"),
        ("look http://t.co/abc123 and www.example.com/x", "look http and http"),
        ("truncated http://t.co/&#8230;", "truncated http"),
        ("said retard @url", "said retard http"),
        ("Erste Zeile|LBR|zweite   Zeile\n", "Erste Zeile zweite Zeile"),
        ("double &amp;#9773; escape, mail me at a@b.de", "double ☭ escape, mail me at a@b.de"),
        ("@user @user already anonymised", "@user @user already anonymised"),
    ],
)
def test_clean_tweet_unescapes_and_anonymises(raw: str, clean: str) -> None:
    assert clean_tweet(raw) == clean


def test_sample_per_source_caps_each_source_and_keeps_label_balance(
    corpora: list[TextExample],
) -> None:
    sample = sample_per_source(corpora, max_per_source=200, seed=SEED)
    counts = Counter(ex.source for ex in sample)
    assert counts == dict.fromkeys(SOURCES, 200)
    davidson = [labels_of(ex) for ex in sample if ex.source == "davidson"]
    assert 0.78 < sum(tox == 1 for tox, _ in davidson) / 200 < 0.88
    assert ids(sample) == ids(sample_per_source(corpora, max_per_source=200, seed=SEED))
    assert set(ids(sample)) <= set(ids(corpora))


def test_sample_per_source_takes_caps_by_source_or_family(corpora: list[TextExample]) -> None:
    sample = sample_per_source(corpora, max_per_source={"mhc": 50, "davidson": 10}, seed=1)
    counts = Counter(ex.source for ex in sample)
    assert counts["davidson"] == 10
    assert all(counts[f"mhc_{lang}"] == 50 for lang in ("ar", "nl", "fr", "de", "hi", "it"))
    assert counts["germeval2018"] == sum(ex.source == "germeval2018" for ex in corpora)
    assert sample_per_source(corpora, max_per_source=None, seed=1) == corpora


def test_loads_only_the_requested_sources(data_dir: Path) -> None:
    assert {ex.source for ex in load_text_corpora(data_dir, sources=["mlma_fr"])} == {"mlma_fr"}
    with pytest.raises(ValueError, match="unknown text sources"):
        load_text_corpora(data_dir, sources=["reddit"])


def test_rejects_unknown_davidson_class(tmp_path: Path) -> None:
    (tmp_path / "davidson").mkdir()
    (tmp_path / "davidson" / "labeled_data.csv").write_text(",class,tweet\n7,3,hello\n")
    with pytest.raises(DataError, match="row 1: unexpected class '3'"):
        load_davidson(tmp_path)


def test_reads_germeval_quotes_verbatim_and_rejects_unknown_labels(tmp_path: Path) -> None:
    folder = tmp_path / "germeval2018"
    folder.mkdir()
    (folder / "germeval2018.training.txt").write_text('"Zitat" ohne Ende\tOTHER\tOTHER\n')
    (folder / "germeval2018.test.txt").write_text("Du Depp\tOFFENSE\tINSULT\n")
    rows = load_germeval(tmp_path)
    assert [(ex.text, labels_of(ex)) for ex in rows] == [
        ('"Zitat" ohne Ende', (0, 0)),
        ("Du Depp", (1, None)),
    ]
    (folder / "germeval2018.test.txt").write_text("Du Depp\tHATE\tINSULT\n")
    with pytest.raises(DataError, match="row 1"):
        load_germeval(tmp_path)
