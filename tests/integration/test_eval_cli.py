"""``modgate eval`` end to end: a small labelled CSV through the real CLI, the shipped text
model, language detection and the reference policy; the report files and their numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modgate.cli import app
from modgate.settings import ARTIFACTS_DIR
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration

# (text, class, is_hate, functionality, target): class "offensive" / "hateful" is toxic.
ROWS = [
    ("You are a stupid worthless idiot", "offensive", "0", "", ""),
    ("Shut up you pathetic moron, nobody wants you here", "offensive", "0", "", ""),
    ("You are a disgusting piece of shit", "offensive", "0", "", ""),
    ("Go fuck yourself you dumb bitch", "offensive", "0", "", ""),
    ("What a brainless loser you are, absolute trash", "offensive", "0", "", ""),
    ("You ugly fat idiot, kill yourself", "offensive", "0", "", ""),
    ("Fuck off you clueless asshole", "offensive", "0", "", ""),
    ("You are such a fucking retard", "offensive", "0", "", ""),
    ("Women are stupid and belong in the kitchen", "hateful", "1", "derog_h", "women"),
    ("All Muslims are vermin and should be wiped out", "hateful", "1", "dehum_h", "muslims"),
    ("Women are worthless scum", "hateful", "1", "derog_h", "women"),
    ("Muslims are disgusting animals", "hateful", "1", "dehum_h", "muslims"),
    ("I hate women so much, they are all whores", "hateful", "1", "derog_h", "women"),
    ("Muslims are filthy rats who should die", "hateful", "1", "threat_h", "muslims"),
    ("Thanks for the recipe, the cake turned out great", "neither", "0", "", ""),
    ("The meeting is moved to Thursday at ten", "neither", "0", "", ""),
    ("I love walking my dog in the park on Sundays", "neither", "0", "", ""),
    ("Could you send me the slides from yesterday?", "neither", "0", "", ""),
    ("The train was late again this morning", "neither", "0", "", ""),
    ("Happy birthday, have a wonderful day!", "neither", "0", "", ""),
    ("We planted tomatoes and basil in the garden", "neither", "0", "", ""),
    ("The library opens at nine on weekdays", "neither", "0", "", ""),
    ("Great match last night, what a goal", "neither", "0", "", ""),
    ("I am a woman and proud of it", "neither", "0", "ident_pos_nh", "women"),
    ("My neighbours are Muslims and they are lovely people", "neither", "0", "ident_pos_nh",
     "muslims"),
    ("Many women work in science today", "neither", "0", "ident_neutral_nh", "women"),
    ("Muslims celebrate Eid at the end of Ramadan", "neither", "0", "ident_neutral_nh", "muslims"),
    ("Women deserve equal pay", "neither", "0", "ident_pos_nh", "women"),
    ("Du bist ein dummes Arschloch und ein Vollidiot", "offensive", "0", "", ""),
    ("Halt die Fresse, du blöde Schlampe", "offensive", "0", "", ""),
    ("Das Wetter ist heute wirklich schön und sonnig", "neither", "0", "", ""),
    ("Wir treffen uns morgen um zehn Uhr im Büro", "neither", "0", "", ""),
    ("Ich habe gestern ein sehr gutes Buch gelesen", "neither", "0", "", ""),
    ("Tu es un connard et un imbécile", "offensive", "0", "", ""),
    ("Ferme ta gueule, espèce de salope", "offensive", "0", "", ""),
    ("Le marché est ouvert tous les samedis matin", "neither", "0", "", ""),
    ("Nous avons visité le musée avec les enfants", "neither", "0", "", ""),
    ("Merci beaucoup pour votre aide, bonne journée", "neither", "0", "", ""),
    ("The concert tickets go on sale on Friday", "neither", "", "", ""),
    ("You absolute idiot, learn to read", "offensive", "", "", ""),
]  # fmt: skip


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ARTIFACTS_DIR / "text" / "model.onnx").is_file():
        skip_or_fail("shipped text model missing under models/artifacts/text")
    path = tmp_path_factory.mktemp("eval") / "small.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["post", "class", "is_hate", "functionality", "target", "split"])
        for i, row in enumerate(ROWS):
            writer.writerow([*row, "a" if i % 2 else "b"])
    return path


def _eval(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *(str(a) for a in args)])
    return result.exit_code, result.stdout, result.stderr


def test_eval_writes_a_report_with_clear_numbers(labelled_csv: Path, tmp_path: Path) -> None:
    code, out, err = _eval(
        labelled_csv,
        "--text-column", "post",
        "--label", "toxicity=class:offensive,hateful",
        "--label", "hate=is_hate",
        "--functionality-column", "functionality",
        "--identity-column", "target",
        "--by", "split",
        "--min-subgroup-size", "5",
        "--out", tmp_path / "report",
        "--name", "run",
    )  # fmt: skip
    assert code == 0, err
    json_path, md_path, png_path = (
        tmp_path / "report" / f"run{e}" for e in (".json", ".md", ".png")
    )
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert md_path.read_text(encoding="utf-8") in out + "\n"
    report = json.loads(json_path.read_text(encoding="utf-8"))

    assert report["meta"]["rows"] == len(ROWS)
    assert report["meta"]["batch_size"] == 32
    assert report["meta"]["language_source"] == "detected"
    overall = report["overall"]
    assert overall["labels"]["toxicity"]["n"] == len(ROWS)
    assert overall["labels"]["toxicity"]["roc_auc"] > 0.8
    assert overall["labels"]["hate"]["n"] == len(ROWS) - 2  # two rows leave hate unknown
    assert sum(overall["verdicts"].values()) == pytest.approx(1.0, abs=1e-3)
    assert {"en", "de", "fr"} <= set(report["by_language"])
    assert report["by_language"]["de"]["n"] == 5
    assert set(report["by"]["split"]) == {"a", "b"}
    functional = report["functionality"]
    assert functional["label"] == "hate"
    assert functional["n"] == 11
    assert {f["functionality"] for f in functional["functionalities"]} == {
        "derog_h", "dehum_h", "threat_h", "ident_pos_nh", "ident_neutral_nh"
    }  # fmt: skip
    bias = report["bias"]["toxicity"]
    assert {s["subgroup"] for s in bias["subgroups"]} == {"women", "muslims"}
    assert 0.0 < bias["final"] <= 1.0
    assert report["confusion"]["toxicity"]["positive"]["remove"] > 0
    assert "## Per language" in out
    assert "| de |" in out


def test_eval_names_a_missing_column_and_exits_2(labelled_csv: Path, tmp_path: Path) -> None:
    code, _, err = _eval(
        labelled_csv, "--text-column", "post", "--label", "toxicity=nope", "--out", tmp_path
    )
    assert code == 2
    assert "'nope'" in err
    assert "missing column" in err
    assert not list(tmp_path.iterdir())
