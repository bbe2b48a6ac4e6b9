"""Export the trained text classifier to ONNX, check parity, and quantize to int8.

``export_text_onnx`` traces ``ProbabilityNet`` (calibrated sigmoid probabilities) with the
TorchScript exporter (``dynamo=False``: one self-contained ``.onnx`` file, no external data)
with dynamic ``batch`` and ``sequence`` axes on ``input_ids`` / ``attention_mask``
(``int64``) and one output ``probabilities`` ``float32[batch, labels]``.

``check_text_parity`` runs real texts through PyTorch and through ONNX Runtime on the same
token rows, padded to several buckets (so dynamic shapes are exercised) and raises
``ParityError`` past the tolerance (1e-4 for fp32). ``quantize_text_int8`` applies ONNX
Runtime dynamic int8 quantization (weights int8 per channel, activations quantized at run
time) to MatMul/Gather; its parity is reported, not enforced at 1e-4 — int8 moves scores by
about 1e-2, and its quality delta is measured on the held-out sets instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.errors import ExportError, ParityError
from export.text_net import ProbabilityNet, TextClassifierNet
from models.text_encoding import TextEncoder

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "probabilities"
OPSET = 17


@dataclass(frozen=True, slots=True)
class Parity:
    """Max and mean absolute difference of probabilities over ``rows`` texts."""

    max_abs_diff: float
    mean_abs_diff: float
    rows: int


def export_text_onnx(net: TextClassifierNet, path: Path) -> None:
    """Write ``net`` as a single-file ONNX graph with dynamic batch and sequence axes."""
    wrapper = ProbabilityNet(net).eval()
    ids = torch.ones((2, 8), dtype=torch.int64)
    mask = torch.ones((2, 8), dtype=torch.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                OUTPUT_NAME: {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    except Exception as exc:  # torch raises many types; all mean "could not export"
        raise ExportError(f"ONNX export of the text model failed: {exc}") from exc


def quantize_text_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization (per-channel weights) of MatMul and Gather nodes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
    )


def onnx_probabilities(
    session: ort.InferenceSession, ids: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Run one padded batch through an ONNX Runtime session."""
    out = session.run([OUTPUT_NAME], {"input_ids": ids, "attention_mask": mask})
    return np.asarray(out[0], dtype=np.float32)


def check_text_parity(
    net: TextClassifierNet,
    onnx_path: Path,
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    tolerance: float | None,
    batch_size: int = 16,
) -> Parity:
    """Compare PyTorch and ONNX Runtime probabilities on ``texts`` (already normalized)."""
    wrapper = ProbabilityNet(net).eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diffs: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        batch = encoder.encode(texts[start : start + batch_size])
        ids, mask = batch.input_ids.copy(), batch.attention_mask.copy()
        with torch.no_grad():
            expected = wrapper(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        got = onnx_probabilities(session, ids, mask)
        diffs.append(np.abs(expected - got).reshape(-1))
    if not diffs:
        raise ExportError("parity needs at least one text")
    flat = np.concatenate(diffs)
    parity = Parity(float(flat.max()), float(flat.mean()), len(texts))
    log.info(
        "parity %s: max %.2e mean %.2e over %d texts",
        onnx_path.name,
        parity.max_abs_diff,
        parity.mean_abs_diff,
        len(texts),
    )
    if tolerance is not None and parity.max_abs_diff > tolerance:
        raise ParityError(parity.max_abs_diff, tolerance, len(texts))
    return parity
