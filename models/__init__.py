"""Inference: classifiers behind one async ``Classifier`` protocol.

Backends: ``onnx`` (in-process ONNX Runtime, CPU or CUDA/TensorRT execution providers).
Classifiers: ``spam`` (hand-built features + XGBoost exported to ONNX). Artifacts are
self-describing (``metadata.json`` beside ``model.onnx``), so a URL is all a deployment names.
"""

from models.errors import ModelError, ModelOutputError, ModelTimeoutError, ModelUnavailableError
from models.interface import Classifier

__all__ = [
    "Classifier",
    "ModelError",
    "ModelOutputError",
    "ModelTimeoutError",
    "ModelUnavailableError",
]
