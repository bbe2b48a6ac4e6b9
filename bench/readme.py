"""README.md's "Performance" and "Quality" sections, generated from ``bench/results/``.

``modgate bench readme`` (``python -m bench.readme``) rewrites the text between the
``<!-- generated:performance -->`` / ``<!-- generated:quality -->`` markers and their
``<!-- /generated:... -->`` ends from the results JSON files, so the README never quotes a
number that no results file holds; ``--check`` exits 1 when the README is stale (a test runs
it). Each section states the machine, date and model versions its figures come from.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
QUALITY_STEM = "quality-heldout"
CROSS_STEM = "quality-eval-only"
SECTIONS = ("performance", "quality")


def _load(results: Path, stem: str) -> dict[str, Any] | None:
    path = results / f"{stem}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _rate(value: float | None) -> str:
    return "no rate tried" if value is None else f"{value:g}/s"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _phase_row(label: str, p: dict[str, Any]) -> str:
    lat = p["latency_ms"]
    errors = sum(p["errors"].values()) if p.get("errors") else 0
    return (
        f"| {label} | {p['offered_per_s']:g} | {p['achieved_per_s']:.0f} | {_ms(lat['p50'])} | "
        f"{_ms(lat['p95'])} | {_ms(lat['p99'])} | {_ms(lat['max'])} | "
        f"{_pct(errors / max(1, p['posts']))} | {_pct(p['degraded_share'])} |"
    )


def _load_table(load: dict[str, Any]) -> list[str]:
    header = [
        "| phase | offered /s | answered OK /s | p50 (ms) | p95 | p99 | max | errors | degraded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [_phase_row("text+spam only", load["budget"]["phase"])]
    rows += [_phase_row("mix", p) for p in load["sweep"]]
    rows += [
        _phase_row(f"spike: {name}", seg) for name, seg in load["spike"].get("segments", {}).items()
    ]
    return header + rows


def performance(results: Path) -> str:
    """The Performance section: load test, budget, spike, micro-benchmarks, text peers."""
    load = _load(results, "load-cpu")
    if load is None:
        return "No load results yet: run `make bench-cpu`.\n"
    budget, search, spike = load["budget"], load["search"], load["spike"]
    p99 = budget["phase"]["latency_ms"]["p99"]
    models = ", ".join(f"{k} `{v}`" for k, v in sorted(load["models"].items()))
    lines = [
        f"Measured by `make bench-cpu` on {load['machine']['description']}, "
        f"{load['machine'].get('ram_gb', '?')} GiB RAM, GPU: {load['machine'].get('gpu', 'none')}; "
        f"{load['date'][:10]}, commit `{load['commit'][:12]}`. Models: {models}. "
        "The load generator runs on the same two cores as the gateway.",
        "",
        f"- **Text+spam posts at {budget['phase']['offered_per_s']:g}/s: p99 {_ms(p99)} ms** "
        f"(target ≤ {budget['target_p99_ms']:g} ms: {'met' if budget['met'] else 'missed'}).",
        f"- **Highest sustainable rate** (open loop, p99 < 400 ms, no errors; "
        f"{load['mix']['image_share'] * 100:.0f} % of posts with an image, OCR on): "
        f"**{search['highest_sustainable_per_s']:g} posts/s**; "
        f"{_rate(search.get('lowest_failing_per_s'))} failed.",
        f"- **3× spike** ({spike['base_per_s']:g} → {3 * spike['base_per_s']:g} → "
        f"{spike['base_per_s']:g} posts/s): p99 {_ms(spike['whole']['latency_ms']['p99'])} ms, "
        f"degraded {_pct(spike['whole']['degraded_share'])}, errors "
        f"{_pct(spike['whole']['error_rate'])} over the whole run.",
        "",
        *_load_table(load),
        "",
        "Latencies run from each post's *scheduled* send time to its verdict (no coordinated "
        "omission). Full tables, the latency-vs-load plot and the gateway log summary: "
        "[`bench/results/load-cpu.md`](bench/results/load-cpu.md); the limits and what is "
        "behind them: [`docs/benchmarks.md`](docs/benchmarks.md).",
        "",
    ]
    lines += _peer_latency(results)
    lines += _micro(results)
    return "\n".join(lines)


def _peer_latency(results: Path) -> list[str]:
    peers = _load(results, "peers-cpu")
    if peers is None:
        return []
    lines = [
        f"Text classifiers, one post per call and batched, same held-out English texts "
        f"({peers['date'][:10]}; [`bench/results/peers-cpu.md`](bench/results/peers-cpu.md)):",
        "",
        "| contender | single post p50 / p99 (ms) | p50 vs modgate int8 | batch 32 posts/s |",
        "|---|---:|---:|---:|",
    ]
    for name, c in peers["contenders"].items():
        single, ratio = c["single_post"], peers["latency_ratios"][name]
        lines.append(
            f"| {name} | {single['median_ms']:.2f} / {single['p99_ms']:.2f} | "
            f"{ratio['p50_vs_int8']:.2f}× | {c['batched']['posts_per_s']:.0f} |"
        )
    return [*lines, ""]


def _micro(results: Path) -> list[str]:
    micro = _load(results, "micro-cpu")
    if micro is None:
        return []
    lines = [
        f"Micro-benchmarks (pytest-benchmark, {micro.get('datetime', '?')[:10]}; "
        "[`bench/results/micro-cpu.md`](bench/results/micro-cpu.md)):",
        "",
        "| benchmark | median (µs) | p99 (µs) |",
        "|---|---:|---:|",
    ]
    for bench in micro["benchmarks"]:
        stats = bench["stats"]
        lines.append(
            f"| {bench['name'].removeprefix('test_')} | {stats['median'] * 1e6:.1f} | "
            f"{stats.get('p99', float('nan')) * 1e6:.1f} |"
        )
    return [*lines, ""]


def quality(results: Path) -> str:
    """The Quality section: held-out report of `modgate eval` and the peer table."""
    q = _load(results, QUALITY_STEM)
    if q is None:
        return "No quality results yet: run `make bench-cpu`.\n"
    meta, overall = q["meta"], q["overall"]
    lines = [
        f"`modgate eval` on the text model's held-out test split ({meta['rows']:,} rows, "
        f"{len(q['by_language'])} languages, never used for training or thresholds), model "
        f"`{meta['model_version']}`, "
        f"policy `{meta['policy_version']}`, one post per call as served; {meta['date'][:10]}. "
        f"Full report: [`bench/results/{QUALITY_STEM}.md`](bench/results/{QUALITY_STEM}.md).",
        "",
        "| label | ROC-AUC | PR-AUC | F1 at DEFER line | removal FP share | removal recall |"
        " bias final (Jigsaw) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, m in overall["labels"].items():
        bias = q["bias"].get(label, {}).get("final")
        lines.append(
            f"| {label} | {_num(m.get('roc_auc'))} | {_num(m.get('pr_auc'))} | "
            f"{_num(m.get('f1_at_defer'))} | {_pct(m.get('removal_fp_share'))} | "
            f"{_pct(m.get('removal_recall'))} | {_num(bias)} |"
        )
    verdicts = overall["verdicts"]
    lines += [
        "",
        f"- Verdicts: allow {_pct(verdicts['allow'])}, defer {_pct(verdicts['defer'])}, remove "
        f"{_pct(verdicts['remove'])}. **False positives among auto-removals: "
        f"{_pct(overall['removal_fp_rate'])}** of {overall['removals']:,} (target < 1 %); "
        "per language: " + _fp_by_language(q) + ".",
    ]
    functional = q.get("functionality")
    if functional:
        lines.append(
            f"- Functional tests ({functional['label']}, {functional['n']:,} cases): "
            f"{_pct(functional['accuracy_flagged'])} flagged correctly at the DEFER line."
        )
    cross = _load(results, CROSS_STEM)
    if cross is not None:
        c = cross["overall"]
        tox = c["labels"].get("toxicity", {})
        lines.append(
            f"- **Sets never trained on** (`eval_only/`: {cross['meta']['rows']:,} rows, "
            f"{len(cross['by_language'])} detected languages; [`bench/results/{CROSS_STEM}.md`]"
            f"(bench/results/{CROSS_STEM}.md)): toxicity ROC-AUC {_num(tox.get('roc_auc'))}; "
            f"verdicts allow {_pct(c['verdicts']['allow'])}, defer {_pct(c['verdicts']['defer'])}, "
            f"remove {_pct(c['verdicts']['remove'])}; false positives among auto-removals "
            f"{_pct(c['removal_fp_rate'])} of {c['removals']:,}."
        )
    lines += ["", *_peer_quality(results)]
    return "\n".join(lines)


def _delta(value: float) -> str:
    return "±0.000" if abs(value) < 0.0005 else f"{value:+.3f}"


def _fp_by_language(q: dict[str, Any]) -> str:
    parts = [
        f"{lang} {_pct(g['removal_fp_rate'])}"
        for lang, g in q["by_language"].items()
        if g.get("removals")
    ]
    return ", ".join(parts)


def _peer_quality(results: Path) -> list[str]:
    peers = _load(results, "peers-cpu")
    if peers is None:
        return []
    lines = [
        "Peers on the same held-out texts (Davidson rows left out: both peers were trained on "
        f"them), measured with modgate model `{peers['model_version']}` on "
        f"{peers['date'][:10]}; toxicity ROC-AUC "
        "([`bench/results/peers-cpu.md`](bench/results/peers-cpu.md)):",
        "",
        "| contender | English | all languages | Δ vs modgate int8 (all) |",
        "|---|---:|---:|---:|",
    ]
    english, every = peers["quality"]["english"], peers["quality"]["all_languages"]
    for name in peers["contenders"]:
        en, al = english[name]["toxicity"], every[name]["toxicity"]
        lines.append(
            f"| {name} | {_num(en['roc_auc'])} | {_num(al['roc_auc'])} | "
            f"{_delta(al['roc_auc_delta_vs_int8'])} |"
        )
    return [*lines, ""]


def render(readme: str, results: Path) -> str:
    """``readme`` with every generated section replaced from ``results``."""
    for name, build in (("performance", performance), ("quality", quality)):
        pattern = re.compile(
            rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
        )
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- generated:{name} --> section")
        body = build(results).rstrip() + "\n"
        readme = pattern.sub(lambda m, b=body: m.group(1) + b + m.group(2), readme)
    return readme


def update(readme_path: Path = README, results: Path = RESULTS, *, check: bool = False) -> bool:
    """Rewrite the sections (or with ``check`` only compare); True when already current."""
    current = readme_path.read_text(encoding="utf-8")
    fresh = render(current, results)
    if not check and fresh != current:
        readme_path.write_text(fresh, encoding="utf-8")
    return fresh == current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = update(check=args.check)
    if args.check and not current:
        print("README.md is stale: run `modgate bench readme`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
