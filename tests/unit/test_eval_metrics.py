"""``retrain.evaluate`` without a model: unintended-bias metrics on a hand-computed example,
label mapping, the CSV / TSV / JSONL readers and their errors, verdict summaries, and the
promotion gate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from retrain.errors import EvalInputError
from retrain.eval_data import EvalColumns, LabelSpec, read_rows
from retrain.evaluate import _group, _Table, bias_metrics, gate, generalized_mean

# Hand-built: (gold, score, identity groups). Subgroup a = rows 0-3, b = rows 4-6.
BIAS_ROWS = [
    (0, 0.1, ("a",)),
    (0, 0.6, ("a",)),
    (1, 0.4, ("a",)),
    (1, 0.9, ("a",)),
    (0, 0.2, ("b",)),
    (1, 0.3, ("b",)),
    (1, 0.8, ("b",)),
    (0, 0.5, ()),
    (1, 0.7, ()),
]


def _bias_inputs() -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    y = np.array([r[0] for r in BIAS_ROWS])
    p = np.array([r[1] for r in BIAS_ROWS])
    return y, p, [r[2] for r in BIAS_ROWS]


def _aucs(subgroup: dict[str, float]) -> tuple[float, float, float]:
    return subgroup["subgroup_auc"], subgroup["bpsn_auc"], subgroup["bnsp_auc"]


def _power_mean(a: float, b: float) -> float:
    return ((a**-5 + b**-5) / 2) ** (-1 / 5)


def test_bias_metrics_match_hand_computed_aucs() -> None:
    y, p, ids = _bias_inputs()
    result = bias_metrics(y, p, ids, min_size=3)
    assert result is not None
    by_group = {s["subgroup"]: s for s in result["subgroups"]}
    # a: positives {.4, .9} over negatives {.1, .6}: 3 of 4 pairs ranked right.
    # BPSN a: a's negatives {.1, .6} vs background positives {.3, .8, .7}: 5 of 6.
    # BNSP a: a's positives {.4, .9} vs background negatives {.2, .5}: 3 of 4.
    assert by_group["a"]["n"] == 4
    assert _aucs(by_group["a"]) == pytest.approx((0.75, 5 / 6, 0.75))
    # b: {.3, .8} over {.2}: 2/2; BPSN {.2} vs {.4, .9, .7}: 3/3; BNSP {.3, .8} vs
    # {.1, .6, .5}: 4 of 6.
    assert by_group["b"]["n"] == 3
    assert _aucs(by_group["b"]) == pytest.approx((1.0, 1.0, 4 / 6))
    assert [s["subgroup"] for s in result["subgroups"]] == ["a", "b"]  # worst subgroup AUC first
    assert result["overall_auc"] == pytest.approx(0.8)  # 16 of 20 positive / negative pairs
    means = result["generalized_means"]
    assert means["subgroup_auc"] == pytest.approx(_power_mean(0.75, 1.0))
    assert means["subgroup_auc"] == pytest.approx(0.825604, abs=1e-6)
    assert means["bpsn_auc"] == pytest.approx(_power_mean(5 / 6, 1.0))
    assert means["bnsp_auc"] == pytest.approx(_power_mean(0.75, 4 / 6))
    expected_final = 0.25 * 0.8 + 0.25 * (
        _power_mean(0.75, 1.0) + _power_mean(5 / 6, 1.0) + _power_mean(0.75, 4 / 6)
    )
    assert result["final"] == pytest.approx(expected_final)
    assert result["skipped_subgroups"] == {}


def test_bias_metrics_skip_small_and_one_class_subgroups() -> None:
    y, p, ids = _bias_inputs()
    result = bias_metrics(y, p, ids, min_size=4)
    assert result is not None
    assert [s["subgroup"] for s in result["subgroups"]] == ["a"]
    assert result["skipped_subgroups"] == {"b": 3}
    assert result["generalized_means"]["bpsn_auc"] == pytest.approx(5 / 6)
    # Rows may name several groups. Group c (every negative row) has no subgroup AUC: skipped.
    with_c = [(*g, "c") if label == 0 else g for label, g in zip(y, ids, strict=True)]
    result = bias_metrics(y, p, with_c, min_size=1)
    assert result is not None
    assert result["skipped_subgroups"] == {"c": 4}
    assert _aucs(result["subgroups"][0]) == pytest.approx((0.75, 5 / 6, 0.75))
    assert bias_metrics(y, p, [()] * len(y)) is None  # no identities at all


def test_generalized_mean_with_negative_power_leans_to_the_worst() -> None:
    assert generalized_mean([0.8, 0.8]) == pytest.approx(0.8)
    value = generalized_mean([0.5, 1.0])
    assert value == pytest.approx((0.5 * (2**5 + 1)) ** (-1 / 5))
    assert 0.5 < value < 0.6  # far below the arithmetic mean, 0.75


def test_label_spec_parses_value_lists_flags_and_bare_names() -> None:
    spec = LabelSpec.parse("toxicity=class:0, 1")
    assert spec == LabelSpec("toxicity", "class", frozenset({"0", "1"}))
    assert [spec.gold(c) for c in ("0", "1", "2", " 1 ", "", "None", "null")] == [
        1,
        1,
        0,
        1,
        None,
        None,
        None,
    ]
    flag = LabelSpec.parse("hate=is_hate")
    assert flag == LabelSpec("hate", "is_hate", None)
    cells = ("1", "0", "true", "FALSE", "yes", "No", "", "NULL")
    assert [flag.gold(c) for c in cells] == [1, 0, 1, 0, 1, 0, None, None]
    with pytest.raises(ValueError, match="maybe"):
        flag.gold("maybe")
    assert LabelSpec.parse("hate") == LabelSpec("hate", "hate", None)


@pytest.mark.parametrize("bad", ["=col", "toxicity=", "toxicity=class:", "toxicity=class: ,"])
def test_label_spec_rejects_malformed_mappings(bad: str) -> None:
    with pytest.raises(EvalInputError, match="--label"):
        LabelSpec.parse(bad)


COLUMNS = EvalColumns(
    labels=(LabelSpec.parse("toxicity=class:1,2"), LabelSpec.parse("hate=hate")),
    text="tweet",
    language="lang",
    functionality="functionality",
    identity="target",
    by=("source",),
)
CSV_TEXT = (
    "tweet,class,hate,lang,functionality,target,source\n"
    'you idiot,1,no,EN,,,"x"\n'
    '"a quoted, text",0,,de,slur_h,women; muslims ,y\n'
    "thanks,2,yes,,ident_neutral_nh,women,x\n"
)


def test_reads_csv_with_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    rows = read_rows(path, COLUMNS)
    assert [r.text for r in rows] == ["you idiot", "a quoted, text", "thanks"]
    assert [r.gold for r in rows] == [(1, 0), (0, None), (1, 1)]
    assert [r.line for r in rows] == [2, 3, 4]
    assert [r.language for r in rows] == ["en", "de", ""]
    assert rows[1].identities == ("muslims", "women")
    assert rows[1].functionality == "slur_h"
    assert [r.by for r in rows] == [("x",), ("y",), ("x",)]
    assert len(read_rows(path, COLUMNS, limit=2)) == 2


def test_reads_tsv_by_suffix_or_delimiter(tmp_path: Path) -> None:
    tsv = tmp_path / "rows.tsv"
    tsv.write_text(CSV_TEXT.replace(",", "\t").replace('"a quoted\t text"', "a text"), "utf-8")
    assert [r.text for r in read_rows(tsv, COLUMNS)][1] == "a text"
    semi = tmp_path / "rows.txt"
    semi.write_text("text;hate\nhello;0\n", encoding="utf-8")
    rows = read_rows(semi, EvalColumns(labels=(LabelSpec.parse("hate"),)), delimiter=";")
    assert rows[0].text == "hello"
    assert rows[0].gold == (0,)


def test_reads_jsonl_with_nulls_numbers_and_identity_lists(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    records = [
        {"tweet": "hi", "class": 1, "hate": None, "lang": "fr", "functionality": "",
         "target": ["jews", "women"], "source": "s"},
        {"tweet": "yo", "class": 0.0, "hate": True, "lang": None, "functionality": "f",
         "target": "", "source": 3},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    rows = read_rows(path, COLUMNS)
    assert [r.gold for r in rows] == [(1, None), (0, 1)]
    assert rows[0].identities == ("jews", "women")
    assert rows[1].language == ""
    assert rows[1].by == ("3",)
    assert [r.line for r in rows] == [1, 2]


def _error(tmp_path: Path, name: str, content: str, columns: EvalColumns = COLUMNS) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalInputError) as info:
        read_rows(path, columns)
    assert str(path) in str(info.value)
    return str(info.value)


def test_reader_errors_name_file_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(EvalInputError, match="no such file"):
        read_rows(tmp_path / "absent.csv", COLUMNS)
    header = "tweet,class,hate,lang,functionality,target,source\n"
    message = _error(tmp_path, "a.csv", "tweet,class,hate\nhi,1,0\n")
    assert "line 1" in message
    assert "column 'lang'" in message
    assert "missing column" in message
    message = _error(tmp_path, "b.csv", header + "ok,1,0,en,,,s\nhi,1,maybe,en,,,s\n")
    assert "line 3, column 'hate'" in message
    assert "'maybe'" in message
    message = _error(tmp_path, "c.csv", header + "  ,1,0,en,,,s\n")
    assert "line 2, column 'tweet'" in message
    assert "empty text" in message
    assert "no rows" in _error(tmp_path, "d.csv", header)
    line = json.dumps({"tweet": "hi", "class": 1, "hate": 0, "lang": "en"})
    message = _error(tmp_path, "e.jsonl", line + "\n")
    assert "line 1, column 'functionality'" in message
    message = _error(tmp_path, "f.jsonl", '{"tweet": "x"\n')
    assert "line 1" in message
    assert "not valid JSON" in message


def _table(gold: list[list[float]], actions: list[str]) -> _Table:
    n = len(gold)
    return _Table(
        labels=("toxicity", "hate"),
        gold=np.array(gold, dtype=float),
        scores=np.array([[0.95, 0.1], [0.95, 0.6], [0.7, 0.1], [0.1, 0.1], [0.95, 0.2]]),
        defer_at=np.full((n, 2), 0.5),
        remove_at=np.tile([0.9, math.inf], (n, 1)),
        actions=np.array(actions),
    )


def test_group_summary_counts_false_positive_removals_and_defer_shares() -> None:
    nan = math.nan
    t = _table(
        [[1, 0], [0, 0], [0, nan], [0, 0], [nan, nan]],
        ["remove", "remove", "defer", "allow", "remove"],
    )
    out = _group(t, np.arange(5))
    assert out["verdicts"] == {"allow": 0.2, "defer": 0.2, "remove": 0.6}
    assert out["removals"] == 3
    # Removed with a known label: rows 0 (toxic) and 1 (all labels 0); row 4 is unlabelled.
    assert out["removal_fp_rate"] == 0.5
    assert out["defer_share_gold_negative"] == pytest.approx(1 / 3)  # rows 1, 2, 3
    assert out["defer_share_gold_positive"] == 0.0
    tox = out["labels"]["toxicity"]
    assert (tox["n"], tox["positives"], tox["removed"]) == (4, 1, 2)
    assert tox["removal_fp_share"] == 0.5
    # Flagged (>= 0.5): rows 0, 1, 2, of which only row 0 is toxic: P = 1/3, R = 1.
    assert tox["f1_at_defer"] == pytest.approx(0.5)
    assert tox["f1_at_remove"] == pytest.approx(2 / 3)  # removed rows 0, 1: P = 1/2, R = 1
    hate = out["labels"]["hate"]
    assert hate["f1_at_remove"] is None  # hate never removes under this policy
    assert hate["removal_recall"] is None


def test_a_removal_a_hate_only_set_cannot_judge_is_not_counted_false() -> None:
    """Row 1 says only "not hate" and was removed for toxicity: it may be offensive without
    being hateful, so it is unjudged (the old rule, all known labels 0, called it false)."""
    nan = math.nan
    t = _table(
        [[1, 0], [nan, 0], [0, nan], [0, 0], [nan, nan]],
        ["remove", "remove", "defer", "allow", "remove"],
    )
    out = _group(t, np.arange(5))
    assert out["removals"] == 3
    assert out["removals_judged"] == 1  # row 0 only
    assert out["removal_fp_rate"] == 0.0


def _result(auc: float | None, fp: float | None) -> dict[str, object]:
    return {"overall": {"labels": {"toxicity": {"roc_auc": auc}}, "removal_fp_rate": fp}}


def test_gate_promotes_a_better_candidate_that_removes_no_worse() -> None:
    decision = gate(_result(0.93, 0.01), _result(0.92, 0.01), label="toxicity")
    assert decision.promote
    assert "beats" in decision.reasons[0]
    assert gate(_result(0.93, None), _result(0.92, None), label="toxicity").promote


def test_gate_refuses_lower_auc_or_more_false_positive_removals() -> None:
    worse_auc = gate(_result(0.92, 0.0), _result(0.92, 0.01), label="toxicity")
    assert not worse_auc.promote
    assert "does not beat" in worse_auc.reasons[0]
    more_fp = gate(_result(0.95, 0.03), _result(0.92, 0.01), label="toxicity")
    assert not more_fp.promote
    assert "above" in more_fp.reasons[1]
    tolerated = gate(
        _result(0.95, 0.03), _result(0.92, 0.01), label="toxicity", max_fp_increase=0.02
    )
    assert tolerated.promote
    assert not gate(_result(None, 0.0), _result(0.9, 0.0), label="toxicity").promote
    assert not gate(_result(0.95, 0.0), _result(0.9, 0.0), label="hate").promote
