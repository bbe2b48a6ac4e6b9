"""XGBoost -> ONNX export: output layout and parity, including rows with missing values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import xgboost

from export.errors import ExportError
from export.xgboost_onnx import (
    PROBABILITIES_OUTPUT,
    check_parity,
    export_xgboost,
    onnx_positive_proba,
    probabilities_output_index,
)


def data_with_informative_missing_values(rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Feature 0 is NaN in a third of the rows, and those rows are mostly positive."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(rows, 5)).astype(np.float32)
    missing = rng.random(rows) < 0.33
    y = ((X[:, 1] > 0) | missing & (rng.random(rows) < 0.9)).astype(np.int64)
    X[missing, 0] = np.nan
    return X, y


def fit(X: np.ndarray, y: np.ndarray) -> xgboost.XGBClassifier:
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3, random_state=1, n_jobs=1)
    model.fit(X, y)
    return model


def test_onnx_scores_rows_with_nan_like_xgboost(tmp_path: Path) -> None:
    X, y = data_with_informative_missing_values()
    model = fit(X, y)
    path = tmp_path / "model.onnx"
    export_xgboost(model, X.shape[1], path)

    assert check_parity(model, path, X) <= 1e-5
    # The missing branch matters: setting the NaNs to a value changes the scores.
    filled = np.nan_to_num(X, nan=0.0)
    assert np.abs(onnx_positive_proba(path, X) - onnx_positive_proba(path, filled)).max() > 0.1


def test_probabilities_are_output_one_float_n_by_2(tmp_path: Path) -> None:
    X, y = data_with_informative_missing_values(100)
    path = tmp_path / "model.onnx"
    export_xgboost(fit(X, y), X.shape[1], path, graph_name="test")
    model = onnx.load(path)
    assert [o.name for o in model.graph.output] == ["label", PROBABILITIES_OUTPUT]
    assert probabilities_output_index(model) == 1
    assert model.graph.name == "test"


def test_same_model_exports_identical_bytes(tmp_path: Path) -> None:
    X, y = data_with_informative_missing_values(100)
    model = fit(X, y)
    export_xgboost(model, X.shape[1], tmp_path / "a.onnx")
    export_xgboost(model, X.shape[1], tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_refuses_a_multiclass_model(tmp_path: Path) -> None:
    X, _ = data_with_informative_missing_values(150)
    y = np.arange(150) % 3
    with pytest.raises(ExportError, match=PROBABILITIES_OUTPUT):
        export_xgboost(fit(X, y), X.shape[1], tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()
