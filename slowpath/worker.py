"""Routing one deferred post: judge it, then finalize it or queue it for moderators.

``DeferredRouter.route`` is the whole per-record job of the slow path, kept free of Faust so
tests and benchmarks drive it directly (``slowpath/app.py`` wires it to the stream):

1. decode the ``DeferredPost`` (an undecodable record or unknown schema is poison);
2. skip it if the post was already finalized or queued (redelivery, spool replay);
3. match its images against the hash bank as it is now (``slowpath/media_check.py``): a
   match the policy removes is final (source ``model``, the bank entry as reason);
4. read the text inside its images when the gateway could not (``slowpath/image_text.py``):
   if that unread text was the only reason to defer, the policy's new verdict on it is final
   when it is ALLOW or REMOVE (source ``model``); otherwise the text goes on to the judge;
5. ask the LLM judge, when one is configured. It reads text only, so it decides only what it
   can see: a confident "violates" (the policy's ``judge.auto_decide_confidence``, no
   injection suspected) is final; a confident "clean" is final only when nothing the judge
   cannot see asked for review (``unseen_reasons``: an image category, unread image text, a
   missing model of a post with images). A final opinion sends an action and a label to
   Kafka with source ``llm``; then one atomic step marks the post done and counts a removal
   against the author (once per post, however often the route is retried);
6. otherwise the post joins the moderator queue with the judge's opinion attached.

``process_with_retries`` wraps it: poison goes to the dead-letter topic at once; a Redis
outage is retried with capped exponential backoff for as long as it lasts (the record is
not acknowledged meanwhile, so nothing is lost); any other error is retried
``max_attempts`` times, then dead-lettered with the error, to be replayed by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from enum import StrEnum
from typing import Protocol

from decision import Policy, decide
from models.interface import Prediction
from models.lists import link_hosts
from models.ocr import ImageText
from modgate.keys import post_hosts
from modgate.pb import moderation_pb2 as pb
from modgate.pb import records_pb2 as rpb
from modgate.records import RecordError, Topics, decode, encode
from modgate.settings import SlowpathSettings
from modgate.types import KNOWN_MEDIA, Action, Verdict
from slowpath.errors import QueueUnavailableError
from slowpath.image_text import ImageTextCheck, recheck
from slowpath.interface import (
    Judgement,
    JudgeOutcome,
    JudgeRequest,
    LlmJudge,
    ModeratorAction,
    ModeratorQueue,
)
from slowpath.media_check import KnownMediaCheck
from slowpath.metrics import SlowpathMetrics

log = logging.getLogger(__name__)

# Action ids are derived from the post id, so a redelivered post emits the same ids and
# consumers dedupe it.
_ACTION_NAMESPACE = uuid.UUID("6f1c3e0a-7d55-4d1e-9a52-0c9b8d4e2f10")


class Route(StrEnum):
    QUEUED = "queued"
    LLM_REMOVE = "llm_remove"
    LLM_ALLOW = "llm_allow"
    OCR_ALLOW = "ocr_allow"
    OCR_REMOVE = "ocr_remove"
    MEDIA_REMOVE = "media_remove"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"


class RecordEmitter(Protocol):
    """Sends a record and returns once the broker acknowledged it."""

    async def send_and_wait(self, topic: str, key: bytes, value: bytes) -> None: ...


def opinion_record(judgement: Judgement) -> rpb.JudgeOpinion:
    return rpb.JudgeOpinion(
        outcome=judgement.outcome.value,
        category=judgement.category,
        confidence=judgement.confidence,
        rationale=judgement.rationale,
        injection_suspected=judgement.injection_suspected,
        model=judgement.model,
        error=judgement.error,
        latency_ms=judgement.latency_ms,
    )


def action_id(post_id: str, source: str) -> str:
    return uuid.uuid5(_ACTION_NAMESPACE, f"{source}:{post_id}").hex


# Post-wide reasons about what the text-only judge cannot see.
OCR_UNREAD = "ocr.unread"
ALL_MISSING = "all.models_missing"
IMAGES_UNDECODED = "images.undecoded"


def unseen_reasons(
    record: rpb.DeferredPost, policy: Policy, checked: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """The DEFER reasons of ``record`` that a judge reading only text cannot weigh: a category
    the policy marks ``seen_in: images`` (or does not know), unread image text, undecoded
    images, or no model at all for a post with images. ``checked`` names categories and
    reason codes the slow path has since looked at itself (``known_media``, ``ocr.unread``)."""
    has_images = bool(record.post.images) or bool(record.images)
    unseen = []
    for reason in record.verdict.reasons:
        if reason.action != pb.DEFER:
            continue
        if reason.code in checked or reason.category in checked:
            continue
        if reason.category:
            category = policy.categories.get(reason.category)
            if category is None or category.seen_in != "text":
                unseen.append(reason.code)
        elif reason.code in (OCR_UNREAD, IMAGES_UNDECODED) or (
            reason.code == ALL_MISSING and has_images
        ):
            unseen.append(reason.code)
    return unseen


def without_image_bytes(record: rpb.DeferredPost) -> tuple[bytes, dict[str, bytes]]:
    """The record's bytes with its image bytes taken out, and those bytes by SHA-256: the
    queue keeps each image once, however many posts carry it. ``record.images`` keeps the
    hashes (filled in here if the record lacks them)."""
    images: dict[str, bytes] = {}
    stripped = rpb.DeferredPost()
    stripped.CopyFrom(record)
    if not any(image.data for image in stripped.post.images):
        return encode(stripped), images
    refs = list(stripped.images)
    for index, image in enumerate(stripped.post.images):
        if not image.data:
            continue
        sha = hashlib.sha256(image.data).hexdigest()
        images[sha] = image.data
        if index >= len(refs):
            stripped.images.append(
                rpb.ImageRef(sha256=sha, size_bytes=len(image.data), mime_type=image.mime_type)
            )
        image.data = b""
    return encode(stripped), images


class DeferredRouter:
    def __init__(
        self,
        *,
        queue: ModeratorQueue,
        emitter: RecordEmitter,
        policy: Policy,
        topics: Topics,
        judge: LlmJudge | None = None,
        metrics: SlowpathMetrics | None = None,
        image_text: ImageTextCheck | None = None,
        known_media: KnownMediaCheck | None = None,
    ) -> None:
        self.queue = queue
        self.image_text = image_text
        self.known_media = known_media
        self.emitter = emitter
        self.policy = policy
        self.topics = topics
        self.judge = judge
        self.metrics = metrics or SlowpathMetrics()

    async def route(self, value: bytes) -> Route:
        record = decode(rpb.DeferredPost, value)  # RecordError: poison
        post = record.post
        if not post.post_id:
            raise RecordError("DeferredPost", "post.post_id is empty")
        if await self.queue.is_done(post.post_id):
            return Route.DUPLICATE
        text, scores = post.text, dict(record.verdict.scores)
        checked: set[str] = set()  # what the slow path has looked at again itself
        if self.known_media is not None and self.known_media.applies_to(record):
            matched = await self.known_media.match(record)
            if matched is not None:
                again = self._known_media_verdict(record, matched)
                self.metrics.media_checks.labels(again.action.value).inc()
                if again.action is Action.REMOVE:
                    return await self._finalize_known_media(record, again)
                checked.add(KNOWN_MEDIA)
        if self.image_text is not None and self.image_text.applies_to(record):
            found = await self.image_text.read(record)
            if found is not None:
                final, scores = recheck(record, found, self.policy)
                self.metrics.ocr_checks.labels(final.value if final else "review").inc()
                if final is not None:
                    return await self._finalize_image_text(record, final, found)
                checked.add(OCR_UNREAD)
                if found.text:
                    text = f"{post.text}\n\n[text inside the images]\n{found.text}".strip()
        judgement = await self._judge(record, text, scores) if self.judge is not None else None
        if judgement is not None and judgement.is_confident(
            self.policy.judge.auto_decide_confidence
        ):
            unseen = unseen_reasons(record, self.policy, checked)
            if judgement.outcome is JudgeOutcome.VIOLATES or not unseen:
                return await self._finalize(record, judgement)
            self.metrics.judge_held.inc()
            log.info(
                "post %s: the judge found its text clean, but %s needs eyes: queued",
                post.post_id,
                ",".join(unseen),
            )
        payload, images = without_image_bytes(record)
        await self.queue.enqueue(
            post_id=post.post_id,
            decision_id=record.verdict.decision_id,
            author_id=post.author.id,
            scores=dict(scores),
            followers=post.author.followers if post.author.HasField("followers") else None,
            payload=payload,
            judge=opinion_record(judgement).SerializeToString() if judgement else b"",
            images=images,
            link_hosts=post_hosts(link_hosts(post.text)),
        )
        return Route.QUEUED

    async def _judge(
        self, record: rpb.DeferredPost, text: str, scores: dict[str, float]
    ) -> Judgement:
        assert self.judge is not None
        post = record.post
        judgement = await self.judge.judge(
            JudgeRequest(
                post_id=post.post_id,
                text=text,
                language=record.verdict.language,
                region=post.region,
                scores=scores,
            )
        )
        self.metrics.judge_latency.labels(judgement.outcome.value).observe(
            judgement.latency_ms / 1000.0
        )
        return judgement

    async def _finalize_image_text(
        self, record: rpb.DeferredPost, final: Action, found: ImageText
    ) -> Route:
        """The policy's verdict once the image text is read: an action with source model."""
        assert self.image_text is not None
        remove = final is Action.REMOVE
        route = Route.OCR_REMOVE if remove else Route.OCR_ALLOW
        note = f"text inside the images: {found.text[:500]}" if found.text else "no text found"
        await self._model_outcome(
            record,
            route,
            source_tag="ocr",
            remove=remove,
            actor=self.image_text.reader.version,
            reason=f"ocr.{final.value}",
            note=note,
        )
        return route

    def _known_media_verdict(self, record: rpb.DeferredPost, matched: Prediction) -> Verdict:
        features = {"region": record.post.region, "language": record.verdict.language}
        return decide(matched.scores, features, self.policy, evidence=matched.evidence)

    async def _finalize_known_media(self, record: rpb.DeferredPost, verdict: Verdict) -> Route:
        """A match with the hash bank as it is now, which the policy removes: final."""
        assert self.known_media is not None
        cited = [r for r in verdict.reasons if r.code.startswith(f"{KNOWN_MEDIA}.entry.")]
        await self._model_outcome(
            record,
            Route.MEDIA_REMOVE,
            source_tag="known-media",
            remove=True,
            actor=self.known_media.version,
            reason=",".join(r.code for r in cited) or f"{KNOWN_MEDIA}.remove_above",
            note="; ".join(r.detail for r in cited),
            category=KNOWN_MEDIA,
        )
        return Route.MEDIA_REMOVE

    async def _model_outcome(
        self,
        record: rpb.DeferredPost,
        route: Route,
        *,
        source_tag: str,
        remove: bool,
        actor: str,
        reason: str,
        note: str,
        category: str = "",
    ) -> None:
        """A final outcome the slow path's own models reached (no label: not a judgement):
        the action to Kafka, then the done mark."""
        post = record.post
        action = rpb.ActionRecord(
            action_id=action_id(post.post_id, source_tag),
            post_id=post.post_id,
            decision_id=record.verdict.decision_id,
            outcome=rpb.OUTCOME_REMOVE if remove else rpb.OUTCOME_ALLOW,
            source=rpb.MODEL,
            actor=actor,
            category=category,
            reason=reason,
            note=note,
            decided_at=time.time(),
            final=True,
        )
        await self.emitter.send_and_wait(self.topics.actions, post.post_id.encode(), encode(action))
        await self.queue.mark_done(post.post_id, route.value)

    async def _finalize(self, record: rpb.DeferredPost, judgement: Judgement) -> Route:
        post = record.post
        violates = judgement.outcome is JudgeOutcome.VIOLATES
        outcome = rpb.OUTCOME_REMOVE if violates else rpb.OUTCOME_ALLOW
        now = time.time()
        key = post.post_id.encode()
        action = rpb.ActionRecord(
            action_id=action_id(post.post_id, "llm"),
            post_id=post.post_id,
            decision_id=record.verdict.decision_id,
            outcome=outcome,
            source=rpb.LLM,
            actor=judgement.model,
            category=judgement.category,
            reason=f"llm.{judgement.outcome.value}",
            note=judgement.rationale,
            decided_at=now,
            final=True,
        )
        label = rpb.LabelRecord(
            label_id=action_id(post.post_id, "llm-label"),
            post_id=post.post_id,
            decision_id=record.verdict.decision_id,
            source=rpb.LLM,
            actor=judgement.model,
            outcome=outcome,
            violates=violates,
            categories=[judgement.category] if violates else [],
            confidence=judgement.confidence,
            rationale=judgement.rationale,
            labelled_at=now,
        )
        await self.emitter.send_and_wait(self.topics.actions, key, encode(action))
        await self.emitter.send_and_wait(self.topics.labels, key, encode(label))
        route = Route.LLM_REMOVE if violates else Route.LLM_ALLOW
        await self.queue.mark_done(
            post.post_id,
            route.value,
            author_id=post.author.id,
            author_action=ModeratorAction.REMOVE if violates else None,
            strike_category=judgement.category if violates else "",
        )
        return route


