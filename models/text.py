"""Text classifier: normalize → Rust tokenizer → transformer in ONNX Runtime → per-label scores.

The artifact is a directory written by ``modgate train text`` / ``modgate export text``:
``model.onnx`` (inputs ``input_ids`` / ``attention_mask`` int64 ``[batch, sequence]``, output
``probabilities`` float32 ``[batch, labels]``, calibrated), ``tokenizer.json`` and
``metadata.json`` (kind ``"text"``, version, categories in output order, special tokens,
``max_tokens``).

``TextModel`` is the synchronous core shared by serving, ``modgate score`` and evaluation,
so all three run exactly the same path: ``modgate.textnorm.normalize_text`` (the function
training used), ``models.text_encoding.TextEncoder`` (head+tail truncation, length buckets,
reused buffers), one ONNX Runtime run per batch. ``TextClassifier`` puts it behind the async
``Classifier`` protocol: a batch is prepared and run on the session's bounded executor in
one hop, within the caller's budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import METADATA_FILE, metadata_checker, read_metadata
from models.errors import ArtifactError, ModelOutputError, ModelTimeoutError
from models.interface import ModelSession, SessionBacked, SessionOpener
from models.onnx_backend import onnx_session_opener
from models.text_encoding import TextEncoder
from modgate.settings import OnnxSettings
from modgate.textnorm import normalize_text
from modgate.types import CATEGORY_PATTERN, Category, Post, Scores

TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "probabilities"
normalize_cached = lru_cache(maxsize=1024)(normalize_text)
"""``normalize_text`` memoized: the gateway's features and the model see the same post."""

_REQUIRED_KEYS = ("kind", "version", "categories", "special_tokens", "max_tokens")


@dataclass(frozen=True, slots=True)
class TextArtifact:
    """The parts of ``metadata.json`` serving needs, after validation."""

    version: str
    categories: tuple[Category, ...]
    bos: str
    eos: str
    pad: str
    max_tokens: int


def check_text_metadata(metadata: dict[str, Any], path: Path, *, name: str) -> TextArtifact:
    """Validate a text artifact's metadata; raise ArtifactError naming what is wrong."""
    fail = metadata_checker(metadata, path, name=name, kind="text", required=_REQUIRED_KEYS)
    categories = metadata["categories"]
    if (
        not isinstance(categories, list)
        or not categories
        or not all(isinstance(c, str) and CATEGORY_PATTERN.match(c) for c in categories)
        or len(set(categories)) != len(categories)
    ):
        raise fail(f"categories must be a non-empty list of distinct names, got {categories!r}")
    special = metadata["special_tokens"]
    if not isinstance(special, dict) or not all(
        isinstance(special.get(k), str) for k in ("bos", "eos", "pad")
    ):
        raise fail("special_tokens must give bos, eos and pad")
    max_tokens = metadata["max_tokens"]
    if not isinstance(max_tokens, int) or not 8 <= max_tokens <= 512:
        raise fail(f"max_tokens must be an integer in 8..512, got {max_tokens!r}")
    return TextArtifact(
        version=str(metadata["version"]),
        categories=tuple(categories),
        bos=special["bos"],
        eos=special["eos"],
        pad=special["pad"],
        max_tokens=max_tokens,
    )


