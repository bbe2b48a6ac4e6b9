"""The ``Classifier`` protocol every model backend implements.

Batch in, scores out, under a time budget: ``predict(posts, timeout_s=...)`` returns one
``{category: probability}`` mapping per post, in order, or raises a ``ModelError``. A
classifier declares the categories it scores, so the gateway knows what goes missing when
it is late, and ``applies_to`` lets e.g. an image model skip posts without images (which is
"not applicable", not "missing").

A classifier that has more to say than scores implements ``DetailedClassifier``: its
``predict_detailed`` returns a ``Prediction`` per post, which may carry evidence (reasons the
policy's verdict should cite, e.g. the hash-bank entry an image matched) and notes (request
features the verdict records, e.g. ``ocr: skipped_budget``). Scores two classifiers give for
the same category are merged by maximum (the post text's toxicity and the toxicity of the
text inside its images).

Below the classifiers sits a ``ModelSession``: named input tensors in, output tensors out.
The in-process ONNX Runtime session and the Triton client both implement it, so a text,
spam or image classifier runs the same pre- and post-processing whichever backend its URL
picks. A session that can say whether its model is reachable is a ``ReadinessProbe``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np

from modgate.types import Category, FeatureValue, Post, Reason, Scores


@dataclass(frozen=True, slots=True)
class Prediction:
    """Scores for one post plus what the verdict should cite and record alongside them."""

    scores: Scores
    evidence: tuple[Reason, ...] = ()
    notes: Mapping[str, FeatureValue] = field(default_factory=lambda: MappingProxyType({}))


@runtime_checkable
class Classifier(Protocol):
    """An async batch classifier. Implementations must be safe to call concurrently."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def categories(self) -> tuple[Category, ...]: ...

    def applies_to(self, post: Post) -> bool:
        """Whether this classifier has anything to score in ``post``."""
        ...

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        """Scores for each post, in order. Raises ModelTimeoutError past ``timeout_s``."""
        ...

    async def aclose(self) -> None:
        """Release sessions, threads and connections."""
        ...


@runtime_checkable
class DetailedClassifier(Classifier, Protocol):
    """A classifier whose answers carry evidence and notes besides scores."""

    async def predict_detailed(
        self, posts: Sequence[Post], *, timeout_s: float
    ) -> list[Prediction]:
        """One ``Prediction`` per post, in order; errors as for ``predict``."""
        ...


Feeds = Mapping[str, np.ndarray]


@runtime_checkable
class ModelSession(Protocol):
    """One model behind a backend: named input tensors in, outputs (``output_names`` order) out.

    Implementations must be safe to call concurrently."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def input_names(self) -> tuple[str, ...]: ...

    @property
    def output_names(self) -> tuple[str, ...]: ...

    def run_sync(self, feeds: Feeds) -> list[np.ndarray]:
        """Run on the calling thread (batch jobs, OCR workers, parity checks, benchmarks)."""
        ...

    async def run(
        self, feeds: Feeds | Callable[[], Feeds], *, timeout_s: float
    ) -> list[np.ndarray]:
        """Run within ``timeout_s``; ``feeds`` may be a callable that builds them off the loop.

        Raises ModelTimeoutError past the budget, ModelUnavailableError when the model
        cannot be reached, ModelInputError when it refuses the tensors."""
        ...

    def close(self) -> None:
        """Release what can be released synchronously (a loader giving up on a session)."""
        ...

    async def aclose(self) -> None:
        """Release threads, sessions and channels."""
        ...


SessionOpener = Callable[[Path, str, str], ModelSession]
"""``(weights path, model name, artifact version) -> ModelSession``: how a classifier's
loader gets its session (in-process ONNX Runtime by default, or a Triton client)."""


@runtime_checkable
class ReadinessProbe(Protocol):
    """Something that can tell whether its model is ready to answer right now."""

    async def probe(self) -> str | None:
        """``None`` when ready, else why not (``"server unreachable: ..."``)."""
        ...


class SessionBacked:
    """What every classifier that runs one ``ModelSession`` shares: its name, its readiness
    (asked of the session when it can tell, i.e. remote backends) and closing."""

    _name: str

    @property
    def session(self) -> ModelSession:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name

    async def probe(self) -> str | None:
        """``None`` when the model can answer now, else why not."""
        if isinstance(self.session, ReadinessProbe):
            return await self.session.probe()
        return None

    async def aclose(self) -> None:
        await self.session.aclose()
