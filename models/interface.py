"""The ``Classifier`` protocol every model backend implements.

Batch in, scores out, under a time budget: ``predict(posts, timeout_s=...)`` returns one
``{category: probability}`` mapping per post, in order, or raises a ``ModelError``. A
classifier declares the categories it scores, so the gateway knows what goes missing when
it is late, and ``applies_to`` lets e.g. an image model skip posts without images (which is
"not applicable", not "missing").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from modgate.types import Category, Post, Scores


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
