"""Build classifiers from settings: a URL picks the backend, the artifact picks the kind.

``onnx:///path/model.onnx`` loads in-process; the ``metadata.json`` beside the model says
which classifier it is (``"kind": "spam"``…). ``triton://`` joins when that backend lands.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.errors import ArtifactError
from models.interface import Classifier
from modgate.settings import ClassifierUrl, OnnxSettings


def read_metadata(model_path: Path) -> dict[str, object]:
    """The artifact's ``metadata.json`` (beside the model file), or ArtifactError."""
    meta_path = model_path.with_name("metadata.json")
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(model_path.stem, "?", f"cannot read {meta_path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(model_path.stem, "?", f"{meta_path} must hold a JSON object")
    return document


def build_classifier(name: str, url: ClassifierUrl, onnx: OnnxSettings) -> Classifier:
    """Load the classifier ``name`` from its URL; raise ArtifactError if it cannot be served."""
    if url.scheme != "onnx":
        raise ArtifactError(name, "?", f"backend {url.scheme!r} is not available")
    path = Path(url.location)
    kind = read_metadata(path).get("kind")
    if kind == "spam":
        from models.spam import SpamClassifier

        return SpamClassifier.from_artifact(path, name=name, onnx=onnx)
    raise ArtifactError(name, "?", f"{path}: unknown classifier kind {kind!r} in metadata.json")
