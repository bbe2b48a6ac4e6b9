"""The Moderation service: decode → validate → author counters → features → fan-out → decide
→ verdict → log and publish.

One absolute deadline per RPC, computed at ingress: the configured ``deadline_ms`` or the
caller's own gRPC deadline (less a small reply margin) if that is sooner. Every verdict gets
a decision id and one structured log line with its scores, features, reasons and latency;
with a broker configured it is also published (``gateway/records.py``): the decision record
always, the deferred post for a DEFER, the final action for ALLOW/REMOVE. Publishing only
buffers, so it never delays a verdict. Past capacity (``gateway/overload.py``) a call skips
image decoding and the models and is decided at once, degraded, with its models ``shed``.
A caller that gives up costs little: a deadline already past on arrival is answered
DEADLINE_EXCEEDED before any work, a cancelled call cancels its model calls, and a verdict made
after the caller left is logged (``abandoned: true``) but never published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import grpc

from decision import Policy, decide
from decision.strikes import strike_features, strike_totals
from gateway.author_store import AuthorStore, StoredAuthor, with_counters
from gateway.behaviour import UNKNOWN, Behaviour, BehaviourStore
from gateway.fanout import PostScores, fan_out, not_scored
from gateway.features import TextAnalyzer, TextFeatures, assemble_features
from gateway.images import ImageDecoder
from gateway.metrics import GatewayMetrics
from gateway.overload import SHED_REASON, OverloadGuard
from gateway.publisher import RecordSink
from gateway.records import publish_verdict
from gateway.status import status_for
from gateway.validation import validate_batch, validate_request
from gateway.wire import decode
from models.interface import Classifier
from modgate.errors import BadInputError
from modgate.pb import moderation_pb2 as pb
from modgate.records import Topics
from modgate.settings import GatewaySettings
from modgate.types import Action, Post, Reason

log = logging.getLogger(__name__)

# Above this many characters of text in one call, text analysis leaves the event loop.
INLINE_TEXT_CHARS = 500
decisions_log = logging.getLogger("modgate.decisions")

# Time kept back from the caller's own deadline to serialize and send the reply.
REPLY_MARGIN_S = 0.003

_ACTIONS = {Action.ALLOW: pb.ALLOW, Action.REMOVE: pb.REMOVE, Action.DEFER: pb.DEFER}


class _Decided(NamedTuple):
    """One verdict made, before it is recorded (logged, counted, published)."""

    post: Post
    features: dict[str, Any]
    action: Action
    message: pb.Verdict
    missing: list[tuple[str, str]]


def _caller_gone(context: grpc.aio.ServicerContext[Any, Any], *, margin_s: float = 0.0) -> bool:
    """True when the caller cancelled, or less than ``margin_s`` is left of its deadline."""
    if context.cancelled():
        return True
    remaining = context.time_remaining()
    return remaining is not None and remaining <= margin_s


class ModerationService:
    def __init__(
        self,
        settings: GatewaySettings,
        policy: Policy,
        classifiers: Mapping[str, Classifier],
        metrics: GatewayMetrics,
        text_analyzer: TextAnalyzer | None = None,
        *,
        sink: RecordSink | None = None,
        author_store: AuthorStore | None = None,
        behaviour_store: BehaviourStore | None = None,
        ocr_configured: bool = False,
    ) -> None:
        self.settings = settings
        self.decoder = ImageDecoder(settings.images, metrics)
        # Whether an OCR classifier is in ``classifiers``: a post with images but no OCR
        # note was then skipped (late or failed), not unconfigured ("off").
        self.ocr_configured = ocr_configured
        self.sink = sink
        self.author_store = author_store
        self.behaviour_store = behaviour_store
        self.topics = Topics(settings.stream.topic_prefix)
        self.text_analyzer = text_analyzer or TextAnalyzer()
        # One thread: text analysis is pure Python, so more threads would only take the GIL
        # from the event loop more often; one keeps the loop's wait for it to a switch
        # interval (5 ms) at most.
        self._text_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-analysis")
        self.policy = policy
        self.classifiers = dict(classifiers)
        self.metrics = metrics
        self.overload = OverloadGuard(settings.overload, metrics)
        self._deadline_s = settings.deadline_ms / 1000.0
        self._max_inflight = settings.max_inflight_bytes
        self._inflight_bytes = 0  # request bytes of the calls in progress
        self._strike_tasks: set[asyncio.Task[bool]] = set()

    def deadline_for(self, context: grpc.aio.ServicerContext[Any, Any], start: float) -> float:
        """Absolute loop-time deadline: ours, or the caller's if it is sooner."""
        budget = self._deadline_s
        remaining = context.time_remaining()
        if remaining is not None:
            budget = min(budget, max(remaining - REPLY_MARGIN_S, 0.0))
        return start + budget

    async def moderate(
        self, data: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Verdict:
        def parse(raw: bytes) -> list[Post]:
            return [validate_request(decode(pb.ModerateRequest, raw), self.settings)]

        verdicts = await self._serve("Moderate", data, context, parse, batch=False)
        return verdicts[0]

    async def moderate_batch(
        self, data: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ModerateBatchResponse:
        def parse(raw: bytes) -> list[Post]:
            return validate_batch(decode(pb.ModerateBatchRequest, raw), self.settings)

        verdicts = await self._serve("ModerateBatch", data, context, parse, batch=True)
        return pb.ModerateBatchResponse(verdicts=verdicts)

    async def _serve(
        self,
        method: str,
        data: bytes,
        context: grpc.aio.ServicerContext[Any, Any],
        parse: Callable[[bytes], list[Post]],
        *,
        batch: bool,
    ) -> list[pb.Verdict]:
        """The frame every RPC shares: deadline at ingress, parse and decode images,
        moderate, map errors, time."""
        async with self._admitted(method, len(data), context):
            loop = asyncio.get_running_loop()
            start = loop.time()
            if _caller_gone(context, margin_s=REPLY_MARGIN_S):
                # The caller's deadline passed (or leaves no time for a reply) before the call
                # reached us (queued in the server or the network): nobody will read a verdict,
                # so none is made or published.
                self.metrics.abandoned.labels(method, "ingress").inc()
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed on arrival")
            try:
                posts = parse(data)
                if self.overload.admit(len(posts)):
                    with self.overload.scoring_posts(len(posts)):
                        posts = await self.decoder.decode_posts(posts, batch=batch)
                        deadline = self.deadline_for(context, start)
                        decided = await self._moderate(posts, deadline, start)
                else:
                    decided = await self._shed(posts, start)
            except Exception as exc:  # RPC boundary: map to a status, log, count
                await self._abort(context, exc, method)
                raise  # unreachable: abort raises
            # A caller that gave up (cancelled, or its deadline passed while we worked) never
            # sees these verdicts: they are logged as abandoned and published nowhere, so no
            # deferred post reaches the slow path for a post its service never got a verdict for.
            abandoned = _caller_gone(context)
            if abandoned:
                self.metrics.abandoned.labels(method, "verdict").inc()
            for verdict in decided:
                self._record(verdict, abandoned=abandoned)
            self.metrics.latency.labels(method).observe(loop.time() - start)
            return [verdict.message for verdict in decided]

    @contextlib.asynccontextmanager
    async def _admitted(
        self, method: str, size: int, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        """Hold ``size`` request bytes while the call runs; refuse the call with
        RESOURCE_EXHAUSTED when the calls in progress already hold ``max_inflight_bytes``."""
        if self._inflight_bytes and self._inflight_bytes + size > self._max_inflight:
            # Memory held by calls in progress is bounded, whatever their number and size.
            self.metrics.refused.labels(method, "inflight_bytes").inc()
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: {self._inflight_bytes >> 20} MiB of requests in progress; retry",
            )
        self._inflight_bytes += size
        try:
            yield
        finally:
            self._inflight_bytes -= size

    def close(self) -> None:
        """Release the worker threads (after the server has drained its calls)."""
        self.decoder.close()
        self._text_pool.shutdown(wait=True, cancel_futures=True)

    async def _text_features(self, posts: Sequence[Post]) -> list[TextFeatures]:
        """Language and normalization of each post's text: inline for short texts (tens of
        microseconds), on a worker thread past ``INLINE_TEXT_CHARS`` per call, where a text
        built to be slow costs milliseconds (tens for 10,000 characters) that must not hold
        the event loop and every other call on it."""
        if sum(len(post.text) for post in posts) <= INLINE_TEXT_CHARS:
            return [self.text_analyzer.analyze(post) for post in posts]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._text_pool, lambda: [self.text_analyzer.analyze(post) for post in posts]
        )

    async def _shed(self, posts: Sequence[Post], start: float) -> list[_Decided]:
        """Overloaded: decide ``posts`` without decoding images or asking any model (no author
        lookup either); each verdict says which models were ``shed``."""
        texts = await self._text_features(posts)
        features = [
            assemble_features(post, text, None, "shed")
            for post, text in zip(posts, texts, strict=True)
        ]
        scored = not_scored(self.classifiers, posts, SHED_REASON)
        return self._verdicts(posts, features, scored, start, [t.listed for t in texts])

    async def _moderate(
        self, posts: Sequence[Post], deadline: float, start: float
    ) -> list[_Decided]:
        # The author lookup (a Redis round trip) overlaps the text analysis.
        (stored, source), texts = await asyncio.gather(
            self._author_counters(posts, deadline), self._text_features(posts)
        )
        posts = [with_counters(post, stored.get(post.author.id)) for post in posts]
        behaviours = await self._behaviour(posts, texts, deadline)
        features = [
            assemble_features(post, text, stored.get(post.author.id), source)
            | self._behaviour_features(behaviour)
            for post, text, behaviour in zip(posts, texts, behaviours, strict=True)
        ]
        scored = await fan_out(self.classifiers, posts, deadline=deadline)
        for post, feats, result in zip(posts, features, scored, strict=True):
            undecoded = sum(1 for image in post.images if image.decoded is None)
            if undecoded:  # decoding ran out of time: degraded, and the policy defers
                feats["images_undecoded"] = undecoded
                result.missing_models["image_decode"] = "timeout"
        return self._verdicts(posts, features, scored, start, [t.listed for t in texts])

    def _verdicts(
        self,
        posts: Sequence[Post],
        features: Sequence[dict[str, Any]],
        scored: Sequence[PostScores],
        start: float,
        listed: Sequence[Sequence[Reason]],
    ) -> list[_Decided]:
        for post, feats, result in zip(posts, features, scored, strict=True):
            feats.update(result.notes)
            if post.images and "ocr" not in feats:
                feats["ocr"] = "skipped_budget" if self.ocr_configured else "off"
            if post.images:
                self.metrics.ocr.labels(str(feats["ocr"])).inc()
        latency_ms = (asyncio.get_running_loop().time() - start) * 1000.0
        return [
            self._verdict(post, feats, result, latency_ms, hits)
            for post, feats, result, hits in zip(posts, features, scored, listed, strict=True)
        ]

    def _behaviour_features(self, behaviour: Behaviour) -> dict[str, Any]:
        features: dict[str, Any] = {
            "near_duplicate_authors": behaviour.near_duplicate_authors,
            "author_posts_1m": behaviour.author_posts_1m,
            "author_posts_1h": behaviour.author_posts_1h,
            "author_posts_1d": behaviour.author_posts_1d,
            "author_first_seen_days": behaviour.author_first_seen_days,
            "link_domain_removals": behaviour.link_domain_removals,
        }
        if behaviour.strikes is not None:
            totals = strike_totals(behaviour.strikes, self.policy, now=time.time())
            features |= strike_features(totals)
        return features

    def _strike(self, post: Post, verdict_reasons: Sequence[pb.Reason]) -> None:
        """Count an auto-removal against its author, off the call's path (``auto`` strikes)."""
        store = self.behaviour_store
        categories = sorted(
            {r.category for r in verdict_reasons if r.action == pb.REMOVE and r.category}
        )
        if store is None or not post.author.id or not categories:
            return
        task = asyncio.get_running_loop().create_task(
            store.strike(post.author.id, post.post_id, categories)
        )
        self._strike_tasks.add(task)
        task.add_done_callback(self._strike_tasks.discard)

    async def _behaviour(
        self, posts: Sequence[Post], texts: Sequence[TextFeatures], deadline: float
    ) -> list[Behaviour]:
        if self.behaviour_store is None:
            return [UNKNOWN] * len(posts)
        budget = deadline - asyncio.get_running_loop().time()
        signatures = [text.signature for text in texts]
        hosts = [text.hosts for text in texts]
        return await self.behaviour_store.observe(posts, signatures, hosts, budget_s=budget)

    async def _author_counters(
        self, posts: Sequence[Post], deadline: float
    ) -> tuple[dict[str, StoredAuthor], str]:
        if self.author_store is None:
            return {}, "off"
        budget = deadline - asyncio.get_running_loop().time()
        ids = [post.author.id for post in posts]
        stored = await self.author_store.lookup(ids, budget_s=budget)
        return stored, "none" if self.author_store.available else "unavailable"

    def _verdict(
        self,
        post: Post,
        features: dict[str, Any],
        result: PostScores,
        latency_ms: float,
        listed: Sequence[Reason],
    ) -> _Decided:
        verdict = decide(
            result.scores,
            features,
            self.policy,
            missing=result.missing_categories,
            spike=self.settings.spike_mode,
            evidence=result.evidence,
            listed=listed,
        )
        for hit in listed:
            self.metrics.list_hits.labels(hit.code).inc()
        decision_id = uuid.uuid4().hex
        missing = sorted(result.missing_models.items())
        message = pb.Verdict(
            post_id=post.post_id,
            action=_ACTIONS[verdict.action],
            scores=verdict.scores,
            reasons=[
                pb.Reason(
                    code=r.code,
                    category=r.category,
                    action=_ACTIONS[r.action],
                    score=r.score,
                    threshold=r.threshold,
                    detail=r.detail,
                )
                for r in verdict.reasons
            ],
            reason_codes=verdict.reason_codes,
            policy_version=verdict.policy_version,
            models=[pb.ModelVersion(name=m.name, version=m.version) for m in result.answered],
            degraded=bool(missing),
            missing_models=[name for name, _ in missing],
            missing_reasons=[f"{name}: {reason}" for name, reason in missing],
            decision_id=decision_id,
            server_latency_ms=latency_ms,
            spike_mode=verdict.spike_mode,
            language=str(features["language"] or ""),
            text_normalization=[s for s in str(features["text_normalization"]).split(",") if s],
            ocr=str(features.get("ocr") or ""),
        )
        return _Decided(post, features, verdict.action, message, missing)

    def _record(self, decided: _Decided, *, abandoned: bool) -> None:
        """Count, publish (unless the caller is gone) and log one verdict."""
        post, features, action, message, missing = decided
        self.metrics.verdicts.labels(action.value, str(message.degraded).lower()).inc()
        if action is Action.REMOVE and not abandoned:
            self._strike(post, message.reasons)
        if self.sink is not None and not abandoned:
            publish_verdict(
                self.sink,
                self.topics,
                post,
                features,
                message,
                max_record_bytes=self.settings.stream.max_record_bytes,
            )
        for name, reason in missing:
            self.metrics.model_missing.labels(name, reason.split(":")[0]).inc()
        decisions_log.info(
            "decision",
            extra={
                "fields": {
                    "decision_id": message.decision_id,
                    "post_id": post.post_id,
                    "action": action.value,
                    "scores": dict(message.scores),
                    "reasons": list(message.reason_codes),
                    "features": features,
                    "models": {m.name: m.version for m in message.models},
                    "missing": dict(missing),
                    "policy_version": message.policy_version,
                    "spike_mode": message.spike_mode,
                    "latency_ms": round(message.server_latency_ms, 3),
                    "client_metadata": dict(post.client_metadata),
                    "abandoned": abandoned,
                    "logged_at": time.time(),
                }
            },
        )

    async def _abort(
        self, context: grpc.aio.ServicerContext[Any, Any], exc: Exception, method: str
    ) -> None:
        code, details = status_for(exc)
        if isinstance(exc, BadInputError):
            self.metrics.invalid.labels(method).inc()
            log.info("rejected %s: %s", method, details)
        else:
            self.metrics.errors.labels(method).inc()
            log.error("%s failed", method, exc_info=exc)
        await context.abort(code, details)
