"""``OpenAiJudge``: the ``LlmJudge`` over any OpenAI-compatible chat-completions endpoint.

One long-lived ``httpx.AsyncClient`` POSTs ``{base_url}/chat/completions`` (vLLM, llama.cpp
server, Ollama, hosted APIs) with temperature 0 and a structured-output ``response_format``
(strict JSON Schema, or plain JSON mode for servers without it). The answer is validated by
hand against the policy, and anything unusable (an HTTP error, a refused connection, a
timeout, no choices, non-JSON or off-schema content) becomes an UNSURE judgement whose
``error`` says why: ``judge`` never raises for a bad answer, so a deferred post always
reaches a moderator. A judge that answers with less than even confidence has said it cannot
decide: that is UNSURE too, without an error. Injection attempts, found by
``slowpath.injection`` or reported by the model in its rationale, set
``injection_suspected``, which keeps the opinion from ever being final.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Collection
from typing import Any

import httpx

from decision.policy import Policy
from modgate.settings import JudgeSettings
from slowpath.errors import SlowpathError
from slowpath.injection import detect_injection
from slowpath.interface import Judgement, JudgeOutcome, JudgeRequest
from slowpath.prompt import (
    ANSWER_KEYS,
    INJECTION_TAG,
    NO_CATEGORY,
    RATIONALE_MAX_CHARS,
    answer_schema,
    build_messages,
)

__all__ = ["JudgeAnswerError", "OpenAiJudge", "parse_answer"]

logger = logging.getLogger(__name__)

# A verdict held with less than even odds is the judge saying it cannot decide.
UNSURE_BELOW = 0.5
_CODE_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)
_INJECTION_WORDS = re.compile(r"\b(?:prompt|instruction)[- ]injection\b", re.IGNORECASE)


class JudgeAnswerError(SlowpathError):
    """The judge's endpoint gave no usable answer; ``judge`` turns this into UNSURE."""


def _strip_fences(content: str) -> str:
    text = content.strip()
    match = _CODE_FENCE.match(text)
    if match:
        return match.group(1).strip()
    if not text.startswith("{") and "{" in text:
        # Prose around one JSON object (some models add a preamble): keep the object.
        return text[text.index("{") : text.rindex("}") + 1]
    return text


def _check_keys(answer: dict[str, Any]) -> None:
    missing = sorted(ANSWER_KEYS - answer.keys())
    extra = sorted(answer.keys() - ANSWER_KEYS)
    if missing or extra:
        raise JudgeAnswerError(f"answer keys off schema (missing {missing}, unexpected {extra})")


