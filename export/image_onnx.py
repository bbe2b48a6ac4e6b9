"""Export an image classifier checkpoint (a ViT) to an ONNX artifact that modgate can serve.

``export_image_checkpoint`` (``modgate export image``) loads a fine-tuned checkpoint: by default
a Hugging Face directory (``ViTForImageClassification``: ``config.json`` + weights, and
optionally ``preprocessor_config.json``), or with ``timm_model`` a timm checkpoint file. It
traces a logits-only wrapper with the TorchScript exporter (``dynamo=False``: one
self-contained ``model.onnx``) with a dynamic ``batch`` axis, input ``pixel_values``
``float32[batch, 3, H, W]`` and output ``logits`` ``float32[batch, labels]``.

Parity: two real photos (preprocessed by ``models.image_preprocess.preprocess`` with the spec
that is shipped) and two seeded random tensors run through PyTorch and through ONNX Runtime, at
batch 1 and at batch 4; past ``tolerance`` (1e-4) it raises ``ParityError`` and writes nothing.

The artifact directory gets ``model.onnx``, ``metadata.json`` (kind ``image``: labels, the
caller's category -> label map, the activation, the ``PreprocessSpec``, parity), ``labels.json``
and a ``MODEL_CARD.md`` skeleton. Categories are never invented: the caller names which label
stands for which moderation category. modgate ships no pretrained ViT; quality numbers belong to
whoever trained the checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from export.errors import ExportError, ParityError
from export.image_card import render_model_card
from models.image_preprocess import (
    PreprocessSpec,
    preprocess,
    spec_from_hf_processor,
)

log = logging.getLogger(__name__)

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "logits"
OPSET = 17
PARITY_TOLERANCE = 1e-4
ACTIVATIONS = ("softmax", "sigmoid")
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PREPROCESSOR_CONFIG = "preprocessor_config.json"
# ViTImageProcessor's defaults, used when a checkpoint has no preprocessor_config.json.
VIT_DEFAULT_PREPROCESSOR: dict[str, Any] = {
    "do_resize": True,
    "size": {"height": 224, "width": 224},
    "resample": 2,  # PIL BILINEAR
    "do_rescale": True,
    "rescale_factor": 1.0 / 255.0,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}


@dataclass(frozen=True, slots=True)
class ImageExportReport:
    """What ``export_image_checkpoint`` wrote."""

    out_dir: Path
    model_path: Path
    version: str
    labels: tuple[str, ...]
    categories: dict[str, str]
    parity_max_abs_diff: float
    parity_rows: int
    opset: int
    source: str  # "transformers" | "timm"


@dataclass(frozen=True, slots=True)
class Loaded:
    """A checkpoint ready to export: a logits-only module and what describes it."""

    net: nn.Module
    labels: tuple[str, ...]
    default_activation: str
    spec: PreprocessSpec
    preprocess_source: str
    source: str


class LogitsOnly(nn.Module):
    """``pixel_values -> logits`` for a Hugging Face image classifier (drops the output dict)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(pixel_values=pixel_values).logits
        return logits


