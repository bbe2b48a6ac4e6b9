"""The gateway with its models on a real Triton server: post → gateway → Triton → verdict
over gRPC, the same verdicts as in-process, OCR scoring image text through Triton, and a
Triton outage mid-run that the gateway answers through (degraded, the model marked missing
in the verdict, the health service and the metrics) and recovers from by itself."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.readiness import health_name
from gateway.server import Gateway, load_classifiers
from modgate.embedded_triton import LocalTriton
from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from modgate.settings import ARTIFACTS_DIR, GatewaySettings
from modgate.types import Post
from tests.images import encode, photo, with_caption
from tests.integration.conftest import StartGateway

pytestmark = [pytest.mark.integration, pytest.mark.triton]

TEXTS = (
    "what a lovely day at the beach",
    "you are a worthless idiot and everyone hates you",
    "BUY CHEAP PILLS NOW http://cheap-pills.example limited offer!!!",
    "Das ist doch völliger Unsinn, du Trottel",
)
FAST_TRITON = {"probe_interval_s": 0.2, "retry_after_s": 0.2, "reconnect_max_backoff_ms": 200}


def triton_classifiers(server: LocalTriton) -> dict[str, str]:
    return {name: server.url(name) for name in ("text", "spam", "nsfw")}


async def start(
    start_gateway: StartGateway, **overrides: Any
) -> tuple[Gateway, pb_grpc.ModerationStub]:
    settings = GatewaySettings(port=0, metrics_port=0, **overrides)
    rest = {k: v for k, v in overrides.items() if k != "classifiers"}
    return await start_gateway(load_classifiers(settings), **rest)


async def moderate(stub: pb_grpc.ModerationStub, text: str, *images: bytes) -> pb.Verdict:
    request = pb.ModerateRequest(post_id="p", text=text, images=[pb.Image(data=i) for i in images])
    # A generous client timeout: a gateway that hangs fails with DEADLINE_EXCEEDED here.
    verdict: pb.Verdict = await stub.Moderate(request, timeout=5)
    return verdict


async def model_health(gateway: Gateway, model: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=health_name(model)), timeout=2
        )
    return int(answer.status)


async def test_verdicts_through_triton_equal_the_in_process_ones(
    start_gateway: StartGateway, triton_server: LocalTriton
) -> None:
    photo_bytes = encode(photo("chelsea"))
    _, remote = await start(
        start_gateway, classifiers=triton_classifiers(triton_server), ocr={"engine": "off"}
    )
    _, local = await start(start_gateway, ocr={"engine": "off"})
    for text in TEXTS:
        over_triton = await moderate(remote, text, photo_bytes)
        in_process = await moderate(local, text, photo_bytes)
        assert not over_triton.degraded, over_triton.missing_reasons
        assert over_triton.action == in_process.action, text
        assert list(over_triton.reason_codes) == list(in_process.reason_codes)
        for category, score in in_process.scores.items():
            assert over_triton.scores[category] == pytest.approx(score, abs=1e-5)
        assert {(m.name, m.version) for m in over_triton.models} == {
            (m.name, m.version) for m in in_process.models
        }


async def test_ocr_scores_image_text_with_the_triton_text_model(
    start_gateway: StartGateway, triton_server: LocalTriton
) -> None:
    caption = "you are a stupid bitch"
    meme = encode(with_caption(photo("astronaut"), caption), quality=85)
    gateway, stub = await start(
        start_gateway, classifiers=triton_classifiers(triton_server), deadline_ms=10_000
    )
    verdict = await moderate(stub, "", meme)
    assert verdict.ocr == "done"
    text = gateway.service.classifiers["text"]
    [as_text] = await text.predict([Post(post_id="caption", text=caption)], timeout_s=5)
    assert verdict.scores["toxicity"] == pytest.approx(as_text["toxicity"], abs=0.05)
    assert verdict.action != pb.ALLOW


async def wait_until(check: Any, *, within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within_s
    while loop.time() < give_up:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {within_s} s")


async def test_a_triton_outage_degrades_verdicts_and_heals_by_itself(
    start_gateway: StartGateway, own_triton_server: LocalTriton
) -> None:
    classifiers = {
        "text": own_triton_server.url("text"),
        "spam": f"onnx://{ARTIFACTS_DIR / 'spam'}",  # in-process: keeps answering throughout
    }
    gateway, stub = await start(
        start_gateway, classifiers=classifiers, ocr={"engine": "off"}, triton=FAST_TRITON
    )
    assert not (await moderate(stub, TEXTS[1])).degraded
    assert await model_health(gateway, "text") == health_pb2.HealthCheckResponse.SERVING

    own_triton_server.stop()
    during = await asyncio.gather(*(moderate(stub, text) for text in TEXTS * 5))
    for verdict in during:  # every call answered (none hung past its deadline)
        assert verdict.degraded
        assert list(verdict.missing_models) == ["text"]
        assert "spam" in verdict.scores
    # the policy's missing-model rules hold: a severe category missing never allows silently
    assert all(v.action == pb.DEFER for v in during)

    async def marked_missing() -> bool:
        return await model_health(gateway, "text") == health_pb2.HealthCheckResponse.NOT_SERVING

    await wait_until(marked_missing)
    ready = gateway.service.metrics.model_ready.labels("text")._value.get()
    assert ready == 0
    assert await model_health(gateway, "spam") == health_pb2.HealthCheckResponse.SERVING

    own_triton_server.start(timeout_s=120.0)

    async def healed() -> bool:
        return not (await moderate(stub, TEXTS[1])).degraded

    await wait_until(healed)

    async def marked_ready() -> bool:
        return await model_health(gateway, "text") == health_pb2.HealthCheckResponse.SERVING

    await wait_until(marked_ready)