def _check_types(answer: dict[str, Any], categories: Collection[str]) -> None:
    if not isinstance(answer["violates"], bool):
        raise JudgeAnswerError("answer 'violates' is not a boolean")
    if not isinstance(answer["category"], str) or not isinstance(answer["rationale"], str):
        raise JudgeAnswerError("answer 'category' and 'rationale' must be strings")
    confidence = answer["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise JudgeAnswerError("answer 'confidence' is not a number")
    if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
        raise JudgeAnswerError(f"answer 'confidence' {confidence!r} is outside [0, 1]")
    category = answer["category"]
    if category != NO_CATEGORY and category not in categories:
        raise JudgeAnswerError(f"answer category {category[:40]!r} is not in the policy")
    if answer["violates"] and category == NO_CATEGORY:
        raise JudgeAnswerError("answer violates without naming a policy category")


def parse_answer(content: str, categories: Collection[str]) -> dict[str, Any]:
    """The validated answer object in ``content``, or JudgeAnswerError saying what is wrong.

    Tolerates ```json fences and prose around the object; checks exact keys, types,
    confidence in [0, 1], and the category (a policy category or "none", never "none" when
    the post violates). Rationales longer than the schema allows are cut, not rejected.
    """
    try:
        answer = json.loads(_strip_fences(content))
    except ValueError as exc:
        raise JudgeAnswerError("answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise JudgeAnswerError("answer is not a JSON object")
    _check_keys(answer)
    _check_types(answer, categories)
    answer["rationale"] = answer["rationale"][:RATIONALE_MAX_CHARS]
    return answer


def _message_content(body: Any) -> str:
    """The first choice's message content from a chat-completions response body."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise JudgeAnswerError("response has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        reason = choices[0].get("finish_reason")
        raise JudgeAnswerError(f"response has no message content (finish_reason={reason})")
    return content


def _rationale_reports_injection(rationale: str) -> bool:
    return rationale.lstrip().upper().startswith(INJECTION_TAG.rstrip(":")) or bool(
        _INJECTION_WORDS.search(rationale)
    )


class OpenAiJudge:
    """An ``LlmJudge`` over an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        settings: JudgeSettings,
        policy: Policy,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._categories = frozenset(policy.categories)
        self._policy = policy
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            base_url=settings.base_url, timeout=httpx.Timeout(settings.timeout_s)
        )
        self._url = f"{settings.base_url}/chat/completions"
        key = settings.api_key.get_secret_value()
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._response_format = self._format(settings, policy)

    @staticmethod
    def _format(settings: JudgeSettings, policy: Policy) -> dict[str, Any]:
        if settings.response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "moderation_verdict",
                "strict": True,
                "schema": answer_schema(policy),
            },
        }

    @property
    def model(self) -> str:
        return self._settings.model

    async def judge(self, request: JudgeRequest) -> Judgement:
        """The judge's validated opinion on ``request``; UNSURE with ``error`` if unusable."""
        started = time.perf_counter()
        injections = detect_injection(request.text)
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                content = await self._complete(request)
            answer = parse_answer(content, self._categories)
        except (TimeoutError, httpx.TimeoutException):
            judgement = self._unsure(f"timeout after {self._settings.timeout_s:g}s", injections)
        except httpx.HTTPError as exc:
            judgement = self._unsure(f"request failed: {type(exc).__name__}", injections)
        except JudgeAnswerError as exc:
            judgement = self._unsure(str(exc), injections)
        except Exception as exc:  # the backend boundary: never raise for a bad answer
            logger.exception("judge failed unexpectedly post_id=%s", request.post_id)
            judgement = self._unsure(f"unexpected error: {type(exc).__name__}", injections)
        else:
            judgement = self._judgement(answer, injections)
        latency_ms = (time.perf_counter() - started) * 1000.0
        return self._finish(request, judgement, latency_ms, injections)

    async def _complete(self, request: JudgeRequest) -> str:
        payload = {
            "model": self._settings.model,
            "messages": build_messages(
                request, self._policy, max_post_chars=self._settings.max_post_chars
            ),
            "temperature": 0,
            "max_tokens": self._settings.max_tokens,
            "response_format": self._response_format,
        }
        response = await self._client.post(self._url, json=payload, headers=self._headers)
        if response.status_code >= 400:
            raise JudgeAnswerError(f"http status {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise JudgeAnswerError("response body is not JSON") from exc
        return _message_content(body)

    def _unsure(self, error: str, injections: tuple[str, ...]) -> Judgement:
        return Judgement(
            outcome=JudgeOutcome.UNSURE,
            injection_suspected=bool(injections),
            model=self._settings.model,
            error=error,
        )

    def _judgement(self, answer: dict[str, Any], injections: tuple[str, ...]) -> Judgement:
        confidence = float(answer["confidence"])
        rationale: str = answer["rationale"]
        if confidence < UNSURE_BELOW:
            outcome = JudgeOutcome.UNSURE
        else:
            outcome = JudgeOutcome.VIOLATES if answer["violates"] else JudgeOutcome.CLEAN
        return Judgement(
            outcome=outcome,
            category=answer["category"] if answer["violates"] else "",
            confidence=confidence,
            rationale=rationale,
            injection_suspected=bool(injections) or _rationale_reports_injection(rationale),
            model=self._settings.model,
        )

    def _finish(
        self,
        request: JudgeRequest,
        judgement: Judgement,
        latency_ms: float,
        injections: tuple[str, ...],
    ) -> Judgement:
        if judgement.error:
            logger.warning("judge unsure post_id=%s error=%s", request.post_id, judgement.error)
        logger.info(
            "judgement post_id=%s outcome=%s category=%s confidence=%.2f latency_ms=%.1f "
            "injection_suspected=%s patterns=%s",
            request.post_id,
            judgement.outcome.value,
            judgement.category or "-",
            judgement.confidence,
            latency_ms,
            judgement.injection_suspected,
            ",".join(injections) or "-",
        )
        return dataclasses.replace(judgement, latency_ms=latency_ms)

    async def aclose(self) -> None:
        """Close the HTTP client if this judge created it."""
        if self._owns_client:
            await self._client.aclose()
