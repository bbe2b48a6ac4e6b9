"""Fan-out: every configured classifier in parallel under one absolute deadline.

Each classifier gets the posts it applies to and the budget left until the deadline.
``asyncio.wait(..., timeout=remaining)`` returns at the deadline whatever happened; late
classifiers are cancelled and, like failed ones, reported missing with a reason — never
awaited past the deadline. One failure never cancels the others (no TaskGroup here).
A post a classifier does not apply to (no text for a text model) is "not applicable", not
missing.
Scores two classifiers give for one category merge by maximum; a ``DetailedClassifier``'s
evidence and notes are collected per post for the policy and the decision record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from models.errors import ModelError, ModelTimeoutError
from models.interface import Classifier, DetailedClassifier, Prediction
from modgate.types import (
    Category,
    FeatureValue,
    ModelVersion,
    Post,
    Reason,
    Scores,
    max_scores,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PostScores:
    """What the models said about one post."""

    scores: dict[Category, float] = field(default_factory=dict)
    answered: list[ModelVersion] = field(default_factory=list)
    missing_models: dict[str, str] = field(default_factory=dict)  # model name -> reason
    missing_categories: set[Category] = field(default_factory=set)
    evidence: list[Reason] = field(default_factory=list)
    notes: dict[str, FeatureValue] = field(default_factory=dict)

    def merge(self, prediction: Prediction) -> None:
        self.scores = max_scores(self.scores, prediction.scores)
        self.evidence.extend(prediction.evidence)
        self.notes.update(prediction.notes)


async def fan_out(
    classifiers: Mapping[str, Classifier], posts: Sequence[Post], *, deadline: float
) -> list[PostScores]:
    """Score ``posts`` with every classifier; return by ``deadline`` (loop time) at the latest."""
    loop = asyncio.get_running_loop()
    results = [PostScores() for _ in posts]
    tasks: dict[asyncio.Task[list[Prediction]], tuple[Classifier, list[int]]] = {}
    for clf in classifiers.values():
        indices = [i for i, post in enumerate(posts) if clf.applies_to(post)]
        if not indices:
            continue
        remaining = deadline - loop.time()
        coro = _predict(clf, [posts[i] for i in indices], remaining)
        tasks[asyncio.ensure_future(coro)] = (clf, indices)
    if not tasks:
        return results
    try:
        done, pending = await asyncio.wait(tasks, timeout=max(deadline - loop.time(), 0.0))
    except asyncio.CancelledError:  # the RPC was cancelled (the caller gave up): stop the models
        _abandon(tasks)
        raise
    _abandon(pending)
    for task in pending:
        clf, indices = tasks[task]
        _mark_missing(results, indices, clf, "timeout")
    for task in done:
        clf, indices = tasks[task]
        _collect(task, clf, indices, results)
    return results


def not_scored(
    classifiers: Mapping[str, Classifier], posts: Sequence[Post], reason: str
) -> list[PostScores]:
    """What ``fan_out`` would report if every classifier that applies missed: used when the
    gateway sheds load and does not ask the models at all."""
    results = [PostScores() for _ in posts]
    for clf in classifiers.values():
        indices = [i for i, post in enumerate(posts) if clf.applies_to(post)]
        _mark_missing(results, indices, clf, reason)
    return results


def _abandon(tasks: Iterable[asyncio.Task[list[Prediction]]]) -> None:
    """Cancel ``tasks`` nobody will await. A task racing the cancellation may still end with
    its own timeout error; it is reported missing (or the RPC is gone), so retrieve and drop
    that outcome rather than leave "Task exception was never retrieved" in the log."""
    for task in tasks:
        task.cancel()
        task.add_done_callback(_drop_outcome)


def _drop_outcome(task: asyncio.Task[list[Prediction]]) -> None:
    if not task.cancelled():
        task.exception()


async def _predict(clf: Classifier, posts: list[Post], timeout_s: float) -> list[Prediction]:
    if isinstance(clf, DetailedClassifier):
        return await clf.predict_detailed(posts, timeout_s=timeout_s)
    return [Prediction(scores) for scores in await clf.predict(posts, timeout_s=timeout_s)]


def _collect(
    task: asyncio.Task[list[Prediction]],
    clf: Classifier,
    indices: list[int],
    results: list[PostScores],
) -> None:
    exc = task.exception()
    if exc is not None:
        reason = "timeout" if isinstance(exc, ModelTimeoutError) else f"error: {type(exc).__name__}"
        if not isinstance(exc, ModelError):
            # Backend boundary: an unexpected failure is logged with its traceback.
            log.error("classifier %s failed unexpectedly", clf.name, exc_info=exc)
        _mark_missing(results, indices, clf, reason)
        return
    batch = task.result()
    if len(batch) != len(indices):
        log.error(
            "classifier %s returned %d results for %d posts", clf.name, len(batch), len(indices)
        )
        _mark_missing(results, indices, clf, "error: wrong result count")
        return
    if not all(_valid(prediction.scores) for prediction in batch):
        log.error("classifier %s returned a score outside [0, 1]", clf.name)
        _mark_missing(results, indices, clf, "error: invalid score")
        return
    version = ModelVersion(clf.name, clf.version)
    for i, prediction in zip(indices, batch, strict=True):
        results[i].merge(prediction)
        results[i].answered.append(version)


def _valid(scores: Scores) -> bool:
    return all(0.0 <= value <= 1.0 for value in scores.values())  # NaN fails both


def _mark_missing(
    results: list[PostScores], indices: list[int], clf: Classifier, reason: str
) -> None:
    for i in indices:
        results[i].missing_models[clf.name] = reason
        results[i].missing_categories.update(clf.categories)
