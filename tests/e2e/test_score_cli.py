"""``modgate score`` end to end as a process: JSONL in, one verdict line per post out, through
the serving path (normalization, language id, shipped models, policy); bad lines are named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MODGATE = [sys.executable, "-m", "modgate"]
POSTS = [
    {"id": "clean", "text": "Thanks for the recipe, the cake turned out great"},
    {"id": 7, "text": "Muslims are vermin and should be wiped out"},
    {"id": "de", "text": "Vielen Dank für die schnelle Hilfe!", "region": "DE"},
    {"id": "evasive", "text": "y0u are a stup1d b!tch"},
    {"id": "empty", "text": ""},
]


def _run(tmp_path: Path, lines: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [*MODGATE, "score", "--in", str(src), "--out", str(dst), "--batch-size", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc, dst


def test_scores_every_line_in_order_through_the_serving_path(tmp_path: Path) -> None:
    proc, dst = _run(tmp_path, [json.dumps(p, ensure_ascii=False) for p in POSTS])
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["clean", "7", "de", "evasive", "empty"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["clean"]["action"] == "allow"
    assert by_id["7"]["action"] in ("remove", "defer")
    assert by_id["7"]["scores"]["hate"] > by_id["clean"]["scores"]["hate"]
    assert set(by_id["clean"]["scores"]) == {
        "toxicity",
        "insult",
        "threat",
        "hate",
        "sexual",
        "self_harm",
        "spam",
    }
    assert by_id["de"]["language"] == "de"
    assert by_id["clean"]["language"] == "en"
    assert by_id["evasive"]["normalized"] == "leet"
    assert by_id["empty"]["scores"] == {}
    summary = json.loads(proc.stdout)
    assert summary["rows"] == 5


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("{not json", "line 2"),
        ('{"id": "x"}', "line 2: text"),
        ('{"id": "x", "text": 5}', "line 2: text"),
        ('{"id": "x", "text": "hi", "colour": "red"}', "line 2: colour"),
        ('{"text": "hi"}', "line 2: id"),
    ],
)
def test_a_bad_line_stops_the_job_naming_line_and_field(
    tmp_path: Path, line: str, field: str
) -> None:
    proc, _ = _run(tmp_path, [json.dumps(POSTS[0]), line])
    assert proc.returncode == 2
    assert field in proc.stderr
