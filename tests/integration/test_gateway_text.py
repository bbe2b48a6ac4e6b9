"""The gateway with the shipped text and spam models over real gRPC: toxic and hateful posts
are acted on with scores and reasons, the verdict names the language the policy applied and
the evasion normalizations that changed the text, and clean posts are allowed."""

from __future__ import annotations

import pytest

from modgate.pb import moderation_pb2 as pb
from modgate.pb import moderation_pb2_grpc as pb_grpc
from tests.integration.conftest import StartGateway, spam_classifier, text_classifier

pytestmark = pytest.mark.integration


@pytest.fixture
async def stub(start_gateway: StartGateway) -> pb_grpc.ModerationStub:
    _, stub = await start_gateway({"text": text_classifier(), "spam": spam_classifier()})
    return stub


async def moderate(
    stub: pb_grpc.ModerationStub, text: str, *, language_hint: str = ""
) -> pb.Verdict:
    request = pb.ModerateRequest(post_id="p", text=text, language_hint=language_hint)
    verdict: pb.Verdict = await stub.Moderate(request, timeout=5)
    return verdict


async def test_hateful_post_is_acted_on_with_hate_score_and_reason(
    stub: pb_grpc.ModerationStub,
) -> None:
    verdict = await moderate(stub, "Muslims are vermin and should be wiped out")
    assert verdict.action in (pb.REMOVE, pb.DEFER)
    assert verdict.scores["hate"] >= 0.5
    assert any(code.startswith("hate.") for code in verdict.reason_codes)
    assert {m.name for m in verdict.models} == {"text", "spam"}
    assert verdict.language == "en"
    assert list(verdict.text_normalization) == []
    assert not verdict.degraded


async def test_clean_post_is_allowed_with_detected_language(stub: pb_grpc.ModerationStub) -> None:
    verdict = await moderate(stub, "Vielen Dank für das Rezept, der Kuchen war wunderbar!")
    assert verdict.action == pb.ALLOW
    assert verdict.scores["toxicity"] < 0.5
    assert verdict.language == "de"


async def test_evasive_spelling_is_normalized_and_reported(stub: pb_grpc.ModerationStub) -> None:
    plain = await moderate(stub, "you are a stupid bitch")
    evasive = await moderate(stub, "y0u are a stup1d b!tch!!!!!")
    assert evasive.action == plain.action != pb.ALLOW
    assert list(evasive.text_normalization) == ["leet", "repeats"]
    assert abs(evasive.scores["toxicity"] - plain.scores["toxicity"]) < 0.1


async def test_language_hint_overrides_detection(stub: pb_grpc.ModerationStub) -> None:
    verdict = await moderate(stub, "Thanks for the recipe!", language_hint="FR")
    assert verdict.language == "fr"
