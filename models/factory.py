"""Build classifiers from settings: a URL picks the backend, the artifact picks the kind.

``onnx:///path/model.onnx`` (or ``onnx:///path/artifact-dir``) loads in-process; the
``metadata.json`` beside the model says which classifier it is (``"kind": "spam"``,
``"text"``, ``"image"``). ``triton://`` joins when that backend lands.
"""

from __future__ import annotations

from pathlib import Path

from models.artifact import read_metadata
from models.errors import ArtifactError
from models.interface import Classifier
from modgate.settings import ClassifierUrl, OnnxSettings


def build_classifier(
    name: str, url: ClassifierUrl, onnx: OnnxSettings, *, cache_entries: int = 4096
) -> Classifier:
    """Load the classifier ``name`` from its URL; raise ArtifactError if it cannot be served.

    ``cache_entries`` bounds the content-hash cache of classifiers that have one (images)."""
    if url.scheme != "onnx":
        raise ArtifactError(name, "?", f"backend {url.scheme!r} is not available")
    path = Path(url.location)
    if path.is_dir():
        path = path / "model.onnx"  # metadata.json sits beside it (or names packaged weights)
    metadata = read_metadata(path, name=name)
    kind = metadata.get("kind")
    if kind == "spam":
        from models.spam import SpamClassifier

        return SpamClassifier.from_artifact(path, name=name, onnx=onnx, metadata=metadata)
    if kind == "text":
        from models.text import TextClassifier

        return TextClassifier.from_artifact(path, name=name, onnx=onnx, metadata=metadata)
    if kind == "image":
        from models.image import ImageClassifier

        return ImageClassifier.from_artifact(
            path.parent, name=name, onnx=onnx, metadata=metadata, cache_entries=cache_entries
        )
    raise ArtifactError(name, "?", f"{path}: unknown classifier kind {kind!r} in metadata.json")