def export_image_checkpoint(
    checkpoint: Path,
    out_dir: Path,
    *,
    categories: Mapping[str, str],
    version: str | None = None,
    activation: str | None = None,
    timm_model: str | None = None,
    opset: int = OPSET,
    tolerance: float = PARITY_TOLERANCE,
) -> ImageExportReport:
    """Export ``checkpoint`` to ``out_dir`` (model.onnx, metadata.json, labels.json, card)."""
    checkpoint = Path(checkpoint)
    out_dir = Path(out_dir)
    if activation is not None and activation not in ACTIVATIONS:
        raise ExportError(f"activation must be one of {list(ACTIVATIONS)}; got {activation!r}")
    if version is not None and not version.strip():
        raise ExportError("version must not be empty")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ExportError(f"tolerance must be a finite number >= 0; got {tolerance!r}")
    _check_category_names(categories)

    if timm_model:
        from export.image_timm import load_timm

        loaded = load_timm(checkpoint, timm_model)
    else:
        loaded = _load_transformers(checkpoint)
    checked = _check_categories(categories, loaded.labels)
    chosen_activation = activation or loaded.default_activation
    log.info(
        "exporting %s checkpoint %s: %d labels, activation %s, input %s",
        loaded.source,
        checkpoint,
        len(loaded.labels),
        chosen_activation,
        loaded.spec.input_shape,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".image-export-", dir=out_dir))
    try:
        staged_model = staging / "model.onnx"
        export_image_onnx(loaded.net, loaded.spec, staged_model, opset=opset)
        max_diff, rows = check_image_parity(
            loaded.net, staged_model, loaded.spec, tolerance=tolerance
        )
        sha256 = hashlib.sha256(staged_model.read_bytes()).hexdigest()
        final_version = version.strip() if version is not None else f"vit-{sha256[:12]}"
        metadata: dict[str, Any] = {
            "kind": "image",
            "version": final_version,
            "source": loaded.source,
            "checkpoint": str(checkpoint.absolute()),
            "input_name": INPUT_NAME,
            "output_name": OUTPUT_NAME,
            "activation": chosen_activation,
            "labels": list(loaded.labels),
            "categories": checked,
            "preprocess": loaded.spec.to_dict(),
            "preprocess_source": loaded.preprocess_source,
            "parity": {"max_abs_diff": max_diff, "rows": rows, "tolerance": tolerance},
            "opset": opset,
            "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        label_map = {str(i): label for i, label in enumerate(loaded.labels)}
        (staging / "labels.json").write_text(json.dumps(label_map, indent=2) + "\n")
        (staging / "MODEL_CARD.md").write_text(render_model_card(metadata, sha256))
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        # metadata.json last: a directory never pairs a new model with stale metadata for long.
        for name in ("model.onnx", "labels.json", "MODEL_CARD.md", "metadata.json"):
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    model_path = out_dir / "model.onnx"
    log.info("wrote %s (version %s, parity %.2e)", model_path, final_version, max_diff)
    return ImageExportReport(
        out_dir=out_dir,
        model_path=model_path,
        version=final_version,
        labels=loaded.labels,
        categories=checked,
        parity_max_abs_diff=max_diff,
        parity_rows=rows,
        opset=opset,
        source=loaded.source,
    )


def export_image_onnx(
    net: nn.Module, spec: PreprocessSpec, path: Path, *, opset: int = OPSET
) -> None:
    """Write ``net`` (pixel_values -> logits) as a single-file ONNX graph, dynamic batch."""
    if spec.layout != "nchw":
        raise ExportError(f"image export expects an nchw preprocess layout; got {spec.layout}")
    net = net.eval()
    dummy = torch.from_numpy(_random_rows(spec, 2, seed=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    before = set(path.parent.iterdir())
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # ViT's shape checks trace as constants: expected, the input size is fixed.
            warnings.filterwarnings("ignore", message="Converting a tensor to a Python")
            # dynamo=False is deliberate (one self-contained file, as export/text_onnx.py).
            warnings.filterwarnings(
                "ignore", message=".*legacy TorchScript-based ONNX", category=DeprecationWarning
            )
            warnings.filterwarnings(
                "ignore", message="The feature will be removed", category=DeprecationWarning
            )
            torch.onnx.export(
                net,
                (dummy,),
                str(path),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    except Exception as exc:  # torch raises many types; all mean "could not export"
        raise ExportError(f"ONNX export of the image model failed: {exc}") from exc
    extra = sorted(p.name for p in set(path.parent.iterdir()) - before if p != path)
    if extra:
        raise ExportError(f"ONNX export wrote external data {extra}; expected one model.onnx")


def check_image_parity(
    net: nn.Module, onnx_path: Path, spec: PreprocessSpec, *, tolerance: float | None
) -> tuple[float, int]:
    """Max abs logit difference, PyTorch vs ONNX Runtime, over 4 rows at batch 1 and batch 4."""
    rows = parity_inputs(spec)
    net = net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(rows)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batched = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: rows})[0], dtype=np.float32)
    single = np.concatenate(
        [
            np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: rows[i : i + 1]})[0])
            for i in range(len(rows))
        ]
    ).astype(np.float32)
    if batched.shape != expected.shape or single.shape != expected.shape:
        raise ExportError(
            f"ONNX logits shape {batched.shape} / {single.shape}, PyTorch {expected.shape}"
        )
    max_diff = float(max(np.abs(expected - batched).max(), np.abs(expected - single).max()))
    log.info("parity %s: max %.2e over %d rows (batch 1 and 4)", onnx_path.name, max_diff, 4)
    if not math.isfinite(max_diff):
        raise ExportError("parity: non-finite logits")
    if tolerance is not None and max_diff > tolerance:
        raise ParityError(max_diff, tolerance, len(rows))
    return max_diff, len(rows)


