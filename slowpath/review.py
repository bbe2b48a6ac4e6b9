"""Moderator review: claim the next item, show it, decide it. The library behind
``modgate review`` (and, later, the web console).

A decision is applied by the queue in one Redis transaction together with the records it
produces: a ``LabelRecord`` (for final actions) and an ``ActionRecord`` with source
``moderator`` go into the queue's outbox, and the slow-path worker relays them to
``modgate.labels`` / ``modgate.actions``. So deciding needs only Redis, and a broker outage
delays labels but never loses one. Escalation produces a non-final action record and moves
the item to the senior queue; it is not a label.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from google.protobuf.json_format import MessageToDict

from modgate.pb import records_pb2 as rpb
from modgate.records import decode, encode
from slowpath.interface import Decided, ModeratorAction, ModeratorQueue, ReviewItem

OUTCOMES = {
    ModeratorAction.APPROVE: rpb.OUTCOME_ALLOW,
    ModeratorAction.REMOVE: rpb.OUTCOME_REMOVE,
    ModeratorAction.REDUCE: rpb.OUTCOME_REDUCE,
    ModeratorAction.ESCALATE: rpb.OUTCOME_ESCALATED,
}
VIOLATING = frozenset({ModeratorAction.REMOVE, ModeratorAction.REDUCE})


def decision_records(
    item: ReviewItem,
    action: ModeratorAction,
    moderator_id: str,
    *,
    note: str = "",
    categories: Sequence[str] = (),
    now: float | None = None,
) -> list[tuple[str, bytes, bytes]]:
    """The outbox records ``(logical topic, key, value)`` one moderator decision produces."""
    now = time.time() if now is None else now
    key = item.post_id.encode()
    final = action is not ModeratorAction.ESCALATE
    violates = action in VIOLATING
    named = list(categories) or ([item.top_category] if violates and item.top_category else [])
    records = [
        (
            "actions",
            key,
            encode(
                rpb.ActionRecord(
                    action_id=uuid.uuid4().hex,
                    post_id=item.post_id,
                    decision_id=item.decision_id,
                    outcome=OUTCOMES[action],
                    source=rpb.MODERATOR,
                    actor=moderator_id,
                    category=named[0] if named else "",
                    reason=f"moderator.{action.value}",
                    note=note,
                    decided_at=now,
                    final=final,
                )
            ),
        )
    ]
    if final:
        label = rpb.LabelRecord(
            label_id=uuid.uuid4().hex,
            post_id=item.post_id,
            decision_id=item.decision_id,
            source=rpb.MODERATOR,
            actor=moderator_id,
            outcome=OUTCOMES[action],
            violates=violates,
            categories=named if violates else [],
            confidence=1.0,
            rationale=note,
            labelled_at=now,
        )
        records.append(("labels", key, encode(label)))
    return records


async def decide(
    queue: ModeratorQueue,
    post_id: str,
    moderator_id: str,
    action: ModeratorAction,
    *,
    note: str = "",
    categories: Sequence[str] = (),
) -> Decided:
    """Apply a moderator's decision (LeaseError unless they hold the item's lease)."""
    item = await queue.get(post_id)
    records = decision_records(item, action, moderator_id, note=note, categories=categories)
    return await queue.decide(post_id, moderator_id, action, note=note, outbox=records)


def describe(item: ReviewItem) -> dict[str, Any]:
    """What a moderator needs to see, as plain data: post, scores, reasons, judge, lease."""
    deferred = decode(rpb.DeferredPost, item.payload)
    post, verdict = deferred.post, deferred.verdict
    view: dict[str, Any] = {
        "post_id": item.post_id,
        "queue": item.queue.value,
        "priority": round(item.priority, 4),
        "severity": round(item.severity, 4),
        "reach": round(item.reach, 4),
        "waiting_s": round(max(time.time() - item.enqueued_at, 0.0), 1),
        "top_category": item.top_category,
        "text": post.text,
        "images": [{"sha256": ref.sha256, "size_bytes": ref.size_bytes} for ref in deferred.images],
        "author": MessageToDict(post.author, preserving_proto_field_name=True),
        "region": post.region,
        "language": verdict.language,
        "scores": {k: round(v, 4) for k, v in sorted(verdict.scores.items())},
        "reasons": list(verdict.reason_codes),
        "degraded": verdict.degraded,
        "missing_models": list(verdict.missing_models),
        "decision_id": item.decision_id,
        "claimed_by": item.claimed_by,
        "lease_expires_at": item.lease_expires_at,
        "escalated_by": item.escalated_by,
    }
    if item.judge:
        view["judge"] = MessageToDict(
            rpb.JudgeOpinion.FromString(item.judge), preserving_proto_field_name=True
        )
    return view
