"""The load generator (``bench/load.py``) end to end at a tiny rate: it starts ``modgate serve``
as a child process, drives it open loop with the mixed posts and writes its three results
files. Correctness only: every post answered, figures consistent; no timing assertions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.load import LoadConfig, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _phases(result: dict[str, Any]) -> list[dict[str, Any]]:
    spike = result["spike"]
    return [
        result["budget"]["phase"],
        *result["sweep"],
        *result["search"]["phases"],
        *spike["segments"].values(),
        spike["whole"],
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("load-results")
    config = LoadConfig(
        rates=(20.0,),
        seconds=2.0,
        budget_rate=20.0,
        image_share=0.2,
        search_steps=0,
        spike_base=10.0,
        spike_seconds=1.0,
        warmup_s=1.0,
        idle_s=0.5,
        label="test",
        results_dir=out,
    )
    return run(config), out


def test_every_post_of_a_tiny_load_gets_a_verdict(tiny_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = tiny_run
    assert result["gateway"]["started_by_bench"]
    for phase in _phases(result):
        assert phase["errors"] == {}, phase
        assert phase["error_rate"] == 0
        assert sum(phase["actions"].values()) == phase["posts"]
        assert sum(kind["posts"] for kind in phase["by_kind"].values()) == phase["posts"]
    assert result["budget"]["phase"]["posts"] == 40
    assert result["sweep"][0]["posts"] == 40
    assert result["spike"]["whole"]["posts"] == 10 + 30 + 10
    assert sum(row["sent"] for row in result["spike"]["timeline"]) == 50


def test_percentiles_are_ordered(tiny_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = tiny_run
    for phase in _phases(result):
        lat = phase["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"], lat
        assert phase["server_ms"]["p50"] <= phase["server_ms"]["p99"]


def test_image_posts_reach_the_image_models(tiny_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = tiny_run
    assert {"text", "spam", "nsfw"} <= set(result["models"])
    assert result["budget"]["phase"]["ocr"] == {}  # the text+spam phase carries no images
    assert (
        sum(result["sweep"][0]["ocr"].values()) == result["sweep"][0]["by_kind"]["image"]["posts"]
    )


def test_writes_json_markdown_and_plot(tiny_run: tuple[dict[str, Any], Path]) -> None:
    result, out = tiny_run
    stored = json.loads((out / "load-test.json").read_text())
    assert stored["sweep"] == result["sweep"]
    assert stored["machine"]["cores"] >= 1
    assert stored["config"]["image_share"] == 0.2
    markdown = (out / "load-test.md").read_text()
    assert "text+spam p99 at 20/s" in markdown
    assert "Highest sustainable rate" in markdown
    assert "shares the machine's cores" in markdown
    assert (out / "load-test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
