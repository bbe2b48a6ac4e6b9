"""Spam classifier: hand-built text/author features scored by an XGBoost model in ONNX.

The artifact is a directory written by ``retrain.spam``: ``model.onnx`` plus
``metadata.json``, which names the version, the input, the probabilities output and the
feature layout. ``SpamClassifier.from_artifact`` checks that layout against
``models.spam_features`` at load time, so a model trained on other features fails at boot
with ``ArtifactError`` rather than scoring garbage.

Features cost about 50 µs of pure-Python CPU per post; they are built on the session's
bounded executor together with the ONNX run (one thread hop per call, nothing on the event
loop), within the caller's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import METADATA_FILE, metadata_checker, read_metadata
from models.errors import ArtifactError, ModelOutputError, ModelTimeoutError
from models.interface import ModelSession, SessionBacked, SessionOpener
from models.onnx_backend import onnx_session_opener
from models.spam_features import (
    FEATURE_NAMES,
    FEATURES_VERSION,
    HASH_BUCKETS,
    N_FEATURES,
    build_features,
)
from modgate.settings import OnnxSettings
from modgate.types import SPAM, Category, Post, Scores

_REQUIRED_KEYS = (
    "kind",
    "version",
    "categories",
    "input_name",
    "probabilities_output",
    "positive_index",
    "n_features",
    "feature_names",
    "hash_buckets",
    "features_version",
)


@dataclass(frozen=True)
class SpamArtifact:
    """The parts of ``metadata.json`` serving needs, after validation."""

    version: str
    input_name: str
    probabilities_output: str
    positive_index: int


def check_spam_metadata(metadata: dict[str, Any], path: Path, *, name: str) -> SpamArtifact:
    """Validate a spam artifact's metadata; raise ArtifactError naming what is wrong."""
    fail = metadata_checker(metadata, path, name=name, kind="spam", required=_REQUIRED_KEYS)
    if metadata["categories"] != [SPAM]:
        raise fail(f"categories are {metadata['categories']!r}, expected [{SPAM!r}]")
    _check_features(metadata, fail)
    if metadata["positive_index"] not in (0, 1):
        raise fail(f"positive_index is {metadata['positive_index']!r}, expected 0 or 1")
    return SpamArtifact(
        version=str(metadata["version"]),
        input_name=str(metadata["input_name"]),
        probabilities_output=str(metadata["probabilities_output"]),
        positive_index=int(metadata["positive_index"]),
    )


def _check_features(metadata: dict[str, Any], fail: Callable[[str], ArtifactError]) -> None:
    if metadata["n_features"] != N_FEATURES:
        raise fail(
            f"model expects {metadata['n_features']} features, models.spam_features builds "
            f"{N_FEATURES}: retrain the model for this code version"
        )
    if metadata["features_version"] != FEATURES_VERSION:
        raise fail(
            f"model was trained on spam features version {metadata['features_version']!r}, "
            f"models.spam_features builds version {FEATURES_VERSION}: retrain the model"
        )
    if metadata["hash_buckets"] != HASH_BUCKETS:
        raise fail(f"hash_buckets is {metadata['hash_buckets']}, features use {HASH_BUCKETS}")
    names = metadata["feature_names"]
    if names != list(FEATURE_NAMES):
        if not isinstance(names, list):
            raise fail("feature_names is not a list")
        at = next(
            (i for i, (a, b) in enumerate(zip(names, FEATURE_NAMES, strict=False)) if a != b),
            min(len(names), N_FEATURES),
        )
        theirs = names[at] if at < len(names) else None
        ours = FEATURE_NAMES[at] if at < N_FEATURES else None
        raise fail(f"feature_names differ at index {at}: model {theirs!r}, code {ours!r}")


class SpamClassifier(SessionBacked):
    """Scores ``spam`` for posts with text. Safe to call concurrently."""

    def __init__(
        self, session: ModelSession, artifact: SpamArtifact, *, name: str, output_index: int
    ) -> None:
        self._session = session
        self._artifact = artifact
        self._name = name
        self._output_index = output_index

    @classmethod
    def from_artifact(
        cls,
        model_path: Path,
        *,
        name: str,
        onnx: OnnxSettings,
        metadata: dict[str, Any] | None = None,
        open_session: SessionOpener | None = None,
    ) -> SpamClassifier:
        """Load ``model_path`` with the ``metadata.json`` beside it (or ``metadata`` already
        read from it); ArtifactError if invalid."""
        if metadata is None:
            metadata = read_metadata(model_path, name=name)
        artifact = check_spam_metadata(metadata, model_path.with_name(METADATA_FILE), name=name)
        opener = open_session or onnx_session_opener(onnx)
        session = opener(model_path, name, artifact.version)
        try:
            if session.input_names != (artifact.input_name,):
                raise ArtifactError(
                    name,
                    artifact.version,
                    f"model inputs are {session.input_names}, metadata names "
                    f"{artifact.input_name!r}",
                )
            if artifact.probabilities_output not in session.output_names:
                raise ArtifactError(
                    name,
                    artifact.version,
                    f"model has no output {artifact.probabilities_output!r} "
                    f"(outputs: {session.output_names})",
                )
        except ArtifactError:
            session.close()
            raise
        index = session.output_names.index(artifact.probabilities_output)
        return cls(session, artifact, name=name, output_index=index)

    @property
    def session(self) -> ModelSession:
        """The ONNX Runtime session (for batch jobs, parity checks and benchmarks)."""
        return self._session

    @property
    def version(self) -> str:
        return self._artifact.version

    @property
    def categories(self) -> tuple[Category, ...]:
        return (SPAM,)

    def applies_to(self, post: Post) -> bool:
        return bool(post.text)

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        """``{"spam": P(spam)}`` per post, in order, within ``timeout_s``."""
        if not posts:
            return []
        if timeout_s <= 0:
            raise ModelTimeoutError(self._name, self.version, "no time budget left")
        texts = [p.text for p in posts]
        authors = [p.author for p in posts]
        input_name = self._artifact.input_name
        outputs = await self._session.run(
            lambda: {input_name: build_features(texts, authors)}, timeout_s=timeout_s
        )
        probabilities = self._probabilities(outputs, len(posts))
        return [{SPAM: float(p)} for p in probabilities[:, self._artifact.positive_index]]

    def _probabilities(self, outputs: Sequence[np.ndarray], n_posts: int) -> np.ndarray:
        if len(outputs) <= self._output_index:
            raise ModelOutputError(self._name, self.version, f"only {len(outputs)} outputs")
        probabilities = np.asarray(outputs[self._output_index])
        if probabilities.shape != (n_posts, 2) or not np.issubdtype(
            probabilities.dtype, np.floating
        ):
            raise ModelOutputError(
                self._name,
                self.version,
                f"{self._artifact.probabilities_output!r} is {probabilities.dtype}"
                f"{list(probabilities.shape)}, expected float[{n_posts}, 2]",
            )
        if not np.all(np.isfinite(probabilities)):
            raise ModelOutputError(self._name, self.version, "non-finite probabilities")
        return probabilities
