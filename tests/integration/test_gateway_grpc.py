"""The gateway over real gRPC on 127.0.0.1: verdicts from the shipped spam model, degradation
under a deadline, INVALID_ARGUMENT for bad input (and the server keeps serving), batch,
health, reflection and graceful drain."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from modgate.embedded import LocalRedis
from modgate.pb import moderation_pb2 as pb
from modgate.settings import RedisSettings
from tests.fakes import FunctionClassifier, constant
from tests.integration.conftest import StartGateway, spam_classifier

pytestmark = pytest.mark.integration

SPAM_TEXT = (
    "URGENT! You have won a £2000 cash prize GUARANTEED. Call 09061701939 now to claim. "
    "Claim code S89. Valid 12hrs only. T&C apply 150p/min"
)
FRIENDLY_TEXT = "Are we still on for lunch tomorrow? I'll bring the notes from class."


async def test_obvious_spam_is_removed_or_deferred_with_score_and_reasons(
    start_gateway: StartGateway,
) -> None:
    _, stub = await start_gateway()
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="s1", text=SPAM_TEXT), timeout=5)
    assert verdict.action in (pb.REMOVE, pb.DEFER)
    assert verdict.scores["spam"] >= 0.7
    assert any(code.startswith("spam.") for code in verdict.reason_codes)
    assert verdict.post_id == "s1"
    assert verdict.decision_id
    assert verdict.policy_version
    assert [m.name for m in verdict.models] == ["spam"]
    assert not verdict.degraded


async def test_friendly_text_is_allowed(start_gateway: StartGateway) -> None:
    _, stub = await start_gateway()
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="f1", text=FRIENDLY_TEXT), timeout=5)
    assert verdict.action == pb.ALLOW
    assert verdict.scores["spam"] < 0.5
    assert list(verdict.reason_codes) == ["all.below_thresholds"]


async def test_defers_when_severe_model_misses_deadline(start_gateway: StartGateway) -> None:
    deadline_ms = 150.0
    sleepy = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.0), delay_s=10.0)
    _, stub = await start_gateway(
        {"spam": spam_classifier(), "hate-model": sleepy}, deadline_ms=deadline_ms
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="d1", text=FRIENDLY_TEXT), timeout=5)
    elapsed_ms = (loop.time() - started) * 1000
    # The contract under test: a verdict by the deadline (+50 ms of slack), not a hang.
    assert elapsed_ms < deadline_ms + 50, elapsed_ms
    assert verdict.degraded
    assert list(verdict.missing_models) == ["hate-model"]
    assert list(verdict.missing_reasons) == ["hate-model: timeout"]
    assert verdict.action == pb.DEFER  # hate is severe: missing => DEFER, never a silent ALLOW
    assert "hate.model_missing" in verdict.reason_codes
    assert "spam" in verdict.scores  # the spam model still answered


async def test_callers_shorter_deadline_wins(start_gateway: StartGateway) -> None:
    sleepy = FunctionClassifier("hate-model", ("hate",), constant("hate", 0.0), delay_s=10.0)
    _, stub = await start_gateway(
        {"spam": spam_classifier(), "hate-model": sleepy}, deadline_ms=5000
    )
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="d2", text=FRIENDLY_TEXT), timeout=0.3)
    assert verdict.degraded  # answered before the caller's 300 ms, not the server's 5 s
    assert verdict.action == pb.DEFER


async def test_all_models_failing_defers_never_allows(start_gateway: StartGateway) -> None:
    broken = FunctionClassifier(
        "spam", ("spam",), constant("spam", 0.0), error=RuntimeError("down")
    )
    _, stub = await start_gateway({"spam": broken})
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="m1", text=FRIENDLY_TEXT), timeout=5)
    assert verdict.action == pb.DEFER
    assert "all.models_missing" in verdict.reason_codes
    assert list(verdict.missing_reasons) == ["spam: error: RuntimeError"]


def _raw_moderate(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        "/modgate.v1.Moderation/Moderate",
        request_serializer=None,
        response_deserializer=pb.Verdict.FromString,
    )


BAD_REQUESTS: list[tuple[str, bytes, str]] = [
    (
        "oversized text",
        pb.ModerateRequest(post_id="b", text="x" * 10_001).SerializeToString(),
        "text:",
    ),
    ("empty post", pb.ModerateRequest(post_id="b").SerializeToString(), "text: empty post"),
    ("no post id", pb.ModerateRequest(text="hi").SerializeToString(), "post_id: required"),
    (
        "too many images",
        pb.ModerateRequest(post_id="b", images=[pb.Image(data=b"x")] * 5).SerializeToString(),
        "images: 5 images",
    ),
    (
        "image too large",
        pb.ModerateRequest(
            post_id="b", images=[pb.Image(data=b"x" * (5 * 2**20 + 1))]
        ).SerializeToString(),
        "images[0].data:",
    ),
    (
        "invalid UTF-8 text",
        pb.ModerateRequest(post_id="b", text="hello")
        .SerializeToString()
        .replace(b"hello", b"he\xffo!"),
        "text: invalid UTF-8",
    ),
    (
        "negative followers",
        pb.ModerateRequest(
            post_id="b", text="hi", author=pb.Author(followers=-5)
        ).SerializeToString(),
        "author.followers:",
    ),
    (
        "unknown field",
        pb.ModerateRequest(post_id="b", text="hi").SerializeToString() + b"\xa0\x06\x01",
        "#100:",
    ),
    ("garbage bytes", b"\xff\xff\xff\xff\xff", "request: malformed"),
    ("wrong type", b"\x0a\x01b\x18\x05", "text: wrong type"),
]


async def test_malformed_requests_get_invalid_argument_and_server_keeps_serving(
    start_gateway: StartGateway,
) -> None:
    gateway, stub = await start_gateway()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        call = _raw_moderate(channel)
        for name, data, expected in BAD_REQUESTS:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(data, timeout=5)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            assert expected in (info.value.details() or ""), (name, info.value.details())
    verdict = await stub.Moderate(pb.ModerateRequest(post_id="ok", text=FRIENDLY_TEXT), timeout=5)
    assert verdict.action == pb.ALLOW


async def test_batch_keeps_request_order_and_names_bad_post(start_gateway: StartGateway) -> None:
    _, stub = await start_gateway()
    request = pb.ModerateBatchRequest(
        posts=[
            pb.ModerateRequest(post_id="a", text=FRIENDLY_TEXT),
            pb.ModerateRequest(post_id="b", text=SPAM_TEXT),
            pb.ModerateRequest(post_id="c", text="ok see you"),
        ]
    )
    response = await stub.ModerateBatch(request, timeout=5)
    assert [v.post_id for v in response.verdicts] == ["a", "b", "c"]
    assert response.verdicts[1].scores["spam"] > response.verdicts[0].scores["spam"]
    bad = pb.ModerateBatchRequest(
        posts=[pb.ModerateRequest(post_id="a", text="hi"), pb.ModerateRequest(post_id="b")]
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ModerateBatch(bad, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("posts[1].text")


async def test_health_and_reflection_are_served(start_gateway: StartGateway) -> None:
    gateway, _ = await start_gateway()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service="modgate.v1.Moderation"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = [s.name async for r in responses for s in r.list_services_response.service]
        assert "modgate.v1.Moderation" in services


async def list_services(port: int) -> list[str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        return [s.name async for r in responses for s in r.list_services_response.service]


@pytest.mark.parametrize(
    ("host", "reflection", "served"),
    [
        ("0.0.0.0", None, False),  # the port is on the network: reflection off unless asked
        ("0.0.0.0", True, True),
        ("127.0.0.1", False, False),
    ],
)
async def test_reflection_is_off_on_a_public_bind_unless_asked(
    start_gateway: StartGateway, host: str, reflection: bool | None, served: bool
) -> None:
    gateway, stub = await start_gateway(host=host, reflection=reflection)
    await stub.Moderate(pb.ModerateRequest(post_id="r1", text=FRIENDLY_TEXT), timeout=5)
    if served:
        assert "modgate.v1.Moderation" in await list_services(gateway.port)
    else:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await list_services(gateway.port)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_graceful_stop_drains_in_flight_calls(start_gateway: StartGateway) -> None:
    slowish = FunctionClassifier("slow", ("toxicity",), constant("toxicity", 0.1), delay_s=0.3)
    gateway, stub = await start_gateway({"slow": slowish}, deadline_ms=2000)
    in_flight = asyncio.ensure_future(
        stub.Moderate(pb.ModerateRequest(post_id="g1", text=FRIENDLY_TEXT), timeout=5)
    )
    await asyncio.sleep(0.1)
    await gateway.stop()
    verdict = await in_flight
    assert verdict.post_id == "g1"
    assert not verdict.degraded
    assert slowish.closed


async def test_no_secret_reaches_the_log(
    start_gateway: StartGateway, redis_server: LocalRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis password in the settings appears in no log line: not at boot, not when the
    server refuses it, not at shutdown."""
    secret = "s3cret-Pa55word"
    url = redis_server.url.replace("redis://", f"redis://:{secret}@")
    caplog.set_level(logging.DEBUG)
    gateway, stub = await start_gateway(redis=RedisSettings(url=url))
    request = pb.ModerateRequest(post_id="p", text="hello", author=pb.Author(id="a1"))
    await stub.Moderate(request, timeout=5)  # the author lookup fails: AUTH refused
    await gateway.stop()
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.__dict__}"
        for record in caplog.records
    )
    assert "redis://:***@" in logged  # the boot line names the Redis it uses
    assert secret not in logged
