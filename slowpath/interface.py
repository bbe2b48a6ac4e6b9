"""The slow path's protocols (``LlmJudge``, ``ModeratorQueue``) and the values they trade.

Implementations: ``slowpath/llm_openai.py`` (any OpenAI-compatible chat-completions
endpoint) and ``slowpath/queue_redis.py`` (Redis sorted sets with leases, Lua-atomic).
The worker (``slowpath/worker.py``) and ``modgate review`` ask for these protocols, never for
a concrete class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class JudgeOutcome(StrEnum):
    VIOLATES = "violates"
    CLEAN = "clean"
    UNSURE = "unsure"  # the judge said so, or answered late, malformed, or not at all


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """What the judge sees of a deferred post: its text (data, never instructions) and
    context. ``scores`` are the gateway's model scores."""

    post_id: str
    text: str
    language: str = ""
    region: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The judge's validated opinion. Anything unusable is UNSURE with ``error`` saying why."""

    outcome: JudgeOutcome
    category: str = ""
    confidence: float = 0.0
    rationale: str = ""
    injection_suspected: bool = False
    model: str = ""
    error: str = ""
    latency_ms: float = 0.0

    def is_confident(self, threshold: float) -> bool:
        """True when this opinion may become the final outcome under ``threshold``."""
        return (
            self.outcome is not JudgeOutcome.UNSURE
            and not self.injection_suspected
            and self.confidence >= threshold
        )


class LlmJudge(Protocol):
    """Asks an LLM whether a post violates the policy. Never raises for a bad answer: it
    returns UNSURE with ``error`` set (timeouts, HTTP errors, malformed JSON included)."""

    @property
    def model(self) -> str: ...

    async def judge(self, request: JudgeRequest) -> Judgement: ...

    async def aclose(self) -> None: ...


class ModeratorAction(StrEnum):
    APPROVE = "approve"  # keep the post up: final, outcome allow
    REMOVE = "remove"  # take it down: final
    REDUCE = "reduce"  # keep it up with reduced distribution: final
    ESCALATE = "escalate"  # hand to the senior queue: not final


class QueueName(StrEnum):
    MAIN = "main"
    SENIOR = "senior"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One deferred post waiting for (or held by) a moderator.

    ``payload`` is the ``DeferredPost`` record bytes and ``judge`` the ``JudgeOpinion``
    bytes (empty when no judge ran); the console decodes them for display.
    """

    post_id: str
    decision_id: str
    author_id: str
    queue: QueueName
    severity: float
    reach: float
    enqueued_at: float  # unix seconds
    priority: float  # severity x reach x 2 ** (age / doubling), as of when it was read
    top_category: str
    payload: bytes
    judge: bytes = b""
    claimed_by: str = ""
    lease_expires_at: float = 0.0  # unix seconds; 0 when not claimed
    claims: int = 0  # how many times the item has been handed out
    escalated_by: str = ""


@dataclass(frozen=True, slots=True)
class Decided:
    """A moderator decision as stored; the queue's outbox carries its label/action records."""

    post_id: str
    action: ModeratorAction
    moderator_id: str
    note: str
    decided_at: float
    author_id: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A record waiting in Redis to be relayed to Kafka (``topic`` is a logical name:
    ``"labels"`` or ``"actions"``)."""

    entry_id: str
    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class AuthorCounters:
    """What modgate knows of an author from past reviews (Redis hash ``{prefix}author:{id}``)."""

    prior_violations: int = 0  # removed + reduced
    approved: int = 0
    reviews: int = 0
    trust: float = 0.5  # (1 + approved) / (2 + reviews): 0.5 for an unknown author


class ModeratorQueue(Protocol):
    """The moderator priority queue: idempotent enqueue, leased claims, atomic decisions."""

    async def enqueue(
        self,
        *,
        post_id: str,
        decision_id: str,
        author_id: str,
        scores: Mapping[str, float],
        followers: int | None,
        payload: bytes,
        judge: bytes = b"",
        enqueued_at: float | None = None,
        images: Mapping[str, bytes] | None = None,
        link_hosts: Sequence[str] = (),
    ) -> bool:
        """Add an item; False (and no change) if this post id was ever enqueued before.
        ``images`` (SHA-256 hex -> bytes) are kept once per content, read with ``image``;
        ``payload`` then carries the post without image bytes. A moderator's spam removal
        (approval) of the item counts against (for) each of ``link_hosts``."""
        ...

    async def image(self, sha256: str) -> bytes | None:
        """The bytes of an image a queued post carried, or None once they expired."""
        ...

    async def claim(
        self, moderator_id: str, *, queue: QueueName = QueueName.MAIN
    ) -> ReviewItem | None:
        """Lease the highest-priority item to ``moderator_id``; None when the queue is empty.
        Expired leases return their items to the queue first."""
        ...

    async def get(self, post_id: str) -> ReviewItem:
        """The item as stored (ItemNotFoundError if unknown)."""
        ...

    async def peek(self, n: int, *, queue: QueueName = QueueName.MAIN) -> Sequence[ReviewItem]:
        """The top ``n`` waiting items, highest priority first, without claiming them."""
        ...

    async def decide(
        self,
        post_id: str,
        moderator_id: str,
        action: ModeratorAction,
        *,
        note: str = "",
        outbox: Sequence[tuple[str, bytes, bytes]] = (),
    ) -> Decided:
        """Apply a moderator action by the lease holder (LeaseError otherwise), atomically:
        remove or escalate the item, update the author's counters, and append ``outbox``
        records ``(topic, key, value)`` for the relay to publish."""
        ...

    async def release(self, post_id: str, moderator_id: str) -> None:
        """Give a claimed item back before its lease expires."""
        ...

    async def renew(self, post_id: str, moderator_id: str) -> float:
        """Extend a lease its holder still has by the queue's lease time; return the new expiry
        (unix seconds). A lease past its expiry still counts until a claim reclaims the item,
        for ``renew`` and ``decide`` alike."""
        ...

    async def author_counters(self, author_id: str) -> AuthorCounters: ...

    async def is_done(self, post_id: str) -> bool:
        """True once a post was queued or finalized: redeliveries are skipped."""
        ...

    async def mark_done(
        self,
        post_id: str,
        outcome: str,
        *,
        author_id: str = "",
        author_action: ModeratorAction | None = None,
        strike_category: str = "",
        strike_source: str = "llm",
    ) -> bool:
        """Record that a post was finalized without the queue (by the judge, or the image-text
        check) and count ``author_action`` against ``author_id`` (a REMOVE with
        ``strike_category`` also as a strike, ``modgate/keys.py``), atomically and once per
        post: False, changing nothing, when the post was already done."""
        ...

    async def mark_dead_lettered(self, post_id: str) -> None:
        """Record that a post went to the dead-letter topic (the gateway stops publishing it
        again); unlike ``mark_done`` it does not stop a replay from being routed."""
        ...

    async def depth(self, queue: QueueName = QueueName.MAIN) -> int:
        """Items waiting (not leased) in ``queue``."""
        ...

    async def outbox_read(self, count: int) -> Sequence[OutboxEntry]: ...

    async def outbox_ack(self, entry_ids: Sequence[str]) -> None: ...

    async def aclose(self) -> None: ...
