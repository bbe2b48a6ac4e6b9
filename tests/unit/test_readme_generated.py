"""README.md's Performance and Quality sections are exactly what ``modgate bench readme``
builds from the committed ``bench/results/`` files: no number in the README lacks a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.readme import README, RESULTS, render


def test_readme_sections_match_the_results_files() -> None:
    current = README.read_text(encoding="utf-8")
    assert render(current, RESULTS) == current, "run `modgate bench readme` (make readme)"


def test_a_missing_section_marker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="generated:performance"):
        render("# a README without markers\n", tmp_path)
