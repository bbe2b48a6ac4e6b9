"""Render benchmark JSON into Markdown tables that state the machine they ran on."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any


def _machine(info: dict[str, Any]) -> str:
    cpu = info.get("cpu", {})
    brand = cpu.get("brand_raw") or platform.processor() or "unknown CPU"
    cores = cpu.get("count", "?")
    system = f"{info.get('system', '')} {info.get('release', '')}"
    return f"{brand}, {cores} logical cores, {system}, Python {info.get('python_version', '')}"


def condense(json_path: Path) -> None:
    """Replace each benchmark's raw timings by their p99 (``stats.p99``), keeping files small."""
    doc = json.loads(json_path.read_text())
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        data = sorted(stats.pop("data", None) or [])
        if data:
            stats["p99"] = data[min(len(data) - 1, int(0.99 * len(data)))]
    json_path.write_text(json.dumps(doc, indent=1) + "\n")


def render_micro(json_path: Path) -> str:
    """A Markdown table of a pytest-benchmark JSON file: median, p99 (from the raw data), ops/s."""
    doc = json.loads(json_path.read_text())
    lines = [
        f"# Micro-benchmarks ({json_path.stem})",
        "",
        f"- Machine: {_machine(doc.get('machine_info', {}))}",
        f"- Date: {doc.get('datetime', '?')}",
        f"- Commit: {doc.get('commit_info', {}).get('id', '?')[:12]}",
        "",
        "| benchmark | median (µs) | p99 (µs) | mean (µs) | ops/s | rounds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        p99 = stats.get("p99", float("nan"))
        lines.append(
            f"| {bench['name']} | {stats['median'] * 1e6:.1f} | {p99 * 1e6:.1f} | "
            f"{stats['mean'] * 1e6:.1f} | {stats['ops']:.0f} | {stats['rounds']} |"
        )
    return "\n".join(lines) + "\n"


def write_results(results_dir: Path, stem: str, result: dict[str, Any], markdown: str) -> None:
    """``<stem>.json`` (every figure) and ``<stem>.md`` (the tables) in ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (results_dir / f"{stem}.md").write_text(markdown)
