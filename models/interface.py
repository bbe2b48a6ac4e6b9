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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

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
