"""Run every micro-benchmark and write ``bench/results/micro-<host kind>.{json,md}``.

``python -m bench.micro [--label cpu]``: pytest-benchmark runs ``bench/micro`` and saves its
JSON (which carries machine_info); a Markdown table (median, p99 estimate, ops/s) with the
machine described is written beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from bench.report import condense, render_micro

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="cpu", help="suffix of the results files")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"micro-{args.label}.json"
    code = pytest.main(
        [
            str(Path(__file__).parent),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={json_path}",
            "--benchmark-min-rounds=200",
            "--benchmark-warmup=on",
            "--benchmark-save-data",
        ]
    )
    if code != 0:
        return int(code)
    condense(json_path)
    md_path = json_path.with_suffix(".md")
    md_path.write_text(render_micro(json_path))
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
