"""A function-backed classifier for tests: scores come from a plain function, optionally after
a delay or by raising — to exercise deadlines, failures and degradation without patching; and
an in-memory ``RecordSink`` that keeps what the gateway published."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from modgate.types import Category, Post, Scores


@dataclass
class FunctionClassifier:
    name: str
    categories: tuple[Category, ...]
    score: Callable[[Post], Scores]
    delay_s: float = 0.0
    error: Exception | None = None
    version: str = "test-1"
    needs_text: bool = True
    calls: int = 0
    cancelled: int = 0
    closed: bool = False
    seen: list[str] = field(default_factory=list)

    def applies_to(self, post: Post) -> bool:
        return bool(post.text) or not self.needs_text

    async def predict(self, posts: Sequence[Post], *, timeout_s: float) -> list[Scores]:
        self.calls += 1
        self.seen.extend(p.post_id for p in posts)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        return [self.score(p) for p in posts]

    async def aclose(self) -> None:
        self.closed = True


def constant(category: Category, value: float) -> Callable[[Post], Scores]:
    return lambda _post: {category: value}


class ListSink:
    """The gateway's ``RecordSink`` in memory: every published record, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    def publish(self, topic: str, key: bytes, value: bytes) -> None:
        self.records.append((topic, key, value))

    def keys(self, topic: str) -> list[bytes]:
        return [key for t, key, _ in self.records if t == topic]

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
