"""The slow path decides only what it can see: the text-only LLM judge never allows a post
deferred for its images (nsfw, known media, unread image text, no model at all), while it may
still remove one for its text; and every deferred post's images are matched again against
the hash bank as it is now (real PDQ, a real bank file, a real Redis queue, a scripted
chat-completions server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from decision import load_policy
from models.hashbank import BankEntry, HashBank, pdq_hash
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import Topics, decode, encode
from modgate.settings import DEFAULT_POLICY, HashBankSettings, ImageSettings
from slowpath.interface import JudgeOutcome
from slowpath.media_check import KnownMediaCheck
from slowpath.queue_redis import RedisModeratorQueue
from slowpath.worker import Route
from tests.images import encode as encode_image
from tests.images import photo
from tests.integration.chat_server import Reply, ScriptedChatServer
from tests.integration.test_slowpath_routing import Sent, router

pytestmark = [pytest.mark.integration, pytest.mark.redis]

TOPICS = Topics()
CLEAN = Reply.answer(violates=False, category="none", confidence=0.97, rationale="harmless")
VIOLATES = Reply.answer(violates=True, category="toxicity", confidence=0.97, rationale="insult")


def reason(code: str, category: str = "") -> pb.Reason:
    return pb.Reason(code=code, category=category, action=pb.DEFER)


def deferred(post_id: str, text: str, reasons: list[pb.Reason], *, image: str = "coffee") -> bytes:
    images = [pb.Image(data=encode_image(photo(image)), mime_type="image/jpeg")] if image else []
    return encode(
        rpb.DeferredPost(
            post=pb.ModerateRequest(
                post_id=post_id, text=text, author=pb.Author(id="author-3"), images=images
            ),
            verdict=pb.Verdict(
                post_id=post_id,
                action=pb.DEFER,
                scores={"toxicity": 0.3, "nsfw": 0.7},
                reasons=reasons,
                decision_id=f"d-{post_id}",
                language="en",
            ),
        )
    )


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    return tmp_path / "hashbank.jsonl"


@pytest.fixture
def known_media(bank_path: Path) -> Iterator[KnownMediaCheck]:
    check = KnownMediaCheck(HashBankSettings(path=bank_path, reload_s=0.01), ImageSettings())
    yield check
    check.close()


UNSEEN = [
    ("nsfw", [reason("nsfw.defer_above", "nsfw")]),
    ("nsfw-missing", [reason("nsfw.model_missing", "nsfw")]),
    ("known-media-missing", [reason("known_media.model_missing", "known_media")]),
    ("ocr-unread", [reason("ocr.unread")]),
    ("undecoded", [reason("images.undecoded")]),
    ("all-missing", [reason("all.models_missing")]),
    ("unknown-category", [reason("weapons.defer_above", "weapons")]),
    (
        "text-and-nsfw",
        [reason("toxicity.defer_above", "toxicity"), reason("nsfw.defer_above", "nsfw")],
    ),
]


@pytest.mark.parametrize("reasons", [r for _, r in UNSEEN], ids=[name for name, _ in UNSEEN])
async def test_a_clean_judgement_never_allows_what_the_judge_cannot_see(
    queue: RedisModeratorQueue, chat: ScriptedChatServer, reasons: list[pb.Reason]
) -> None:
    chat.on("holiday", CLEAN)
    sent = Sent()
    route = await router(queue, chat, sent).route(deferred("p1", "holiday photo", reasons))
    assert route is Route.QUEUED
    assert not sent.records
    item = await queue.get("p1")
    assert rpb.JudgeOpinion.FromString(item.judge).outcome == JudgeOutcome.CLEAN.value


async def test_the_judge_still_removes_a_post_for_its_text(
    queue: RedisModeratorQueue, chat: ScriptedChatServer
) -> None:
    chat.on("you idiot", VIOLATES)
    sent = Sent()
    reasons = [reason("nsfw.defer_above", "nsfw")]
    route = await router(queue, chat, sent).route(deferred("p2", "you idiot", reasons))
    assert route is Route.LLM_REMOVE


async def test_text_reasons_alone_can_be_allowed_by_the_judge(
    queue: RedisModeratorQueue, chat: ScriptedChatServer
) -> None:
    chat.on("holiday", CLEAN)
    reasons = [reason("toxicity.defer_above", "toxicity"), reason("hate.model_missing", "hate")]
    sent = Sent()
    route = await router(queue, chat, sent).route(deferred("p3", "holiday", reasons, image=""))
    assert route is Route.LLM_ALLOW


async def test_a_post_matching_an_entry_added_since_its_verdict_is_removed(
    queue: RedisModeratorQueue,
    chat: ScriptedChatServer,
    known_media: KnownMediaCheck,
    bank_path: Path,
) -> None:
    """The bank grew while the post waited: the slow path finds the match the gateway could
    not have, and removes the post without asking the judge."""
    digest, _ = pdq_hash(np.asarray(photo("astronaut")))
    HashBank(bank_path).add(BankEntry(id="viral-1", hash=digest, label="gore"))
    sent = Sent()
    route_ = router(queue, chat, sent)
    route_.known_media = known_media
    record = deferred("p4", "look", [reason("toxicity.defer_above", "toxicity")], image="astronaut")
    assert await route_.route(record) is Route.MEDIA_REMOVE
    [action] = [decode(rpb.ActionRecord, v) for v in sent.on(TOPICS.actions)]
    assert (action.outcome, action.source, action.final) == (rpb.OUTCOME_REMOVE, rpb.MODEL, True)
    assert action.reason == "known_media.entry.viral-1"
    assert "gore" in action.note
    assert not chat.requests  # no judge needed
    assert await queue.outcome("p4") == Route.MEDIA_REMOVE.value


async def test_a_checked_bank_lets_the_judge_allow_a_post_deferred_for_a_missing_match(
    queue: RedisModeratorQueue,
    chat: ScriptedChatServer,
    known_media: KnownMediaCheck,
    bank_path: Path,
) -> None:
    digest, _ = pdq_hash(np.asarray(photo("astronaut")))
    HashBank(bank_path).add(BankEntry(id="other", hash=digest))
    chat.on("holiday", CLEAN)
    sent = Sent()
    route_ = router(queue, chat, sent)
    route_.known_media = known_media
    reasons = [reason("known_media.model_missing", "known_media")]
    assert await route_.route(deferred("p5", "holiday", reasons, image="coffee")) is (
        Route.LLM_ALLOW
    )


def test_the_reference_policy_marks_its_image_categories() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert {n for n, c in policy.categories.items() if c.seen_in == "images"} == {
        "nsfw",
        "known_media",
    }
