"""XGBoost binary classifier -> ONNX (``ai.onnx.ml.TreeEnsembleClassifier``), with parity.

The conversion uses onnxmltools. The exported graph has one input and two outputs, in this
order (checked after every export, never assumed):

- input ``features``: float32 ``[N, n_features]``; ``NaN`` means missing. Every split keeps
  XGBoost's learned default direction for missing values (``nodes_missing_value_tracks_true``),
  so NaN rows score the same in ONNX Runtime as in XGBoost;
- output 0 ``label``: int64 ``[N]``, the arg-max class (unused by modgate);
- output 1 ``probabilities``: float32 ``[N, 2]``, columns in ``classlabels_int64s`` order
  ``[0, 1]``, so column 1 (``POSITIVE_INDEX``) is the positive-class probability.

Callers look the probabilities output up by name (``PROBABILITIES_OUTPUT``), not by index.
The graph gets a fixed name instead of onnxmltools' random UUID, so the same booster always
serialises to the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

from export.errors import ExportError

INPUT_NAME = "features"
PROBABILITIES_OUTPUT = "probabilities"
POSITIVE_INDEX = 1
# Opset of the default ONNX domain; TreeEnsembleClassifier itself lands in ai.onnx.ml v1,
# which every ONNX Runtime release since 1.0 runs.
TARGET_OPSET = 15
_CLASS_LABELS = [0, 1]


def export_xgboost(
    model: xgboost.XGBClassifier,
    n_features: int,
    out_path: Path,
    *,
    graph_name: str = "xgboost_classifier",
) -> None:
    """Convert a fitted binary ``XGBClassifier`` to ONNX and write it to ``out_path``.

    Early-stopped models are cut at ``best_iteration`` (as ``predict_proba`` is). Raises
    ExportError when the model is not binary or the graph does not have the layout above.
    """
    converted = onnxmltools.convert_xgboost(
        model,
        name=graph_name,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
    )
    onnx.checker.check_model(converted, full_check=True)
    probabilities_output_index(converted)
    _check_class_labels(converted)
    out_path.write_bytes(converted.SerializeToString())


def probabilities_output_index(model: onnx.ModelProto) -> int:
    """Index of the ``probabilities`` output, after checking it is float32 ``[N, 2]``."""
    names = [o.name for o in model.graph.output]
    if PROBABILITIES_OUTPUT not in names:
        raise ExportError(f"ONNX graph has no {PROBABILITIES_OUTPUT!r} output (outputs: {names})")
    index = names.index(PROBABILITIES_OUTPUT)
    tensor = model.graph.output[index].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    if tensor.elem_type != onnx.TensorProto.FLOAT or len(dims) != 2 or dims[1] != 2:
        raise ExportError(
            f"output {PROBABILITIES_OUTPUT!r} is {onnx.TensorProto.DataType.Name(tensor.elem_type)}"
            f" {dims}, expected FLOAT [N, 2]"
        )
    return index


def _check_class_labels(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.op_type == "TreeEnsembleClassifier":
            for attr in node.attribute:
                if attr.name == "classlabels_int64s" and list(attr.ints) == _CLASS_LABELS:
                    return
            raise ExportError(f"TreeEnsembleClassifier class labels are not {_CLASS_LABELS}")
    raise ExportError("ONNX graph has no TreeEnsembleClassifier node")


def onnx_positive_proba(onnx_path: Path, X: np.ndarray) -> np.ndarray:
    """Positive-class probabilities of the ONNX model at ``onnx_path`` (ONNX Runtime, CPU)."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {INPUT_NAME: np.ascontiguousarray(X, dtype=np.float32)}
    (probabilities,) = session.run([PROBABILITIES_OUTPUT], feeds)
    return np.asarray(probabilities)[:, POSITIVE_INDEX]


def check_parity(model: xgboost.XGBClassifier, onnx_path: Path, X: np.ndarray) -> float:
    """Max abs difference between XGBoost's and the ONNX model's positive-class probability."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    expected = np.asarray(model.predict_proba(X32))[:, POSITIVE_INDEX]
    actual = onnx_positive_proba(onnx_path, X32)
    return float(np.max(np.abs(expected.astype(np.float64) - actual.astype(np.float64))))
