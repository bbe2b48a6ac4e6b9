"""Stream records: schema versioning, feature round trips, and what each verdict publishes."""

from __future__ import annotations

import pytest

from gateway.records import publish_verdict
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import (
    SCHEMA_VERSION,
    RecordError,
    Topics,
    decode,
    encode,
    features_from_wire,
    features_to_wire,
)
from modgate.types import Author, Image, Post
from tests.fakes import ListSink

TOPICS = Topics()


def _post(images: tuple[Image, ...] = ()) -> Post:
    return Post(
        post_id="p1", text="hi", images=images, author=Author(id="a1", followers=5), region="DE"
    )


def _verdict(action: pb.Action.ValueType) -> pb.Verdict:
    return pb.Verdict(
        post_id="p1",
        action=action,
        scores={"toxicity": 0.7},
        reasons=[pb.Reason(code="toxicity.defer_above", category="toxicity", action=action)],
        reason_codes=["toxicity.defer_above"],
        decision_id="d1",
    )


def test_encode_stamps_the_schema_version_and_decode_rejects_unknown_ones() -> None:
    data = encode(rpb.LabelRecord(post_id="p"))
    assert decode(rpb.LabelRecord, data).schema_version == SCHEMA_VERSION
    future = rpb.LabelRecord(post_id="p", schema_version=SCHEMA_VERSION + 1).SerializeToString()
    with pytest.raises(RecordError, match="schema_version"):
        decode(rpb.LabelRecord, future)
    with pytest.raises(RecordError, match="undecodable"):
        decode(rpb.LabelRecord, b"\xff\xff\xff")


def test_features_round_trip_keeping_unknown_as_none() -> None:
    features = {"region": "DE", "followers": 5, "trust": 0.25, "flag": True, "age": None}
    back = features_from_wire(features_to_wire(features))
    assert back == {"region": "DE", "followers": 5.0, "trust": 0.25, "flag": True, "age": None}


def test_a_deferral_publishes_the_decision_and_the_deferred_post_with_images() -> None:
    sink = ListSink()
    post = _post((Image(b"\x89PNG fake bytes", "image/png"),))
    publish_verdict(sink, TOPICS, post, {"region": "DE"}, _verdict(pb.DEFER), max_record_bytes=4096)
    assert [(t, k) for t, k, _ in sink.records] == [
        (TOPICS.decisions, b"p1"),
        (TOPICS.deferred, b"p1"),
    ]
    decision = decode(rpb.DecisionRecord, sink.records[0][2])
    assert not decision.post.images  # the audit log never carries image bytes
    assert decision.images[0].size_bytes == len(post.images[0].data)
    assert features_from_wire(decision.features) == {"region": "DE"}
    deferred = decode(rpb.DeferredPost, sink.records[1][2])
    assert deferred.post.images[0].data == post.images[0].data
    assert deferred.post.author.followers == 5
    assert not deferred.images_dropped


def test_a_deferred_post_over_the_record_limit_travels_without_image_bytes() -> None:
    sink = ListSink()
    post = _post((Image(b"x" * 5000, "image/jpeg"),))
    publish_verdict(sink, TOPICS, post, {}, _verdict(pb.DEFER), max_record_bytes=1024)
    deferred = decode(rpb.DeferredPost, sink.records[1][2])
    assert deferred.images_dropped
    assert not deferred.post.images
    assert len(deferred.images) == 1


@pytest.mark.parametrize(
    ("action", "outcome"), [(pb.ALLOW, rpb.OUTCOME_ALLOW), (pb.REMOVE, rpb.OUTCOME_REMOVE)]
)
def test_a_final_verdict_publishes_a_model_action(
    action: pb.Action.ValueType, outcome: rpb.Outcome.ValueType
) -> None:
    sink = ListSink()
    publish_verdict(sink, TOPICS, _post(), {}, _verdict(action), max_record_bytes=4096)
    assert [t for t, _, _ in sink.records] == [TOPICS.decisions, TOPICS.actions]
    record = decode(rpb.ActionRecord, sink.records[1][2])
    assert (record.outcome, record.source, record.final) == (outcome, rpb.MODEL, True)
    assert (record.decision_id, record.category) == ("d1", "toxicity")
