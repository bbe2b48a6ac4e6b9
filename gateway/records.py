"""The gateway's stream records: what each verdict publishes, built from what it served.

Every verdict goes to ``modgate.decisions`` (the audit log, with the exact features the
policy saw and image hashes, never image bytes). A DEFER goes to ``modgate.deferred`` with
everything the slow path needs to look again (image bytes included unless the record would
exceed ``max_record_bytes``). An ALLOW or REMOVE is final and also goes to
``modgate.actions`` with source ``model``. Keys are post ids.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping

from gateway.publisher import RecordSink
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import Topics, encode, features_to_wire
from modgate.types import Author, FeatureValue, Post

_FINAL = {pb.ALLOW: rpb.OUTCOME_ALLOW, pb.REMOVE: rpb.OUTCOME_REMOVE}


def request_of(post: Post, *, with_images: bool) -> pb.ModerateRequest:
    """The wire request for a validated post (optionally without its image bytes)."""
    return pb.ModerateRequest(
        post_id=post.post_id,
        author=_author(post.author),
        text=post.text,
        images=[pb.Image(data=i.data, mime_type=i.mime_type) for i in post.images]
        if with_images
        else [],
        region=post.region,
        language_hint=post.language_hint,
        client_metadata=dict(post.client_metadata),
    )


def _author(author: Author) -> pb.Author:
    message = pb.Author(id=author.id)
    for name in ("account_age_days", "followers", "prior_violations", "posts_last_hour"):
        value = getattr(author, name)
        if value is not None:
            setattr(message, name, value)
    return message


def image_refs(post: Post) -> list[rpb.ImageRef]:
    return [
        rpb.ImageRef(
            sha256=i.decoded.sha256 if i.decoded else hashlib.sha256(i.data).hexdigest(),
            size_bytes=len(i.data),
            mime_type=i.mime_type,
        )
        for i in post.images
    ]


def publish_verdict(
    sink: RecordSink,
    topics: Topics,
    post: Post,
    features: Mapping[str, FeatureValue],
    verdict: pb.Verdict,
    *,
    max_record_bytes: int,
) -> None:
    """Publish the records one verdict produces (never blocks: the sink buffers)."""
    now = time.time()
    key = post.post_id.encode()
    wire_features = features_to_wire(features)
    refs = image_refs(post)
    decision = rpb.DecisionRecord(
        post=request_of(post, with_images=False),
        images=refs,
        verdict=verdict,
        features=wire_features,
        decided_at=now,
    )
    sink.publish(topics.decisions, key, encode(decision))
    if verdict.action == pb.DEFER:
        sink.publish(
            topics.deferred,
            key,
            _deferred(decision, post, max_record_bytes),
        )
    elif verdict.action in _FINAL:
        action = rpb.ActionRecord(
            action_id=uuid.uuid4().hex,
            post_id=post.post_id,
            decision_id=verdict.decision_id,
            outcome=_FINAL[verdict.action],
            source=rpb.MODEL,
            actor="gateway",
            category=verdict.reasons[0].category if verdict.reasons else "",
            reason=",".join(verdict.reason_codes),
            decided_at=now,
            final=True,
        )
        sink.publish(topics.actions, key, encode(action))


def _deferred(decision: rpb.DecisionRecord, post: Post, max_record_bytes: int) -> bytes:
    record = rpb.DeferredPost(
        post=request_of(post, with_images=True),
        verdict=decision.verdict,
        features=decision.features,
        deferred_at=decision.decided_at,
        images=decision.images,
    )
    if record.ByteSize() > max_record_bytes:
        record.post.ClearField("images")
        record.images_dropped = True
    return encode(record)
