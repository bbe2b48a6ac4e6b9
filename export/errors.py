"""Errors of the export room: a model could not be converted, or its ONNX form disagrees."""

from __future__ import annotations

from modgate.errors import ModgateError


class ExportError(ModgateError):
    """Root of export errors."""


class ParityError(ExportError):
    """The exported ONNX model's scores differ from the framework model's beyond tolerance."""

    def __init__(self, max_abs_diff: float, tolerance: float, rows: int) -> None:
        super().__init__(
            f"ONNX vs framework max abs difference {max_abs_diff:.3g} over {rows} rows "
            f"exceeds tolerance {tolerance:.3g}"
        )
        self.max_abs_diff = max_abs_diff
        self.tolerance = tolerance
        self.rows = rows