async def process_with_retries(
    router: DeferredRouter, key: bytes, value: bytes, settings: SlowpathSettings
) -> Route:
    """Route one record; retry transient errors; dead-letter poison and exhausted records."""
    attempt = 0
    while True:
        attempt += 1
        try:
            route = await router.route(value)
        except RecordError as exc:
            return await _dead_letter(router, key, value, f"poison: {exc}", attempt)
        except QueueUnavailableError as exc:
            # Redis down: wait it out (never dead-letter an outage); the record stays unacked.
            router.metrics.retries.labels("queue_unavailable").inc()
            await _backoff(settings, attempt, f"moderator queue unavailable: {exc}")
            continue
        except Exception as exc:  # worker boundary: retry, then dead-letter with the error
            router.metrics.retries.labels(type(exc).__name__).inc()
            if attempt >= settings.max_attempts:
                log.exception("giving up on record %r after %d attempts", key, attempt)
                return await _dead_letter(router, key, value, repr(exc), attempt)
            await _backoff(settings, attempt, repr(exc))
            continue
        router.metrics.routed.labels(route.value).inc()
        return route


async def _backoff(settings: SlowpathSettings, attempt: int, why: str) -> None:
    delay = min(settings.retry_backoff_s * 2 ** (attempt - 1), settings.retry_backoff_max_s)
    log.warning("slow path retrying in %.2f s (attempt %d): %s", delay, attempt, why)
    await asyncio.sleep(delay)


async def _dead_letter(
    router: DeferredRouter, key: bytes, value: bytes, error: str, attempts: int
) -> Route:
    letter = rpb.DeadLetter(
        topic=router.topics.deferred,
        key=key,
        value=value,
        error=error[:2000],
        attempts=attempts,
        failed_at=time.time(),
    )
    await router.emitter.send_and_wait(router.topics.dead_letter, key, encode(letter))
    if key:  # the gateway keys deferred posts by post id; it stops publishing this one again
        try:
            await router.queue.mark_dead_lettered(key.decode(errors="replace"))
        except QueueUnavailableError as exc:  # then the gateway may publish it once more
            log.warning("cannot mark %r dead-lettered: %s", key, exc)
    router.metrics.routed.labels(Route.DEAD_LETTER.value).inc()
    log.error("dead-lettered record %r: %s", key, error)
    return Route.DEAD_LETTER
