"""The timm side of ``modgate export image``: a timm checkpoint and its eval transform as a
``Loaded`` model for the exporter. timm needs torchvision, which imports on GPU machines
only here; this path is not exercised on the CPU machines that run CI."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from export.errors import ExportError
from export.image_onnx import Loaded
from models.image_preprocess import RESAMPLING, PreprocessSpec

log = logging.getLogger(__name__)

TIMM_LABELS_FILE = "labels.txt"
TIMM_UNAVAILABLE = (
    "timm needs torchvision, which does not import on this machine; "
    "use a transformers ViT checkpoint"
)


def load_timm(checkpoint: Path, timm_model: str) -> Loaded:
    try:
        import timm
        from timm.data import resolve_data_config
    except Exception as exc:  # ImportError, or torchvision failing at import time
        raise ExportError(f"{TIMM_UNAVAILABLE} ({type(exc).__name__}: {exc})") from exc

    labels_path = checkpoint.parent / TIMM_LABELS_FILE
    file_labels: list[str] | None = None
    if labels_path.is_file():
        file_labels = [s.strip() for s in labels_path.read_text(encoding="utf-8").splitlines()]
        file_labels = [s for s in file_labels if s]
    kwargs: dict[str, Any] = {"pretrained": False, "checkpoint_path": str(checkpoint)}
    if file_labels:
        kwargs["num_classes"] = len(file_labels)
    try:
        model = timm.create_model(timm_model, **kwargs)
    except Exception as exc:  # unknown model name, state-dict mismatch, unreadable file
        raise ExportError(f"timm cannot build {timm_model!r} from {checkpoint}: {exc}") from exc
    model.eval()
    num_classes = int(model.num_classes)
    if file_labels and len(file_labels) != num_classes:
        raise ExportError(f"{labels_path} has {len(file_labels)} labels, model {num_classes}")
    labels = tuple(file_labels) if file_labels else tuple(f"class_{i}" for i in range(num_classes))

    cfg = resolve_data_config({}, model=model)
    _, height, width = (int(v) for v in cfg["input_size"])
    crop_pct = float(cfg.get("crop_pct") or 0.875)
    interpolation = str(cfg.get("interpolation", "bilinear"))
    if interpolation not in RESAMPLING:
        raise ExportError(f"timm interpolation {interpolation!r} has no PIL equivalent here")
    if cfg.get("crop_mode", "center") != "squash":
        log.warning(
            "timm eval resizes the shortest edge (crop_mode %r); the exported spec resizes the "
            "whole image to %dx%d (crop_mode 'squash'): non-square photos score slightly "
            "differently than under timm's own transform",
            cfg.get("crop_mode", "center"),
            math.floor(height / crop_pct),
            math.floor(width / crop_pct),
        )
    spec = PreprocessSpec(
        # timm's transforms_imagenet_eval: scale_size = floor(img_size / crop_pct)
        resize=(math.floor(height / crop_pct), math.floor(width / crop_pct)),
        resample=interpolation,
        crop=(height, width),
        scale=1.0 / 255.0,
        mean=(float(cfg["mean"][0]), float(cfg["mean"][1]), float(cfg["mean"][2])),
        std=(float(cfg["std"][0]), float(cfg["std"][1]), float(cfg["std"][2])),
        layout="nchw",
    )
    return Loaded(
        net=_TimmLogits(model).eval(),
        labels=labels,
        default_activation="softmax",
        spec=spec,
        preprocess_source="timm.resolve_data_config",
        source="timm",
    )


class _TimmLogits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(pixel_values)
        return logits
