"""The ``MODEL_CARD.md`` skeleton ``modgate export image`` writes beside an exported model:
what the exporter knows (source, labels, categories, preprocessing, parity), and the
sections only the model's trainer can fill in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def render_model_card(metadata: Mapping[str, Any], sha256: str) -> str:
    """MODEL_CARD.md skeleton for an exported image model (metrics left for the trainer)."""
    spec = metadata["preprocess"]
    parity = metadata["parity"]
    category_rows = "\n".join(
        f"| `{category}` | `{label}` |" for category, label in metadata["categories"].items()
    )
    unmapped = [
        label for label in metadata["labels"] if label not in metadata["categories"].values()
    ]
    crop = "none" if spec["crop"] is None else f"{spec['crop'][0]}x{spec['crop'][1]} centre"
    return f"""# Image model `{metadata["version"]}`

> **METRICS MUST BE FILLED IN BY WHOEVER TRAINED THIS CHECKPOINT.** modgate ships no
> pretrained ViT: this card was generated at export time and says nothing about quality.
> Until the sections below are filled in, treat the model as unevaluated.

## Source

- checkpoint: `{metadata["checkpoint"]}` ({metadata["source"]})
- exported: {metadata["exported_at"]}, ONNX opset {metadata["opset"]}
- `model.onnx` sha256: `{sha256}`
- input `{metadata["input_name"]}` float32[batch, 3, H, W]; output `{metadata["output_name"]}`
  float32[batch, {len(metadata["labels"])}]; activation `{metadata["activation"]}`

## Labels -> moderation categories

| category | label |
|---|---|
{category_rows}

All labels, in output order: {", ".join(f"`{label}`" for label in metadata["labels"])}.
Labels no category uses: {", ".join(f"`{label}`" for label in unmapped) or "none"}.

## Preprocessing ({metadata["preprocess_source"]})

- resize whole image to {spec["resize"][0]}x{spec["resize"][1]} ({spec["resample"]}), crop {crop}
- {spec["channel_order"]}, x {spec["scale"]:.6g}, mean {spec["mean"]}, std {spec["std"]},
  layout {spec["layout"]}, JPEG round trip: {spec["jpeg_reencode"]}

## Parity

PyTorch vs ONNX Runtime max abs logit difference {parity["max_abs_diff"]:.3g} over
{parity["rows"]} rows at batch 1 and 4 (tolerance {parity["tolerance"]:g}).

## Training data and intended use

TODO (trainer): datasets, licences, label definitions, known gaps.

## Metrics

TODO (trainer): per-category precision / recall / PR-AUC on a held-out set, with thresholds.
"""