class TextModel:
    """The synchronous scoring path: texts in, ``float32[n, categories]`` out. Thread-safe."""

    def __init__(self, session: ModelSession, encoder: TextEncoder, artifact: TextArtifact) -> None:
        self.session = session
        self.encoder = encoder
        self.artifact = artifact

    @classmethod
    def load(
        cls,
        model_path: Path,
        *,
        name: str,
        onnx: OnnxSettings,
        metadata: dict[str, Any] | None = None,
        open_session: SessionOpener | None = None,
    ) -> TextModel:
        """Load ``model_path`` with its ``tokenizer.json`` and ``metadata.json``.

        Raises ArtifactError if the artifact is invalid.
        """
        if metadata is None:
            metadata = read_metadata(model_path, name=name)
        artifact = check_text_metadata(metadata, model_path.with_name(METADATA_FILE), name=name)
        try:
            encoder = TextEncoder.from_file(
                model_path.with_name(TOKENIZER_FILE),
                bos=artifact.bos,
                eos=artifact.eos,
                pad=artifact.pad,
                max_tokens=artifact.max_tokens,
            )
        except Exception as exc:  # tokenizers raises plain Exception on bad files
            raise ArtifactError(name, artifact.version, f"cannot load tokenizer: {exc}") from exc
        opener = open_session or onnx_session_opener(onnx)
        session = opener(model_path, name, artifact.version)
        if session.input_names != INPUT_NAMES or OUTPUT_NAME not in session.output_names:
            session.close()
            raise ArtifactError(
                name,
                artifact.version,
                f"model has inputs {session.input_names} and outputs {session.output_names}; "
                f"expected inputs {INPUT_NAMES} and output {OUTPUT_NAME!r}",
            )
        return cls(session, encoder, artifact)

    def feeds(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Normalize and encode raw texts into the model's inputs."""
        batch = self.encoder.encode([normalize_cached(t).text for t in texts])
        return {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}

    def check_output(self, outputs: Sequence[np.ndarray], n: int) -> np.ndarray:
        """The probabilities output, validated: ``float[n, categories]``, finite, in [0, 1]."""
        index = self.session.output_names.index(OUTPUT_NAME)
        name, version = self.session.name, self.session.version
        if len(outputs) <= index:
            raise ModelOutputError(name, version, f"only {len(outputs)} outputs")
        probs = np.asarray(outputs[index])
        expected = (n, len(self.artifact.categories))
        if probs.shape != expected or not np.issubdtype(probs.dtype, np.floating):
            raise ModelOutputError(
                name,
                version,
                f"output is {probs.dtype}{list(probs.shape)}, expected float{list(expected)}",
            )
        if not np.all(np.isfinite(probs)) or probs.min() < 0.0 or probs.max() > 1.0:
            raise ModelOutputError(name, version, "probabilities outside [0, 1]")
        return probs

    def score(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Probabilities for ``texts`` on the calling thread, batched by similar length."""
        out = np.zeros((len(texts), len(self.artifact.categories)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            outputs = self.session.run_sync(self.feeds([texts[i] for i in idx]))
            out[idx] = self.check_output(outputs, len(idx))
        return out


class TextClassifier(SessionBacked):
    """The ``Classifier`` for text categories (``toxicity``, ``hate``…).

    Safe to call concurrently.
    """

    def __init__(self, model: TextModel, *, name: str) -> None:
        self._model = model
        self._name = name

    @classmethod
    def from_artifact(
        cls,
        model_path: Path,
        *,
        name: str,
        onnx: OnnxSettings,
        metadata: dict[str, Any] | None = None,
        open_session: SessionOpener | None = None,
    ) -> TextClassifier:
        """Load the artifact; ``open_session`` picks the backend (default: in-process ORT)."""
        model = TextModel.load(
            model_path, name=name, onnx=onnx, metadata=metadata, open_session=open_session
        )
        return cls(model, name=name)

    @property
    def model(self) -> TextModel:
        """The synchronous core (batch scoring, benchmarks)."""
        return self._model

    @property
    def session(self) -> ModelSession:
        return self._model.session

    @property
    def version(self) -> str:
        return self._model.artifact.version

    @property
    def categories(self) -> tuple[Category, ...]:
        return self._model.artifact.categories

    def applies_to(self, post: Post) -> bool:
        return bool(post.text.strip())

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        """``{category: probability}`` per post, in order, within ``timeout_s``."""
        if not posts:
            return []
        if timeout_s <= 0:
            raise ModelTimeoutError(self._name, self.version, "no time budget left")
        texts = [p.text for p in posts]
        outputs = await self._model.session.run(
            lambda: self._model.feeds(texts), timeout_s=timeout_s
        )
        probs = self._model.check_output(outputs, len(posts))
        cats = self.categories
        return [dict(zip(cats, (float(v) for v in row), strict=True)) for row in probs]
