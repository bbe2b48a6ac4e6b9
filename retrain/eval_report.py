"""Human-readable views of a ``retrain.evaluate`` result: a Markdown report and a PNG.

``render_markdown`` turns the result into the tables a reviewer reads before promoting a
model (per-label quality, verdict mix, per language and per extra column, functional
accuracy, unintended bias per identity group); ``confusion_plot`` draws, per label, gold
negative / positive against the policy's verdict. Both read only the JSON-ready result
(``EvalResult.to_dict()`` or a saved ``.json``), so old reports can be re-rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrain.evaluate import VERDICTS, EvalResult

Result = EvalResult | Mapping[str, Any]

_LABEL_COLUMNS = (
    ("n", "n", "int"),
    ("positives", "positives", "int"),
    ("ROC-AUC", "roc_auc", "num"),
    ("PR-AUC", "pr_auc", "num"),
    ("F1@DEFER", "f1_at_defer", "num"),
    ("F1@REMOVE", "f1_at_remove", "num"),
    ("removed", "removed", "int"),
    ("removal FP share", "removal_fp_share", "pct"),
    ("removal recall", "removal_recall", "pct"),
)


def _as_dict(result: Result) -> Mapping[str, Any]:
    return result.to_dict() if isinstance(result, EvalResult) else result


def _fmt(value: Any, kind: str = "num") -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "num":
        return f"{value:.3f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(result: Result, *, plot: str | None = None) -> str:
    """The report as Markdown; ``plot`` (a relative path) embeds the confusion PNG."""
    r = _as_dict(result)
    labels = list(r["meta"]["labels"])
    lines = _header(r["meta"])
    lines += ["## Overall, per label", ""]
    per_label = r["overall"]["labels"]
    lines += _table(
        ["label", *(h for h, _, _ in _LABEL_COLUMNS)],
        [
            [label, *(_fmt(per_label[label].get(k), kind) for _, k, kind in _LABEL_COLUMNS)]
            for label in labels
            if label in per_label
        ],
    )
    lines += ["## Verdicts", ""]
    lines += _verdict_table("scope", [("all rows", r["overall"])])
    lines += [
        "FP rate among auto-removals: wrong removals over the removals the labels can judge "
        "(`toxicity` decides where a row has it, else the categories that removed the post; "
        "`retrain/removals.py`). DEFER share of gold-negative posts (all known labels 0) and of "
        "gold-positive posts (any label 1).",
        "",
    ]
    if plot:
        lines += [f"![verdict by gold label]({plot})", ""]
    lines += ["## Per language", ""]
    lines += _group_table("language", r["by_language"], labels)
    for column, groups in r["by"].items():
        lines += [f"## Per {column}", ""]
        lines += _group_table(column, groups, labels)
    if r.get("functionality"):
        lines += _functional(r["functionality"])
    for label, bias in r.get("bias", {}).items():
        lines += _bias(label, bias)
    return "\n".join(lines).rstrip() + "\n"


def _header(meta: Mapping[str, Any]) -> list[str]:
    thresholds = ", ".join(
        f"{c}: defer ≥ {_fmt(t['defer_above'], 'raw')}, remove ≥ {_fmt(t['remove_above'], 'raw')}"
        for c, t in meta["thresholds"].items()
    )
    labels = ", ".join(f"{name} ← {source}" for name, source in meta["labels"].items())
    return [
        f"# Quality report: {Path(meta['file']).name or 'rows'}",
        "",
        f"- file: `{meta['file']}`",
        f"- rows: {meta['rows']}",
        f"- model version: `{meta['model_version']}`",
        f"- policy version: `{meta['policy_version']}` (region: {meta['region'] or 'none'})",
        f"- date: {meta['date']}",
        f"- batch size: {meta['batch_size']} (scoring + policy: {_fmt(meta['seconds'], 'raw')} s)",
        f"- labels: {labels}; language: {meta['language_source']}",
        f"- base thresholds: {thresholds} (language overrides apply per row)",
        "",
    ]


def _verdict_cells(group: Mapping[str, Any]) -> list[str]:
    mix = group["verdicts"]
    return [
        *(_fmt(mix[v], "pct") for v in VERDICTS),
        str(group["removals"]),
        _fmt(group["removal_fp_rate"], "pct"),
        _fmt(group["defer_share_gold_negative"], "pct"),
        _fmt(group["defer_share_gold_positive"], "pct"),
    ]


_VERDICT_HEADER = (
    "allow",
    "defer",
    "remove",
    "removals",
    "FP rate among removals",
    "DEFER share, gold −",
    "DEFER share, gold +",
)


def _verdict_table(name: str, groups: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    rows = [[key, str(g["n"]), *_verdict_cells(g)] for key, g in groups]
    return _table([name, "n", *_VERDICT_HEADER], rows)


def _group_table(name: str, groups: Mapping[str, Any], labels: Sequence[str]) -> list[str]:
    """Verdict mix, then ROC-AUC / F1@DEFER / removal FP share per label, one row per group."""
    lines = _verdict_table(name, list(groups.items()))
    header = [name]
    for label in labels:
        header += [f"{label} n", f"{label} ROC-AUC", f"{label} F1@DEFER", f"{label} removal FP"]
    rows = []
    for key, group in groups.items():
        row = [key]
        for label in labels:
            m = group["labels"].get(label, {})
            row += [
                _fmt(m.get("n"), "int"),
                _fmt(m.get("roc_auc")),
                _fmt(m.get("f1_at_defer")),
                _fmt(m.get("removal_fp_share"), "pct"),
            ]
        rows.append(row)
    return lines + _table(header, rows)


def _functional(fn: Mapping[str, Any]) -> list[str]:
    lines = [
        f"## Functional tests ({fn['label']})",
        "",
        f"Over {fn['n']} functional cases: accuracy of flagged (score ≥ DEFER line) "
        f"{_fmt(fn['accuracy_flagged'], 'pct')}, of removed (≥ REMOVE line) "
        f"{_fmt(fn['accuracy_removed'], 'pct')}. Worst first.",
        "",
    ]
    rows = [
        [
            f["functionality"],
            str(f["n"]),
            _fmt(f["positive_share"], "pct"),
            _fmt(f["accuracy_flagged"], "pct"),
            _fmt(f["accuracy_removed"], "pct"),
        ]
        for f in fn["functionalities"]
    ]
    header = ["functionality", "n", "gold positive", "accuracy flagged", "accuracy removed"]
    return lines + _table(header, rows)


def _bias(label: str, bias: Mapping[str, Any]) -> list[str]:
    means = bias["generalized_means"]
    lines = [
        f"## Unintended bias ({label})",
        "",
        f"Final score {_fmt(bias['final'])} = 0.25 × overall AUC {_fmt(bias['overall_auc'])} "
        f"+ 0.25 × generalized means (p = −5) of subgroup AUC {_fmt(means['subgroup_auc'])}, "
        f"BPSN AUC {_fmt(means['bpsn_auc'])}, BNSP AUC {_fmt(means['bnsp_auc'])}. "
        f"Subgroups with at least {bias['min_subgroup_size']} rows; worst subgroup AUC first.",
        "",
    ]
    rows = [
        [
            s["subgroup"],
            str(s["n"]),
            _fmt(s["subgroup_auc"]),
            _fmt(s["bpsn_auc"]),
            _fmt(s["bnsp_auc"]),
        ]
        for s in bias["subgroups"]
    ]
    lines += _table(["subgroup", "n", "subgroup AUC", "BPSN AUC", "BNSP AUC"], rows)
    if bias["skipped_subgroups"]:
        skipped = ", ".join(f"{k} ({n})" for k, n in bias["skipped_subgroups"].items())
        lines += [f"Too small or one class only: {skipped}.", ""]
    return lines


def confusion_plot(result: Result, path: Path) -> Path:
    """Per label, a 2 × 3 heat map of gold (negative / positive) × verdict (allow / defer /
    remove): shares of each gold row, with counts. Written as PNG to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    r = _as_dict(result)
    confusion = r["confusion"]
    fig = Figure(figsize=(4.2 * max(len(confusion), 1), 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(len(confusion), 1), squeeze=False)[0]
    for ax, (label, matrix) in zip(axes, confusion.items(), strict=False):
        counts = [[matrix[gold][v] for v in VERDICTS] for gold in ("negative", "positive")]
        shares = [[c / (sum(row) or 1) for c in row] for row in counts]
        ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
        for i, row in enumerate(counts):
            for j, count in enumerate(row):
                color = "white" if shares[i][j] > 0.6 else "black"
                text = f"{shares[i][j]:.0%}\n({count})"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
        ax.set_xticks(range(len(VERDICTS)), labels=list(VERDICTS))
        ax.set_yticks([0, 1], labels=[f"{label} = 0", f"{label} = 1"])
        ax.set_xlabel("verdict")
        ax.set_title(label)
    meta = r["meta"]
    fig.suptitle(f"{Path(meta['file']).name}: gold × verdict ({meta['model_version']})", size=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    return path
