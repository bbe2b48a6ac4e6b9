"""Build classifiers from settings: a URL picks the backend, the artifact picks the kind.

``onnx:///path/model.onnx`` (or ``onnx:///path/artifact-dir``) runs the model in-process;
``triton://host:8001/text`` sends the model call to Triton Inference Server and keeps pre-
and post-processing here, read from the local artifact (``?artifact=``, default
``models/artifacts/<model>``). Either way the ``metadata.json`` of the artifact says which
classifier it is (``"kind": "spam"``, ``"text"``, ``"image"``), and the same classifier code
runs over whichever ``ModelSession`` the backend opens.
"""

from __future__ import annotations

from pathlib import Path

from models.artifact import read_metadata
from models.errors import ArtifactError
from models.interface import Classifier, SessionOpener
from modgate.settings import ClassifierUrl, OnnxSettings, TritonSettings


def build_classifier(
    name: str,
    url: ClassifierUrl,
    onnx: OnnxSettings,
    *,
    triton: TritonSettings | None = None,
    cache_entries: int = 4096,
) -> Classifier:
    """Load the classifier ``name`` from its URL; raise ModelError if it cannot be served
    (ArtifactError for a bad artifact, ModelUnavailableError for a server that is not ready).

    ``cache_entries`` bounds the content-hash cache of classifiers that have one (images)."""
    open_session: SessionOpener | None = None
    if url.scheme == "onnx":
        path = Path(url.location)
    elif url.scheme == "triton":
        from models.triton_backend import triton_session_opener

        path = Path(url.options["artifact"])
        open_session = triton_session_opener(url, triton or TritonSettings())
    else:
        raise ArtifactError(name, "?", f"backend {url.scheme!r} is not available")
    if path.is_dir():
        path = path / "model.onnx"  # metadata.json sits beside it (or names packaged weights)
    metadata = read_metadata(path, name=name)
    kind = metadata.get("kind")
    if kind == "spam":
        from models.spam import SpamClassifier

        return SpamClassifier.from_artifact(
            path, name=name, onnx=onnx, metadata=metadata, open_session=open_session
        )
    if kind == "text":
        from models.text import TextClassifier

        return TextClassifier.from_artifact(
            path, name=name, onnx=onnx, metadata=metadata, open_session=open_session
        )
    if kind == "image":
        from models.image import ImageClassifier

        return ImageClassifier.from_artifact(
            path.parent,
            name=name,
            onnx=onnx,
            metadata=metadata,
            cache_entries=cache_entries,
            open_session=open_session,
        )
    raise ArtifactError(name, "?", f"{path}: unknown classifier kind {kind!r} in metadata.json")
