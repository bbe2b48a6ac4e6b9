"""The slow path reads the text inside images the gateway could not (real rapidocr, the
shipped text model, a real Redis queue): when the unread text was the only reason to defer,
the policy's new verdict is final; otherwise the post reaches moderators with the image
text's scores."""

from __future__ import annotations

import pytest
import yaml

from decision import Policy, parse_policy
from models.ocr import OcrTextClassifier, RapidOcrEngine
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import Topics, decode, encode
from modgate.settings import DEFAULT_POLICY, ImageSettings, OcrSettings
from slowpath.image_text import ImageTextCheck
from slowpath.queue_redis import RedisModeratorQueue
from slowpath.worker import DeferredRouter, Route
from tests.images import encode as encode_image
from tests.images import photo, with_caption
from tests.integration.conftest import text_classifier
from tests.integration.test_slowpath_routing import Sent

pytestmark = [pytest.mark.integration, pytest.mark.redis]

TOPICS = Topics()
UNREAD = pb.Reason(code="ocr.unread", action=pb.DEFER, detail="ocr: skipped_budget")


def _policy() -> Policy:
    # Toxicity removes at 0.80 here, so the shipped model's score for the toxic caption
    # (about 0.90) lands clearly in REMOVE and a milder one clearly in DEFER.
    document = yaml.safe_load(DEFAULT_POLICY.read_text())
    document["categories"]["toxicity"]["remove_above"] = 0.80
    document["categories"]["toxicity"]["spike_max_defer_above"] = 0.75
    return parse_policy(document)


def deferred(
    post_id: str,
    caption: str,
    *,
    ocr: str = "skipped_budget",
    reasons: tuple[pb.Reason, ...] = (UNREAD,),
    degraded: bool = False,
) -> bytes:
    image = photo("coffee")
    if caption:
        image = with_caption(image, caption)
    return encode(
        rpb.DeferredPost(
            post=pb.ModerateRequest(
                post_id=post_id,
                text="look at this",
                author=pb.Author(id="author-1", followers=10),
                images=[pb.Image(data=encode_image(image), mime_type="image/jpeg")],
            ),
            verdict=pb.Verdict(
                post_id=post_id,
                action=pb.DEFER,
                scores={"toxicity": 0.05, "hate": 0.02, "nsfw": 0.01},
                reasons=list(reasons),
                decision_id=f"d-{post_id}",
                ocr=ocr,
                degraded=degraded,
                language="en",
            ),
        )
    )


@pytest.fixture(scope="module")
def check() -> ImageTextCheck:
    reader = OcrTextClassifier(RapidOcrEngine(), text_classifier().model, OcrSettings())
    return ImageTextCheck(reader, ImageSettings())


def _router(queue: RedisModeratorQueue, sent: Sent, check: ImageTextCheck) -> DeferredRouter:
    return DeferredRouter(
        queue=queue, emitter=sent, policy=_policy(), topics=TOPICS, image_text=check
    )


@pytest.mark.parametrize(
    ("caption", "route", "outcome"),
    [
        ("you are a stupid bitch", Route.OCR_REMOVE, rpb.OUTCOME_REMOVE),
        ("have a lovely sunday everyone", Route.OCR_ALLOW, rpb.OUTCOME_ALLOW),
        ("", Route.OCR_ALLOW, rpb.OUTCOME_ALLOW),
    ],
)
async def test_unread_text_alone_gets_a_final_model_verdict(
    queue: RedisModeratorQueue, check: ImageTextCheck, caption: str, route: Route, outcome: int
) -> None:
    sent = Sent()
    assert await _router(queue, sent, check).route(deferred("p1", caption)) is route
    [action] = [decode(rpb.ActionRecord, v) for v in sent.on(TOPICS.actions)]
    assert action.outcome == outcome
    assert action.source == rpb.MODEL
    assert action.reason == f"ocr.{'remove' if route is Route.OCR_REMOVE else 'allow'}"
    assert action.final
    if caption:
        assert caption in action.note.lower()
    assert not sent.on(TOPICS.labels)  # a model outcome is not a label
    assert await queue.is_done("p1")


async def test_borderline_image_text_goes_to_moderators_with_its_score(
    queue: RedisModeratorQueue, check: ImageTextCheck
) -> None:
    sent = Sent()
    route = await _router(queue, sent, check).route(deferred("p2", "this is crap"))
    assert route is Route.QUEUED
    [item] = await queue.peek(10)
    assert item.post_id == "p2"
    # severity = the image text's insult/toxicity score x weight 2, not the post text's 0.05
    assert item.top_category in {"toxicity", "insult"}
    assert 2 * 0.6 <= item.severity <= 2 * 1.0
    assert not sent.records


@pytest.mark.parametrize(
    "variant",
    [
        {"reasons": (UNREAD, pb.Reason(code="hate.defer_above", action=pb.DEFER))},
        {"degraded": True},
        {"ocr": "done"},
    ],
)
async def test_other_reasons_to_defer_keep_the_post_for_moderators(
    queue: RedisModeratorQueue, check: ImageTextCheck, variant: dict[str, object]
) -> None:
    sent = Sent()
    value = deferred("p3", "have a lovely sunday everyone", **variant)  # type: ignore[arg-type]
    assert await _router(queue, sent, check).route(value) is Route.QUEUED
    assert not sent.records