def parity_inputs(spec: PreprocessSpec) -> np.ndarray:
    """Four ``nchw`` rows: two preprocessed photos and two seeded random tensors."""
    photos = [preprocess(image, spec) for image in _parity_photos()]
    return np.ascontiguousarray(
        np.concatenate([np.stack(photos), _random_rows(spec, 2, seed=1234)]), dtype=np.float32
    )


def _parity_photos() -> list[np.ndarray]:
    """Two real photos from scikit-image when it is installed, else two structured images."""
    try:
        data: Any = importlib.import_module("skimage.data")
        return [np.asarray(data.astronaut()), np.asarray(data.chelsea())]
    except Exception as exc:  # skimage missing, or its data files absent
        log.info("parity: scikit-image photos unavailable (%s); using synthetic images", exc)
    ys, xs = np.mgrid[0:240, 0:320]
    gradient = np.stack([xs * 255 // 319, ys * 255 // 239, (xs + ys) * 255 // 558], axis=-1)
    checker = ((xs // 20 + ys // 20) % 2 * 200 + 30)[..., None].repeat(3, axis=-1)
    return [gradient.astype(np.uint8), checker.astype(np.uint8)]


def _random_rows(spec: PreprocessSpec, n: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *spec.input_shape)).astype(np.float32)


def _check_category_names(categories: Mapping[str, str]) -> None:
    if not categories:
        raise ExportError(
            "categories must map at least one moderation category to a label "
            "(e.g. violence=LABEL_1); none are invented"
        )
    bad = [name for name in categories if not isinstance(name, str) or not CATEGORY_RE.match(name)]
    if bad:
        raise ExportError(f"bad category names {bad}: each must match {CATEGORY_RE.pattern}")


def _check_categories(categories: Mapping[str, str], labels: Sequence[str]) -> dict[str, str]:
    """``categories`` as a plain dict, after checking every label exists in ``labels``."""
    _check_category_names(categories)
    unknown = {c: label for c, label in categories.items() if label not in labels}
    if unknown:
        raise ExportError(
            f"categories name labels the model does not have: {unknown}; labels are {list(labels)}"
        )
    return dict(categories)


def _load_transformers(checkpoint: Path) -> Loaded:
    from transformers import ViTForImageClassification

    if not checkpoint.is_dir():
        raise ExportError(f"{checkpoint}: expected a Hugging Face checkpoint directory")
    try:
        model = ViTForImageClassification.from_pretrained(checkpoint, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ExportError(
            f"cannot load a ViTForImageClassification from {checkpoint}: {exc}"
        ) from exc
    config: Any = model.config
    labels = _ordered_labels(config.id2label, config.num_labels)

    processor_path = checkpoint / PREPROCESSOR_CONFIG
    if processor_path.is_file():
        try:
            processor = json.loads(processor_path.read_text(encoding="utf-8"))
            spec = spec_from_hf_processor(processor)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise ExportError(f"{processor_path}: {exc}") from exc
        preprocess_source = PREPROCESSOR_CONFIG
    else:
        # ViTImageProcessor defaults, at the model's own input size (224 for a stock ViT).
        height, width = _pair(config.image_size)
        spec = spec_from_hf_processor(
            {**VIT_DEFAULT_PREPROCESSOR, "size": {"height": height, "width": width}}
        )
        preprocess_source = "default"
        log.warning(
            "%s has no %s: using ViTImageProcessor defaults (%dx%d, bilinear, 1/255, "
            "mean = std = 0.5); check that this is how the checkpoint was trained",
            checkpoint,
            PREPROCESSOR_CONFIG,
            height,
            width,
        )
    expected = _pair(config.image_size)
    if spec.output_size != expected:
        raise ExportError(
            f"preprocessing yields {spec.output_size[0]}x{spec.output_size[1]} images but the "
            f"model expects {expected[0]}x{expected[1]} (config.image_size)"
        )
    multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
    return Loaded(
        net=LogitsOnly(model).eval(),
        labels=labels,
        default_activation="sigmoid" if multi_label else "softmax",
        spec=spec,
        preprocess_source=preprocess_source,
        source="transformers",
    )


def _ordered_labels(id2label: Mapping[Any, str], num_labels: int) -> tuple[str, ...]:
    by_index = {int(k): str(v) for k, v in id2label.items()}
    if sorted(by_index) != list(range(num_labels)):
        raise ExportError(f"config.id2label indices {sorted(by_index)} are not 0..{num_labels - 1}")
    labels = tuple(by_index[i] for i in range(num_labels))
    if len(set(labels)) != len(labels):
        raise ExportError(f"config.id2label has duplicate labels: {list(labels)}")
    return labels


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))
